"""A parallel mesh's cells split so that every rank holds its share of the work.

dolfinx's graph partitioners balance the number of cells per rank, not their
cost. On a particle's mesh the catalytic layer's cells carry more work than
the rest: the coverage blocks of the Jacobian are assembled over them. On a
one-rank sector run of cases/mchs-7nm.toml the species block costs 8.3 s on
18 335 cells (0.45 ms a cell) and the coverage blocks 3.3 s more on its
11 638 catalyst cells (0.28 ms): a catalyst cell weighs 1.6 plain ones. With
dolfinx's partition two ranks held 4 661 and 6 977 of the catalyst cells, and
at every Jacobian the one waited for the other (PETSc's log: 0.86–1.01 s in
MatAssemblyBegin over the run). dolfinx's graph partitioners take no vertex
weights, so the weight goes into the graph: :func:`weighted_graph` joins an
extra node to two of every three catalyst cells (:data:`CATALYST_WEIGHT`
5/3), and dolfinx's own partitioner, balancing node counts, balances the
cost while still cutting few facets. (Cutting by coordinate planes, tried
first, split the catalyst exactly but ghosted 11× more cells, and the ghost
rows' traffic cost more than the balance gained; a weight of 4/3 moved the
partition by less than the partitioner's tolerance.) Ghost cells
(``shared_facet``) are added as dolfinx's partitioners add them: a cell is
ghosted on the owners of its facet neighbours.

``CONFINE_PARTITION=cells`` (a run's choice, not the case's) keeps dolfinx's
own partition.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path
from typing import Any

import basix.ufl
import h5py
import numpy as np
import ufl

from confine.env import import_dolfinx, run_choice

import_dolfinx()
import dolfinx  # noqa: E402
from dolfinx.cpp.graph import AdjacencyList_int32, AdjacencyList_int64  # noqa: E402
from mpi4py import MPI  # noqa: E402

#: A catalyst cell's weight in plain cells (module docstring): the i-th catalyst
#: cell of the file gets an extra node where ⌊i (w − 1)⌋ steps up.
CATALYST_WEIGHT = Fraction(5, 3)


def use_balanced(comm: Any) -> bool:
    """Whether a mesh read on ``comm`` is partitioned by :func:`read_balanced`: on more
    than one rank, unless ``CONFINE_PARTITION=cells``."""
    return run_choice("CONFINE_PARTITION") == "balanced" and comm.size > 1


def weighted_graph(graph: Any, heavy: np.ndarray, comm: Any) -> Any:
    """``graph`` (this rank's nodes of a distributed graph, global indices) with one
    extra node joined to each ``heavy`` node by a single edge: a partitioner that
    balances node counts then counts a heavy node twice. The nodes are renumbered
    rank by rank: this rank's own first, then its extra nodes. Collective."""
    n = len(graph.offsets) - 1
    extra = np.flatnonzero(heavy)
    sizes, new_sizes = np.array(comm.allgather((n, n + len(extra))), dtype=np.int64).T
    starts = np.concatenate([[0], np.cumsum(sizes)])
    new_starts = np.concatenate([[0], np.cumsum(new_sizes)])
    old = np.asarray(graph.array, dtype=np.int64)
    rank_of = np.searchsorted(starts, old, side="right") - 1
    renumbered = new_starts[rank_of] + (old - starts[rank_of])
    me = new_starts[comm.rank]
    old_offsets = np.asarray(graph.offsets, dtype=np.int64)
    old_degree = np.diff(old_offsets)
    degree = old_degree.copy()
    degree[extra] += 1
    offsets = np.zeros(n + len(extra) + 1, dtype=np.int64)
    np.cumsum(np.concatenate([degree, np.ones(len(extra), dtype=np.int64)]), out=offsets[1:])
    data = np.empty(offsets[-1], dtype=np.int64)
    # each node's own edges first, then (a heavy node) the edge to its extra node
    within = np.arange(len(old)) - np.repeat(old_offsets[:-1], old_degree)
    data[np.repeat(offsets[:n], old_degree) + within] = renumbered
    data[offsets[extra + 1] - 1] = me + n + np.arange(len(extra))
    data[offsets[n:-1]] = me + extra
    return AdjacencyList_int64(data, offsets.astype(np.int32))


def _ghosted(owners: np.ndarray, graph: Any, offset: int) -> Any:
    """The destinations of this rank's nodes of ``graph`` (global indices; its
    nodes are ``offset`` …): each node's owner first, then the owners of its
    neighbours that differ, as dolfinx's partitioners return with ghosting."""
    n = len(graph.offsets) - 1
    own = owners[offset : offset + n]
    degree = np.diff(graph.offsets)
    src = np.repeat(np.arange(n), degree)
    other = owners[np.asarray(graph.array, dtype=np.int64)]
    keep = other != own[src]
    # unique (node, rank) pairs, sorted by node then rank
    pairs = np.unique(np.stack([src[keep], other[keep]], axis=1), axis=0)
    counts = np.bincount(pairs[:, 0], minlength=n) + 1
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    data = np.empty(offsets[-1], dtype=np.int32)
    data[offsets[:-1]] = own
    # each node's ghosts after its owner: position = start + 1 + index among its ghosts
    if len(pairs):
        first = np.searchsorted(pairs[:, 0], pairs[:, 0], side="left")
        data[offsets[pairs[:, 0]] + 1 + np.arange(len(pairs)) - first] = pairs[:, 1]
    return AdjacencyList_int32(data, offsets)


def cell_partitioner(comm: Any, heavy: np.ndarray, ghost_mode: Any) -> Any:
    """A dolfinx cell partitioner for ``create_mesh`` that counts the ``heavy`` cells
    (this rank's cells as passed to ``create_mesh``, in order) twice: dolfinx's graph
    partitioner on :func:`weighted_graph`, ghosts added as dolfinx adds them."""
    partition = dolfinx.cpp.graph.partitioner()

    def part(_comm: Any, nparts: int, graph: Any, ghosting: bool) -> Any:
        n = len(graph.offsets) - 1
        if n != len(heavy):
            raise RuntimeError("cell partitioner: the graph is not the cells it was made for")
        weighted = weighted_graph(graph, heavy, comm)
        owners = np.asarray(partition(_comm, nparts, weighted, False).array[:n], dtype=np.int32)
        if not ghosting:
            return AdjacencyList_int32(owners, np.arange(n + 1, dtype=np.int32))
        every = np.concatenate(comm.allgather(owners))
        return _ghosted(every, graph, int(comm.exscan(n) or 0))

    return dolfinx.cpp.mesh.create_cell_partitioner(part, ghost_mode, 2)


def _datasets(xdmf: Path) -> dict[str, tuple[str, str | None]]:
    """Every grid's HDF5 datasets of its topology and its attribute (None: no attribute)."""
    out: dict[str, tuple[str, str | None]] = {}
    for g in ET.parse(xdmf).getroot().iter("Grid"):
        topo, attr = g.find("Topology/DataItem"), g.find("Attribute/DataItem")
        if topo is not None and topo.text is not None:
            value = None if attr is None or attr.text is None else attr.text.split(":", 1)[1]
            out[str(g.get("Name"))] = (
                topo.text.split(":", 1)[1].strip(),
                None if value is None else value.strip(),
            )
    return out


def _cell_values(xdmf: Path, cells: np.ndarray, offset: int) -> np.ndarray | None:
    """The cell tags of this rank's rows ``offset …`` of the mesh's topology, read from
    the HDF5 file: None where the tag set's cells are not the mesh's rows in order."""
    grids = _datasets(xdmf)
    if "mesh" not in grids or "cell_tags" not in grids:
        return None
    mesh_topology, _ = grids["mesh"]
    tag_topology, values = grids["cell_tags"]
    if values is None:
        return None
    rows = slice(offset, offset + len(cells))
    with h5py.File(xdmf.with_suffix(".h5"), "r") as f:
        if tag_topology != mesh_topology:  # dolfinx's writer: a copy, in the same order?
            if f[tag_topology].shape[0] != f[mesh_topology].shape[0]:
                return None
            if not np.array_equal(np.asarray(f[tag_topology][rows]), cells):
                return None
        return np.asarray(f[values][rows]).ravel()


def read_balanced(xdmf: Any, path: Path, comm: Any, catalyst: np.ndarray) -> Any:
    """The mesh of the XDMF file ``path`` (open as ``xdmf``) partitioned by
    :func:`cell_partitioner`, the cells tagged with one of ``catalyst`` weighted.

    Returns:
        The mesh, or None on every rank where the file's cell tags cannot be read
        beside its cells (not P1, no tag values, tags in another order than the
        cells): then dolfinx's own partition is the way. Collective.
    """
    shape, degree = xdmf.read_cell_type("mesh")
    cells = xdmf.read_topology_data("mesh")
    x = xdmf.read_geometry_data("mesh")
    offset = int(comm.exscan(len(cells)) or 0)
    values = _cell_values(path, cells, offset) if degree == 1 else None
    if not comm.allreduce(values is not None, op=MPI.LAND):
        return None
    assert values is not None
    catalytic = np.isin(values, catalyst)
    # the file's catalyst cells counted across the ranks: the same cells whichever reads them
    ordinal = np.cumsum(catalytic) + int(comm.exscan(int(catalytic.sum())) or 0)
    num, den = (CATALYST_WEIGHT - 1).as_integer_ratio()
    heavy = catalytic & ((ordinal * num) // den > ((ordinal - 1) * num) // den)
    partitioner = cell_partitioner(comm, heavy, dolfinx.mesh.GhostMode.shared_facet)
    element = basix.ufl.element("Lagrange", shape.name, degree, shape=(x.shape[1],))
    mesh = dolfinx.mesh.create_mesh(comm, cells, ufl.Mesh(element), x, partitioner)
    mesh.name = "mesh"
    return mesh
