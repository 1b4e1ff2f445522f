"""The mini particle whole (full-3d) on 2 ranks agrees with its sector (issue #24).

Run: mpiexec -n 2 python -m pytest -m mpi tests/test_mini_particle_mpi.py.

The mini particle is the 7 nm urea case (cases/mchs-7nm.toml: its chemistry,
kinetics, catalyst and electrolyte unchanged) on a particle small enough to
solve whole in seconds: 56 nm across, a 12 nm shell, 12 pores of 7.55 nm (the
icosahedral lattice), a 20 nm far-field bath, meshed at level 0.5 of
benchmarks/cross_fidelity.py (every target cell size × 2: 3 cells per pore
diameter, 1 across the 2 nm layer, cells up to 40 nm, growth 1.15). Full-3d:
24 231 cells, 6 295 nodes, 23 Newton steps; the sector (one hexagonal-pyramid
tile of solid angle 4π/12): 2 563 cells.
"""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest
from mpi4py import MPI
from test_solve import ROOT, value

from confine.case import Case, case_from_dict
from confine.case_reader import apply_overrides, read_case_file
from confine.mesh import load_mesh
from confine.metrics import compute_metrics
from confine.pipeline import run
from confine.solve import newton_of, solve

#: Mesh error of the sector at this density, relative: |Q(f = 0.5) / Q(f = 2) − 1|
#: over the levels f = 0.5, 1, 1.5, 2 of the same case (2 563, 12 729, 37 246 and
#: 84 595 cells; one rank, iterative solver; 2026-12-06). C_I/C_E 5.207, 4.622,
#: 4.423, 4.357; FE(NH4+) 0.1335, 0.1380, 0.1386, 0.1389; FE(NH3) 0.2717, 0.2673,
#: 0.2668, 0.2665; the current 2.67917, 2.67876, 2.67847, 2.67835 e-13 A; FE(urea)
#: 0.110970, 0.111025, 0.111064, 0.111080; FE(NO2-) 0.099374, 0.099389, 0.099400,
#: 0.099404; FE(H2) 0.384422, 0.384275, 0.384169, 0.384127. The differences shrink
#: by a factor ~3 per level, so f = 2 is itself still off: these are lower bounds
#: of the error at f = 0.5.
MESH_ERROR = {
    "species/urea/ratio_interior_exterior": 0.195,
    "current_A": 3.1e-4,
    "products/urea/faradaic_efficiency": 9.9e-4,
    "products/NH4+/faradaic_efficiency": 0.039,
    "products/NH3/faradaic_efficiency": 0.0196,
    "products/NO2-/faradaic_efficiency": 3.0e-4,
    "products/H2/faradaic_efficiency": 7.7e-4,
}


def mini_particle(model: str) -> Case:
    """The mini particle (module docstring) at fidelity ``model``, iterative solver."""
    raw = read_case_file(ROOT / "cases" / "mchs-7nm.toml")
    del raw["geometry"]["wall_thickness"]  # the lattice is set by the pore count
    overrides: dict[str, Any] = {
        "geometry.model": model,
        "geometry.outer_diameter": "56 nm",
        "geometry.shell_thickness": "12 nm",
        "geometry.bath_thickness": "20 nm",
        "geometry.pore_count": 12,
        "mesh.cells_per_pore_diameter": 3,
        "mesh.cells_across_layer": 1,
        "mesh.max_cell_size": "40 nm",
        "mesh.growth": 1.6,
        "solver.linear_solver": "iterative",
    }
    apply_overrides(raw, overrides, "mini-particle")
    return case_from_dict(raw, "mini-particle")


def solved_metrics(model: str, comm: MPI.Comm) -> tuple[dict[str, Any], Any]:
    """Metrics of the mini particle at ``model`` solved on ``comm``, and the solution."""
    case = mini_particle(model)
    md = load_mesh(case, comm)
    sol = solve(case, md, comm)
    return compute_metrics(case, md, sol, comm), sol


@pytest.fixture(scope="module")
def whole() -> tuple[dict[str, Any], Any, str]:
    """The whole mini particle solved from the bulk on 2 ranks: metrics, solution, and
    the warnings logged meanwhile."""
    if MPI.COMM_WORLD.size < 2:
        pytest.skip("needs mpiexec -n 2")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.WARNING)
    logging.getLogger("confine").addHandler(handler)
    try:
        metrics, sol = solved_metrics("full-3d", MPI.COMM_WORLD)
    finally:
        logging.getLogger("confine").removeHandler(handler)
    return metrics, sol, stream.getvalue()


@pytest.mark.mpi
def test_whole_mini_particle_on_two_ranks_agrees_with_its_sector(
    whole: tuple[dict[str, Any], Any, str],
) -> None:
    """Full-3d on 2 ranks by GMRES + field-by-field AMG (no MUMPS, no fallback to it)
    against the sector at the same mesh density: urea C_I/C_E, the current, and every
    product's faradaic efficiency and production rate within the sector's mesh error.

    Why the mesh error is the bound: the two models are the same particle (the sector
    is one tile of the lattice, by symmetry); at the same density they differ by their
    meshes (different cells around the same pore, the bath and the cavity meshed
    whole or as one tile) and by the tile's shape (the 12-pore lattice's tiles are
    pentagons, the sector's a hexagon of the same solid angle), so they may differ by
    as much as either is off the converged answer, not more. Measured here (2026-12-06)
    the difference is 0.33 % on C_I/C_E (2 % of its bound), 1.9 % and 0.93 % on the
    FEs of NH4+ and NH3 (about half of theirs: the NH4+/NH3 split is the most
    mesh-sensitive value after C_I/C_E) and ≤ 2e-5 relative on the current and the
    other FEs (≤ 7 % of theirs); the 2-rank answer equals the 1-rank one to 1e-13.
    That the NH4+/NH3 gap is mesh error and not a difference of the models: at f = 1
    (full-3d 139 496 cells, 5 min on one rank) it falls to 0.02 % and 0.009 % (C_I/C_E
    0.47 %, the rest ≤ 4e-5). A production rate is FE × current / (n F), so its bound
    is the sum of the two. Time: ~38 s on 2 ranks here (load average 3), mesh cached.
    """
    metrics, sol, warnings = whole
    assert not newton_of(sol.model).is_direct()
    assert sol.linear_iterations > sol.newton_iterations  # a Krylov solve, not LU
    assert "solving again with MUMPS" not in warnings
    sector, _ = solved_metrics("sector-3d", MPI.COMM_WORLD)
    bounds = dict(MESH_ERROR)
    for p in ("urea", "NH4+", "NH3", "NO2-", "H2"):
        fe = bounds[f"products/{p}/faradaic_efficiency"]
        bounds[f"products/{p}/production_mol_s"] = fe + bounds["current_A"]
    for key, bound in bounds.items():
        got, want = value(metrics, key), value(sector, key)
        assert got == pytest.approx(want, rel=bound), (key, got, want, bound)


@pytest.mark.mpi
def test_whole_mini_particle_from_its_cell_reaches_the_same_state(
    whole: tuple[dict[str, Any], Any, str],
) -> None:
    """Started from its axisymmetric cell (``solver.start``: the cell solved on the 2
    ranks, gathered, mapped onto each rank's part of the particle), Newton reaches the
    state of the continuation from the bulk in a few steps: every compared value equal
    to 1e-8 relative (the solver's tolerances; measured ~1e-11 on the sector)."""
    metrics, sol, _ = whole
    raw = mini_particle("full-3d").to_dict()
    raw["solver"] = {**raw["solver"], "start": "axisymmetric-cell"}
    raw["output"] = {**raw["output"], "fields": False, "figures": False}
    started = run(case_from_dict(raw, "mini-particle"), None, MPI.COMM_WORLD).metrics
    steps = started["solver"]["newton_iterations"]["value"]
    assert steps <= 5 < sol.newton_iterations
    for key in MESH_ERROR:
        assert value(started, key) == pytest.approx(value(metrics, key), rel=1e-8), key
