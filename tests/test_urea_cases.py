"""The reference urea network on the real (gmsh) axisymmetric cell: cold starts.

Every pore size of the study at three potentials, each from a cold start,
converges with mass balanced and the Faradaic efficiencies adding to one
(NH3 declared as a product too, so every electron sink is counted).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import confine
from confine.case import load_case

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("pore", ["4.18 nm", "7.55 nm", "11.12 nm"])
@pytest.mark.parametrize("potential", ["-0.7 V", "-0.9 V", "-1.1 V"])
def test_urea_network_converges_cold(pore: str, potential: str) -> None:
    case = load_case(
        ROOT / "cases" / "mchs-7nm.toml",
        set={
            "geometry.pore_diameter": pore,
            "electrode.potential": potential,
            "output.products": '["urea", "NH4+", "NH3", "NO2-", "H2"]',
        },
    )
    result = confine.run(case)
    assert result.metric("solver.converged") is True
    assert result.metric("mass_balance_relative_error") < 1e-6
    fes = [result.metric(f"products.{p}.faradaic_efficiency") for p in case.output.products]
    assert sum(fes) == pytest.approx(1.0, abs=1e-6)
    assert result.metric("current_A") > 0
