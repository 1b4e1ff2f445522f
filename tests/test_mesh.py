"""Mesh cache, parallel reading and mesh.json (dolfinx)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mpi4py import MPI

from confine.case import Case, case_from_dict
from confine.geometry.groups import CELL_GROUPS, FACET_GROUPS
from confine.mesh import load_mesh, measure, mesh_case, mesh_hash

ROOT = Path(__file__).resolve().parent.parent

CASE: dict[str, Any] = {
    "case": {"name": "mesh-test"},
    "geometry": {
        "model": "axisymmetric-cell",
        "pore_diameter": "7.55 nm",
        "wall_thickness": "3 nm",
        "bath_thickness": "100 nm",
    },
    "electrolyte": {"hindrance": "none", "potential_model": "none"},
    "species": [{"name": "A", "formula": "X", "diffusivity": "1e-9 m^2/s"}],
}
SECTOR: dict[str, Any] = {
    **CASE,
    "geometry": {
        "model": "sector-3d",
        "outer_diameter": "56 nm",
        "shell_thickness": "12 nm",
        "bath_thickness": "8 nm",
        "pore_diameter": "10 nm",
        "catalyst_layer": "2 nm",
        "pore_count": 12,
    },
    "mesh": {"cells_across_layer": 3, "max_cell_size": "4 nm"},
}


def make_case(raw: dict[str, Any] = CASE) -> Case:
    """The test case."""
    return case_from_dict(raw)


def test_cache_reuse_and_invalidation(tmp_path: Path) -> None:
    case = make_case()
    first = load_mesh(case, MPI.COMM_SELF, tmp_path)
    again = load_mesh(case, MPI.COMM_SELF, tmp_path)
    assert not first.info["cached"] and again.info["cached"]
    assert first.info["directory"] == again.info["directory"]
    assert (
        again.mesh.topology.index_map(2).size_local == first.mesh.topology.index_map(2).size_local
    )
    # what does not shape the mesh keeps the hash
    assert mesh_hash(case.replace(**{"electrode.potential": "-0.8 V"})) == mesh_hash(case)
    assert mesh_hash(case.replace(**{"geometry.bath_boundary": "far-field"})) == mesh_hash(case)
    # every geometry or mesh setting that shapes it changes it, and is rebuilt
    for key, value in (
        ("mesh.cells_per_pore_diameter", 8),
        ("mesh.refine", 1),
        ("geometry.catalyst_layer", "1.5 nm"),
        ("geometry.pore_count", 200),
    ):
        overrides = {key: value}
        if key == "geometry.pore_count":
            overrides["geometry.wall_thickness"] = None  # type: ignore[assignment]
        changed = _replace(case, overrides)
        assert mesh_hash(changed) != mesh_hash(case), key
    finer = load_mesh(_replace(case, {"mesh.cells_per_pore_diameter": 8}), MPI.COMM_SELF, tmp_path)
    assert not finer.info["cached"]
    assert finer.mesh.topology.index_map(2).size_local > first.mesh.topology.index_map(2).size_local
    assert not list(tmp_path.glob(".tmp-*"))


def _replace(case: Case, overrides: dict[str, Any]) -> Case:
    raw = case.to_dict()
    for key, value in overrides.items():
        sec, name = key.split(".")
        if value is None:
            raw[sec].pop(name, None)
        else:
            raw[sec][name] = value
    return case_from_dict(raw)


def test_concurrent_runs_share_one_cache_entry(tmp_path: Path) -> None:
    raw = json.dumps(CASE)
    script = (
        "import json, sys; from pathlib import Path; from mpi4py import MPI; "
        "from confine.case import case_from_dict; from confine.mesh import load_mesh; "
        f"d = load_mesh(case_from_dict(json.loads({raw!r})), MPI.COMM_SELF, Path(sys.argv[1])); "
        "print(d.mesh.topology.index_map(2).size_local)"
    )
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    cells = {out.strip() for out, _ in outs}
    assert len(cells) == 1
    entries = [p.name for p in tmp_path.iterdir()]
    assert entries == [mesh_hash(make_case())]


def test_mesh_case_writes_json_and_paraview_file(tmp_path: Path) -> None:
    case = make_case()
    report = mesh_case(case, tmp_path / "out", MPI.COMM_SELF, cache_dir=tmp_path / "cache")
    on_disk = json.loads((tmp_path / "out" / "mesh.json").read_text())
    assert on_disk["hash"] == report["hash"] == mesh_hash(case)
    assert (tmp_path / "out" / "subdomains.xdmf").exists()
    for key in (
        "cells",
        "vertices",
        "volumes_nm3",
        "areas_nm2",
        "pore_count",
        "min_wall_at_cavity_nm",
        "min_cell_quality",
        "timings_s",
    ):
        assert key in on_disk, key
    assert on_disk["cells"] > 0 and on_disk["vertices"] > 0
    assert 0.0 < on_disk["min_cell_quality"] <= 1.0
    assert on_disk["min_wall_at_cavity_nm"] >= 3.0
    closed = on_disk["closed_form"]
    for kind in ("volumes_nm3", "areas_nm2"):
        for name, value in closed[kind].items():
            assert on_disk[kind][name] == pytest.approx(value, rel=0.01), name


def test_mesh_data_contract(tmp_path: Path) -> None:
    data = load_mesh(make_case(), MPI.COMM_SELF, tmp_path)
    assert data.axisymmetric and data.length_scale == 1e-9
    assert data.multiplicity == data.info["pore_count"]
    assert set(np.unique(data.cell_tags.values)) <= set(CELL_GROUPS.values())
    assert set(np.unique(data.facet_tags.values)) <= set(FACET_GROUPS.values())
    # mouths are interior facets: two cells each
    tdim = data.mesh.topology.dim
    f2c = data.mesh.topology.connectivity(tdim - 1, tdim)
    for name in ("mouth_outer", "mouth_inner"):
        facets = data.facet_tags.find(FACET_GROUPS[name])
        assert len(facets) > 0
        assert all(len(f2c.links(f)) == 2 for f in facets)
    for name in ("outer_boundary", "pore_wall", "symmetry", "axis"):
        facets = data.facet_tags.find(FACET_GROUPS[name])
        assert len(facets) > 0
        assert all(len(f2c.links(f)) == 1 for f in facets)
    # coordinates in nm: the bath reaches r = 207 nm
    assert np.max(np.linalg.norm(data.mesh.geometry.x, axis=1)) == pytest.approx(207.0)


@pytest.mark.mpi
def test_parallel_read_sums_to_closed_forms() -> None:
    comm = MPI.COMM_WORLD
    if comm.size < 2:
        pytest.skip("run under mpiexec -n 2")
    root = tempfile.mkdtemp(prefix="confine-mpi-") if comm.rank == 0 else None
    cache = Path(comm.bcast(root, root=0))
    for raw in (CASE, SECTOR):
        case = make_case(raw)
        data = load_mesh(case, comm, cache)
        cells = data.mesh.topology.index_map(data.mesh.topology.dim)
        assert cells.size_local > 0  # really distributed
        assert comm.allreduce(cells.size_local) == data.info["cells"]
        got = measure(data, comm)
        for kind in ("volumes", "areas"):
            for name, value in data.info[kind].items():
                assert got[kind][name] == pytest.approx(value, rel=0.01), name
        serial = measure(load_mesh(case, MPI.COMM_SELF, cache), MPI.COMM_SELF)
        for kind in ("volumes", "areas"):
            for name, value in serial[kind].items():
                assert got[kind][name] == pytest.approx(value, rel=1e-9), name
    comm.barrier()
