"""The study scripts and sweep files of issue 13: examples/urea_study.py, the pore sweep,
the uncertainty sweeps, and the plots the pore sweep draws."""

from __future__ import annotations

import csv
import importlib.util
import itertools
import math
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from confine.case import load_case
from confine.sampling import load_sweep
from confine.sweep_chains import chains
from confine.sweep_plots import default_plots

ROOT = Path(__file__).resolve().parent.parent
PORE_SWEEP = ROOT / "cases" / "pore-sweep.toml"
UNCERTAINTY = {
    label: ROOT / "cases" / "sweeps" / f"pore-size-uncertainty-{label}.sweep.toml"
    for label in ("4nm", "7nm", "11nm")
}
BJH_MEANS_NM = {"4nm": 4.18, "7nm": 7.55, "11nm": 11.12}


def _example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_urea_study_coarse_writes_the_figure_and_its_numbers(tmp_path: Path) -> None:
    from matplotlib.image import imread

    png = _example("urea_study").main(["--coarse", "--out", str(tmp_path)])
    assert png == tmp_path / "urea-study.png"
    assert png.stat().st_size > 50_000
    image = np.asarray(imread(png), dtype=float)
    assert image.shape[0] > 500 and image.shape[1] > 500
    assert image.std() > 0.0  # not blank
    with (tmp_path / "urea-study.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["pore_diameter_nm"]) for r in rows] == pytest.approx([4.18, 7.55, 11.12])
    for row in rows:
        for species in ("*H", "*NO", "H2", "urea"):
            value = float(row[f"formation_{species}_mol_s"])
            assert math.isfinite(value) and value > 0, (row["pore_size"], species)
        # the adsorbed intermediates' C_I/C_E is their coverage's (issue #23: one key,
        # species.*.ratio_interior_exterior, for every representation)
        for species in ("urea", "*H", "*NO"):
            ratio = float(row[f"ratio_CI_CE_{species}"])
            assert math.isfinite(ratio) and ratio > 0, (row["pore_size"], species)


def test_urea_study_cases_change_only_the_pore_diameter() -> None:
    study = _example("urea_study")
    cases = study.load_cases(None, coarse=False)
    base = load_case(ROOT / "cases" / "mchs-7nm.toml")
    assert cases["7 nm"].geometry.pore_diameter == base.geometry.pore_diameter
    for label, diameter in (("4 nm", 4.18e-9), ("11 nm", 11.12e-9)):
        assert cases[label].geometry.pore_diameter == pytest.approx(diameter)
        same = cases[label].replace(**{"geometry.pore_diameter": "7.55 nm"})
        assert same.hash() == cases["7 nm"].hash()


def test_pore_sweep_file_is_the_study() -> None:
    spec = load_sweep(PORE_SWEEP)
    assert spec.case_path.resolve() == (ROOT / "cases" / "mchs-7nm.toml").resolve()
    points = spec.points()
    assert len(points) == 15
    assert [len(c) for c in chains(spec, points)] == [5, 5, 5]  # warm starts per pore size
    diameters = {p.case.geometry.pore_diameter for p in points}
    assert sorted(diameters) == pytest.approx([4.18e-9, 7.55e-9, 11.12e-9])
    potentials = sorted({p.case.electrode.potential for p in points})
    assert potentials == pytest.approx([-1.1, -1.0, -0.9, -0.8, -0.7])
    for p in points:
        assert p.case.geometry.model == "axisymmetric-cell"
        assert not p.case.output.fields and not p.case.output.figures


def test_uncertainty_sweeps_sample_each_pore_size_around_its_own_mean() -> None:
    specs = {label: load_sweep(path) for label, path in UNCERTAINTY.items()}
    draws = {}
    for label, spec in specs.items():
        par = {p.key: p for p in spec.parameters}
        assert all(p.sampled for p in par.values())
        assert spec.sampling == {"n": 16, "seed": 1, "method": "lhs"}
        pore = np.array(par["geometry.pore_diameter"].numbers, dtype=float)
        assert pore.mean() == pytest.approx(BJH_MEANS_NM[label], rel=0.03)
        assert pore.min() >= 4.0  # a 2 nm layer needs a pore radius of 2 nm at least
        draws[label] = [
            par[k].numbers for k in ("geometry.outer_diameter", "geometry.shell_thickness")
        ]
    # the measured size spread is drawn identically for the three pore sizes
    assert draws["4nm"] == draws["7nm"] == draws["11nm"]


def test_pore_sweep_plots_include_the_partial_current_density(tmp_path: Path) -> None:
    spec = load_sweep(PORE_SWEEP)
    values = {p.key: [float(x or 0.0) for x in p.numbers] for p in spec.parameters}
    rng = np.random.default_rng(0)
    rows = []
    grid = itertools.product(values["geometry.pore_diameter"], values["electrode.potential"])
    for i, (d, e) in enumerate(grid):
        row = {
            "point": i,
            "geometry.pore_diameter [nm]": d,
            "electrode.potential [V]": e,
            "status": "done",
        }
        for s in ("CO2", "NO3-", "urea"):
            row[f"species.{s}.ratio_interior_exterior [1]"] = rng.uniform(0.5, 2.0)
        fe = rng.dirichlet(np.ones(4))
        for k, prod in enumerate(("urea", "NH4+", "NO2-", "H2")):
            row[f"products.{prod}.production_mol_s [mol/s]"] = rng.uniform(1e-20, 1e-18)
            row[f"products.{prod}.faradaic_efficiency [1]"] = fe[k]
            row[f"products.{prod}.partial_current_density_A_per_m2 [A/m^2]"] = -10.0 * e * fe[k]
        rows.append(row)
    written = default_plots(pd.DataFrame(rows), spec, tmp_path)
    assert sorted(p.name for p in written) == [
        "fe-vs-potential.png",
        "partial-current-density-vs-potential.png",
        "production-vs-pore-diameter.png",
        "ratio-vs-pore-diameter.png",
    ]
    assert all(p.stat().st_size > 10_000 for p in written)


def test_uncertainty_bands_reads_the_three_sweeps(tmp_path: Path) -> None:
    dirs = []
    for label, mean in BJH_MEANS_NM.items():
        d = tmp_path / f"uncertainty-{label}"
        d.mkdir()
        quantities = [
            ("geometry.pore_diameter [nm]", "parameter", mean),
            ("species.urea.ratio_interior_exterior [1]", "metric", 10.0 / mean),
            ("species.CO2.ratio_interior_exterior [1]", "metric", 0.99),
            ("products.urea.production_mol_s [mol/s]", "metric", 1e-19),
        ]
        rows = [
            {"quantity": q, "kind": k, "n": 16, "mean": v, "std": 0.1 * v}
            | {"p05": 0.9 * v, "p50": v, "p95": 1.1 * v}
            for q, k, v in quantities
        ]
        pd.DataFrame(rows).to_csv(d / "bands.csv", index=False)
        dirs.append(str(d))
    png = _example("uncertainty_bands").main([*dirs, "--out", str(tmp_path / "out")])
    assert png.stat().st_size > 10_000
    table = pd.read_csv(tmp_path / "out" / "ratio-bands.csv")
    assert sorted(set(table["species"])) == ["CO2", "urea"]
    urea = table[table["species"] == "urea"].sort_values("pore_diameter_nm")
    assert urea["pore_diameter_nm"].tolist() == pytest.approx([4.18, 7.55, 11.12])
    assert urea["p50"].tolist() == pytest.approx([10 / 4.18, 10 / 7.55, 10 / 11.12])


def test_double_layer_cases_change_only_what_the_study_says() -> None:
    """examples/double_layer_study.py: the same per-site kinetics on the walls (k × t),
    a bulk bath and wall refinement for both models; Stern walls and Frumkin for PNP."""
    study = _example("double_layer_study")
    for size, name in study.CASES.items():
        base = load_case(ROOT / "cases" / name)
        sec = study.double_layer_case(size, "secondary")
        pnp = study.double_layer_case(size, "poisson-steric")
        t = base.geometry.catalyst_layer
        for case in (sec, pnp):
            assert case.geometry.catalyst == "surface"
            assert case.geometry.bath_boundary == "bulk" and case.mesh.boundary_layer
            assert case.geometry.pore_diameter == base.geometry.pore_diameter
            assert [s.name for s in case.species] == [s.name for s in base.species]
            for r0, r in zip(base.reactions, case.reactions, strict=True):
                if r0.where == "layer":
                    assert r.where == "surface"
                    assert r.rate_constant == pytest.approx(r0.rate_constant * t, rel=1e-12)
                else:
                    assert r == r0
        # the models differ only in the potential model, the walls and Frumkin
        d_sec, d_pnp = sec.to_dict(), pnp.to_dict()
        assert d_pnp["electrolyte"].pop("potential_model") == "poisson-steric"
        assert d_sec["electrolyte"].pop("potential_model") == "secondary"
        assert d_pnp["electrode"].pop("frumkin") is True
        assert d_sec["electrode"].pop("frumkin") is False
        assert {w["name"] for w in d_pnp.pop("walls")} == set(study.WALLS)
        d_sec.pop("walls", None)
        d_sec["case"] = d_pnp["case"] = None
        assert d_sec == d_pnp
