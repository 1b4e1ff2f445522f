"""Declarative description of case-file keys: one `Key` per key, with its unit.

The dataclasses in :mod:`confine.case` carry a `Key` in each field's metadata;
the loader, the validator, the resolved-TOML writer and the generated key
reference (docs/case-reference.md) all read the same table.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["quantity", "str", "int", "float", "bool", "table", "list", "options"]
#: Largest integer a case key takes (a C int: gmsh and PETSc read them as such).
INT_LIMIT = 2**31 - 1
#: Largest value in a table (stoichiometric coefficients, reaction orders).
TABLE_LIMIT = 100.0


@dataclass(frozen=True)
class Key:
    """How one case-file key is read.

    Attributes:
        kind: quantity (string with units -> SI float), str, int, float, bool,
            table (name -> number), list (of strings), options (PETSc: name ->
            scalar).
        unit: for quantities, a unit of the expected dimension.
        default: the TOML default (a quantity string for quantities); None
            means optional with no value; `REQUIRED` means it must be given.
        doc: one line for the key reference.
        choices: allowed strings.
        positive: the value must be > 0.
        nonnegative: the value must be >= 0.
        maximum: the value must be <= this (SI).
    """

    kind: Kind
    doc: str
    unit: str = ""
    default: Any = None
    choices: tuple[str, ...] = ()
    positive: bool = False
    nonnegative: bool = False
    maximum: float | None = None


REQUIRED = object()


def brief(value: object, limit: int = 80) -> str:
    """``repr(value)``, cut to about ``limit`` characters: a problem stays one short line."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[: limit - 20]}... ({len(text)} characters)"


def key(kind: Kind, doc: str, **kw: Any) -> Any:
    """A dataclass field carrying its `Key` (default None unless required)."""
    spec = Key(kind=kind, doc=doc, **kw)
    if spec.default is REQUIRED:
        return field(metadata={"key": spec})
    if kind in ("table", "options"):
        return field(default_factory=dict, metadata={"key": spec})
    if kind == "list":
        return field(default=(), metadata={"key": spec})
    return field(default=None, metadata={"key": spec})


def keys_of(cls: type) -> dict[str, Key]:
    """Key specs of a section dataclass, in declaration order."""
    return {f.name: f.metadata["key"] for f in dataclasses.fields(cls) if "key" in f.metadata}
