"""Quantities in the units a reader expects (V, mol/L, nm), exact all the same.

``Case.to_dict`` writes every quantity in SI base units ("-0.3 kg*m^2/A/s^3"):
exact, and the form the case hash is taken of, but unreadable. Files a
person reads (failure.json, the resolved case.toml of ``Case.to_toml``) use
the unit each key is documented in instead, with the fewest digits that
still parse back to the very same float, so the resolved case they hold
reproduces the run exactly.
"""

from __future__ import annotations

from typing import Any

from confine.case_data import ARRAYS, SECTIONS, CaseData
from confine.case_reader import case_to_dict
from confine.schema import keys_of
from confine.units import UnitError, format_si, parse_quantity, registry


def readable_quantity(value: float, unit: str) -> str:
    """``value`` (SI) as a quantity string in ``unit`` that parses back to ``value`` exactly.

    Args:
        value: the SI float.
        unit: the unit to show it in, e.g. "V", "mol/L", "nm" (empty: SI base units).

    Returns:
        e.g. "-0.3 V" for (-0.3, "V"); the SI form (:func:`confine.units.format_si`)
        when no decimal string in ``unit`` gives back exactly ``value``.
    """
    if not unit:
        return format_si(value, "1")
    try:
        scale = float(registry().Quantity(1.0, unit).to_base_units().magnitude)
    except Exception:  # pint raises many types; an unknown unit just stays SI
        return format_si(value, unit)
    shown = value / scale
    for digits in range(1, 18):  # the shortest decimal form that round-trips
        text = f"{_number(float(f'{shown:.{digits}g}'))} {unit}"
        try:
            if parse_quantity(text, unit) == value:
                return text
        except UnitError:
            break
    return format_si(value, unit)


def _number(x: float) -> str:
    """``repr`` without a trailing ".0" ("100", "7.55", "1.91e-09")."""
    text = repr(x)
    return text[:-2] if text.endswith(".0") else text


def readable_case(case: CaseData) -> dict[str, Any]:
    """The resolved case as TOML-ready data, quantities in their documented units.

    Loads back (``case_from_dict``, or ``load_case`` once written as TOML) to a
    case equal to ``case``. Keys documented without a unit (rate constants,
    whose unit follows the reaction orders) keep ``Case.to_dict``'s SI form.
    """
    data = case_to_dict(case)
    for sec, cls in SECTIONS.items():
        _rewrite(data[sec], getattr(case, sec), cls)
    for arr, cls in ARRAYS.items():
        for entry, obj in zip(data.get(arr, []), getattr(case, arr), strict=True):
            _rewrite(entry, obj, cls)
    return data


def _rewrite(section: dict[str, Any], obj: Any, cls: type) -> None:
    for name, spec in keys_of(cls).items():
        if spec.kind == "quantity" and spec.unit and name in section:
            section[name] = readable_quantity(getattr(obj, name), spec.unit)
