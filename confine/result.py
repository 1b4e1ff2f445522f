"""What a run returns: the case, its metrics, and the solution fields in output units."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
        node: Any = self.metrics
        for part in _split(dotted, node):
            node = node[part]
        if isinstance(node, dict) and "value" in node:
            return node["value"]
        return node

    def to_pyvista(self) -> Any:
        """The fields as a pyvista grid (point data per species, cell data tags)."""
        if self.solution is None:
            raise ValueError("no in-memory solution: read the field files instead")
        return to_pyvista(output_fields(self), getattr(self.solution, "cell_tags", None))


def output_fields(result: Result) -> dict[str, Any]:
    """The solution's fields in output units: species in mol/L, φ in V, coverages in 1."""
    solution_species = {s.name for s in result.case.species if s.phase == "solution"}
    fields = dict(result.solution.fields())
    for name, fn in fields.items():
        if name in solution_species:
            fn.x.array[:] *= 1e-3  # mol/m³ -> mol/L (fields() returns fresh copies)
    return fields


def _split(dotted: str, node: Any) -> list[str]:
    """Split a dotted path, keeping species names that contain dots or match a key."""
    parts = dotted.split(".")
    out: list[str] = []
    i = 0
    while i < len(parts):
        # greedy: the longest prefix that is a key (names like "CO3^2-" have no dots,
        # but product names such as "NH4+" may sit beside keys like "value")
        for j in range(len(parts), i, -1):
            cand = ".".join(parts[i:j])
            if isinstance(node, dict) and cand in node:
                out.append(cand)
                node = node[cand]
                i = j
                break
        else:
            raise KeyError(f"no metric {dotted!r} (stuck at {parts[i]!r})")
    return out
