"""One entry point: a case -> a gmsh model with physical groups and mesh sizes.

:func:`build_model` dispatches on ``geometry.kind`` to the builders
(:mod:`confine.geometry.hollow`, :mod:`~confine.geometry.solid`,
:mod:`~confine.geometry.simple`) and returns a :class:`GeometryInfo` with
what the builder knows in closed form (volumes and areas per group, pore
count, walls), for mesh.json and the tests. :func:`generate_mesh` meshes the
model with the strategy recorded in DESIGN.md section 4. Everything here is
in nm; gmsh must be initialised by the caller (see :func:`gmsh_session`).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import gmsh
import numpy as np

from confine.case import Case
from confine.geometry import hollow, simple, solid, sphere
from confine.geometry.derived import sizes_of
from confine.geometry.groups import CELL_GROUPS
from confine.geometry.info import GeometryInfo

__all__ = [
    "GeometryInfo",
    "build_model",
    "generate_mesh",
    "gmsh_session",
    "measure_model",
    "simplex_measures",
]


@contextlib.contextmanager
def gmsh_session(verbose: bool = False) -> Iterator[None]:
    """Initialise gmsh for the block (finalise after, unless it was already running)."""
    started = not gmsh.isInitialized()
    if started:
        gmsh.initialize(interruptible=False)
    gmsh.option.setNumber("General.Terminal", 1 if verbose else 0)
    try:
        yield
    finally:
        if started:
            gmsh.finalize()


def build_model(case: Case) -> GeometryInfo:
    """Create the gmsh model of a case: fluid only, physical groups, mesh sizes.

    gmsh must be initialised (:func:`gmsh_session`); the model is added as a
    new current model named after the case.

    Args:
        case: a validated case.

    Returns:
        What was built, with closed-form volumes and areas.

    Raises:
        ValueError: a combination no builder supports (checked before any OCC call).
    """
    g = case.geometry
    t0 = time.perf_counter()
    gmsh.model.add(case.case.name)
    gmsh.option.setNumber("General.NumThreads", case.mesh.threads)
    sizes = sizes_of(case)
    if g.kind == "hollow-sphere":
        info = hollow.build(case, sizes)
    elif g.kind == "solid-sphere":
        info = solid.build(case, sizes)
    elif g.kind == "sphere":
        info = sphere.build(case, sizes)
    elif g.kind == "planar":
        info = simple.build_planar(case, sizes)
    elif g.kind == "cylinder-pore":
        info = simple.build_cylinder_pore(case, sizes)
    else:  # pragma: no cover - validation rejects other kinds
        raise ValueError(f"unknown geometry kind {g.kind!r}")
    info.sizes = {k: v for k, v in asdict(sizes).items() if v is not None}
    info.timings["geometry_s"] = time.perf_counter() - t0
    return info


#: Most volumes in one HXT call when meshing by group (:func:`generate_mesh`): each
#: call costs ≈ 0.5 µs of CPU per cell already meshed (gmsh re-checks the whole
#: mesh), so fewer, larger calls; 64 pores' layers of the 11 nm particle with two
#: cells across are ≈ 1.2 M tetrahedra (≈ 1.3 GiB at HXT's peak).
VOLUMES_PER_CALL = 64


def generate_mesh(
    info: GeometryInfo, threads: int = 1, by_group: bool = False, sink: Any = None
) -> dict[str, Any]:
    """Mesh the current model (HXT in 3D, Delaunay on surfaces) and report.

    Args:
        info: what :func:`build_model` built.
        threads: gmsh threads (1: one mesh per model, see below).
        by_group: 3D only: mesh the volumes one physical group at a time, at
            most :data:`VOLUMES_PER_CALL` of them per HXT call
            (:func:`_volumes_by_group`), instead of all in one call. A
            different mesh of the same surfaces; HXT's peak memory then
            follows the largest call instead of the whole model.
        sink: with ``by_group``: takes each batch as it is meshed (a
            :class:`confine.mesh_stream.StreamWriter`: ``start()`` after the
            surface mesh, ``batch(volumes)`` after each HXT call, which writes
            and clears it), so gmsh never holds more than one batch's volume
            mesh; the counts and quality are then the sink's.

    Returns:
        cells, vertices, min_quality (minSICN), and timings.
    """
    dim = info.dimension
    # Reproducible: gmsh's threaded meshers (2D and HXT) number and place nodes
    # in thread-completion order, so only threads = 1 gives one mesh per cache
    # key; the seed is gmsh's default, pinned in case a session changed it.
    gmsh.option.setNumber("General.NumThreads", threads)
    gmsh.option.setNumber("Mesh.RandomSeed", 1)
    gmsh.option.setNumber("Mesh.ElementOrder", 1)
    if dim == 2:
        gmsh.option.setNumber("Mesh.Algorithm", 6)
    elif dim == 3:
        gmsh.option.setNumber("Mesh.Algorithm", 5)  # perforated spheres: 4-9x faster
        gmsh.option.setNumber("Mesh.Algorithm3D", 10)  # HXT (threaded when threads > 1)
    streamed = sink is not None and dim == 3 and by_group
    t0 = time.perf_counter()
    gmsh.model.mesh.generate(min(dim, 2))
    t_surface = time.perf_counter() - t0
    if streamed:
        sink.start()
    if dim == 3 and by_group:
        _volumes_by_group(sink)
    elif dim == 3:
        gmsh.model.mesh.generate(3)
    t_mesh = time.perf_counter() - t0
    info.timings["surface_mesh_s"] = t_surface
    info.timings["volume_mesh_s"] = t_mesh - t_surface
    info.timings["mesh_s"] = t_mesh
    if streamed:  # gmsh holds no volume mesh any more: the sink counted it
        cells, vertices, quality = sink.cells, sink.nodes, sink.min_quality
    else:
        elem_tags = gmsh.model.mesh.getElements(dim)[1]
        cells = int(sum(len(t) for t in elem_tags))
        quality = min_quality(elem_tags) if dim >= 2 else 1.0
        vertices = len(gmsh.model.mesh.getNodes()[0])
    return {"cells": cells, "vertices": vertices, "min_quality": quality, "mesh_s": t_mesh}


def min_quality(element_tags: Any) -> float:
    """The smallest minSICN quality of the elements given by tag (lists or arrays of
    tags, one per element type); 1.0 when there are none."""
    q = [
        float(np.min(gmsh.model.mesh.getElementQualities(list(t), "minSICN")))
        for t in element_tags
        if len(t)
    ]
    return min(q, default=1.0)


def _volumes_by_group(sink: Any = None) -> None:
    """Mesh the model's volumes (surfaces meshed) one batch at a time: each
    physical cell group in order of its tag, its volumes in order of their tags,
    :data:`VOLUMES_PER_CALL` per call; volumes in no group (if any) last.

    gmsh meshes only the visible volumes that have no mesh yet
    (``Mesh.MeshOnlyVisible``, ``Mesh.MeshOnlyEmpty``); the batches share the
    surface meshes, so the volume mesh is conforming. Each HXT call holds
    ≈ 1.1 kB per tetrahedron of its batch at its peak (benchmarks/README.md).
    ``sink.batch(volumes)`` (if given) takes each batch once meshed.
    """
    every = gmsh.model.getEntities(3)
    batches: list[list[int]] = []
    for _, group in sorted(gmsh.model.getPhysicalGroups(3)):
        tags = sorted(int(t) for t in gmsh.model.getEntitiesForPhysicalGroup(3, group))
        batches += [tags[i : i + VOLUMES_PER_CALL] for i in range(0, len(tags), VOLUMES_PER_CALL)]
    grouped = {t for batch in batches for t in batch}
    rest = [t for _, t in every if t not in grouped]
    if rest:  # volumes no group holds (none in confine's builders)
        batches.append(rest)
    gmsh.option.setNumber("Mesh.MeshOnlyVisible", 1)
    gmsh.option.setNumber("Mesh.MeshOnlyEmpty", 1)
    try:
        for batch in batches:
            gmsh.model.setVisibility(every, 0)
            gmsh.model.setVisibility([(3, t) for t in batch], 1)
            gmsh.model.mesh.generate(3)
            if sink is not None:
                sink.batch(batch)
    finally:
        gmsh.model.setVisibility(every, 1)
        gmsh.option.setNumber("Mesh.MeshOnlyVisible", 0)
        gmsh.option.setNumber("Mesh.MeshOnlyEmpty", 0)


def simplex_measures(p: np.ndarray, axisymmetric: bool) -> np.ndarray:
    """Measure of each simplex, points ``p`` of shape (n, k+1, g).

    Revolved about the axis x[0] = 0 when ``axisymmetric`` (Pappus: exact for
    straight-sided cells: 2π × centroid radius × area or length).
    """
    edges = p[:, 1:, :] - p[:, :1, :]
    k = edges.shape[1]
    gram = np.einsum("nig,njg->nij", edges, edges)
    size = np.sqrt(np.clip(np.linalg.det(gram), 0.0, None)) / float(math.factorial(k))
    if axisymmetric:
        size = size * 2.0 * np.pi * p[:, :, 0].mean(axis=1)
    return np.asarray(size)


def measure_model(info: GeometryInfo) -> dict[str, dict[str, float]]:
    """Volume per cell group and area per facet group of the current gmsh mesh,
    whole particle (× multiplicity, revolved if axisymmetric), nm³ and nm²."""
    node_tags, coords, _ = gmsh.model.mesh.getNodes()
    xyz = np.zeros((int(node_tags.max()) + 1, 3))
    xyz[node_tags.astype(int)] = np.asarray(coords).reshape(-1, 3)
    gdim = 2 if info.axisymmetric else 3
    out: dict[str, dict[str, float]] = {"volumes": {}, "areas": {}}
    for dim, tag in gmsh.model.getPhysicalGroups():
        name = gmsh.model.getPhysicalName(dim, tag)
        kind = "volumes" if name in CELL_GROUPS else "areas"
        total = 0.0
        for ent in gmsh.model.getEntitiesForPhysicalGroup(dim, tag):
            _, _, enodes = gmsh.model.mesh.getElements(dim, int(ent))
            if dim == 0:
                total += len(enodes[0]) if enodes else 0
                continue
            for conn in enodes:
                idx = np.asarray(conn, dtype=int).reshape(-1, dim + 1)
                total += float(np.sum(simplex_measures(xyz[idx][:, :, :gdim], info.axisymmetric)))
        out[kind][name] = total * info.multiplicity
    return out
