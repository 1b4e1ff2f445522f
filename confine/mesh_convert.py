"""A meshed gmsh model -> a serial dolfinx mesh with its cell and facet tags.

The same mesh and tags, array for array, as :func:`dolfinx.io.gmsh.model_to_mesh`
on one rank (tests/test_mesh_convert.py compares them), in less time and
memory for the million-cell meshes of full-3d particles:

* the arrays are read from gmsh entity by entity and joined once (dolfinx
  joins them pairwise: quadratic in the number of entities), without
  dolfinx's duplicate check (a sort of every cell: gmsh tags each element
  once, and the counts are compared instead);
* gmsh's model is removed before dolfinx builds the mesh, so the two never
  live together (:func:`extract` returns plain arrays);
* the cell tags are read through the mesh's original cell index (each cell
  is tagged once), the facet tags by matching sorted vertex triples, both in
  numpy, instead of distributing them as entities (an MPI exchange and a
  vertex-to-entity search in C++, even on one rank).

Serial only (rank 0 builds the cache; every rank then reads the XDMF).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from confine.env import import_dolfinx

import_dolfinx()  # MPI and PETSc in dolfinx's order: before mpi4py, and before gmsh
import dolfinx  # noqa: E402
import gmsh  # noqa: E402
from dolfinx.io import gmsh as gmshio  # noqa: E402
from dolfinx.io.utils import distribute_entity_data  # noqa: E402
from mpi4py import MPI  # noqa: E402

#: Keys of a facet's sorted vertex triple fit one int64 below this vertex count.
_KEY_LIMIT = 2_097_151


@dataclass(frozen=True)
class GmshArrays:
    """What a dolfinx mesh is built from: nodes and the tagged elements of two dimensions."""

    x: np.ndarray  # (nodes, 3) coordinates, in gmsh's node order
    cell_type: int  # gmsh element type of the cells
    cells: np.ndarray  # (cells, nodes per cell) int64, 0-based gmsh node numbers
    cell_values: np.ndarray  # int32 physical tag of each cell
    facets: np.ndarray  # (facets, nodes per facet) int64 (may be empty)
    facet_values: np.ndarray  # int32


def extract(dim: int) -> GmshArrays:
    """Nodes and physically tagged elements of dimension ``dim`` and ``dim − 1``
    of the current gmsh model, in the order dolfinx's model_to_mesh reads them.

    Raises:
        RuntimeError: no physical groups, or the cells are not tagged exactly once.
    """
    x = gmshio.extract_geometry(gmsh.model)
    parts: dict[int, tuple[int, list[np.ndarray], list[np.ndarray]]] = {}  # dim -> type, ...
    for edim, tag in gmsh.model.getPhysicalGroups():
        if edim not in (dim, dim - 1):
            continue
        for entity in gmsh.model.getEntitiesForPhysicalGroup(edim, tag):
            types, elem_tags, nodes = gmsh.model.mesh.getElements(edim, tag=entity)
            for etype, etags, enodes in zip(types, elem_tags, nodes, strict=True):
                kind, topo, vals = parts.setdefault(edim, (int(etype), [], []))
                if kind != etype:
                    raise RuntimeError(f"mixed element types in dimension {edim}")
                n = gmsh.model.mesh.getElementProperties(etype)[3]
                topo.append(enodes.reshape(-1, n))
                vals.append(np.full(len(etags), tag, dtype=np.int32))
    if dim not in parts:
        raise RuntimeError("No 'physical groups' in gmsh mesh. Cannot continue.")
    cell_type, ctopo, cvals = parts[dim]
    cells = (np.concatenate(ctopo) - 1).astype(np.int64)
    cell_values = np.concatenate(cvals)
    total = sum(len(t) for t in gmsh.model.mesh.getElements(dim, -1)[1])
    if total != len(cells):
        raise RuntimeError(
            f"All cells are expected to be tagged once; found: {len(cells)}, expected: {total}"
        )
    if dim - 1 in parts:
        _, ftopo, fvals = parts[dim - 1]
        facets = (np.concatenate(ftopo) - 1).astype(np.int64)
        facet_values = np.concatenate(fvals)
    else:
        facets = np.empty((0, dim), dtype=np.int64)
        facet_values = np.empty(0, dtype=np.int32)
    return GmshArrays(x, cell_type, cells, cell_values, facets, facet_values)


def to_dolfinx(arrays: GmshArrays, gdim: int) -> tuple[Any, Any, Any]:
    """The serial dolfinx mesh of the arrays and its cell and facet tags."""
    domain = gmshio.ufl_mesh(arrays.cell_type, gdim, dtype=np.float64)
    num_nodes = domain.ufl_coordinate_element().basix_element.dim
    cell_type = dolfinx.cpp.mesh.to_type(str(domain.ufl_cell()))
    perm = gmshio.cell_perm_array(cell_type, num_nodes)
    cells = arrays.cells[:, perm].copy().flatten().reshape(-1, num_nodes)
    mesh = dolfinx.mesh.create_mesh(
        MPI.COMM_SELF,
        cells,
        domain,
        arrays.x[:, :gdim].astype(np.float64, copy=False),
        None,
        max_facet_to_cell_links=2,
    )
    del cells
    tdim = mesh.topology.dim
    n_cells = mesh.topology.index_map(tdim).size_local
    order = np.asarray(mesh.topology.original_cell_index)[:n_cells]
    cell_tags = dolfinx.mesh.meshtags(
        mesh, tdim, np.arange(n_cells, dtype=np.int32), arrays.cell_values[order]
    )
    mesh.topology.create_connectivity(tdim - 1, tdim)
    facet_tags = _facet_tags(mesh, arrays)
    return mesh, cell_tags, facet_tags


def _facet_tags(mesh: Any, arrays: GmshArrays) -> Any:
    """Tags of the facets given by their gmsh nodes (serial mesh, facets created)."""
    tdim = mesh.topology.dim
    n_vertices = mesh.topology.index_map(0).size_local
    facets = arrays.facets
    if n_vertices >= _KEY_LIMIT or tdim < 2 or facets.shape[1] != tdim:
        return _facet_tags_dolfinx(mesh, arrays)
    # gmsh node -> vertex: the geometry dofs of P1 cells are their vertices
    dofmap = mesh.geometry.dofmaps[0]
    c2v = mesh.topology.connectivity(tdim, 0).array.reshape(dofmap.shape)
    igi = np.asarray(mesh.geometry.input_global_indices)
    vertex_of = np.full(len(arrays.x), -1, dtype=np.int64)
    vertex_of[igi[dofmap]] = c2v
    tagged = _keys(np.sort(vertex_of[facets], axis=1), n_vertices)
    f2v = mesh.topology.connectivity(tdim - 1, 0).array
    keys = _keys(np.sort(f2v.reshape(-1, tdim).astype(np.int64), axis=1), n_vertices)
    order = np.argsort(keys, kind="stable")
    pos = np.searchsorted(keys, tagged, sorter=order)
    pos = np.minimum(pos, len(keys) - 1)
    index = order[pos]
    if not np.array_equal(keys[index], tagged) or len(np.unique(index)) != len(index):
        return _facet_tags_dolfinx(mesh, arrays)  # not found or tagged twice: dolfinx decides
    sort = np.argsort(index, kind="stable")
    return dolfinx.mesh.meshtags(
        mesh, tdim - 1, index[sort].astype(np.int32), arrays.facet_values[sort]
    )


def _keys(triples: np.ndarray, n: int) -> np.ndarray:
    """One int64 per sorted row of vertex numbers below ``n``."""
    out = triples[:, 0].copy()
    for j in range(1, triples.shape[1]):
        out *= n
        out += triples[:, j]
    return out


def _facet_tags_dolfinx(mesh: Any, arrays: GmshArrays) -> Any:
    """Facet tags the way dolfinx's model_to_mesh makes them (any mesh)."""
    tdim = mesh.topology.dim
    local, values = distribute_entity_data(mesh, tdim - 1, arrays.facets, arrays.facet_values)
    adj = dolfinx.graph.adjacencylist(local)
    return dolfinx.mesh.meshtags_from_entities(
        mesh, tdim - 1, adj, values.astype(np.int32, copy=False)
    )
