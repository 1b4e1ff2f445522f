"""The fast gmsh -> dolfinx conversion makes what dolfinx's model_to_mesh makes.

confine.mesh_convert reads gmsh's arrays once, frees gmsh before dolfinx
builds its mesh and tags cells and facets in numpy; the mesh cache must not
notice: the same geometry, topology and tags, array for array, as
``dolfinx.io.gmsh.model_to_mesh`` on one rank (3D sector, 2D axisymmetric
cell, 1D planar: the fallback to dolfinx's facet tagging).
"""

from __future__ import annotations

from typing import Any

import gmsh
import numpy as np
import pytest
from mpi4py import MPI

from confine.case import case_from_dict
from confine.env import import_dolfinx
from confine.geometry.model import build_model, generate_mesh, gmsh_session
from confine.mesh_convert import extract, to_dolfinx

SPECIES = [{"name": "A", "formula": "X", "diffusivity": "1e-9 m^2/s"}]
ELECTROLYTE = {"hindrance": "none", "potential_model": "none"}
PARTICLE = {
    "outer_diameter": "56 nm",
    "shell_thickness": "12 nm",
    "bath_thickness": "8 nm",
    "pore_diameter": "10 nm",
    "catalyst_layer": "2 nm",
    "pore_count": 12,
}
CASES: dict[str, dict[str, Any]] = {
    "sector-3d": {
        "geometry": {"model": "sector-3d", **PARTICLE},
        "mesh": {"cells_across_layer": 1, "max_cell_size": "4 nm"},
    },
    "axisymmetric-cell": {"geometry": {"model": "axisymmetric-cell", **PARTICLE}},
    "planar-1d": {"geometry": {"kind": "planar", "model": "1d", "length": "20 nm"}},
}


def _arrays(mesh: Any, cell_tags: Any, facet_tags: Any) -> dict[str, np.ndarray]:
    tdim = mesh.topology.dim
    mesh.topology.create_connectivity(tdim - 1, 0)
    return {
        "x": mesh.geometry.x,
        "dofmap": mesh.geometry.dofmaps[0],
        "input_global_indices": np.asarray(mesh.geometry.input_global_indices),
        "cells": mesh.topology.connectivity(tdim, 0).array,
        "facets": mesh.topology.connectivity(tdim - 1, 0).array,
        "cell_tags.indices": cell_tags.indices,
        "cell_tags.values": cell_tags.values,
        "facet_tags.indices": facet_tags.indices,
        "facet_tags.values": facet_tags.values,
    }


@pytest.mark.parametrize("name", sorted(CASES))
def test_conversion_equals_dolfinx_model_to_mesh(name: str) -> None:
    import_dolfinx()
    from dolfinx.io import gmsh as gmshio

    raw = {"case": {"name": name}, "electrolyte": ELECTROLYTE, "species": SPECIES, **CASES[name]}
    case = case_from_dict(raw)
    with gmsh_session():
        info = build_model(case)
        generate_mesh(info, 1)
        ref = gmshio.model_to_mesh(gmsh.model, MPI.COMM_SELF, 0, gdim=info.dimension)
        arrays = extract(info.dimension)
        gmsh.model.remove()
    mesh, cell_tags, facet_tags = to_dolfinx(arrays, info.dimension)
    ref.mesh.topology.create_connectivity(info.dimension - 1, info.dimension)
    want = _arrays(ref.mesh, ref.cell_tags, ref.facet_tags)
    got = _arrays(mesh, cell_tags, facet_tags)
    assert len(want["facet_tags.values"]) > 0
    for key, value in want.items():
        assert got[key].dtype == value.dtype, key
        np.testing.assert_array_equal(got[key], value, err_msg=key)
