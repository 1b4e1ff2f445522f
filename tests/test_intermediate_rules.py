"""Validation of intermediates (issue #23, item 2): a mobile intermediate needs a sink and
an adsorbate a site balance (confine/steady_state.py, rules 3 and 4).

Rule 3 adds what rules 1 and 2 miss: A → I beside a decay of A in a closed domain fixes
every combination and has no persistent step, yet leaves I's amount open. Rule 4 holds
for every bath in steady runs: an adsorbate must be put on the sites and taken off.
The whole-file cases are tests/cases_bad/mobile-intermediate-no-sink.toml and
adsorbate-no-site-balance.toml.
"""

from __future__ import annotations

from typing import Any

import pytest

from confine.case import CaseError, case_from_dict

TRANSIENT = {"transient": True, "end_time": "1 s", "time_step": "0.1 s"}


def step(name: str, reactants: dict[str, int], products: dict[str, int], **kw: Any) -> Any:
    """A first-order step (homogeneous when ``kw`` says so, else on the layer)."""
    kind = kw.pop("type", "chemical")
    out = {"name": name, "type": kind, "reactants": reactants, "products": products}
    out["rate_constant"] = kw.pop("rate_constant", "1e5 1/s")
    if kind == "homogeneous":
        out["where"] = "electrolyte"
    return out | kw


def case(bath: str, species: list[Any], reactions: list[Any], **solver: Any) -> dict[str, Any]:
    return {
        "case": {"name": "rules"},
        "geometry": {"kind": "hollow-sphere", "wall_thickness": "3 nm", "bath_boundary": bath},
        "electrolyte": {"potential_model": "none", "hindrance": "none"},
        "species": species,
        "reactions": reactions,
        "solver": solver,
    }


def mobile(bath: str, sink: bool = False, **solver: Any) -> dict[str, Any]:
    """Labelled water A (stocked) → intermediate I; A also decays; I decays with ``sink``."""
    a = {"name": "A", "formula": "H2O", "diffusivity": "1e-9 m^2/s", "bulk": "0.1 mol/L"}
    i = {"name": "I", "formula": "H2O", "diffusivity": "1e-9 m^2/s"}
    steps = [
        step("make_I", {"A": 1}, {"I": 1}),
        step("decay_A", {"A": 1}, {"H2O": 1}, type="homogeneous", rate_constant="1e3 1/s"),
    ]
    if sink:
        steps.append(step("decay_I", {"I": 1}, {"H2O": 1}, type="homogeneous"))
    if bath == "exchange":
        a["exchange_coefficient"] = "0 m/s"
        i["exchange_coefficient"] = "0 m/s"
    return case(bath, [a, i], steps, **solver)


def adsorbate(made: bool, used: bool, reversible: bool = False, **solver: Any) -> dict[str, Any]:
    """CO2 and *CO2 on the layer: adsorption (``made``) and release as CO (``used``)."""
    species = [
        {"name": "CO2", "diffusivity": "1.91e-9 m^2/s", "bulk": "0.034 mol/L"},
        {"name": "CO", "diffusivity": "2e-9 m^2/s"},
        {"name": "*CO2", "formula": "CO2", "phase": "adsorbed"},
    ]
    steps = []
    if made:
        extra = {"backward_rate_constant": "1e3 mol/(m^3*s)"} if reversible else {}
        steps.append(step("adsorb", {"CO2": 1}, {"*CO2": 1}, **extra))
    if used:
        steps.append(
            step(
                "reduce",
                {"*CO2": 1, "H2O": 1},
                {"CO": 1, "OH-": 2},
                type="electrochemical",
                electrons=2,
                rate_constant="1e3 mol/(m^3*s)",
            )
        )
        species.append({"name": "OH-", "charge": -1, "diffusivity": "5e-9 m^2/s"})
    return case("bulk", species, steps, **solver)


ACCEPTED = {
    "closed, I decays": mobile("closed", sink=True),
    "closed, transient": mobile("closed", **TRANSIENT),
    "bulk bath takes I out": mobile("bulk"),
    "adsorbed and reduced": adsorbate(True, True),
    "reversible adsorption only": adsorbate(True, False, reversible=True),
    "adsorbed only, transient": adsorbate(True, False, **TRANSIENT),
}

REJECTED = {
    "closed: I kept": (
        mobile("closed"),
        "species.I",
        "a mobile species with no sink: make_I makes it, no step consumes it and no face "
        "takes it out (bath_boundary = 'closed')",
    ),
    "exchange: I not exchanged": (
        mobile("exchange"),
        "species.I",
        "no face takes it out (bath_boundary = 'exchange')",
    ),
    "adsorbed, never taken off": (
        adsorbate(True, False),
        "species.*CO2",
        "adsorb puts it on the sites but no step takes it off",
    ),
    "reduced, never adsorbed": (
        adsorbate(False, True),
        "species.*CO2",
        "no step puts it on the sites, so its coverage can only drain to zero and reduce stops",
    ),
    "adsorbate in no step": (
        mobile("bulk")
        | {"species": [*mobile("bulk")["species"], {"name": "*O", "phase": "adsorbed"}]},
        "species.*O",
        "no step makes or consumes it, so nothing fixes its coverage",
    ),
}


@pytest.mark.parametrize("raw", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_intermediates_with_a_balance_are_accepted(raw: dict[str, Any]) -> None:
    case_from_dict(raw)


@pytest.mark.parametrize(("raw", "key", "message"), REJECTED.values(), ids=REJECTED.keys())
def test_intermediates_without_a_balance_are_rejected(
    raw: dict[str, Any], key: str, message: str
) -> None:
    with pytest.raises(CaseError) as info:
        case_from_dict(raw)
    (problem,) = info.value.problems
    assert problem.key == key
    assert message in problem.message
