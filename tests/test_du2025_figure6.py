"""examples/du2025_figure6.py (issue 23): the study's own model with mobile *H and *NO,
run on coarse meshes; its cases differ only in the pore diameter."""

from __future__ import annotations

import csv
import importlib.util
import math
from pathlib import Path
from types import ModuleType

import pytest

from confine.case import load_case

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "cases" / "du2025-model"
RATIO_SPECIES = ("CO2", "NO3-", "*H", "*NO", "urea")


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "du2025_figure6", ROOT / "examples" / "du2025_figure6.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_du2025_cases_differ_only_in_the_pore_diameter() -> None:
    seven = load_case(CASES / "du2025-7nm.toml")
    assert {s.name: s.phase for s in seven.species if s.name.startswith("*")} == {
        "*H": "solution",
        "*NO": "solution",
    }
    assert seven.electrolyte.potential_model == "secondary" and seven.electrolyte.steric
    for label, diameter in (("4nm", 4.18e-9), ("11nm", 11.12e-9)):
        case = load_case(CASES / f"du2025-{label}.toml")
        assert case.geometry.pore_diameter == pytest.approx(diameter)
        same = case.replace(
            **{
                "geometry.pore_diameter": "7.55 nm",
                "case.name": seven.case.name,
                "case.description": seven.case.description,
            }
        )
        assert same.hash() == seven.hash()


def test_du2025_figure6_coarse_writes_the_figure_and_finite_ratios(tmp_path: Path) -> None:
    png = _example().main(["--coarse", "--out", str(tmp_path)])
    assert png == tmp_path / "du2025-figure6.png"
    assert png.stat().st_size > 50_000
    with (tmp_path / "du2025-figure6.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["pore_diameter_nm"]) for r in rows] == pytest.approx([4.18, 7.55, 11.12])
    for row in rows:
        for species in RATIO_SPECIES:  # mobile intermediates: all five have a C_I/C_E
            value = float(row[f"ratio_CI_CE_{species}"])
            assert math.isfinite(value) and value > 0, (row["pore_size"], species)
        for species in ("*H", "*NO", "H2", "urea"):
            assert float(row[f"formation_{species}_mol_s"]) > 0, (row["pore_size"], species)
