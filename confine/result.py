"""What a run returns: the case, its metrics, and the solution fields in output units."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confine import document
from confine.case import Case
from confine.io import to_pyvista


@dataclass
class Result:
    """One solved case.

    Attributes:
        case: the resolved case that was run.
        metrics: the metrics document (what ``metrics.json`` holds): nested
            dicts, every value with its unit (see DESIGN.md section 5).
        converged: whether the solve converged (a failed solve raises instead
            of returning, so this is True for a returned result).
        out: the output directory, if files were written.
        solution: the in-memory solution (dolfinx functions), for warm starts
            and :meth:`to_pyvista`; None when read back from files.
    """

    case: Case
    metrics: dict[str, Any]
    converged: bool = True
    out: Path | None = None
    solution: Any = field(default=None, repr=False)

    def metric(self, dotted: str) -> Any:
        """A metric by dotted path, e.g. ``"species.urea.ratio_interior_exterior"``.

        Values stored as ``{"value": v, "unit": u}`` return ``v``.
        """
        return document.value(self.metrics, dotted)

    def to_pyvista(self) -> Any:
        """The fields as a pyvista grid (point data per species, cell data tags)."""
        if self.solution is None:
            raise ValueError("no in-memory solution: read the field files instead")
        return to_pyvista(output_fields(self), getattr(self.solution, "cell_tags", None))


def field_units(case: Case) -> dict[str, str]:
    """The unit of each output field (:func:`output_fields`).

    mol/L for solution species, V for ``phi``, 1 for coverages.
    """
    units = {s.name: "mol/L" if s.phase == "solution" else "1" for s in case.species}
    return units | {"phi": "V"}


def output_fields(result: Result) -> dict[str, Any]:
    """The solution's fields in output units: species in mol/L, φ in V, coverages in 1."""
    solution_species = {s.name for s in result.case.species if s.phase == "solution"}
    fields = dict(result.solution.fields())
    for name, fn in fields.items():
        if name in solution_species:
            fn.x.array[:] *= 1e-3  # mol/m³ -> mol/L (fields() returns fresh copies)
    return fields
