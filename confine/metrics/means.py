"""Interior and exterior mean concentrations, C_I/C_E by every definition, and local pH.

The interior is a volume mean over the cells ``output.interior`` names; the
exterior an area mean over the outer pore mouths, a volume mean over the
bath, or an area mean over the bath's outer face (``output.exterior``).
:data:`RATIO_DEFINITIONS` lists the C_I/C_E variants reported per species so
users can match a paper's. Means are weighted by the cell's measure weight
``p.w`` (2πr in an axisymmetric cell) and summed over MPI ranks (collective).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from confine.case import Case
from confine.geometry.groups import UNIONS, tag

MOL_L = 1e3  # mol/m³ per mol/L
PKW = 14.0  # pKw at 25 °C, for a pH from OH− when H+ is not a species

#: Cell groups of each ``output.interior`` choice.
INTERIOR_GROUPS = {
    "cavity": ("cavity",),
    "cavity+layer": ("cavity", "cavity_layer"),
    "particle": UNIONS["particle"],
}

#: C_I/C_E definitions reported per species ("interior mean / exterior mean"):
#: cavity volume mean over the outer pore-mouth area mean (the default), over
#: the bath volume mean, the inner over the outer pore mouth, and the cavity
#: with its catalyst layer over the outer mouth.
RATIO_DEFINITIONS = (
    "cavity/mouth_outer",
    "cavity/bath",
    "mouth_inner/mouth_outer",
    "cavity+layer/mouth_outer",
)

#: The means the two sides of a :data:`RATIO_DEFINITIONS` entry name: cell groups
#: (volume mean) or one facet group (area mean).
_VOLUMES = {"cavity": ("cavity",), "cavity+layer": ("cavity", "cavity_layer"), "bath": ("bath",)}
_FACETS = ("mouth_inner", "mouth_outer")

#: Definitions (metrics.json ``definitions.exterior``) of each ``output.exterior`` choice.
EXTERIOR_DEFINITIONS = {
    "mouth_outer": "area mean over the outer pore mouths (mouth_outer "
    "facets, '+' side; the field is continuous)",
    "bath": "volume mean over the bath",
    "outer_boundary": "area mean over the bath's outer face",
}


@dataclass(frozen=True)
class Means:
    """Mean values of UFL expressions over the groups of one solved cell.

    The integrals of the model's family (the weight ``w`` and every solution
    species' concentration, and φ) come from a few compiled forms
    (:class:`confine.fem.cellwise.CellTables`): one per cell table for the
    volumes, one for the pore mouths, one for the outer boundary; any other
    expression falls back to one scalar form per region.

    Attributes:
        p: the solved model (``integrate``, ``w``, ``dx``, ``dS``, ``ds``,
            ``axisymmetric``, ``cell_groups``, ``tables``, ``conc``).
        interior_tags: the cell tags of ``output.interior`` present in the mesh.
        exterior_kind: ``output.exterior``.
        facets: the facet tags present on any rank.
        columns: expression -> its column in ``cells`` and ``faces`` (0: the size).
        cells: per-cell integrals of the family (local rows).
        faces: facet group -> the family's integrals over it (summed over ranks).
    """

    p: Any
    interior_tags: tuple[int, ...]
    exterior_kind: str
    facets: frozenset[int]
    columns: dict[Any, int]
    cells: np.ndarray
    faces: dict[str, np.ndarray]

    @classmethod
    def of(cls, case: Case, meshdata: Any, p: Any) -> Means:
        """The means of a solved model on its mesh (collective: gathers the facet tags)."""
        present = p.cell_groups
        local = set(np.unique(meshdata.facet_tags.values).tolist())
        facets = set().union(*p.comm.allgather(local))
        groups = INTERIOR_GROUPS[case.output.interior]
        in_tags = tuple(tag(g) for g in groups if tag(g) in present)
        family = [*p.conc.values(), *([p.phi] if p.has_phi else [])]
        columns = {e: k + 1 for k, e in enumerate(family)}
        weighted = [p.w, *(e * p.w for e in family)]
        cells = p.tables.table(weighted, p.dx)
        return cls(
            p,
            in_tags,
            case.output.exterior,
            frozenset(facets),
            columns,
            cells,
            _faces(p, family, facets, case.output.exterior),
        )

    def _volume(self, expr: Any, tags_: tuple[int, ...]) -> float | None:
        p = self.p
        col = self.columns.get(expr)
        if col is None:  # not in the family: a scalar form per region
            size = p.integrate(p.w * p.dx(tags_))
            return p.integrate(expr * p.w * p.dx(tags_)) / size if size > 0 else None
        tot = p.tables.total(self.cells, tags_)
        return float(tot[col] / tot[0]) if tot[0] > 0 else None

    def interior(self, expr: Any) -> float | None:
        """Volume mean over the interior (None without interior cells)."""
        if not self.interior_tags:
            return None
        return self._volume(expr, self.interior_tags)

    def exterior(self, expr: Any) -> float | None:
        """Mean over the exterior (None where its groups are absent)."""
        p, w = self.p, self.p.w
        if self.exterior_kind == "mouth_outer":
            return self.facet(expr, "mouth_outer")
        if self.exterior_kind == "bath":
            if tag("bath") not in p.cell_groups:
                return None
            return self._volume(expr, (tag("bath"),))
        col = self.columns.get(expr)
        if col is None:
            t = tag("outer_boundary")
            return p.integrate(expr * w * p.ds(t)) / p.integrate(w * p.ds(t))
        tot = self.faces["outer_boundary"]
        return float(tot[col] / tot[0])

    def volume(self, expr: Any, groups: tuple[str, ...]) -> float | None:
        """Volume mean over the cell groups present (None if none is)."""
        tags_ = tuple(tag(g) for g in groups if tag(g) in self.p.cell_groups)
        if not tags_:
            return None
        return self._volume(expr, tags_)

    def facet(self, expr: Any, name: str) -> float | None:
        """Area mean over an interior facet group, '+' side (None if absent)."""
        p = self.p
        t = tag(name)
        if t not in self.facets:
            return None
        col = self.columns.get(expr)
        if col is None:
            wr: Any = p.w("+") if p.axisymmetric else 1.0
            return p.integrate(expr("+") * wr * p.dS(t)) / p.integrate(wr * p.dS(t))
        tot = self.faces[name]
        return float(tot[col] / tot[0])

    def named(self, expr: Any, name: str) -> float | None:
        """The mean one side of a :data:`RATIO_DEFINITIONS` entry names."""
        if name in _FACETS:
            return self.facet(expr, name)
        return self.volume(expr, _VOLUMES[name])

    def ratios(self, expr: Any) -> dict[str, float | None]:
        """C_I/C_E under every :data:`RATIO_DEFINITIONS` entry (None where undefined)."""
        out: dict[str, float | None] = {}
        for key in RATIO_DEFINITIONS:
            num, den = (self.named(expr, k) for k in key.split("/"))
            out[key] = num / den if num is not None and den not in (None, 0.0) else None
        return out


def _faces(p: Any, family: list[Any], facets: set[int], exterior: str) -> dict[str, np.ndarray]:
    """The family's integrals (column 0: the size) over the pore mouths present (one
    form, '+' side) and, for an ``outer_boundary`` exterior, over that face (one form)."""
    out: dict[str, np.ndarray] = {}
    n = len(family) + 1
    mouths = [name for name in _FACETS if tag(name) in facets]
    if mouths:
        wr: Any = p.w if p.axisymmetric else 1.0
        exprs = [e for _ in mouths for e in (wr, *(f * wr for f in family))]
        measures = [p.dS(tag(name)) for name in mouths for _ in range(n)]
        tot = p.tables.total(p.tables.table(exprs, measures, restrict=True))
        out |= {name: tot[j * n : (j + 1) * n] for j, name in enumerate(mouths)}
    if exterior == "outer_boundary":
        exprs = [p.w, *(f * p.w for f in family)]
        table = p.tables.table(exprs, p.ds(tag("outer_boundary")))
        out["outer_boundary"] = p.tables.total(table)
    return out


def species_means(means: Means, c: Any) -> dict[str, Any]:
    """A solution species' interior and exterior means (mol/L) and C_I/C_E.

    Args:
        means: the cell's means.
        c: the species' concentration (UFL, mol/m³).
    """
    ci, ce = means.interior(c), means.exterior(c)
    return {
        "interior_mean_mol_L": None if ci is None else ci / MOL_L,
        "exterior_mean_mol_L": None if ce is None else ce / MOL_L,
        "ratio_interior_exterior": ci / ce if ci is not None and ce not in (None, 0.0) else None,
        "ratio_by_definition": means.ratios(c),
    }


def ph(c_h: float | None, c_oh: float | None) -> float | None:
    """pH from mean H+ (mol/m³), or pKw + log10 [OH−] without H+; None without either."""
    if c_h is not None and c_h > 0:
        return -math.log10(c_h / MOL_L)
    if c_oh is not None and c_oh > 0:
        return PKW + math.log10(c_oh / MOL_L)
    return None


def local_ph(means: Means, conc: Any) -> dict[str, float | None]:
    """pH of the interior (``cavity``) and exterior (``mouth_outer``) means.

    Args:
        means: the cell's means.
        conc: species name -> concentration (UFL, mol/m³) of the solution species.
    """

    def mean(name: str, side: Any) -> float | None:
        return side(conc[name]) if name in conc else None

    return {
        "cavity": ph(mean("H+", means.interior), mean("OH-", means.interior)),
        "mouth_outer": ph(mean("H+", means.exterior), mean("OH-", means.exterior)),
    }
