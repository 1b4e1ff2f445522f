"""Quantities with units: parsed and dimension-checked with pint, SI floats out.

Case files hold every dimensional value as a string with its unit ("214 nm",
"1.91e-9 m^2/s", "0.1 mol/L"); the code works in SI floats. Only pint's
parser sees the strings: nothing is evaluated as Python.
"""

from __future__ import annotations

import math
from functools import cache

import pint

# Physical constants (CODATA 2018, exact where SI defines them).
FARADAY = 96485.33212  # C/mol
GAS_CONSTANT = 8.314462618  # J/(mol K)
VACUUM_PERMITTIVITY = 8.8541878128e-12  # F/m
AVOGADRO = 6.02214076e23  # 1/mol


@cache
def registry() -> pint.UnitRegistry:
    """The one unit registry (M = mol/L is pint's `molar`; "5 %" is 0.05)."""
    return pint.UnitRegistry()


class UnitError(ValueError):
    """A quantity string that does not parse or has the wrong dimension."""


@cache
def _si_unit_text(dim: str) -> str:
    """SI base units of a dimension spec, as a pint-parsable string."""
    q = registry().Quantity(1.0, dim).to_base_units()
    return f"{q.units:~C}".replace("**", "^") or "1"


def parse_quantity(text: object, unit: str) -> float:
    """Parse a quantity string and return its value in SI base units.

    Args:
        text: e.g. "7.55 nm" (a bare number is accepted only when ``unit`` is
            dimensionless).
        unit: a unit of the expected dimension, e.g. "m", "mol/L", "m^2/s".

    Returns:
        The value in SI base units (m, s, mol, kg, A, K).

    Raises:
        UnitError: unparsable text, a missing unit, or a wrong dimension.
    """
    ureg = registry()
    want = ureg.Quantity(1.0, unit)
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise UnitError(f"expected a quantity string like '1 {unit}', got {text!r}")
    if isinstance(text, int | float):
        if want.dimensionless:
            return float(text) * float(want.to_base_units().magnitude)
        raise UnitError(f'{text!r} has no unit: write it as a string, e.g. "{text} {unit}"')
    try:
        q = ureg.Quantity(text.strip())
    except Exception as err:  # pint raises many types for bad syntax
        raise UnitError(f"cannot parse {text!r} as a quantity with units") from err
    if not isinstance(q, pint.Quantity):
        q = ureg.Quantity(float(q), "")
    if q.dimensionality != want.dimensionality:
        got = "dimensionless" if q.dimensionless else str(q.units)
        raise UnitError(
            f"{text!r} has units of {got} [{q.dimensionality}], expected {unit} "
            f"[{want.dimensionality}]"
        )
    value = float(q.to_base_units().magnitude)
    if not math.isfinite(value):
        raise UnitError(f"{text!r} is not finite")
    return value


def format_si(value: float, unit: str) -> str:
    """Format an SI float back into a quantity string that parses to the same float."""
    text = _si_unit_text(unit)
    return repr(value) if text == "1" else f"{value!r} {text}"
