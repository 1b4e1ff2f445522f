"""Case files: TOML -> a frozen, validated :class:`Case` (SI floats), every problem at once.

The public face of the case layer. What a file may say is the schema
(:mod:`confine.sections`, :mod:`confine.entries`, :mod:`confine.case_data`);
the reader (:mod:`confine.case_reader`) turns TOML into checked values; the
cross-key rules (:mod:`confine.validate`) check them together. Every finding is
reported in one go as ``error: FILE: section.key: what is wrong``
(:mod:`confine.findings`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from confine.case_data import ARRAYS, SECTIONS, CaseData
from confine.case_reader import (
    apply_overrides,
    case_to_dict,
    parse_override_value,
    read_case,
    read_case_file,
)
from confine.entries import (
    SOLVENT,
    WALL_GROUPS,
    Reaction,
    Species,
    Wall,
    backward_orders,
    forward_orders,
)
from confine.findings import CaseError, Finding
from confine.readable import readable_case
from confine.schema import REQUIRED, keys_of
from confine.sections import (
    GEOMETRY_KINDS,
    MODELS,
    PARTICLE_MODELS,
    POTENTIAL_MODELS,
    CaseInfo,
    Catalyst,
    Electrode,
    Electrolyte,
    Geometry,
    MeshSettings,
    Output,
    Solver,
)
from confine.validate import check_case

__all__ = [
    "ARRAYS",
    "GEOMETRY_KINDS",
    "MODELS",
    "PARTICLE_MODELS",
    "POTENTIAL_MODELS",
    "SECTIONS",
    "SOLVENT",
    "WALL_GROUPS",
    "Case",
    "CaseError",
    "CaseInfo",
    "Catalyst",
    "Electrode",
    "Electrolyte",
    "Finding",
    "Geometry",
    "MeshSettings",
    "Output",
    "Reaction",
    "Solver",
    "Species",
    "Wall",
    "apply_overrides",
    "backward_orders",
    "case_from_dict",
    "forward_orders",
    "key_reference",
    "load_case",
    "parse_override_value",
]


@dataclass(frozen=True, kw_only=True)
class Case(CaseData):
    """A fully resolved, validated case (SI floats throughout).

    Build one with :func:`load_case` (or :func:`case_from_dict`).
    """

    def to_dict(self) -> dict[str, Any]:
        """The resolved case as TOML-ready data (quantities as strings in SI units)."""
        return case_to_dict(self)

    def to_toml(self) -> str:
        """The resolved case as TOML text, quantities in their documented units (V, mol/L, nm).

        Loads back to an equal case (same hash, every SI float identical):
        :func:`confine.readable.readable_case` picks the shortest digits that
        parse back exactly. The hash is taken of :meth:`to_dict`, not of this.
        """
        return tomli_w.dumps(readable_case(self))

    def hash(self) -> str:
        """Hash of the resolved case (identifies a run)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()

    def replace(self, **overrides: Any) -> Case:
        """A validated copy with dotted-key overrides, e.g. ``{"electrode.potential": "-1 V"}``."""
        raw = self.to_dict()
        apply_overrides(raw, overrides, self.source)
        return case_from_dict(raw, self.source)


def load_case(path: str | Path, set: Mapping[str, Any] | None = None) -> Case:
    """Load, override and validate a case file.

    Args:
        path: the TOML case file.
        set: dotted-key overrides applied before validation, e.g.
            ``{"geometry.pore_diameter": "4 nm", "species.CO2.bulk": "0.02 mol/L"}``.
            Values are TOML values or strings (a string that parses as a TOML
            value, like ``"3"`` or ``'"4 nm"'``, is taken as that value).

    Returns:
        The validated case.

    Raises:
        CaseError: listing every problem found (file, key, rule).
        FileNotFoundError: no such file.
    """
    path = Path(path)
    raw = read_case_file(path)
    apply_overrides(raw, set or {}, str(path))
    return case_from_dict(raw, str(path))


def case_from_dict(raw: Mapping[str, Any], file: str = "<dict>") -> Case:
    """Build and validate a case from TOML-like data (see :func:`load_case`).

    Raises:
        CaseError: every problem found.
    """
    data = read_case(raw, file)
    problems = check_case(data)  # the cross-key rules
    if problems:
        raise CaseError(problems)
    return Case(**{f.name: getattr(data, f.name) for f in dataclasses.fields(CaseData)})


def key_reference() -> str:
    """Markdown reference of every case-file key: unit, default, meaning."""
    lines = [
        "# Case-file key reference",
        "",
        "Generated from the schema (`confine/sections.py`, `confine/entries.py`) by "
        "`confine keys`; quantities are strings with units "
        "(their grammar, and the limits validation applies: docs/limits.md).",
        "",
    ]
    for sec, cls in [*SECTIONS.items(), *(("[" + a + "]", c) for a, c in ARRAYS.items())]:
        lines += [
            f"## [{sec}]",
            "",
            "| key | kind | unit | default | meaning |",
            "|---|---|---|---|---|",
        ]
        for name, spec in keys_of(cls).items():
            default = (
                "required"
                if spec.default is REQUIRED
                else ""
                if spec.default is None
                else f"`{spec.default}`"
            )
            unit = spec.unit or ("per orders" if name.endswith("rate_constant") else "")
            doc = spec.doc + (f" ({' / '.join(spec.choices)})" if spec.choices else "")
            lines.append(f"| `{name}` | {spec.kind} | {unit} | {default} | {doc} |")
        lines.append("")
    return "\n".join(lines)
