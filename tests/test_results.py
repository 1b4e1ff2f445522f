"""`confine run` results: metrics with closed-form answers, files, fields, figures."""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest

import confine
from confine.case import case_from_dict, load_case

ROOT = Path(__file__).resolve().parent.parent


def _shell_case(**geometry: object) -> dict:
    raw = tomllib.loads((ROOT / "cases" / "first-order-shell.toml").read_text())
    raw["geometry"].update(geometry)
    raw["mesh"] = {"cells_per_pore_diameter": 4, "max_cell_size": "30 nm"}
    return raw


def test_pure_diffusion_gives_unit_ratios_and_no_flux() -> None:
    raw = _shell_case()
    raw["reactions"] = []
    raw["species"][1]["bulk"] = "0.01 mol/L"
    result = confine.run(case_from_dict(raw))
    for name in ("A", "B"):
        sp = result.metrics["species"][name]
        assert sp["ratio_interior_exterior"]["value"] == pytest.approx(1.0, abs=1e-10)
        for definition, ratio in sp["ratio_by_definition"].items():
            assert ratio["value"] == pytest.approx(1.0, abs=1e-10), definition
        bulk = result.case.species_named(name).bulk / 1e3
        assert sp["interior_mean_mol_L"]["value"] == pytest.approx(bulk, rel=1e-10)
        scale = 1e-16  # mol/s: far below any reacting case's fluxes (~1e-15)
        assert abs(sp["flux_into_cavity_mol_s"]["value"]) < 1e-10 * scale


def test_run_writes_every_output(tmp_path: Path) -> None:
    import pyvista as pv

    case = load_case(
        ROOT / "cases" / "first-order-shell.toml", set={"mesh.cells_per_pore_diameter": "4"}
    )
    out = tmp_path / "run"
    result = confine.run(case, out=out)
    assert result.out == out
    metrics = json.loads((out / "metrics.json").read_text())
    for key in (
        "case",
        "versions",
        "model",
        "mesh",
        "solver",
        "mass_balance_relative_error",
        "current_A",
        "species",
        "reactions",
        "products",
    ):
        assert key in metrics, key
    assert metrics["solver"]["converged"]["value"] is True
    assert metrics["mass_balance_relative_error"]["value"] < 1e-8
    # every C_I/C_E definition is reported; the default one is the headline ratio
    b = metrics["species"]["B"]
    assert set(b["ratio_by_definition"]) == {
        "cavity/mouth_outer",
        "cavity/bath",
        "mouth_inner/mouth_outer",
        "cavity+layer/mouth_outer",
    }
    assert b["ratio_by_definition"]["cavity/mouth_outer"]["value"] == pytest.approx(
        b["ratio_interior_exterior"]["value"], rel=1e-12
    )
    # a product made in the pores and cavity is richer inside than at the outer mouth
    assert b["ratio_by_definition"]["mouth_inner/mouth_outer"]["value"] > 1.0
    # case.toml reproduces the run on its own
    assert load_case(out / "case.toml") == case
    # fields: every species, in mol/L, with the subdomains
    blocks = pv.read(out / "vtk" / "fields.pvd")
    grid = blocks[0] if isinstance(blocks, pv.MultiBlock) else blocks
    for name in ("A", "B", "subdomain"):
        assert name in grid.array_names
    assert float(np.max(grid["A"])) == pytest.approx(0.034, rel=1e-6)
    assert (out / "fields.xdmf").exists() and (out / "fields.h5").exists()
    revolved = pv.read(out / "vtk" / "revolved.vtp")  # the axisymmetric cell in 3D
    assert revolved.n_cells > 0 and "A" in revolved.array_names
    assert revolved.bounds[4] < -1.0  # swept out of the r-z plane
    # figures exist and are not blank
    pngs = sorted((out / "figures").glob("*.png"))
    assert {p.stem for p in pngs} >= {"A", "B", "profiles"}
    import matplotlib.image

    for png in pngs:
        assert float(np.asarray(matplotlib.image.imread(png)).std()) > 0.01, png.name
    # nothing partial left beside it
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_failed_run_leaves_no_metrics(tmp_path: Path) -> None:
    from confine.solve import SolverError

    case = load_case(
        ROOT / "cases" / "mchs-7nm.toml",
        set={"solver.max_iterations": "1", "solver.continuation_steps": "1"},
    )
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.json").write_text("{}")  # a stale success from an earlier run
    with pytest.raises(SolverError) as err:
        confine.run(case, out=out)
    assert err.value.history, "the error carries the residual history"
    assert sorted(p.name for p in out.iterdir()) == ["failure.json"]
    failure = json.loads((out / "failure.json").read_text())
    assert failure["converged"] is False and failure["history"]
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_cross_fidelity_axisymmetric_cell_and_sector() -> None:
    """The cone cell and the hexagonal sector agree on rates and C_I/C_E.

    Measured (first-order-shell, 6 and 8 cells per pore diameter): reaction
    rate within 0.05 %, reactant C_I/C_E within 0.06 %, product C_I/C_E
    5.16 vs 5.30 and 5.14 vs 5.26 (2.7 %, 2.4 %: the cone's round cross-section
    against the hexagonal tile). The tolerances below are those figures' bounds.
    """
    results = {}
    for model in ("axisymmetric-cell", "sector-3d"):
        case = load_case(
            ROOT / "cases" / "first-order-shell.toml",
            set={"geometry.model": model, "mesh.cells_per_pore_diameter": "6"},
        )
        results[model] = confine.run(case)
    axi, sector = results["axisymmetric-cell"], results["sector-3d"]
    for key, rel in (
        ("reactions.consume.rate_mol_s", 1e-3),
        ("species.A.ratio_interior_exterior", 2e-3),
        ("species.B.ratio_interior_exterior", 3e-2),
        ("products.B.production_mol_s", 1e-3),
    ):
        assert sector.metric(key) == pytest.approx(axi.metric(key), rel=rel), key


def _sink_on_sphere_closed_form(
    k: float, D: float, R: float, d: float, Rb: float, c_inf: float
) -> float:
    """Rate (mol/s) of a first-order sink in a layer R < r < R + d on an inert sphere.

    Layer: D (c'' + 2c'/r) = k c, no flux at r = R; bath R + d < r < Rb: c = a + b/r
    with c(Rb) = c_inf; c and D c' continuous at R + d. Solved with the
    exponentially scaled basis e^{±φ r}/r (φ = √(k/D)) to stay well conditioned.
    """
    Rm, phi = R + d, math.sqrt(k / D)

    def f(r: float) -> float:
        return math.exp(phi * (r - Rm)) / r

    def g(r: float) -> float:
        return math.exp(-phi * (r - R)) / r

    def df(r: float) -> float:
        return math.exp(phi * (r - Rm)) * (phi / r - 1 / r**2)

    def dg(r: float) -> float:
        return math.exp(-phi * (r - R)) * (-phi / r - 1 / r**2)

    m = np.array(
        [
            [df(R), dg(R), 0, 0],
            [f(Rm), g(Rm), -1, -1 / Rm],
            [df(Rm), dg(Rm), 0, 1 / Rm**2],
            [0, 0, 1, 1 / Rb],
        ]
    )
    _, _, _, b = np.linalg.solve(m, [0, 0, 0, c_inf])
    return -4 * math.pi * D * b


@pytest.mark.parametrize(("k", "tol"), [(1e4, 1e-3), (1e6, 1e-3), (1e8, 5e-3)])
def test_first_order_sink_on_a_solid_sphere_matches_closed_form(k: float, tol: float) -> None:
    """Reaction-limited to transport-limited: rates from metrics.json vs the closed form.

    Measured relative errors (default mesh): 1e4: <1e-4, 1e6: 1.8e-4, 1e8: 3.1e-3.
    """
    raw = _shell_case()
    raw["geometry"] = {
        "kind": "solid-sphere",
        "model": "axisymmetric-cell",
        "outer_diameter": "214 nm",
        "catalyst": "layer",
        "catalyst_layer": "2 nm",
        "bath_thickness": "100 nm",
        "bath_boundary": "bulk",
    }
    raw.pop("mesh")
    raw["reactions"][0]["rate_constant"] = f"{k} 1/s"
    result = confine.run(case_from_dict(raw))
    exact = _sink_on_sphere_closed_form(k, 1.91e-9, 107e-9, 2e-9, 207e-9, 34.0)
    assert result.metric("reactions.consume.rate_mol_s") == pytest.approx(exact, rel=tol)
    assert result.metric("species.A.outward_flux_mol_s") == pytest.approx(-exact, rel=tol)


def test_a_dropped_result_frees_its_problem() -> None:
    """Nothing keeps a finished run's problem alive (its mesh, forms and communicators).

    PETSc keeps a SNES's Python callbacks out of the garbage collector's sight;
    a callback holding the problem strongly leaked every run, and a process
    running ~100 cases ran out of MPI communicators.
    """
    import gc
    import weakref

    case = confine.load_case(
        ROOT / "cases" / "first-order-shell.toml",
        set={"mesh.cells_per_pore_diameter": 3, "output.fields": False, "output.figures": False},
    )
    result = confine.run(case)
    problem = weakref.ref(result.solution.problem)
    del result
    gc.collect()
    assert problem() is None
