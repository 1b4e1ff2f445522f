"""gmsh's arrays -> the cache's mesh file directly, without a dolfinx mesh on rank 0.

The cache format (:mod:`confine.mesh`) is an XDMF file with its HDF5 data:
the mesh (geometry and topology), the cell tags and the facet tags, each tag
set stored as its entities' vertices with a value. dolfinx's own writer needs
a dolfinx mesh first (:func:`confine.mesh_convert.to_dolfinx`: the serial
build, its topology and the tag searches, about half the wall time and
≈ 0.5 kB per cell above gmsh's arrays on a 5 M-cell particle). This module
writes the same datasets straight from :class:`confine.mesh_convert.GmshArrays`
(geometry in gmsh's node order, cells in gmsh's element order, facets as
their gmsh nodes): every rank's ``read_mesh`` then partitions the file as
before. The file is a function of gmsh's mesh alone (no rank count, no
partitioner), so the cache contract holds; its order differs from what
dolfinx writes, so a solve on it moves at round-off from one on the
converted file (see :func:`confine.mesh.lean_build`: only where the mesh
key says so).

This is the first step of the path beyond one rank (benchmarks/README.md,
"Meshes that do not fit one rank"): rank 0 holds gmsh and these arrays
(≈ 0.1 kB per cell), never a serial dolfinx mesh.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from confine.mesh_convert import GmshArrays

#: gmsh's element types of P1 triangles and tetrahedra.
TRIANGLE, TETRAHEDRON = 2, 4
#: gmsh element type -> (XDMF topology type, nodes): the P1 simplices written here.
_CELL_TYPES = {1: ("PolyLine", 2), TRIANGLE: ("Triangle", 3), TETRAHEDRON: ("Tetrahedron", 4)}
#: XDMF topology of the facets of a cell of each dimension.
_FACET_TYPES = {2: ("PolyLine", 2), 3: ("Triangle", 3)}
_GEOMETRY = {2: "XY", 3: "XYZ"}
#: The XDMF dolfinx writes for a mesh and two tag sets (the cell tags' entities
#: are the cells: their topology is the mesh's own dataset).
_TEMPLATE = """<?xml version="1.0"?>
<!DOCTYPE Xdmf SYSTEM "Xdmf.dtd" []>
<Xdmf Version="3.0" xmlns:xi="https://www.w3.org/2001/XInclude">
  <Domain>
    <Grid Name="mesh" GridType="Uniform">
      <Topology TopologyType="{cell}" NumberOfElements="{nc}" NodesPerElement="{per_cell}">
        <DataItem Dimensions="{nc} {per_cell}" NumberType="Int" Format="HDF">\
{h5}:/Mesh/mesh/topology</DataItem>
      </Topology>
      <Geometry GeometryType="{geometry}">
        <DataItem Dimensions="{nx} {gdim}" Format="HDF">{h5}:/Mesh/mesh/geometry</DataItem>
      </Geometry>
    </Grid>
    <Grid Name="cell_tags" GridType="Uniform">
      <xi:include xpointer="xpointer(/Xdmf/Domain/Grid/Geometry)" />
      <Topology TopologyType="{cell}" NumberOfElements="{nc}" NodesPerElement="{per_cell}">
        <DataItem Dimensions="{nc} {per_cell}" NumberType="Int" Format="HDF">\
{h5}:/Mesh/mesh/topology</DataItem>
      </Topology>
      <Attribute Name="cell_tags" AttributeType="Scalar" Center="Cell">
        <DataItem Dimensions="{nc} 1" Format="HDF">{h5}:/MeshTags/cell_tags/Values</DataItem>
      </Attribute>
    </Grid>
    <Grid Name="facet_tags" GridType="Uniform">
      <xi:include xpointer="xpointer(/Xdmf/Domain/Grid/Geometry)" />
      <Topology TopologyType="{facet}" NumberOfElements="{nf}" NodesPerElement="{per_facet}">
        <DataItem Dimensions="{nf} {per_facet}" NumberType="Int" Format="HDF">\
{h5}:/MeshTags/facet_tags/topology</DataItem>
      </Topology>
      <Attribute Name="facet_tags" AttributeType="Scalar" Center="Cell">
        <DataItem Dimensions="{nf} 1" Format="HDF">{h5}:/MeshTags/facet_tags/Values</DataItem>
      </Attribute>
    </Grid>
  </Domain>
</Xdmf>
"""


def supported(arrays: GmshArrays, gdim: int) -> bool:
    """Whether the arrays are P1 triangles or tetrahedra with their facets (what this writes)."""
    kind = _CELL_TYPES.get(arrays.cell_type)
    if kind is None or kind[0] == "PolyLine" or gdim not in _GEOMETRY:
        return False
    return arrays.cells.shape[1] == kind[1] and arrays.facets.shape[1] == kind[1] - 1


def write(arrays: GmshArrays, gdim: int, xdmf: Path) -> dict[str, int]:
    """Write ``xdmf`` and its ``.h5`` beside it: mesh ``mesh``, tags ``cell_tags``
    and ``facet_tags`` (the names :func:`confine.mesh.read_mesh` reads).

    Nodes no cell uses (none in a conforming gmsh volume mesh) are dropped and
    the rest renumbered in order.

    Returns:
        The counts written: cells, vertices, facets.

    Raises:
        ValueError: arrays this writer does not handle (see :func:`supported`).
    """
    if not supported(arrays, gdim):
        raise ValueError(f"direct write needs P1 simplices, not gmsh type {arrays.cell_type}")
    cells, facets, x = _compact(arrays, gdim)
    with h5py.File(xdmf.with_suffix(".h5"), "w") as f:
        f.create_dataset("Mesh/mesh/geometry", data=x)
        f.create_dataset("Mesh/mesh/topology", data=cells)
        f.create_dataset("MeshTags/cell_tags/Values", data=arrays.cell_values.reshape(-1, 1))
        f.create_dataset("MeshTags/facet_tags/topology", data=facets)
        f.create_dataset("MeshTags/facet_tags/Values", data=arrays.facet_values.reshape(-1, 1))
    counts = {"cells": len(cells), "vertices": len(x), "facets": len(facets)}
    write_xdmf(xdmf, arrays.cell_type, gdim, counts)
    return counts


def write_xdmf(xdmf: Path, cell_type: int, gdim: int, counts: dict[str, int]) -> None:
    """The XDMF of the HDF5 file beside ``xdmf`` (its datasets as :func:`write` names
    them): cells of gmsh type ``cell_type``, ``counts`` of cells, vertices, facets."""
    cell_kind, per_cell = _CELL_TYPES[cell_type]
    facet_kind, per_facet = _FACET_TYPES[per_cell - 1]
    xdmf.write_text(
        _TEMPLATE.format(
            h5=xdmf.with_suffix(".h5").name,
            cell=cell_kind,
            per_cell=per_cell,
            facet=facet_kind,
            per_facet=per_facet,
            nc=counts["cells"],
            nf=counts["facets"],
            nx=counts["vertices"],
            geometry=_GEOMETRY[gdim],
            gdim=gdim,
        )
    )


def _compact(arrays: GmshArrays, gdim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cells, facets and coordinates with the nodes no cell uses removed (no copy when none)."""
    used = np.zeros(len(arrays.x), dtype=bool)
    used[arrays.cells.ravel()] = True
    x = np.ascontiguousarray(arrays.x[:, :gdim], dtype=np.float64)
    if used.all():
        return arrays.cells, arrays.facets, x
    new = np.cumsum(used, dtype=np.int64) - 1
    return new[arrays.cells], new[arrays.facets], x[used]
