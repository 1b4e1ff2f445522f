"""The one list of case values a compiled discrete model takes as ``fem.Constant``s.

A sweep or a fit that changes only these values reuses the model of the
previous point (forms compile once per mesh, the Newton solver and its
matrices stay): :func:`form_signature` is the case without them, and
:class:`confine.fem.parameters.Parameters` sets one Constant per entry of
:data:`SWEPT` (it checks at import that it knows every entry). No dolfinx
here: case validation and sweep scheduling read this table too
(:func:`is_swept`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from confine.case import Case


@dataclass(frozen=True)
class Swept:
    """One case value held in a Constant.

    Attributes:
        section: the case section (``electrode``, ``reactions``, ``species``,
            ``walls``, ``geometry``); a list section applies to every entry.
        key: the key inside the section (or inside each entry).
        presence: whether being set or not is compiled into the forms (only
            the value is a Constant: a reversible reaction has a backward term).
        warm_axis: a sweep along it is a continuation (potentials and rate
            constants): ``warm_start = "auto"`` chains its points.
    """

    section: str
    key: str
    presence: bool = False
    warm_axis: bool = False


#: Everything a reused model may change (and nothing else).
SWEPT: tuple[Swept, ...] = (
    Swept("electrode", "potential", warm_axis=True),
    Swept("reactions", "rate_constant", warm_axis=True),
    Swept("reactions", "backward_rate_constant", presence=True, warm_axis=True),
    Swept("reactions", "transfer_coefficient"),
    Swept("reactions", "reference_potential", warm_axis=True),
    Swept("species", "bulk"),
    # ramped Constants (a Stern wall's capacitance is compiled in)
    Swept("walls", "surface_charge"),
    Swept("walls", "potential", warm_axis=True),
    Swept("walls", "zero_charge_potential", warm_axis=True),
    Swept("geometry", "end_voltage"),
)

#: Sections that do not enter the solve at all (name, description, outputs).
UNSOLVED_SECTIONS = ("case", "output")


def _entries(d: dict[str, Any], section: str) -> list[dict[str, Any]]:
    value = d.get(section, {})
    return value if isinstance(value, list) else [value]


def form_signature(case: Case) -> dict[str, Any]:
    """The case without the values a reused model takes as Constants (:data:`SWEPT`).

    Two cases with equal signatures compile to the same forms and set-up; the
    case name, description and outputs do not enter the solve.
    """
    d = case.to_dict()
    for section in UNSOLVED_SECTIONS:
        d.pop(section, None)
    for item in SWEPT:
        for entry in _entries(d, item.section):
            if item.presence:
                if item.key in entry:
                    entry[item.key] = True
            else:
                entry.pop(item.key, None)
    return d


def _entry(key: str) -> Swept | None:
    parts = key.split(".")
    if len(parts) < 2:
        return None
    return next((s for s in SWEPT if parts[0] == s.section and parts[-1] == s.key), None)


def is_warm_axis(key: str) -> bool:
    """Whether a dotted case key is a continuation axis (``warm_start = "auto"``)."""
    entry = _entry(key)
    return entry is not None and entry.warm_axis


def is_swept(key: str) -> bool:
    """Whether a dotted case key (e.g. ``"reactions.volmer.rate_constant"``) is one a
    reused model changes without recompiling (an entry of :data:`SWEPT`)."""
    parts = key.split(".")
    return any(parts[0] == s.section and parts[-1] == s.key for s in SWEPT) and len(parts) > 1
