"""The whole-particle mesh streamed to its file batch by batch (issue #24 item 3):
gmsh keeps no volume mesh behind, and the file holds the particle the unstreamed
build holds (the same group volumes and facet areas; HXT's tie-breaks differ).

The 2-rank test: ``mpiexec -n 2 python -m pytest -m mpi tests/test_mesh_stream.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gmsh
import pytest
from test_mesh_files import _case, _tag_counts

from confine.env import import_dolfinx

import_dolfinx()
from mpi4py import MPI  # noqa: E402

from confine import mesh as mesh_mod  # noqa: E402
from confine import mesh_files  # noqa: E402
from confine.geometry.model import build_model, generate_mesh, gmsh_session  # noqa: E402
from confine.mesh_convert import extract  # noqa: E402
from confine.mesh_stream import StreamWriter  # noqa: E402


class _Watch(StreamWriter):
    """A StreamWriter that records the volume elements gmsh holds after each batch."""

    def __init__(self, xdmf: Path) -> None:
        super().__init__(xdmf)
        self.held_after: list[int] = []
        self.batch_cells: list[int] = []

    def batch(self, volumes: list[int]) -> None:
        before = self.cells
        super().batch(volumes)
        self.batch_cells.append(self.cells - before)
        self.held_after.append(sum(len(t) for t in gmsh.model.mesh.getElements(3)[1]))


def _folder(path: Path, writer: Any) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / mesh_mod.INFO_FILE).write_text(json.dumps({"axisymmetric": False, "multiplicity": 1.0}))
    writer(path / mesh_mod.MESH_FILE)
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The mini particle built unstreamed (by groups, then extracted) and streamed."""
    tmp = tmp_path_factory.mktemp("stream")
    with gmsh_session():
        info = build_model(_case("full-3d"))
        plain = generate_mesh(info, 1, by_group=True)
        arrays = extract(3)
        gmsh.model.remove()
    unstreamed = _folder(tmp / "unstreamed", lambda p: mesh_files.write(arrays, 3, p))
    watch: list[_Watch] = []
    counts: list[dict[str, int]] = []

    def stream(p: Path) -> None:
        with gmsh_session():
            info = build_model(_case("full-3d"))
            sink = _Watch(p)
            watch.append(sink)
            counts.append(generate_mesh(info, 1, by_group=True, sink=sink))
            gmsh.model.remove()
            sink.finish()

    streamed = _folder(tmp / "streamed", stream)
    return {
        "plain": plain,
        "arrays": arrays,
        "unstreamed": unstreamed,
        "streamed": streamed,
        "sink": watch[0],
        "stats": counts[0],
    }


def test_gmsh_holds_no_batch_once_it_is_written(built: dict[str, Any]) -> None:
    sink = built["sink"]
    assert len(sink.held_after) >= 3 and max(sink.held_after) == 0
    assert sum(sink.batch_cells) == sink.cells == built["stats"]["cells"]
    assert max(sink.batch_cells) < sink.cells  # never the whole particle at once


def test_streamed_file_holds_the_unstreamed_particle(built: dict[str, Any]) -> None:
    """Serial read: every node used once, the same vertices and facets, the same
    volume per cell group and area per facet group (to round-off), cells within the
    tie-breaks HXT makes differently (< 0.1 %), tetrahedra of positive quality."""
    a = mesh_mod.read_mesh(built["streamed"], MPI.COMM_SELF)
    b = mesh_mod.read_mesh(built["unstreamed"], MPI.COMM_SELF)
    stats, arrays = built["stats"], built["arrays"]
    assert a.mesh.topology.index_map(0).size_local == len(arrays.x) == stats["vertices"]
    cells = a.mesh.topology.index_map(3).size_local
    assert cells == stats["cells"] and abs(cells - len(arrays.cells)) < 1e-3 * cells
    assert len(a.facet_tags.values) == len(b.facet_tags.values) == len(arrays.facets)
    ma, mb = mesh_mod.measure(a, MPI.COMM_SELF), mesh_mod.measure(b, MPI.COMM_SELF)
    assert ma.keys() == mb.keys()
    for kind in ma:
        assert ma[kind].keys() == mb[kind].keys()
        for name, value in ma[kind].items():
            assert value == pytest.approx(mb[kind][name], rel=1e-12), (kind, name)
    assert 0.0 < stats["min_quality"] <= 1.0
    assert stats["min_quality"] == pytest.approx(built["plain"]["min_quality"], rel=0.5)


@pytest.mark.mpi
def test_streamed_cache_read_on_two_ranks(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The full-3d cache (streamed by ``build_mesh_files``) partitioned over the ranks:
    the same cells, vertices and entities per tag as one rank reads."""
    comm = MPI.COMM_WORLD
    base = comm.bcast(str(tmp_path_factory.mktemp("sc")) if comm.rank == 0 else None, root=0)
    if comm.rank == 0:
        info = mesh_mod.build_mesh_files(_case("full-3d"), Path(base))
        assert "stream_write_s" in info["timings"]
    comm.barrier()
    whole = mesh_mod.read_mesh(Path(base), MPI.COMM_SELF)
    split = mesh_mod.read_mesh(Path(base), comm)
    for dim in (0, 3):
        n = comm.allreduce(split.mesh.topology.index_map(dim).size_local)
        assert n == whole.mesh.topology.index_map(dim).size_local
    assert _tag_counts(split, comm) == _tag_counts(whole, MPI.COMM_SELF)
