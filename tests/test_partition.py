"""The catalyst-weighted partition of a mesh read on several ranks (confine.partition).

Run on 2 ranks with ``mpiexec -n 2 python -m pytest -m mpi tests/test_partition.py``;
the graph tests run serially.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from test_mesh_files import _tag_counts
from test_mini_particle_mpi import mini_particle
from test_solve_mpi import leaves, mismatches

from confine.env import import_dolfinx

import_dolfinx()
import dolfinx  # noqa: E402
import ufl  # noqa: E402
from dolfinx.cpp.graph import AdjacencyList_int64  # noqa: E402
from mpi4py import MPI  # noqa: E402

from confine import mesh as mesh_mod  # noqa: E402
from confine import partition  # noqa: E402
from confine.geometry import groups  # noqa: E402
from confine.metrics import compute_metrics  # noqa: E402
from confine.solve import solve  # noqa: E402

CATALYST = groups.tags("catalyst_layer")


def _path_graph(n: int) -> Any:
    """The path 0 - 1 - ... - n-1 as a one-rank adjacency list."""
    nbrs = [[j for j in (i - 1, i + 1) if 0 <= j < n] for i in range(n)]
    offsets = np.cumsum([0] + [len(a) for a in nbrs]).astype(np.int32)
    return AdjacencyList_int64(np.concatenate(nbrs).astype(np.int64), offsets)


def _links(adj: Any) -> list[list[int]]:
    return [adj.links(i).tolist() for i in range(len(adj.offsets) - 1)]


def test_weighted_graph_joins_an_extra_node_to_each_heavy_node() -> None:
    heavy = np.array([False, True, False, True])
    weighted = partition.weighted_graph(_path_graph(4), heavy, MPI.COMM_SELF)
    # the path's nodes keep their edges; node 4 hangs on node 1, node 5 on node 3
    assert _links(weighted) == [[1], [0, 2, 4], [1, 3], [2, 5], [1], [3]]


def test_ghosts_are_the_owners_of_the_facet_neighbours() -> None:
    owners = np.array([0, 0, 1, 1, 2], dtype=np.int32)
    dest = partition._ghosted(owners, _path_graph(5), 0)
    # owner first, then every other owner among the neighbours
    assert _links(dest) == [[0], [0, 1], [1, 0], [1, 2], [2, 1]]


def test_partition_choice(monkeypatch) -> None:
    monkeypatch.setenv("CONFINE_PARTITION", "cells")
    assert not partition.use_balanced(MPI.COMM_WORLD)
    monkeypatch.setenv("CONFINE_PARTITION", "metis")
    with pytest.raises(
        ValueError, match="CONFINE_PARTITION='metis': must be one of balanced, cells"
    ):
        partition.use_balanced(MPI.COMM_WORLD)
    monkeypatch.delenv("CONFINE_PARTITION")
    assert partition.use_balanced(MPI.COMM_WORLD) == (MPI.COMM_WORLD.size > 1)


def _weights(data: Any, comm: Any) -> list[float]:
    """Every rank's owned cells weighted as the partitioner weighs them."""
    owned = data.mesh.topology.index_map(data.mesh.topology.dim).size_local
    keep = data.cell_tags.indices < owned
    catalytic = np.count_nonzero(np.isin(data.cell_tags.values[keep], CATALYST))
    return comm.allgather(owned + float(partition.CATALYST_WEIGHT - 1) * catalytic)


def _interior_area(data: Any) -> float:
    """Area of all interior facets: each counted once only where the ghosts are right."""
    one = dolfinx.fem.Constant(data.mesh, 1.0)
    form = dolfinx.fem.form(one * ufl.dS(domain=data.mesh))
    return data.mesh.comm.allreduce(dolfinx.fem.assemble_scalar(form), op=MPI.SUM)


@pytest.fixture(scope="module")
def sector_folder() -> Path:
    """The mini particle's sector mesh in the cache (dolfinx's writer: the cell tags a
    copy of the topology)."""
    if MPI.COMM_WORLD.size < 2:
        pytest.skip("needs mpiexec -n 2")
    case = mini_particle("sector-3d")
    directory, _ = mesh_mod.ensure_cached(case, MPI.COMM_WORLD, None, False)
    return directory


@pytest.mark.mpi
@pytest.mark.parametrize("model", ["sector-3d", "full-3d"])
def test_balanced_read_holds_the_same_mesh_with_the_catalyst_shared(
    model: str, monkeypatch
) -> None:
    """Both writers' files (full-3d: gmsh's order, the tags on the mesh's topology):
    the same cells, tags, volumes, areas and interior facets as dolfinx's partition,
    and the weighted cells within the graph partitioner's few per cent."""
    comm = MPI.COMM_WORLD
    if comm.size < 2:
        pytest.skip("needs mpiexec -n 2")
    directory, _ = mesh_mod.ensure_cached(mini_particle(model), comm, None, False)
    monkeypatch.setenv("CONFINE_PARTITION", "cells")
    plain = mesh_mod.read_mesh(directory, comm)
    monkeypatch.setenv("CONFINE_PARTITION", "balanced")
    balanced = mesh_mod.read_mesh(directory, comm)
    assert _tag_counts(balanced, comm) == _tag_counts(plain, comm)
    mp, mb = mesh_mod.measure(plain, comm), mesh_mod.measure(balanced, comm)
    for kind in mp:
        for name, value in mp[kind].items():
            assert mb[kind][name] == pytest.approx(value, rel=1e-12), (kind, name)
    assert _interior_area(balanced) == pytest.approx(_interior_area(plain), rel=1e-12)
    # the graph partitioner balances to a few per cent (measured 1.015 and 1.017 here,
    # against 1.114 and 1.142 with dolfinx's partition)
    weights = _weights(balanced, comm)
    assert max(weights) / np.mean(weights) < 1.1, weights


@pytest.mark.mpi
def test_file_whose_tags_are_not_in_cell_order_keeps_dolfinx_partition(
    sector_folder: Path, tmp_path_factory
) -> None:
    comm = MPI.COMM_WORLD
    base = comm.bcast(str(tmp_path_factory.mktemp("shuffled")) if comm.rank == 0 else None)
    folder = Path(base) / "mesh"
    if comm.rank == 0:
        shutil.copytree(sector_folder, folder)
        with h5py.File(folder / "mesh.h5", "r+") as f:  # the tag set reversed: same tags
            for name in ("topology", "Values"):
                data = f[f"MeshTags/cell_tags/{name}"]
                data[...] = np.asarray(data)[::-1]
    comm.barrier()
    with dolfinx.io.XDMFFile(comm, str(folder / "mesh.xdmf"), "r") as xdmf:
        got = partition.read_balanced(xdmf, folder / "mesh.xdmf", comm, np.array(CATALYST))
    assert got is None
    data = mesh_mod.read_mesh(folder, comm)  # dolfinx's partition, its tags right
    assert _tag_counts(data, comm) == _tag_counts(mesh_mod.read_mesh(sector_folder, comm), comm)


@pytest.mark.mpi
def test_solve_on_the_balanced_partition_equals_the_serial_one(sector_folder: Path) -> None:
    """The mini particle's sector solved on 2 ranks (balanced partition) and on each
    rank alone: every metric within the solver's tolerance (as tests/test_solve_mpi.py)."""
    comm = MPI.COMM_WORLD
    case = mini_particle("sector-3d")
    par = mesh_mod.read_mesh(sector_folder, comm)
    ser = mesh_mod.read_mesh(sector_folder, MPI.COMM_SELF)
    got = leaves(compute_metrics(case, par, solve(case, par, comm), comm))
    want = leaves(compute_metrics(case, ser, solve(case, ser, MPI.COMM_SELF), MPI.COMM_SELF))
    assert not mismatches(got, want)
