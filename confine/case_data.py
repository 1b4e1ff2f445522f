"""The shape of a whole case: its tables by name, and the sections and entries as read.

:class:`CaseData` is what the reader (:mod:`confine.case_reader`) makes of a
file and what the cross-key rules (:mod:`confine.validate`) check; a case that
passes them is a :class:`confine.case.Case`, the same value with the means to
write and re-derive itself.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from confine.entries import Reaction, Species, Wall
from confine.sections import (
    CaseInfo,
    Catalyst,
    Electrode,
    Electrolyte,
    Film,
    Geometry,
    MeshSettings,
    Output,
    Solver,
)

#: The [section] tables of a case file, by name.
SECTIONS: dict[str, type] = {
    "case": CaseInfo,
    "geometry": Geometry,
    "mesh": MeshSettings,
    "catalyst": Catalyst,
    "electrolyte": Electrolyte,
    "electrode": Electrode,
    "film": Film,
    "solver": Solver,
    "output": Output,
}
#: The [[array]] tables of a case file, by name.
ARRAYS: dict[str, type] = {"species": Species, "reactions": Reaction, "walls": Wall}


@dataclass(frozen=True, kw_only=True)
class CaseData:
    """The sections and entries of a case, SI floats throughout.

    Every value has passed its own key's checks (kind, unit, sign, choices);
    the cross-key rules are checked on this, and :class:`confine.case.Case`
    is the validated one.
    """

    case: CaseInfo
    geometry: Geometry
    mesh: MeshSettings
    catalyst: Catalyst
    electrolyte: Electrolyte
    electrode: Electrode
    film: Film
    solver: Solver
    output: Output
    species: tuple[Species, ...]
    reactions: tuple[Reaction, ...]
    walls: tuple[Wall, ...] = ()
    source: str = dataclasses.field(default="<dict>", compare=False)

    def species_named(self, name: str) -> Species:
        """The species called ``name``."""
        for s in self.species:
            if s.name == name:
                return s
        raise KeyError(name)

    def reaction_named(self, name: str) -> Reaction:
        """The reaction called ``name``."""
        for r in self.reactions:
            if r.name == name:
                return r
        raise KeyError(name)

    def wall_named(self, name: str) -> Wall | None:
        """The [[walls]] entry of a wall group, or None (an uncharged wall)."""
        for w in self.walls:
            if w.name == name:
                return w
        return None
