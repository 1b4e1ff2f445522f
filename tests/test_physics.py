"""Pure physics: hindrance correlations, rate laws, potential helpers, electron accounting."""

from __future__ import annotations

import math

import pytest

from confine.case import case_from_dict
from confine.metrics import electrons_per_molecule, molar_mass
from confine.physics import hindrance, kinetics, potential
from confine.units import FARADAY, GAS_CONSTANT


# --------------------------------------------------------------------------- hindrance
@pytest.mark.parametrize(
    ("lam", "expected"),
    [
        # Renkin (1954): (1-λ)² (1 - 2.104 λ + 2.09 λ³ - 0.95 λ⁵), evaluated by hand
        (0.0, 1.0),
        (0.1, 0.81 * (1 - 0.2104 + 0.00209 - 0.0000095)),
        (0.5, 0.25 * (1 - 1.052 + 0.26125 - 0.0296875)),
    ],
)
def test_renkin_values(lam: float, expected: float) -> None:
    assert hindrance.renkin(lam) == pytest.approx(expected, rel=1e-12)


def test_renkin_hand_value() -> None:
    """Renkin at λ = 0.5, worked by hand: 0.25 × 0.1795625 = 0.044890625."""
    assert hindrance.renkin(0.5) == pytest.approx(0.044890625, rel=1e-12)


def test_dechadilok_deen_values() -> None:
    # the published polynomial term by term at λ = 0.5
    lam = 0.5
    terms = [
        1.0,
        9 / 8 * lam * math.log(lam),
        -1.56034 * lam,
        0.528155 * lam**2,
        1.91521 * lam**3,
        -2.81903 * lam**4,
        0.270788 * lam**5,
        1.10115 * lam**6,
        -0.435933 * lam**7,
    ]
    assert hindrance.dechadilok_deen(lam) == pytest.approx(sum(terms), rel=1e-12)
    # worked by hand from the published coefficients: 0.04745 (a little above Renkin)
    assert hindrance.dechadilok_deen(0.5) == pytest.approx(0.04745, abs=5e-5)
    assert hindrance.dechadilok_deen(0.0) == 1.0


def test_dechadilok_deen_small_lambda_asymptote() -> None:
    """Small λ: H → 1 + 9/8 λ ln λ − 1.56 λ (centreline asymptote the fit is built on)."""
    lam = 1e-4
    approx = 1 + 9 / 8 * lam * math.log(lam) - 1.56034 * lam
    assert hindrance.dechadilok_deen(lam) == pytest.approx(approx, abs=1e-7)


def test_dechadilok_deen_range() -> None:
    with pytest.raises(ValueError, match=r"0\.95"):
        hindrance.dechadilok_deen(0.97)


def test_both_correlations_monotone_and_close() -> None:
    prev_r = prev_d = 1.0
    for i in range(1, 19):
        lam = i * 0.05
        r, d = hindrance.renkin(lam), hindrance.dechadilok_deen(lam)
        assert 0 < r < prev_r and 0 < d < prev_d
        prev_r, prev_d = r, d
        if lam <= 0.4:  # the two agree within a few per cent of the bulk value here
            assert abs(r - d) < 0.06


def test_partition_and_factor() -> None:
    assert hindrance.partition(0.3) == pytest.approx(0.49)
    assert hindrance.hindrance_factor("none", 1e-10, 1e-9) == 1.0
    assert hindrance.hindrance_factor("renkin", None, 1e-9) == 1.0
    assert hindrance.hindrance_factor("renkin", 0.2e-9, 1e-9) == pytest.approx(
        hindrance.renkin(0.2)
    )
    with pytest.raises(ValueError, match="cannot enter"):
        hindrance.hindrance_factor("renkin", 2e-9, 1e-9)


# --------------------------------------------------------------------------- kinetics
def _case(**extra):
    base = {
        "case": {"name": "k"},
        "geometry": {"kind": "planar", "model": "1d", "length": "10 nm"},
        "electrolyte": {"potential_model": "none", "hindrance": "none"},
        "species": [
            {"name": "H+", "charge": 1, "diffusivity": "9.311e-9 m^2/s", "bulk": "1 mol/L"},
            {"name": "OH-", "charge": -1, "diffusivity": "5.273e-9 m^2/s", "bulk": "1 mol/L"},
            {"name": "A", "formula": "CO2", "diffusivity": "1e-9 m^2/s", "bulk": "0.01 mol/L"},
            {"name": "*H", "phase": "adsorbed"},
            {"name": "*CO2", "phase": "adsorbed", "formula": "CO2"},
            {"name": "H2", "diffusivity": "4.5e-9 m^2/s"},
        ],
        "reactions": [
            {
                "name": "volmer",
                "type": "electrochemical",
                "reactants": {"H+": 1},
                "products": {"*H": 1},
                "electrons": 1,
                "rate_constant": "2 1/s",
                "transfer_coefficient": 0.5,
                "reference_potential": "-0.1 V",
            },
            {
                "name": "ads",
                "type": "chemical",
                "reactants": {"A": 1},
                "products": {"*CO2": 1},
                "rate_constant": "3 1/s",
                "backward_rate_constant": "5 mol/(m^3*s)",
            },
            {
                "name": "tafel",
                "type": "chemical",
                "reactants": {"*H": 2},
                "products": {"H2": 1},
                "rate_constant": "7 mol/(m^3*s)",
            },
        ],
        "output": {"products": ["H2"]},
    }
    base.update(extra)
    return case_from_dict(base)


def test_tafel_rate() -> None:
    case = _case()
    r = case.reaction_named("volmer")
    cov = {"*H": 0.2, "*CO2": 0.1}
    vals = {"H+": 3.0, **cov}
    rate = kinetics.reaction_rate(r, vals, cov, k=2.0, potential=-0.5, phi=-0.05, temperature=300.0)
    eta = -0.5 - (-0.05) - (-0.1)
    expected = 2.0 * 3.0 * (1 - 0.3) * math.exp(-0.5 * FARADAY * eta / (GAS_CONSTANT * 300.0))
    assert rate == pytest.approx(expected, rel=1e-13)


def test_mass_action_with_sites_and_reversibility() -> None:
    case = _case()
    ads = case.reaction_named("ads")
    cov = {"*H": 0.2, "*CO2": 0.1}
    rate = kinetics.reaction_rate(ads, {"A": 4.0, **cov}, cov, k=3.0, kb=5.0)
    assert rate == pytest.approx(3.0 * 4.0 * 0.7 - 5.0 * 0.1)
    taf = case.reaction_named("tafel")
    assert kinetics.reaction_rate(taf, dict(cov), cov, k=7.0) == pytest.approx(7.0 * 0.04)
    assert kinetics.site_demand(taf, cov) == (0.0, 2.0)
    assert kinetics.stoichiometry(taf) == {"*H": -2.0, "H2": 1.0}


def test_fractional_order_never_nan() -> None:
    assert kinetics.power(-1.0, 0.5) == 0.0
    assert kinetics.power(4.0, 0.5) == 2.0
    assert kinetics.power(-2.0, 1.0) == -2.0


def test_langmuir_equilibrium_of_the_rate_law() -> None:
    """Zero net adsorption rate at θ = Kc/(1 + Kc) (one adsorbate)."""
    case = _case()
    ads = case.reaction_named("ads")
    k, kb, c = 3.0, 5.0, 4.0
    theta = (k / kb * c) / (1 + k / kb * c)
    cov = {"*CO2": theta}
    assert kinetics.reaction_rate(ads, {"A": c, **cov}, cov, k=k, kb=kb) == pytest.approx(
        0.0, abs=1e-14
    )


# --------------------------------------------------------------------------- potential
def test_conductivity_of_kcl_like_bulk() -> None:
    case = _case()
    ions = [s for s in case.species if s.charge]
    kappa = potential.conductivity_from_ions(ions, 298.15)
    expected = FARADAY**2 / (GAS_CONSTANT * 298.15) * (9.311e-9 + 5.273e-9) * 1000.0
    assert kappa == pytest.approx(expected)
    assert potential.conductivity(case) == pytest.approx(expected)


def test_eliminated_ion_is_a_spectator() -> None:
    case = case_from_dict(
        {
            "case": {"name": "e"},
            "geometry": {"kind": "planar", "model": "1d", "length": "10 nm"},
            "electrolyte": {"potential_model": "electroneutral", "hindrance": "none"},
            "species": [
                {"name": "K+", "charge": 1, "diffusivity": "2e-9 m^2/s", "bulk": "0.1 mol/L"},
                {"name": "Cl-", "charge": -1, "diffusivity": "2e-9 m^2/s", "bulk": "0.1 mol/L"},
                {"name": "Cu^2+", "charge": 2, "diffusivity": "7e-10 m^2/s", "bulk": "0 mol/L"},
            ],
            "reactions": [],
        }
    )
    assert potential.eliminated_ion(case).name in ("K+", "Cl-")
    c = potential.eliminated_concentration(
        {"K+": 1, "Cl-": -1, "Cu^2+": 2}, {"K+": 3.0, "Cu^2+": 1.0}, "Cl-", -1
    )
    assert c == pytest.approx(5.0)


# --------------------------------------------------------------------------- accounting
def test_electron_accounting_of_the_urea_network(root) -> None:
    from confine.case import load_case

    case = load_case(root / "cases" / "mchs-7nm.toml")
    e = electrons_per_molecule(case)
    assert e["urea"] == pytest.approx(16.0)
    assert e["NH4+"] == pytest.approx(8.0)
    assert e["NH3"] == pytest.approx(8.0)
    assert e["NO2-"] == pytest.approx(2.0)
    assert e["H2"] == pytest.approx(2.0)
    assert e["*H"] == pytest.approx(1.0)
    assert e["*NO"] == pytest.approx(3.0)
    assert e["NO3-"] == 0.0
    assert molar_mass(case, "urea") == pytest.approx(60.056, abs=1e-3)
