"""The one table of physical-group names and tags shared by every builder.

Only the electrolyte is meshed (carbon is a no-flux wall): cells are fluid
regions, facets are walls, mouths and outer boundaries. Every builder tags
what it has with these names and numbers; groups a geometry lacks are simply
absent (a solid sphere has no cavity).
"""

from __future__ import annotations

from typing import Final

#: Cell (highest-dimension) groups: name -> tag.
CELL_GROUPS: Final[dict[str, int]] = {
    "cavity": 1,  # electrolyte in the hollow core, inside the cavity-wall layer
    "pore": 2,  # electrolyte core of the pores (absent when the layer fills them)
    "pore_layer": 3,  # catalytic layer lining the pores (reacting fluid)
    "cavity_layer": 4,  # catalytic layer lining the cavity wall
    "bath": 5,  # electrolyte around the particle
    "outer_layer": 6,  # catalytic layer on a solid sphere's outer surface
}

#: Facet (codimension-1) groups: name -> tag.
FACET_GROUPS: Final[dict[str, int]] = {
    "outer_boundary": 11,  # the bath's outer face: bulk / closed / far-field
    "symmetry": 12,  # cell walls of axisymmetric and sector cells
    "axis": 13,  # r = 0 of the axisymmetric cell (nothing imposed)
    "pore_wall": 14,  # carbon wall of the pores
    "cavity_wall": 15,  # carbon wall of the cavity
    "outer_surface": 16,  # the particle's outer carbon face, in the bath
    "mouth_outer": 17,  # where the pores open to the bath (interior facets)
    "mouth_inner": 18,  # where the pores open to the cavity (interior facets)
    "catalyst_surface": 19,  # reacting surface of an areal catalyst
    "electrode": 20,  # planar kind: the electrode face
    "end_a": 21,  # cylinder-pore: reservoir end at z = 0 side
    "end_b": 22,  # cylinder-pore: reservoir end at the far side
}

#: Unions that metrics and physics ask for by one name.
UNIONS: Final[dict[str, tuple[str, ...]]] = {
    "catalyst_layer": ("pore_layer", "cavity_layer", "outer_layer"),
    "interior": ("cavity", "cavity_layer"),
    "particle": ("cavity", "cavity_layer", "pore", "pore_layer"),  # inside the outer mouths
    "pores": ("pore", "pore_layer"),
    "fluid": tuple(CELL_GROUPS),
}


def tag(name: str) -> int:
    """Tag of a cell or facet group by name.

    Raises:
        KeyError: unknown group name.
    """
    if name in CELL_GROUPS:
        return CELL_GROUPS[name]
    if name in FACET_GROUPS:
        return FACET_GROUPS[name]
    raise KeyError(f"unknown physical group {name!r}")


def tags(name: str) -> tuple[int, ...]:
    """Tags of a group or a union of groups."""
    if name in UNIONS:
        return tuple(CELL_GROUPS[n] for n in UNIONS[name])
    return (tag(name),)
