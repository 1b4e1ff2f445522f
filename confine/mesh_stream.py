"""The whole-particle mesh file written batch by batch while gmsh meshes it.

:func:`confine.geometry.model.generate_mesh` meshes a full-3d particle's
volumes in batches (one physical group at a time, at most
``VOLUMES_PER_CALL`` volumes per HXT call). Without a sink, gmsh keeps every
batch's tetrahedra until the end, and :func:`confine.mesh_convert.extract`
then copies them all: rank 0's peak grows with the particle (≈ 350 B per cell
above the OCC model, benchmarks/README.md). With a :class:`StreamWriter` as
the sink, each batch's tetrahedra and interior nodes are appended to the
cache's HDF5 datasets as soon as HXT returns, and the batch's volume mesh is
cleared from gmsh: rank 0 then holds the OCC model, the surface mesh and one
batch, whatever the particle's size.

The file is laid out as :func:`confine.mesh_files.write` lays out the
unstreamed build's (nodes: the surface mesh's in gmsh's tag order, then each
batch's interior nodes in tag order; cells by group and volume; facets by
group and surface), but it is not the same mesh: gmsh renumbers the nodes
when a batch is cleared, and HXT's tie-breaks follow the numbers (on the
mini particle one volume of 27 gets one more tetrahedron). Hence its own
build in the mesh key (:data:`confine.mesh.FULL_3D_BUILD`). Because tags
move, the surface nodes a batch shares are found by their coordinates
(gmsh never moves a surface node while meshing volumes; a miss is an error).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import gmsh
import h5py
import numpy as np

from confine.geometry.model import min_quality
from confine.mesh_files import TETRAHEDRON, TRIANGLE, write_xdmf

#: Rows per HDF5 chunk of the appended datasets (nodes or cells).
_CHUNK_ROWS = 1 << 16
#: A node's coordinates as one sortable value (their 24 bytes).
_KEY = np.dtype((np.void, 24))


def _keys(x: np.ndarray) -> np.ndarray:
    """One comparable value per row of float64 coordinates (n × 3)."""
    return np.ascontiguousarray(x, dtype=np.float64).view(_KEY).ravel()


class StreamWriter:
    """Appends each meshed batch to the cache's HDF5 file and frees it in gmsh.

    Use: :meth:`start` once the surface mesh exists, :meth:`batch` after each HXT
    call, :meth:`finish` once every volume is meshed (gmsh may be gone by then).
    """

    def __init__(self, xdmf: Path) -> None:
        self.xdmf = xdmf
        self.h5 = xdmf.with_suffix(".h5")
        self.file: Any = None
        self.surface_keys = np.empty(0, dtype=_KEY)  # surface nodes' coordinates, sorted
        self.surface_rows = np.empty(0, dtype=np.int64)  # their rows in the file
        self.group_of: dict[int, int] = {}  # volume -> its physical group
        self.nodes = 0
        self.cells = 0
        self.facets = 0
        self.used: list[np.ndarray] = []  # per node block: whether a cell uses it
        self.min_quality = 1.0
        self.seconds = 0.0  # spent here (extraction, writing, clearing)

    def _dataset(self, name: str, cols: int, dtype: Any) -> Any:
        return self.file.create_dataset(
            name, (0, cols), maxshape=(None, cols), dtype=dtype, chunks=(_CHUNK_ROWS, cols)
        )

    @staticmethod
    def _append(dataset: Any, rows: np.ndarray) -> None:
        n = dataset.shape[0]
        dataset.resize(n + len(rows), axis=0)
        dataset[n:] = rows

    def start(self) -> None:
        """After the surface mesh: its nodes (every node until the volumes are meshed)
        and the tagged facets go to the file; the volumes' groups are read."""
        t0 = time.perf_counter()
        for _, group in gmsh.model.getPhysicalGroups(3):
            for volume in gmsh.model.getEntitiesForPhysicalGroup(3, group):
                if int(volume) in self.group_of:
                    raise RuntimeError(f"volume {volume} is in two physical groups")
                self.group_of[int(volume)] = int(group)
        tags, x, _ = gmsh.model.mesh.getNodes()
        order = np.argsort(tags, kind="stable")
        tags = np.asarray(tags, dtype=np.uint64)[order]
        x = np.asarray(x, dtype=np.float64).reshape(-1, 3)[order]
        keys = _keys(x)
        by_key = np.argsort(keys, kind="stable")
        self.surface_keys, self.surface_rows = keys[by_key], by_key.astype(np.int64)
        if len(keys) and np.any(self.surface_keys[1:] == self.surface_keys[:-1]):
            raise RuntimeError("two surface nodes at the same coordinates")
        self.file = h5py.File(self.h5, "w")
        self.geometry = self._dataset("Mesh/mesh/geometry", 3, np.float64)
        self.topology = self._dataset("Mesh/mesh/topology", 4, np.int64)
        self.values = self._dataset("MeshTags/cell_tags/Values", 1, np.int32)
        self._append(self.geometry, x)
        self.nodes = len(x)
        self.used.append(np.zeros(self.nodes, dtype=bool))
        facets, facet_values = [], []
        for _, group in gmsh.model.getPhysicalGroups(2):
            for surface in gmsh.model.getEntitiesForPhysicalGroup(2, group):
                etypes, etags, enodes = gmsh.model.mesh.getElements(2, tag=surface)
                for etype, et, en in zip(etypes, etags, enodes, strict=True):
                    if etype != TRIANGLE:
                        raise RuntimeError(f"surface {surface}: gmsh element type {etype}")
                    at = np.searchsorted(tags, np.asarray(en, dtype=np.uint64))
                    at = np.minimum(at, len(tags) - 1)
                    if not np.array_equal(tags[at], np.asarray(en, dtype=np.uint64)):
                        raise RuntimeError(f"surface {surface}: a facet node is not a node")
                    facets.append(at.astype(np.int64))
                    facet_values.append(np.full(len(et), group, dtype=np.int32))
        f = np.concatenate(facets).reshape(-1, 3) if facets else np.empty((0, 3), np.int64)
        self.file.create_dataset("MeshTags/facet_tags/topology", data=f)
        fv = np.concatenate(facet_values) if facet_values else np.empty(0, np.int32)
        self.file.create_dataset("MeshTags/facet_tags/Values", data=fv.reshape(-1, 1))
        self.facets = len(f)
        self.seconds += time.perf_counter() - t0

    def _surface_row(self, x: np.ndarray) -> np.ndarray:
        """File rows of surface nodes given by their coordinates (n × 3)."""
        keys = _keys(x)
        at = np.minimum(np.searchsorted(self.surface_keys, keys), len(self.surface_keys) - 1)
        if not np.array_equal(self.surface_keys[at], keys):
            raise RuntimeError("a batch's boundary node is not a surface node (moved?)")
        return self.surface_rows[at]

    def batch(self, volumes: list[int]) -> None:
        """After HXT meshed ``volumes``: their tetrahedra and interior nodes appended,
        their quality taken, their volume mesh cleared in gmsh."""
        t0 = time.perf_counter()
        tags, x = [], []
        for v in volumes:
            t, xv, _ = gmsh.model.mesh.getNodes(3, v, includeBoundary=True)
            tags.append(np.asarray(t, dtype=np.uint64))
            x.append(np.asarray(xv, dtype=np.float64).reshape(-1, 3))
        tag = np.concatenate(tags)
        tag, first = np.unique(tag, return_index=True)  # sorted: gmsh's tag order
        xb = np.concatenate(x)[first]
        inner = np.zeros(len(tag), dtype=bool)
        for v in volumes:
            t = np.asarray(gmsh.model.mesh.getNodes(3, v, includeBoundary=False)[0], np.uint64)
            inner[np.searchsorted(tag, t)] = True
        row = np.empty(len(tag), dtype=np.int64)  # batch node -> file row
        row[~inner] = self._surface_row(xb[~inner])
        row[inner] = self.nodes + np.arange(int(inner.sum()))
        self._append(self.geometry, xb[inner])
        self.nodes += int(inner.sum())
        used = np.zeros(len(tag), dtype=bool)
        for v in volumes:
            if v not in self.group_of:
                raise RuntimeError(f"volume {v} is in no physical group: its cells untagged")
            etypes, etags, enodes = gmsh.model.mesh.getElements(3, tag=v)
            for etype, et, en in zip(etypes, etags, enodes, strict=True):
                if etype != TETRAHEDRON:
                    raise RuntimeError(f"volume {v}: gmsh element type {etype}")
                at = np.searchsorted(tag, np.asarray(en, dtype=np.uint64))
                used[at] = True
                self._append(self.topology, row[at].reshape(-1, 4))
                self._append(self.values, np.full((len(et), 1), self.group_of[v], np.int32))
                self.cells += len(et)
                self.min_quality = min(self.min_quality, min_quality([et]))
        self.used[0][row[~inner & used]] = True
        self.used.append(used[inner])
        gmsh.model.mesh.clear([(3, v) for v in volumes])
        self.seconds += time.perf_counter() - t0

    def finish(self) -> dict[str, int]:
        """Close the HDF5 file and write the XDMF beside it.

        Returns:
            The counts written: cells, vertices, facets.

        Raises:
            RuntimeError: a node no cell uses (the unstreamed writer would drop it).
        """
        t0 = time.perf_counter()
        self.file.close()
        if not all(u.all() for u in self.used):
            raise RuntimeError("a mesh node no cell uses: the streamed file would keep it")
        counts = {"cells": self.cells, "vertices": self.nodes, "facets": self.facets}
        write_xdmf(self.xdmf, TETRAHEDRON, 3, counts)
        self.seconds += time.perf_counter() - t0
        return counts

    def close(self) -> None:
        """Close the HDF5 file if open (after an error; the caller removes the folder)."""
        if self.file is not None and self.file.id.valid:
            self.file.close()
