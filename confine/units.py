"""Quantities with units: a strict grammar of our own, dimension-checked with pint, SI out.

Case files hold every dimensional value as a string with its unit ("214 nm",
"1.91e-9 m^2/s", "0.1 mol/L"); the code works in SI floats. A quantity is read
by the grammar below, never by pint's expression evaluator: pint is asked only
for the unit of each unit *name*, and nothing is evaluated as Python::

    quantity := number [unit | "/" unit]     number: 1, -7.55, .5, 2e-3 (no inf, nan)
    unit     := factor (("*" | "/" | " ") factor)*      left to right: a/b/c = a/(b*c)
    factor   := atom [("^" | "**") power]               power: a signed number, |p| < 100
    atom     := name | "1" | "(" unit ")"               name: nm, µm, mol, L, M, %, degC, ...

At most :data:`MAX_LENGTH` characters and :data:`MAX_DEPTH` nested parentheses, so
reading any string is quick and bounded: ``"7.55 nm * 0 + 4 nm"`` and
``"7.55 nm * 10**10**10"`` are refused, not evaluated.
"""

from __future__ import annotations

import math
import re
from functools import cache, lru_cache

import pint
from pint.util import UnitsContainer

from confine.schema import brief

# Physical constants (CODATA 2018, exact where SI defines them).
FARADAY = 96485.33212  # C/mol
GAS_CONSTANT = 8.314462618  # J/(mol K)
VACUUM_PERMITTIVITY = 8.8541878128e-12  # F/m
AVOGADRO = 6.02214076e23  # 1/mol

#: Longest quantity or unit string read (characters).
MAX_LENGTH = 200
#: Deepest nesting of parentheses in a unit.
MAX_DEPTH = 4

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
# power: at most two integer digits and six decimals (pint writes fractional powers so)
_POWER = re.compile(r"[+-]?\d{1,2}(?:\.\d{1,6})?(?![\d.])")
_NAME = re.compile(r"%|°?[^\W\d]\w*")
_TOKEN = re.compile(r"\s*(\*\*|[*/^()]|%|°?[^\W\d]\w*|[+-]?[\d.]+|\S)")
GRAMMAR_HINT = "unit names, ^ powers, * and /"


@cache
def registry() -> pint.UnitRegistry:
    """The one unit registry (M = mol/L is pint's `molar`; "5 %" is 0.05)."""
    return pint.UnitRegistry()


class UnitError(ValueError):
    """A quantity string that does not parse or has the wrong dimension."""


@cache
def _name(name: str) -> UnitsContainer:
    """The unit of one unit name (a registry look-up, nothing parsed)."""
    try:
        return UnitsContainer({registry().get_name(name): 1})
    except (pint.PintError, AttributeError, KeyError, ValueError) as err:
        raise UnitError(f"unknown unit '{name}'") from err


class _Reader:
    """Recursive descent over the tokens of one unit string (see the module doc)."""

    def __init__(self, text: str):
        self.tokens = _TOKEN.findall(text)
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def unit(self, depth: int) -> UnitsContainer:
        out = self.factor(depth)
        while (tok := self.peek()) is not None and tok != ")":
            if tok in ("*", "/"):
                self.take()
                rhs = self.factor(depth)
                out = out * rhs if tok == "*" else out / rhs
            else:  # "mol K": a space multiplies, as in pint
                out = out * self.factor(depth)
        return out

    def factor(self, depth: int) -> UnitsContainer:
        base = self.atom(depth)
        if self.peek() in ("^", "**"):
            self.take()
            tok = self.take() if self.peek() is not None else ""
            if not _POWER.fullmatch(tok):
                raise UnitError(
                    f"a power must be a number under 100, like ^2 or ^-1, not {tok or 'nothing'!r}"
                )
            base = base ** float(tok)
        return base

    def atom(self, depth: int) -> UnitsContainer:
        tok = self.take() if self.peek() is not None else ""
        if tok == "(":
            if depth >= MAX_DEPTH:
                raise UnitError(f"more than {MAX_DEPTH} nested parentheses")
            inner = self.unit(depth + 1)
            if self.peek() != ")":
                raise UnitError("unbalanced parentheses")
            self.take()
            return inner
        if tok == "1":
            return UnitsContainer()
        if _NAME.fullmatch(tok):
            return _name(tok)
        raise UnitError(f"unexpected {tok!r}" if tok else "a unit is missing after an operator")


@lru_cache(maxsize=4096)
def parse_unit(text: str) -> pint.Unit:
    """Read a unit string by the grammar of the module doc ("" is dimensionless).

    Raises:
        UnitError: not a unit of that grammar, or an unknown unit name.
    """
    if len(text) > MAX_LENGTH:
        raise UnitError(f"longer than {MAX_LENGTH} characters")
    if not text.strip():
        return registry().Unit(UnitsContainer())
    reader = _Reader(text)
    out = reader.unit(0)
    if reader.peek() is not None:
        raise UnitError(f"unexpected {reader.peek()!r}")
    return registry().Unit(out)


def read_quantity(text: str) -> pint.Quantity:
    """A quantity string -> a pint quantity (number and unit), by the module's grammar.

    Raises:
        UnitError: ``cannot parse ... as a quantity with units: <why>``.
    """

    def fail(why: str) -> UnitError:
        return UnitError(f"cannot parse {brief(text)} as a quantity with units: {why}")

    if len(text) > MAX_LENGTH:
        raise fail(f"longer than {MAX_LENGTH} characters")
    body = text.strip()
    number = _NUMBER.match(body)
    if number is None:
        raise fail(f"expected a number first, then a unit ({GRAMMAR_HINT})")
    magnitude = float(number.group())
    if not math.isfinite(magnitude):
        raise fail("the number is not finite")
    rest = body[number.end() :].lstrip()
    try:
        unit = parse_unit("1" + rest if rest.startswith("/") else rest)  # "5 /s" is 5 1/s
    except UnitError as err:
        raise fail(str(err)) from None
    q = registry().Quantity(magnitude, unit)
    try:  # offset units (degC) cannot be combined: pint refuses them here
        q.to_base_units()
    except ArithmeticError:
        raise fail("out of range in SI units") from None
    except (pint.PintError, ValueError):
        raise fail("an offset unit (degC) must stand alone") from None
    return q


@lru_cache(maxsize=4096)
def _expected(unit: str) -> pint.Quantity:
    return registry().Quantity(1.0, parse_unit(unit))


@cache
def _si_unit_text(dim: str) -> str:
    """SI base units of a dimension spec, as a string this module reads back."""
    q = _expected(dim).to_base_units()
    return f"{q.units:~C}".replace("**", "^") or "1"


def parse_quantity(text: object, unit: str) -> float:
    """Parse a quantity string and return its value in SI base units.

    Args:
        text: e.g. "7.55 nm" (a bare number is accepted only when ``unit`` is
            dimensionless).
        unit: a unit of the expected dimension, e.g. "m", "mol/L", "m^2/s".

    Returns:
        The value in SI base units (m, s, mol, kg, A, K), finite.

    Raises:
        UnitError: unparsable text, a missing unit, a wrong dimension, or a
            value that is not finite (or underflows to zero) in SI units.
    """
    try:
        want = _expected(unit)
    except UnitError as err:  # e.g. rate units of a reaction of absurd order
        raise UnitError(f"the expected unit {unit!r} is beyond this grammar: {err}") from None
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise UnitError(f"expected a quantity string like '1 {unit}', got {brief(text)}")
    if isinstance(text, int | float):
        if not math.isfinite(text):
            raise UnitError(f"{text!r} is not finite")
        if want.dimensionless:
            return float(text) * float(want.to_base_units().magnitude)
        raise UnitError(f'{text!r} has no unit: write it as a string, e.g. "{text} {unit}"')
    return _si_value(text, unit)


@lru_cache(maxsize=65536)  # sweeps re-read the same strings for every point
def _si_value(text: str, unit: str) -> float:
    want = _expected(unit)
    q = read_quantity(text)
    if q.dimensionality != want.dimensionality:
        got = "dimensionless" if q.dimensionless else str(q.units)
        raise UnitError(
            f"{brief(text)} has units of {got} [{q.dimensionality}], expected {unit} "
            f"[{want.dimensionality}]"
        )
    value = float(q.to_base_units().magnitude)
    if not math.isfinite(value):
        raise UnitError(f"{text!r} is not finite in SI units")
    if value == 0.0 and q.magnitude != 0.0:
        raise UnitError(f"{text!r} underflows to zero in SI units")
    return value


def format_si(value: float, unit: str) -> str:
    """Format an SI float back into a quantity string that parses to the same float."""
    text = _si_unit_text(unit)
    return repr(value) if text == "1" else f"{value!r} {text}"
