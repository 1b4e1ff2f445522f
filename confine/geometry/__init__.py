"""Geometry: gmsh (OpenCASCADE) builders in nm, the pore lattice, the group table.

No dolfinx here. Entry point: :func:`build_model` (a case -> gmsh model with
physical groups and mesh sizes), then :func:`generate_mesh`.
"""

from confine.geometry.model import GeometryInfo, build_model, generate_mesh, gmsh_session

__all__ = ["GeometryInfo", "build_model", "generate_mesh", "gmsh_session"]
