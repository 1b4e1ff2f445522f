"""Leakage of the intermediates (issue #23, items 2 and 4): confine/metrics/leakage.py.

* mobile *H and *NO (cases/du2025-model/du2025-7nm.toml, coarse): the flux out through
  the outer mouths (the balance over the particle's inside) equals the consistent
  outward flux through the bath's outer face (no bath step changes them), what the steps
  make = what they consume + the leakage, and their mass balances close, all to 1e-8;
  the urea cost follows the coupling step's stoichiometry (2 *NO, 10 *H per urea);
* immobile coverages (cases/mchs-7nm.toml, coarse): zero by construction;
* a coverage with surface diffusion (cases/verification/pore-wall-surface-diffusion.toml):
  the layer's edge is no-flux, so its leakage is zero to the solver tolerance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mpi4py import MPI

from confine.case import load_case
from confine.mesh import load_mesh
from confine.metrics import compute_metrics
from confine.metrics.leakage import intermediates
from confine.metrics.rates import reaction_rates
from confine.solve import solve

COMM = MPI.COMM_WORLD
CASES = Path(__file__).resolve().parent.parent / "cases"
COARSE = {"mesh.cells_per_pore_diameter": 3, "mesh.cells_across_layer": 1}


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh mesh cache for this module."""
    return tmp_path_factory.mktemp("meshes")


def solved(path: Path, cache: Path, overrides: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
    """The case, its solution and its metrics."""
    case = load_case(path, set=overrides)
    md = load_mesh(case, COMM, cache)
    sol = solve(case, md)
    return case, sol, compute_metrics(case, md, sol, COMM)


def leak(m: dict[str, Any], name: str) -> dict[str, Any]:
    """A species' leakage values without their units."""
    entry = m["species"][name]
    return {k: v["value"] for k, v in entry.items() if k.startswith("leakage")}


@pytest.mark.parametrize("size", ["4nm", "7nm", "11nm"])
def test_mobile_intermediates_leak_what_the_bath_receives(size: str, cache: Path) -> None:
    """The study's model, coarse: leakage = outward flux = made − consumed, and the
    mobile intermediates' mass balances ≤ 1e-8 (issue #23, item 4)."""
    case, sol, m = solved(CASES / "du2025-model" / f"du2025-{size}.toml", cache, COARSE)
    assert intermediates(case) == ["*H", "*NO"]
    rates = reaction_rates(case, sol.load(), m["multiplicity"]["value"])
    per_urea = {"*H": 10.0, "*NO": 2.0}  # the coupling step
    for name in ("*H", "*NO"):
        entry, lk = m["species"][name], leak(m, name)
        flux = lk["leakage_mol_s"]
        assert flux > 0
        assert flux == pytest.approx(entry["outward_flux_mol_s"]["value"], rel=1e-8)
        made = rates.made(name)
        consumed = sum(
            max(-nu.get(name, 0.0) * rates.total[r], 0.0) for r, nu in rates.stoichiometry.items()
        )
        assert abs(made - consumed - flux) <= 1e-8 * made, (name, made, consumed, flux)
        assert lk["leakage_fraction_of_production"] == pytest.approx(flux / made, rel=1e-14)
        assert lk["leakage_product_cost_mol_s"] == pytest.approx(flux / per_urea[name], rel=1e-12)
        assert entry["mass_balance_relative_error"]["value"] <= 1e-8
        assert entry["leakage_mol_s"]["unit"] == "mol/s"
        assert entry["leakage_fraction_of_production"]["unit"] == "1"
    text = m["definitions"]["leakage"]
    assert "outer pore mouths" in text and "product urea; *H mobile, *NO mobile" in text
    assert "urea" not in intermediates(case)  # a declared product, not an intermediate


def test_immobile_coverages_do_not_leak(cache: Path) -> None:
    """mchs-7nm, coarse: *H and *NO are immobile coverages: leakage 0 by construction."""
    _, _, m = solved(CASES / "mchs-7nm.toml", cache, COARSE)
    for name in ("*H", "*NO"):
        lk = leak(m, name)
        assert lk["leakage_mol_s"] == 0.0 and lk["leakage_product_cost_mol_s"] == 0.0
        assert lk["leakage_fraction_of_production"] == 0.0
    assert "zero by construction" in m["definitions"]["leakage"]
    assert "*H immobile, *NO immobile" in m["definitions"]["leakage"]


def test_a_surface_diffusing_coverage_stops_at_the_layer_edge(cache: Path) -> None:
    """The pore-wall case: *X diffuses along the wall; its edge is no-flux, so the
    leakage is the balance's residual (≤ 1e-8 of what the steps make)."""
    path = CASES / "verification" / "pore-wall-surface-diffusion.toml"
    _, _, m = solved(path, cache, {})
    lk = leak(m, "*X")
    assert abs(lk["leakage_fraction_of_production"]) <= 1e-8
    assert lk["leakage_product_cost_mol_s"] is None  # the case declares no product
    assert "*S immobile, *X surface diffusion" in m["definitions"]["leakage"]


def test_one_ratio_key_for_every_representation(cache: Path) -> None:
    """C_I/C_E of an intermediate is species.<X>.ratio_interior_exterior whether it is a
    coverage (its first name, coverage_ratio_interior_exterior, still holds it) or mobile;
    definitions.ratio_interior_exterior says what each phase's ratio is."""
    _, _, m = solved(CASES / "mchs-7nm.toml", cache, COARSE)
    for name in ("*H", "*NO"):
        entry = m["species"][name]
        ratio = entry["ratio_interior_exterior"]["value"]
        assert ratio > 0 and ratio == entry["coverage_ratio_interior_exterior"]["value"]
    text = m["definitions"]["ratio_interior_exterior"]
    assert "solution species" in text and "coverage_ratio_interior_exterior" in text
