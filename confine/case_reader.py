"""The case-file reader: TOML -> raw dict -> the sections and entries, and back.

A case file is data: it is parsed with :mod:`tomllib` and its quantity
strings with pint; nothing in it is evaluated as code. Each value is checked
against its own key (kind, unit, sign, choices, limits) and every finding is
collected before one :class:`~confine.findings.CaseError` is raised. ``--set``
overrides are applied to the raw dict before reading. The units of a rate
constant follow from its reaction's orders. The way back (:func:`case_to_dict`)
writes quantities as strings in SI units, which read back to an equal case.
"""

from __future__ import annotations

import copy
import functools
import math
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from confine.case_data import ARRAYS, SECTIONS, CaseData
from confine.entries import SOLVENT, Reaction, Species, Wall
from confine.findings import CaseError, Finding
from confine.names import did_you_mean
from confine.schema import INT_LIMIT, REQUIRED, TABLE_LIMIT, Key, brief, keys_of
from confine.units import UnitError, format_si, parse_quantity, parse_unit, registry


def read_toml(path: str | Path) -> dict[str, Any]:
    """The raw data of a TOML case file.

    Raises:
        CaseError: malformed TOML (with its line), or nested too deeply.
        FileNotFoundError: no such file.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        return tomllib.loads(text)
    except ValueError as err:  # TOMLDecodeError, or an integer of over 4300 digits
        line = re.search(r"line (\d+)", str(err))
        where = f"line {line.group(1)}" if line else "toml"
        raise CaseError([Finding(str(path), where, f"malformed TOML: {err}")]) from None
    except RecursionError:
        raise CaseError([Finding(str(path), "toml", "malformed TOML: nested too deeply")]) from None


#: Longest chain of ``base`` files a case may inherit through.
MAX_BASE_DEPTH = 4


def read_case_file(path: str | Path) -> dict[str, Any]:
    """The raw data of a case file, merged over the file its top-level ``base`` names.

    ``base = "other.toml"`` (relative to the file) starts from that case: its
    tables are merged key by key with this file's, and an array of tables this
    file gives (``[[species]]``, ``[[reactions]]``, ``[[walls]]``) replaces the
    base's whole array. Chains are followed up to :data:`MAX_BASE_DEPTH` deep.

    Raises:
        CaseError: ``base`` is not a string, names no file, is circular or too deep;
            or a file in the chain is malformed.
        FileNotFoundError: no such file.
    """
    return _with_base(Path(path), ())


def _with_base(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    raw = read_toml(path)
    base = raw.pop("base", None)
    if base is None:
        return raw

    def fail(msg: str) -> CaseError:
        return CaseError([Finding(str(path), "base", msg)])

    if not isinstance(base, str):
        raise fail(f"must be the path of a case file (a string), not {brief(base)}")
    target = (path.parent / base).resolve()
    if target in seen or target == path.resolve():
        raise fail(f"'{base}' inherits from itself (circular chain of base files)")
    if len(seen) + 1 >= MAX_BASE_DEPTH:
        raise fail(f"chain of base files deeper than {MAX_BASE_DEPTH}")
    if not target.is_file():
        raise fail(f"no case file '{base}' (looked for {target})")
    return merge_tables(_with_base(target, (*seen, path.resolve())), raw)


def merge_tables(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` merged into a copy of ``base``: tables key by key, anything else replaced."""
    out = copy.deepcopy(dict(base))
    for k, v in over.items():
        old = out.get(k)
        out[k] = (
            merge_tables(old, v)
            if isinstance(v, dict) and isinstance(old, dict)
            else copy.deepcopy(v)
        )
    return out


def parse_override_value(value: Any) -> Any:
    """A ``--set`` value: a TOML value if it parses as one, else the string itself."""
    if not isinstance(value, str):
        return value
    try:
        return tomllib.loads(f"v = {value}")["v"]
    except (ValueError, RecursionError):  # not TOML, too deep, or a 4300-digit integer
        return value


def apply_overrides(raw: dict[str, Any], overrides: Mapping[str, Any], file: str) -> None:
    """Apply dotted-key overrides in place; arrays of tables are addressed by name.

    Raises:
        CaseError: a path that names no section, entry or key.
    """
    problems = []
    for dotted, value in overrides.items():
        parts = dotted.split(".")
        val = parse_override_value(value)
        if parts[0] in ARRAYS:
            if len(parts) < 3:
                problems.append(Finding(file, dotted, f"address as {parts[0]}.NAME.KEY (--set)"))
                continue
            *name_parts, field_name = parts[1:]
            name = ".".join(name_parts)
            entries = raw.get(parts[0], [])
            match = [e for e in entries if isinstance(e, dict) and e.get("name") == name]
            if not match:
                names = [str(e.get("name")) for e in entries if isinstance(e, dict)]
                problems.append(
                    Finding(
                        file,
                        dotted,
                        f"no {parts[0]} entry named '{name}'{did_you_mean(name, names)}",
                    )
                )
                continue
            match[0][field_name] = val
        elif parts[0] in SECTIONS and len(parts) >= 2:
            table = raw.setdefault(parts[0], {})
            for p in parts[1:-1]:
                table = table.setdefault(p, {})
            table[parts[-1]] = val
        elif parts[0] in SECTIONS:  # a whole section given one value
            specs = keys_of(SECTIONS[parts[0]])
            first = next(iter(specs), "KEY")
            example = next((k for k, v in specs.items() if v.kind == "quantity"), first)
            problems.append(
                Finding(
                    file,
                    dotted,
                    f"{parts[0]} is a section: set one of its keys, e.g. {parts[0]}.{example}",
                )
            )
        else:
            valid = list(SECTIONS) + list(ARRAYS)
            problems.append(
                Finding(
                    file, dotted, f"unknown section '{parts[0]}'{did_you_mean(parts[0], valid)}"
                )
            )
    if problems:
        raise CaseError(problems)


def _quantity(spec: Key, value: Any, unit: str | None) -> tuple[Any, list[str]]:
    try:
        return parse_quantity(value, unit if unit is not None else spec.unit), []
    except UnitError as err:
        return None, [str(err)]


def _string(spec: Key, value: Any, unit: str | None) -> tuple[Any, list[str]]:
    if not isinstance(value, str):
        return None, [f"expected a string, got {brief(value)}"]
    if spec.choices and value not in spec.choices:
        hint = did_you_mean(value, spec.choices)
        return None, [f"{brief(value)} is not one of {', '.join(spec.choices)}{hint}"]
    return value, []


def _integer(spec: Key, value: Any, unit: str | None) -> tuple[Any, list[str]]:
    if isinstance(value, bool) or not isinstance(value, int):
        return None, [f"expected an integer, got {brief(value)}"]
    if abs(value) > INT_LIMIT:
        return None, [f"{brief(value)} is out of range: integers here are within ±{INT_LIMIT}"]
    return value, []


def _number(spec: Key, value: Any, unit: str | None) -> tuple[Any, list[str]]:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, [f"expected a number, got {brief(value)}"]
    if not math.isfinite(value):
        return None, [f"expected a finite number, got {brief(value)}"]
    return float(value), []


def _boolean(spec: Key, value: Any, unit: str | None) -> tuple[Any, list[str]]:
    if not isinstance(value, bool):
        return None, [f"expected true or false, got {brief(value)}"]
    return value, []


def _strings(spec: Key, value: Any, unit: str | None) -> tuple[Any, list[str]]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None, [f"expected a list of strings, got {brief(value)}"]
    return tuple(value), []


def _table(spec: Key, value: Any, unit: str | None) -> tuple[Any, list[str]]:
    if not isinstance(value, dict):
        return None, [f"expected a table of name = number, got {brief(value)}"]
    out: dict[str, float] = {}
    messages = []
    for k, v in value.items():
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v <= TABLE_LIMIT:
            messages.append(
                f"'{k}' must be a positive number up to {TABLE_LIMIT:g}, got {brief(v)}"
            )
        else:
            out[k] = float(v)
    return out, messages


def _options(spec: Key, value: Any, unit: str | None) -> tuple[Any, list[str]]:
    if not isinstance(value, dict) or not all(
        isinstance(v, str | int | bool) or (isinstance(v, float) and math.isfinite(v))
        for v in value.values()
    ):
        return None, [f"expected a table of PETSc option = value, got {brief(value)}"]
    return dict(value), []


#: One converter per key kind: (spec, TOML value, unit) -> (value, findings).
_CONVERT: dict[str, Callable[[Key, Any, str | None], tuple[Any, list[str]]]] = {
    "quantity": _quantity,
    "str": _string,
    "int": _integer,
    "float": _number,
    "bool": _boolean,
    "list": _strings,
    "table": _table,
    "options": _options,
}


def _out_of_range(spec: Key, out: Any, value: Any) -> str | None:
    """What is wrong with a number's sign or size, or None."""
    if not isinstance(out, int | float) or isinstance(out, bool):
        return None
    if spec.positive and not out > 0:
        return f"must be positive, got {brief(value)}"
    if spec.nonnegative and out < 0:
        return f"must not be negative, got {brief(value)}"
    if spec.maximum is not None and out > spec.maximum:
        return f"must be at most {spec.maximum:g}, got {brief(value)}"
    return None


def _read_value(
    spec: Key, value: Any, where: str, file: str, problems: list[Finding], unit: str | None = None
) -> Any:
    """Convert one TOML value per its spec; append a finding and return None on error."""
    out, messages = _CONVERT[spec.kind](spec, value, unit)
    problems += [Finding(file, where, msg) for msg in messages]
    if messages or out is None:
        return None
    wrong = _out_of_range(spec, out, value)
    if wrong is not None:
        problems.append(Finding(file, where, wrong))
    return out


def _read_section(
    cls: type,
    raw: Any,
    where: str,
    file: str,
    problems: list[Finding],
    units: Mapping[str, str] | None = None,
) -> dict[str, Any] | None:
    """Values of one section (or array entry), defaults filled; None if not a table."""
    if not isinstance(raw, dict):
        problems.append(Finding(file, where, f"expected a table, got {brief(raw)}"))
        return None
    specs = keys_of(cls)
    for name in raw:
        if name not in specs:
            problems.append(
                Finding(file, f"{where}.{name}", f"unknown key{did_you_mean(name, specs)}")
            )
    values: dict[str, Any] = {}
    for name, spec in specs.items():
        unit = (units or {}).get(name)
        if name in raw:
            values[name] = _read_value(spec, raw[name], f"{where}.{name}", file, problems, unit)
        elif spec.default is REQUIRED:
            problems.append(Finding(file, f"{where}.{name}", "required key is missing"))
            values[name] = None
        elif spec.default is None:
            values[name] = (
                {} if spec.kind in ("table", "options") else (() if spec.kind == "list" else None)
            )
        else:
            values[name] = _read_value(spec, spec.default, f"{where}.{name}", file, problems)
    return values


def read_case(raw: Mapping[str, Any], file: str = "<dict>") -> CaseData:
    """The sections and entries of TOML-like data, each value checked against its key.

    The cross-key rules are not applied here (:func:`confine.case.case_from_dict`).

    Raises:
        CaseError: every finding.
    """
    raw = copy.deepcopy(dict(raw))
    problems: list[Finding] = []
    for sec in raw:
        if sec not in SECTIONS and sec not in ARRAYS:
            problems.append(
                Finding(
                    file, sec, f"unknown section{did_you_mean(sec, list(SECTIONS) + list(ARRAYS))}"
                )
            )
    if not raw:  # one finding, not one per required key
        raise CaseError(
            [Finding(file, "case", "the file is empty: a case needs [case] and [[species]]")]
        )
    sections: dict[str, Any] = {}
    for sec, cls in SECTIONS.items():
        vals = _read_section(cls, raw.get(sec, {}), sec, file, problems)
        sections[sec] = vals
    species_vals = _read_array("species", Species, raw, file, problems)
    wall_vals = _read_array("walls", Wall, raw, file, problems)
    phases = {str(s.get("name")): s.get("phase") for s in species_vals}
    reaction_vals = []
    for i, entry in enumerate(_entries("reactions", raw, file, problems)):
        label = _label("reactions", entry, i)
        units = _expected_rate_units(entry, phases) if isinstance(entry, dict) else None
        if isinstance(entry, dict) and units is None:
            problems.append(
                Finding(
                    file,
                    f"{label}.rate_constant",
                    "cannot check units: fix 'where' and 'orders' first",
                )
            )
            units = {}
        before = len(problems)
        vals = _read_section(Reaction, entry, label, file, problems, units)
        if any(p.key.endswith(("reactants", "products", "orders")) for p in problems[before:]):
            # the rate units follow the orders: one problem, not a second about units
            problems[before:] = [p for p in problems[before:] if "rate_constant" not in p.key]
        if vals is not None:
            reaction_vals.append(vals)
    if problems:
        raise CaseError(problems)
    return CaseData(
        **{sec: cls(**sections[sec]) for sec, cls in SECTIONS.items()},
        species=tuple(Species(**v) for v in species_vals),
        reactions=tuple(Reaction(**v) for v in reaction_vals),
        walls=tuple(Wall(**v) for v in wall_vals),
        source=file,
    )


def _entries(arr: str, raw: Mapping[str, Any], file: str, problems: list[Finding]) -> list[Any]:
    entries = raw.get(arr, [])
    if not isinstance(entries, list):
        problems.append(Finding(file, arr, f"expected an array of tables [[{arr}]]"))
        return []
    return entries


def _label(arr: str, entry: Any, i: int) -> str:
    name = entry.get("name") if isinstance(entry, dict) else None
    return f"{arr}.{name}" if isinstance(name, str) else f"{arr}[{i}]"


def _read_array(
    arr: str, cls: type, raw: Mapping[str, Any], file: str, problems: list[Finding]
) -> list[dict[str, Any]]:
    out = []
    for i, entry in enumerate(_entries(arr, raw, file, problems)):
        vals = _read_section(cls, entry, _label(arr, entry, i), file, problems)
        if vals is not None:
            out.append(vals)
    return out


# --------------------------------------------------------------------------- rate units
_BASE_RATE = {"layer": "mol/(m^3*s)", "electrolyte": "mol/(m^3*s)", "surface": "mol/(m^2*s)"}


def _order_sum(orders: Mapping[str, Any], phases: Mapping[str, Any]) -> float | None:
    total = 0.0
    for name, order in orders.items():
        if isinstance(order, bool) or not isinstance(order, int | float):
            return None
        if not math.isfinite(order):
            return None
        if name == SOLVENT or phases.get(name) == "adsorbed":
            continue  # solvent activity 1; coverages are dimensionless
        total += float(order)
    return total


@functools.lru_cache(maxsize=1024)  # every case load asks for the same few
def _unit_for(base: str, order: float) -> str:
    ureg = registry()
    dims: Any = (
        ureg.Quantity(1.0, parse_unit(base)) / ureg.Quantity(1.0, parse_unit("mol/m^3")) ** order
    )
    return f"{dims.to_base_units().units:~C}".replace("**", "^") or "1"


def _expected_rate_units(entry: Mapping[str, Any], phases: Mapping[str, Any]) -> dict[str, str]:
    """Units of the rate constants implied by 'where' and the orders of each direction."""
    where = entry.get("where", "layer")
    base = _BASE_RATE.get(where) if isinstance(where, str) else None
    if base is None:
        return {"rate_constant": "mol/(m^3*s)", "backward_rate_constant": "mol/(m^3*s)"}
    fwd = entry.get("orders") or entry.get("reactants") or {}
    bwd = entry.get("backward_orders") or entry.get("products") or {}
    if not isinstance(fwd, dict) or not isinstance(bwd, dict):
        return {"rate_constant": base, "backward_rate_constant": base}
    nf, nb = _order_sum(fwd, phases), _order_sum(bwd, phases)
    return {
        "rate_constant": _unit_for(base, nf or 0.0),
        "backward_rate_constant": _unit_for(base, nb or 0.0),
    }


def rate_units(r: Reaction, case: CaseData) -> dict[str, str]:
    """Units of a reaction's rate constants in a case (they follow its orders)."""
    phases = {s.name: s.phase for s in case.species}
    return _expected_rate_units(
        {
            "where": r.where,
            "orders": r.orders or r.reactants,
            "backward_orders": r.backward_orders or r.products,
        },
        phases,
    )


def section_to_dict(obj: Any, cls: type, units: dict[str, str] | None = None) -> dict[str, Any]:
    """One section or entry as TOML-ready data (quantities as strings in SI units)."""
    out: dict[str, Any] = {}
    for name, spec in keys_of(cls).items():
        value = getattr(obj, name)
        if value is None:
            continue
        if spec.kind == "quantity":
            unit = (units or {}).get(name, spec.unit)
            out[name] = format_si(value, unit)
        elif spec.kind == "list":
            out[name] = list(value)
        elif spec.kind in ("table", "options"):
            out[name] = dict(value)
        else:
            out[name] = value
    return out


def case_to_dict(data: CaseData) -> dict[str, Any]:
    """A case as TOML-ready data (quantities as strings in SI units)."""
    out: dict[str, Any] = {}
    for sec, cls in SECTIONS.items():
        out[sec] = section_to_dict(getattr(data, sec), cls)
    out["species"] = [section_to_dict(s, Species) for s in data.species]
    out["reactions"] = [
        section_to_dict(r, Reaction, units=rate_units(r, data)) for r in data.reactions
    ]
    if data.walls:  # absent when empty: cases without walls keep their hash
        out["walls"] = [section_to_dict(w, Wall) for w in data.walls]
    return out
