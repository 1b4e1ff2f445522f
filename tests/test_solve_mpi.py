"""Same metrics on 1 and 2 MPI ranks (run: mpiexec -n 2 python -m pytest -m mpi tests/).

Under mpiexec each rank also solves the whole problem alone on COMM_SELF, so one
run compares the distributed answer with the serial one.
"""

from __future__ import annotations

from typing import Any

import pytest
import solver_meshes as sm
from mpi4py import MPI
from test_solve import urea_case

from confine.metrics import compute_metrics
from confine.solve import solve

# solver counters and timings legitimately differ; mass-balance errors and the net
# production of adsorbates are residuals (zero up to the solver tolerance)
SKIP = ("solver", "mass_balance_relative_error", "wall_time_s")
RESIDUALS = ("species/*H/production_mol_s", "species/*NO/production_mol_s")


def leaves(node: Any, path: str = "") -> dict[str, tuple[float, str]]:
    """Numeric leaves {"a/b": (value, unit)} of a metrics document."""
    out: dict[str, tuple[float, str]] = {}
    if isinstance(node, dict):
        if "value" in node and "unit" in node:
            v = node["value"]
            if isinstance(v, int | float) and not isinstance(v, bool):
                out[path] = (float(v), node["unit"])
            return out
        for k, v in node.items():
            if k not in SKIP:
                out.update(leaves(v, f"{path}/{k}" if path else k))
    return out


def mismatches(
    par: dict[str, tuple[float, str]], ser: dict[str, tuple[float, str]]
) -> dict[str, tuple[float, float]]:
    """Leaves that differ beyond 1e-8 relative. Values that should be exactly zero (a
    spectator's flux) are round-off: they are compared on the scale of their unit's
    largest value (1e-12 of it)."""
    scale: dict[str, float] = {}
    for v, unit in ser.values():
        scale[unit] = max(scale.get(unit, 0.0), abs(v))
    return {
        k: (par[k][0], ser[k][0])
        for k in ser
        if abs(par[k][0] - ser[k][0])
        > 1e-8 * max(abs(ser[k][0]), abs(par[k][0])) + 1e-12 * scale[ser[k][1]]
    }


def pore_cell(comm: MPI.Comm) -> Any:
    """The 7 nm pore cell, coarse."""
    return sm.pore_cell(
        comm,
        h=1.0,
        r_pore=3.775,
        r_cell=6.0,
        layer=2.0,
        z_cavity=20.0,
        shell=20.0,
        bath=20.0,
        multiplicity=480.0,
    )


def metrics_on(comm: MPI.Comm, case: Any) -> dict[str, tuple[float, str]]:
    md = pore_cell(comm)
    return leaves(compute_metrics(case, md, solve(case, md, comm), comm))


@pytest.mark.mpi
@pytest.mark.parametrize("model", ["secondary", "electroneutral"])
def test_same_metrics_on_one_and_two_ranks(model: str) -> None:
    world = MPI.COMM_WORLD
    if world.size < 2:
        pytest.skip("needs mpiexec -n 2")
    case = urea_case(model=model)
    par = metrics_on(world, case)
    ser = metrics_on(MPI.COMM_SELF, case)
    assert par.keys() == ser.keys()
    for k in RESIDUALS:
        del par[k], ser[k]
    bad = mismatches(par, ser)
    assert not bad, sorted(bad.items())
    assert len(ser) > 100


@pytest.mark.parametrize("ranks", [1, pytest.param(2, marks=pytest.mark.mpi)])
def test_the_outward_fluxes_of_one_form_are_each_species_own(ranks: int) -> None:
    """The metrics' batched outward fluxes (one assembly, the faces' nodes located once
    on the blocked space) equal each species' own consistent flux (its face-indicator
    Function in the residual), on 1 and 2 ranks."""
    world = MPI.COMM_WORLD
    if world.size != ranks:
        pytest.skip(f"runs on {ranks} rank(s)")
    case = urea_case()
    p = solve(case, pore_cell(world), world).load()
    names = list(p.c_ref)
    batch = p.outward_fluxes(names)
    scale = max(abs(v) for v in batch.values())
    assert scale > 0
    for name in names:
        assert batch[name] == pytest.approx(p.outward_flux(name), rel=1e-12, abs=1e-12 * scale)
