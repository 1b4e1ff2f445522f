"""The lean whole-particle build (issue #24 item 3): gmsh's arrays written straight
to the cache file, read back partitioned, hold the mesh dolfinx's writer holds.

Run on 2 ranks with ``mpiexec -n 2 python -m pytest -m mpi tests/test_mesh_files.py``
(rank 0 meshes and writes both files, every rank reads them partitioned); the
key tests run serially too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gmsh
import numpy as np
import pytest

from confine.case import case_from_dict
from confine.env import import_dolfinx

import_dolfinx()
from mpi4py import MPI  # noqa: E402
from test_mesh_convert import PARTICLE  # noqa: E402  (the same small particle)

from confine import mesh as mesh_mod  # noqa: E402
from confine import mesh_files  # noqa: E402
from confine.geometry.model import build_model, generate_mesh, gmsh_session  # noqa: E402
from confine.mesh_convert import extract  # noqa: E402


def _case(model: str) -> Any:
    return case_from_dict(
        {
            "case": {"name": f"lean-{model}"},
            "geometry": {"model": model, **PARTICLE},
            "mesh": {"cells_across_layer": 1, "max_cell_size": "4 nm"},
            "electrolyte": {"hindrance": "none", "potential_model": "none"},
            "species": [{"name": "A", "formula": "X", "diffusivity": "1e-9 m^2/s"}],
        }
    )


def _tag_counts(data: Any, comm: Any) -> dict[str, dict[int, int]]:
    """Owned entities per tag value, summed over ranks (cells and facets)."""
    out: dict[str, dict[int, int]] = {}
    tdim = data.mesh.topology.dim
    for kind, dim, tags in (("cells", tdim, data.cell_tags), ("facets", tdim - 1, data.facet_tags)):
        owned = data.mesh.topology.index_map(dim).size_local
        keep = tags.indices < owned
        values, counts = np.unique(tags.values[keep], return_counts=True)
        local = dict(zip(values.tolist(), counts.tolist(), strict=True))
        merged: dict[int, int] = {}
        for part in comm.allgather(local):
            for k, v in part.items():
                merged[k] = merged.get(k, 0) + v
        out[kind] = merged
    return out


@pytest.mark.mpi
def test_direct_file_read_partitioned_equals_dolfinx_written(tmp_path_factory) -> None:
    comm = MPI.COMM_WORLD
    base = comm.bcast(str(tmp_path_factory.mktemp("lean")) if comm.rank == 0 else None, root=0)
    direct, converted = Path(base) / "direct", Path(base) / "converted"
    if comm.rank == 0:
        with gmsh_session():
            info = build_model(_case("full-3d"))
            generate_mesh(info, 1, by_group=True)
            arrays = extract(3)
            gmsh.model.remove()
        for d in (direct, converted):
            d.mkdir()
            (d / mesh_mod.INFO_FILE).write_text(
                json.dumps({"axisymmetric": False, "multiplicity": 1.0})
            )
        written = mesh_files.write(arrays, 3, direct / mesh_mod.MESH_FILE)
        assert written["cells"] == len(arrays.cells)
        mesh_mod._convert_and_write(arrays, 3, converted / mesh_mod.MESH_FILE)
    comm.barrier()
    a = mesh_mod.read_mesh(direct, comm)
    b = mesh_mod.read_mesh(converted, comm)
    for dim in (0, 3):
        size_a = comm.allreduce(a.mesh.topology.index_map(dim).size_local)
        assert size_a == comm.allreduce(b.mesh.topology.index_map(dim).size_local)
    assert _tag_counts(a, comm) == _tag_counts(b, comm)
    ma, mb = mesh_mod.measure(a, comm), mesh_mod.measure(b, comm)
    assert ma.keys() == mb.keys()
    for kind in ma:
        assert ma[kind].keys() == mb[kind].keys()
        for name, value in ma[kind].items():
            assert value == pytest.approx(mb[kind][name], rel=1e-12), (kind, name)


def test_lean_build_only_in_full_3d_keys() -> None:
    """Only full-3d mesh keys name the lean build: the other levels' hashes stay."""
    assert mesh_mod.mesh_key(_case("full-3d"))["build"] == mesh_mod.FULL_3D_BUILD
    for model in ("sector-3d", "axisymmetric-cell"):
        assert "build" not in mesh_mod.mesh_key(_case(model))


def test_full_3d_cache_built_lean(tmp_path: Path) -> None:
    """A full-3d mesh is streamed to its file batch by batch and reads back whole."""
    info = mesh_mod.build_mesh_files(_case("full-3d"), tmp_path)
    assert "stream_write_s" in info["timings"] and "dolfinx_mesh_s" not in info["timings"]
    data = mesh_mod.read_mesh(tmp_path, MPI.COMM_SELF)
    assert data.mesh.topology.index_map(3).size_local == info["cells"]
    assert info["min_quality"] > 0.0
