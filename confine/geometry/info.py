"""What a builder made: :class:`GeometryInfo`, the closed-form record of one gmsh model.

The builders fill it; :mod:`confine.geometry.model` returns it; the mesh cache
writes it to mesh.json. No gmsh here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class GeometryInfo:
    """What a builder made, with closed-form values for checks (lengths in nm).

    Attributes:
        kind: geometry kind (hollow-sphere, solid-sphere, sphere, planar, cylinder-pore).
        model: fidelity level or dimension.
        dimension: topological dimension of the mesh (1, 2 or 3).
        axisymmetric: x[0] is r and x[1] is z; integrals carry 2πr.
        multiplicity: cells per whole particle (N for the axisymmetric cell).
        pore_count: pores of the whole particle (0 without pores).
        pores_in_cell: pores in the meshed cell.
        min_wall: smallest carbon wall between pores at the cavity radius (nm).
        mean_wall: wall of the ideal hexagonal lattice of the same count (nm).
        porosity: shell porosity implied by the lattice.
        pore_filled: the catalytic layer fills the pores (no ``pore`` group).
        cone_half_angle: half-angle of the axisymmetric cell (rad).
        catalytic: groups where the catalyst is (cell groups for a layer,
            facet groups for an areal catalyst).
        volumes: closed-form volume per cell group, whole particle (nm³).
        areas: closed-form area per facet group, whole particle (nm²).
        cell_groups: cell groups present in the model.
        facet_groups: facet groups present in the model.
        sizes: target cell sizes used (nm).
        timings: seconds per build phase.
    """

    kind: str
    model: str
    dimension: int
    axisymmetric: bool
    multiplicity: float
    pore_count: int = 0
    pores_in_cell: int = 0
    min_wall: float | None = None
    mean_wall: float | None = None
    porosity: float | None = None
    pore_filled: bool = False
    cone_half_angle: float | None = None
    catalytic: tuple[str, ...] = ()
    volumes: dict[str, float] = field(default_factory=dict)
    areas: dict[str, float] = field(default_factory=dict)
    cell_groups: tuple[str, ...] = ()
    facet_groups: tuple[str, ...] = ()
    sizes: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy."""
        return asdict(self)
