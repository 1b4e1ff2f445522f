"""What a case's geometry implies, before any gmsh call: the pore lattice and the cell sizes.

Pure numpy and closed forms (no gmsh, no dolfinx): validation, the budget
estimate and the builders read the same values from here. Lengths are in nm
unless a name says otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from confine.case_data import CaseData
from confine.geometry.lattice import (
    Lattice,
    count_from_porosity,
    count_from_wall,
    lattice_from_count,
)

NM = 1e-9
_EPS0 = 8.8541878128e-12
_KB = 1.380649e-23
_E = 1.602176634e-19
_NA = 6.02214076e23


def lattice_of(case: CaseData) -> Lattice | None:
    """The pore lattice a hollow-sphere case asks for (lengths in nm), or None.

    Raises:
        ValueError: no lattice key or more than one.
    """
    g = case.geometry
    if g.kind != "hollow-sphere":
        return None
    given = [k for k in ("wall_thickness", "porosity", "pore_count") if getattr(g, k) is not None]
    if len(given) != 1:
        raise ValueError(given)
    r_out = g.outer_diameter / 2 / NM
    r_cav = r_out - g.shell_thickness / NM
    d = g.pore_diameter / NM
    if g.wall_thickness is not None:
        n = count_from_wall(g.wall_thickness / NM, r_cav, d)
    elif g.porosity is not None:
        n = count_from_porosity(g.porosity, r_cav, r_out, d)
    else:
        n = int(g.pore_count or 1)
    return lattice_from_count(n, r_cav, r_out, d)


def pore_is_filled(case: CaseData) -> bool:
    """The explicit rule: a pore whose core (radius − layer) is under
    ``geometry.layer_fill_core`` is all catalytic layer (no sub-nm slivers)."""
    g = case.geometry
    return g.catalyst == "layer" and g.pore_diameter / 2 - g.catalyst_layer < g.layer_fill_core


@dataclass(frozen=True)
class Sizes:
    """Target cell sizes (nm), already divided by 2**refine."""

    pore: float  # pore core and mouths
    #: catalytic layer: min(pore, layer / cells_across_layer); in 1D planar (a film, no
    #: lateral width) min(length / cells_per_pore_diameter, layer / cells_across_layer)
    layer: float
    wall: float  # cavity wall and cavity layer: layer / cells_across_layer (or pore)
    max: float  # coarsest (cavity centre, far bath)
    growth: float  # size increase per unit distance: growth − 1 (also ÷ 2**refine)
    boundary_first: float | None = None  # boundary layer: first cell at walls


def debye_length(case: CaseData) -> float | None:
    """Debye length of the bulk electrolyte (nm), or None without ions."""
    strength = sum(s.bulk * s.charge**2 for s in case.species if s.phase == "solution")
    if strength <= 0:
        return None
    e = case.electrolyte
    lam = math.sqrt(
        e.relative_permittivity * _EPS0 * _KB * e.temperature / (_E**2 * _NA * strength)
    )
    return lam / NM


def sizes_of(case: CaseData) -> Sizes:
    """Target sizes from the [mesh] section (nm), halved ``refine`` times.

    Refinement halves the whole size field h(x), not only its smallest cells:
    every field grows linearly away from its walls, h0 + (growth − 1)·d, so
    the slope growth − 1 is halved with h0 (and the boundary layer's first
    cell with its cap), and each refinement halves every cell of a graded mesh.
    """
    g, m = case.geometry, case.mesh
    k = 0.5**m.refine
    h_pore = g.pore_diameter / NM / m.cells_per_pore_diameter
    if g.kind == "planar":
        h_pore = min(g.width, g.length or g.width) / NM / m.cells_per_pore_diameter
    own = g.catalyst_layer / NM / m.cells_across_layer
    h_layer = min(h_pore, own)
    if g.kind == "planar" and g.model == "1d":
        # no lateral width in 1D: a film (µm thick) is resolved by cells_across_layer,
        # graded from its face into the diffusion layer (simple.build_planar)
        h_layer = min((g.length or g.width) / NM / m.cells_per_pore_diameter, own)
    if g.kind == "solid-sphere":
        h_pore = h_layer if g.catalyst == "layer" else min(h_pore, m.max_cell_size / NM)
    if g.kind == "sphere":  # no pores: the layer's resolution, else uniform at max_cell_size
        h_pore = h_layer if g.catalyst == "layer" else m.max_cell_size / NM
    # cavity wall and layer: the layer's own resolution (the pore size binds only in pores)
    wall = own if g.catalyst == "layer" else h_pore
    first = None
    if m.boundary_layer:
        lam = debye_length(case)
        if lam is not None:
            first = m.first_cell_debye_fraction * lam * k
    return Sizes(
        pore=h_pore * k,
        layer=h_layer * k,
        wall=wall * k,
        max=max(m.max_cell_size / NM * k, h_pore * k),
        growth=1.0 + (m.growth - 1.0) * k,
        boundary_first=first,
    )
