"""One mesh per key: the same case meshes to the same arrays, bit for bit, under load.

gmsh's threaded meshers (2D and HXT) number and place nodes in the order
their threads finish, so two builds of one case differed (17,832 against
17,870 cells for the 7 nm sector). With one thread, the default, the mesh is
a function of its cache key.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mpi4py import MPI

from confine.case import case_from_dict
from confine.env import import_dolfinx
from confine.mesh import INFO_FILE, MESH_FILE, mesh_hash, mesh_key

ROOT = Path(__file__).resolve().parent.parent

#: A small 3D case: a one-pore sector of a 56 nm particle (~5k tetrahedra, under a second).
SECTOR: dict[str, Any] = {
    "case": {"name": "determinism"},
    "geometry": {
        "model": "sector-3d",
        "outer_diameter": "56 nm",
        "shell_thickness": "12 nm",
        "bath_thickness": "8 nm",
        "pore_diameter": "10 nm",
        "catalyst_layer": "2 nm",
        "pore_count": 12,
    },
    "mesh": {"cells_across_layer": 1, "max_cell_size": "4 nm"},
    "electrolyte": {"hindrance": "none", "potential_model": "none"},
    "species": [{"name": "A", "formula": "X", "diffusivity": "1e-9 m^2/s"}],
}

BUILD = (
    "import json, sys; from pathlib import Path; from mpi4py import MPI; "
    "from confine.case import case_from_dict; from confine.mesh import ensure_cached; "
    "case = case_from_dict(json.loads(sys.argv[1])); "
    "print(ensure_cached(case, MPI.COMM_SELF, Path(sys.argv[2]))[0])"
)


def _arrays(directory: Path) -> dict[str, np.ndarray]:
    """Every array of a cached mesh as dolfinx reads it (serial)."""
    dolfinx = import_dolfinx()
    from dolfinx.io import XDMFFile

    with XDMFFile(MPI.COMM_SELF, str(directory / MESH_FILE), "r") as xdmf:
        mesh = xdmf.read_mesh(name="mesh", ghost_mode=dolfinx.mesh.GhostMode.none)
        tdim = mesh.topology.dim
        cell_tags = xdmf.read_meshtags(mesh, name="cell_tags")
        mesh.topology.create_connectivity(tdim - 1, tdim)
        facet_tags = xdmf.read_meshtags(mesh, name="facet_tags")
    return {
        "x": mesh.geometry.x,
        "dofmap": mesh.geometry.dofmaps[0],
        "input_global_indices": np.asarray(mesh.geometry.input_global_indices),
        "cells": mesh.topology.connectivity(tdim, 0).array,
        "cell_tags.indices": cell_tags.indices,
        "cell_tags.values": cell_tags.values,
        "facet_tags.indices": facet_tags.indices,
        "facet_tags.values": facet_tags.values,
    }


def test_default_is_one_thread_and_threads_are_in_the_key() -> None:
    case = case_from_dict(SECTOR)
    assert case.mesh.threads == 1
    assert mesh_key(case)["mesh"]["threads"] == 1
    threaded = case.replace(**{"mesh.threads": 2})
    assert mesh_hash(threaded) != mesh_hash(case)


#: The same particle whole: the lean full-3d build (HXT by group, the file from gmsh's arrays).
WHOLE: dict[str, Any] = {**SECTOR, "geometry": {**SECTOR["geometry"], "model": "full-3d"}}


@pytest.mark.parametrize("raw", [SECTOR, WHOLE], ids=["sector-3d", "full-3d"])
def test_same_key_gives_the_same_mesh_bit_for_bit_under_load(
    tmp_path: Path, raw: dict[str, Any]
) -> None:
    """Two builds at once into two caches, beside a CPU burner: equal arrays."""
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        builds = [
            subprocess.Popen(
                [sys.executable, "-c", BUILD, json.dumps(raw), str(tmp_path / f"cache{i}")],
                env=env,
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in (1, 2)
        ]
        outs = [p.communicate(timeout=300) for p in builds]
    finally:
        burner.kill()
        burner.wait()
    for p, (_, err) in zip(builds, outs, strict=True):
        assert p.returncode == 0, err
    first, second = (Path(out.strip()) for out, _ in outs)
    assert first.name == second.name == mesh_hash(case_from_dict(raw))
    assert first != second  # two caches: two builds
    info = [json.loads((d / INFO_FILE).read_text()) for d in (first, second)]
    assert info[0]["dimension"] == 3 and info[0]["cells"] > 1000
    assert info[0]["cells"] == info[1]["cells"] and info[0]["vertices"] == info[1]["vertices"]
    a, b = _arrays(first), _arrays(second)
    for name in a:
        assert a[name].dtype == b[name].dtype and a[name].shape == b[name].shape, name
        assert a[name].tobytes() == b[name].tobytes(), name
