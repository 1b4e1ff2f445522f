"""Geometry: gmsh (OpenCASCADE) builders in nm, the pore lattice, the group table.

No dolfinx here. Entry point: :func:`build_model` (a case -> gmsh model with
physical groups and mesh sizes), then :func:`generate_mesh`. gmsh is imported
only when a builder is used (``confine.geometry.groups`` and ``.lattice`` stay
light for validation and the solver).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from confine.geometry.model import GeometryInfo, build_model, generate_mesh, gmsh_session

__all__ = ["GeometryInfo", "build_model", "generate_mesh", "gmsh_session"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from confine.geometry import model

        return getattr(model, name)
    raise AttributeError(f"module 'confine.geometry' has no attribute {name!r}")
