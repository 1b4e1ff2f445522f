"""The quantity grammar of confine/units.py: every form in use is read, pint never evaluates.

The rejections (grammar attacks, non-finite numbers, ...) are in test_bad_inputs.py.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pint
import pytest

from confine import units
from confine.case import load_case
from confine.case_reader import _unit_for
from confine.fit_file import load_fit
from confine.sampling import load_sweep
from confine.units import UnitError, format_si, parse_quantity, parse_unit, read_quantity

ROOT = Path(__file__).resolve().parent.parent


def _strings(data: Any) -> Iterator[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for k, v in data.items():
            if k != "unit":  # a unit alone ("1/s"), not a quantity
                yield from _strings(v)
    elif isinstance(data, list):
        for v in data:
            yield from _strings(v)


def _quantity_strings() -> list[str]:
    """Every string value of the shipped case, sweep and fit files that starts like a number."""
    found: set[str] = set()
    for path in ROOT.glob("cases/**/*.toml"):
        for s in _strings(tomllib.loads(path.read_text())):
            if re.match(r"\s*[+-]?(\d|\.\d)", s) and not re.fullmatch(r"[\d.]+-point", s):
                found.add(s)
    return sorted(found)


QUANTITIES = _quantity_strings()


def test_shipped_quantities_found() -> None:
    assert len(QUANTITIES) > 30
    assert {"214 nm", "1.91e-9 m^2/s", "0.034 mol/L"} <= set(QUANTITIES)


@pytest.mark.parametrize("text", QUANTITIES)
def test_every_shipped_quantity_is_read(text: str) -> None:
    q = read_quantity(text)
    assert q.magnitude == float(text.split()[0])


@pytest.mark.parametrize(
    ("text", "unit", "si"),
    [
        ("1e-3 mol/(m^3*s)", "mol/(m^3*s)", 1e-3),
        ("750.1 1/s", "1/s", 750.1),
        ("2 m**2/s", "m^2/s", 2.0),
        ("3 µm", "m", 3e-6),
        ("3 μm", "m", 3e-6),  # Greek mu
        ("3um", "m", 3e-6),
        (".5 nm", "m", 5e-10),
        ("+5 nm", "m", 5e-9),
        ("1 J/(mol K)", "J/(mol*K)", 1.0),  # a space multiplies
        ("1 mol/m^3/s", "mol/(m^3*s)", 1.0),  # left to right
        ("1.5 mol^0.5/m^1.5/s", "mol^0.5/m^1.5/s", 1.5),
        ("0.1 S/m", "S/m", 0.1),
        ("2 mg/cm^2", "kg/m^2", 0.02),
        ("5 /s", "1/s", 5.0),  # "/s" is "1/s"
        ("1 °C", "K", 274.15),
        ("12 %", "", 0.12),
        ("1 ((((nm))))", "m", 1e-9),  # four levels of parentheses
        ("1 nm^-1", "1/m", 1e9),
    ],
)
def test_grammar_reads(text: str, unit: str, si: float) -> None:
    assert parse_quantity(text, unit) == pytest.approx(si, rel=1e-12)


@pytest.mark.parametrize("order", [0, 0.5, 1, 2, 3, 7.5])
def test_rate_units_of_any_order_round_trip(order: float) -> None:
    unit = _unit_for("mol/(m^3*s)", order)
    text = format_si(2.5, unit)
    assert parse_quantity(text, unit) == 2.5


def test_unit_strings_of_sweeps_are_read_by_the_grammar() -> None:
    assert parse_unit("mol/(m^3*s)") == parse_unit("mol/m^3/s")
    with pytest.raises(UnitError, match="unexpected '10'"):
        parse_unit("V * 10**10**10")


def test_pint_never_evaluates_a_string(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading every shipped case, sweep and fit file asks pint for unit names only."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"pint parsed a string: {args[1:]!r}")

    monkeypatch.setattr(pint.UnitRegistry, "parse_expression", refuse)
    monkeypatch.setattr(pint.UnitRegistry, "parse_units", refuse)
    for cached in (parse_unit, units._expected, units._si_value, _unit_for):
        cached.cache_clear()  # a cold start: nothing read before this test helps
    for path in sorted(ROOT.glob("cases/*.toml")):
        if "sweep" in tomllib.loads(path.read_text()):
            assert load_sweep(path).points()
        else:
            assert load_case(path).to_toml()
    for path in sorted(ROOT.glob("cases/sweeps/*.toml")):
        assert load_sweep(path).size() > 1
    assert load_fit(ROOT / "cases" / "fit" / "mchs7-kinetics.fit.toml")
