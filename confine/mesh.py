"""Meshes: build with gmsh (confine.geometry), cache in meshes/, read on every rank.

Contract used by the solver (confine.solve) and metrics:

* coordinates are in nanometres (``length_scale`` = 1e-9 m per mesh unit): the
  solver works in lengths scaled by it;
* ``cell_tags`` / ``facet_tags`` use the tags of confine.geometry.groups;
* ``axisymmetric``: x[0] is r, x[1] is z (integrals carry 2πr);
* ``multiplicity``: how many such cells make the whole particle (N pores for
  an axisymmetric or one-pore sector cell, 1 for full-3d and the simple kinds):
  cell integrals × multiplicity = whole-particle values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class MeshData:
    """A distributed dolfinx mesh with its physical groups."""

    mesh: Any  # dolfinx.mesh.Mesh
    cell_tags: Any  # dolfinx.mesh.MeshTags (cells)
    facet_tags: Any  # dolfinx.mesh.MeshTags (facets)
    axisymmetric: bool
    multiplicity: float
    length_scale: float = 1e-9
    info: dict[str, Any] = field(default_factory=dict)  # what mesh.json reports
