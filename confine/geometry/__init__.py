"""Geometry: gmsh (OpenCASCADE) builders in nm, the pore lattice, the group table.

No dolfinx here. What a case implies before any gmsh call (the pore lattice,
the cell sizes) is :mod:`confine.geometry.derived`, light enough for
validation; the gmsh entry point is :mod:`confine.geometry.model`
(:func:`~confine.geometry.model.build_model`, then
:func:`~confine.geometry.model.generate_mesh`). This package imports nothing,
so ``confine.geometry.groups``, ``.lattice`` and ``.derived`` stay light.
"""
