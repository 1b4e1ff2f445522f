"""Meshes: build with gmsh (confine.geometry), cache them, read on every rank.

Contract used by the solver (confine.solve) and metrics:

* coordinates are in nanometres (``length_scale`` = 1e-9 m per mesh unit): the
  solver works in lengths scaled by it;
* ``cell_tags`` / ``facet_tags`` use the tags of confine.geometry.groups;
* ``axisymmetric``: x[0] is r, x[1] is z (integrals carry 2πr);
* ``multiplicity``: how many such cells make the whole particle (N pores for
  an axisymmetric or one-pore sector cell, 1 for full-3d and the simple kinds):
  cell integrals × multiplicity = whole-particle values.

Cache: ``<cache>/<hash>/`` holds ``mesh.xdmf`` + ``mesh.h5`` (mesh, cell tags
``cell_tags``, facet tags ``facet_tags``) and ``info.json`` (what the builder
knows). ``<cache>`` is, first found: the ``cache_dir`` argument (the CLI's
``--mesh-cache``), ``$CONFINE_MESH_CACHE``, ``meshes/`` under the working
directory (:func:`cache_root`). The hash covers everything that shapes the
mesh (see :func:`mesh_hash`); with one gmsh thread (the default) the mesh is a
function of it. Rank 0 builds into a staging folder ``.tmp-<hash>_…`` and
renames it into place, so a folder that exists is complete; a lock per hash
(``.lock-<hash>``) makes concurrent runs build it once; staging folders of
killed runs are removed (:mod:`confine.staging`). Every rank then reads the
XDMF in parallel.

Full-3d meshes are built lean (:data:`FULL_3D_BUILD`, in their key): gmsh's
volumes meshed one physical group at a time, at most ``VOLUMES_PER_CALL``
per call, each batch appended to the file and cleared from gmsh as soon as it
is meshed (:mod:`confine.mesh_stream`: rank 0 holds the surface mesh and one
batch, never the whole volume mesh nor a serial dolfinx mesh); every other
level through a serial dolfinx mesh (:mod:`confine.mesh_convert`).
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from confine import staging
from confine._version import __version__
from confine.case import Case
from confine.env import import_dolfinx
from confine.geometry import groups
from confine.geometry.groups import CELL_GROUPS, FACET_GROUPS
from confine.geometry.info import GeometryInfo

import_dolfinx()  # MPI and PETSc in dolfinx's order: before mpi4py, and before gmsh
import dolfinx  # noqa: E402
import gmsh  # noqa: E402
from dolfinx.io import XDMFFile  # noqa: E402
from mpi4py import MPI  # noqa: E402

from confine import mesh_convert, mesh_stream, partition  # noqa: E402
from confine.geometry.model import (  # noqa: E402
    VOLUMES_PER_CALL,
    build_model,
    generate_mesh,
    gmsh_session,
    simplex_measures,
)

#: Bump when the stored layout or the builders change what a case meshes to.
MESH_FORMAT = 2  # 2: mesh.refine halves the grading slope too (every cell size halves)
MESH_FILE = "mesh.xdmf"
INFO_FILE = "info.json"
#: Environment variable naming the cache folder (below ``--mesh-cache``, above the default).
CACHE_ENV = "CONFINE_MESH_CACHE"
DEFAULT_CACHE = Path("meshes")
#: Geometry keys that do not change the mesh (boundary condition, validation threshold).
_NOT_SHAPING = frozenset({"bath_boundary", "min_wall", "end_voltage", "max_pores"})
#: Mesh keys that bound what validation admits, without shaping the mesh.
_MESH_LIMITS = frozenset({"max_cells"})
#: How a whole particle is built (issue #24 item 3), in its mesh key: gmsh's HXT
#: meshes one physical cell group at a time (its peak follows the largest group,
#: not the particle), each batch written to the file and cleared from gmsh once
#: meshed (gmsh then renumbers nodes, and HXT's tie-breaks follow the numbers:
#: not the mesh of the unstreamed batches, hence "streamed" here). Only full-3d
#: keys carry it: the other levels' meshes, files and hashes are as before.
FULL_3D_BUILD: dict[str, str] = {
    "volumes": f"by-group, {VOLUMES_PER_CALL} per call, streamed",
    "file": "gmsh-order",
}


@dataclass
class MeshData:
    """A distributed dolfinx mesh with its physical groups."""

    mesh: Any  # dolfinx.mesh.Mesh
    cell_tags: Any  # dolfinx.mesh.MeshTags (cells)
    facet_tags: Any  # dolfinx.mesh.MeshTags (facets)
    axisymmetric: bool
    multiplicity: float
    length_scale: float = 1e-9
    info: dict[str, Any] = field(default_factory=dict)  # what mesh.json reports


def mesh_key(case: Case) -> dict[str, Any]:
    """Everything that shapes the mesh of a case (the data behind :func:`mesh_hash`)."""
    raw = case.to_dict()
    geometry = {k: v for k, v in raw["geometry"].items() if k not in _NOT_SHAPING}
    key: dict[str, Any] = {
        "format": MESH_FORMAT,
        "confine": __version__,
        "geometry": geometry,
        "mesh": {k: v for k, v in raw["mesh"].items() if k not in _MESH_LIMITS},
    }
    if lean_build(case):
        key["build"] = FULL_3D_BUILD
    if case.mesh.boundary_layer:  # the first cell follows the Debye length
        key["debye"] = {
            "species": [(s.name, s.phase, s.charge, s.bulk) for s in case.species],
            "temperature": case.electrolyte.temperature,
            "relative_permittivity": case.electrolyte.relative_permittivity,
        }
        if case.geometry.kind == "cylinder-pore":  # refined toward the pore ends too
            key["debye"]["pore_ends"] = True
    return key


def lean_build(case: Case) -> bool:
    """Whether the case's mesh is built the lean way (:data:`FULL_3D_BUILD`): full-3d."""
    return case.geometry.model == "full-3d"


def mesh_hash(case: Case) -> str:
    """Hash of :func:`mesh_key` (names the cache folder)."""
    text = json.dumps(mesh_key(case), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def cache_root(cache_dir: Path | str | None = None) -> Path:
    """The mesh cache folder: ``cache_dir`` if given, else ``$CONFINE_MESH_CACHE``,
    else ``meshes/`` under the working directory."""
    if cache_dir is not None:
        return Path(cache_dir)
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE)


def build_mesh_files(case: Case, directory: Path, verbose: bool = False) -> dict[str, Any]:
    """Build the mesh of a case with gmsh and write it to ``directory`` (serial).

    Writes ``mesh.xdmf``/``mesh.h5`` and ``info.json``.

    Returns:
        The info written (GeometryInfo fields, mesh statistics, timings).
    """
    directory.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    peak0 = _peak_rss_mb()
    peaks: dict[str, float] = {}  # the process peak after each stage: which one set it
    stages: dict[str, float] = {}
    lean = lean_build(case)
    arrays = None
    with gmsh_session(verbose):
        info = build_model(case)
        peaks["geometry"] = _peak_rss_mb()
        if lean:  # each batch of volumes to the file as it is meshed
            stats = _mesh_streamed(info, case.mesh.threads, directory / MESH_FILE, stages)
        else:
            stats = generate_mesh(info, case.mesh.threads)
        peaks["mesh"] = _peak_rss_mb()
        t1 = time.perf_counter()
        if not lean:
            arrays = mesh_convert.extract(info.dimension)
            gmsh.model.remove()  # before dolfinx builds its mesh: never both in memory
    t2 = time.perf_counter()
    if arrays is not None:
        peaks["extract"] = _peak_rss_mb()
        stages["dolfinx_mesh_s"] = _convert_and_write(arrays, info.dimension, directory / MESH_FILE)
        del arrays
        peaks["dolfinx_mesh"] = _peak_rss_mb()
        stages["xdmf_write_s"] = time.perf_counter() - t2 - stages["dolfinx_mesh_s"]
    out = info.to_dict()
    out.update(stats)
    out["hash"] = mesh_hash(case)
    out["timings"] = {
        **info.timings,
        "extract_s": t2 - t1,
        **stages,
        "convert_s": time.perf_counter() - t1,
        "build_total_s": time.perf_counter() - t0,
    }
    peaks["file_write"] = _peak_rss_mb()
    out["peak_rss_mb"] = max(_peak_rss_mb(), peak0)
    out["peak_rss_mb_after"] = peaks
    out["key"] = mesh_key(case)
    (directory / INFO_FILE).write_text(json.dumps(out, indent=2, default=str))
    return out


def _mesh_streamed(
    info: GeometryInfo, threads: int, path: Path, stages: dict[str, float]
) -> dict[str, Any]:
    """Mesh a whole particle by batches of volumes, each written to ``path`` and
    cleared from gmsh as it is meshed (:mod:`confine.mesh_stream`); gmsh's model
    removed. ``stages`` gets the seconds spent writing (``stream_write_s``)."""
    sink = mesh_stream.StreamWriter(path)
    try:
        stats = generate_mesh(info, threads, by_group=True, sink=sink)
        gmsh.model.remove()
        sink.finish()
    finally:
        sink.close()
    stages["stream_write_s"] = sink.seconds
    return stats


def _convert_and_write(arrays: mesh_convert.GmshArrays, gdim: int, path: Path) -> float:
    """The serial dolfinx mesh of the arrays written by dolfinx's XDMF writer.

    Returns:
        The seconds spent building the dolfinx mesh (the rest is the write).
    """
    t0 = time.perf_counter()
    mesh, cell_tags, facet_tags = mesh_convert.to_dolfinx(arrays, gdim)
    t_mesh = time.perf_counter() - t0
    mesh.name = "mesh"
    cell_tags.name = "cell_tags"
    facet_tags.name = "facet_tags"
    with XDMFFile(MPI.COMM_SELF, str(path), "w") as xdmf:
        xdmf.write_mesh(mesh)
        xdmf.write_meshtags(cell_tags, mesh.geometry)
        xdmf.write_meshtags(facet_tags, mesh.geometry)
    return t_mesh


def _peak_rss_mb() -> float:
    """Peak resident memory of this process (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def ensure_cached(
    case: Case, comm: Any, cache_dir: Path | str | None = None, verbose: bool = False
) -> tuple[Path, bool]:
    """Build the case's mesh into the cache unless it is there (collective).

    Args:
        case: a validated case.
        comm: MPI communicator; rank 0 builds.
        cache_dir: cache root (None: :func:`cache_root`).
        verbose: print gmsh's log.

    Returns:
        The cache folder and whether it was already there (or another process
        built it while this one waited for the lock).

    Raises:
        RuntimeError: on every rank when building failed on rank 0.
    """
    import_dolfinx()  # collective (PETSc initialisation): on every rank, before branching
    root = cache_root(cache_dir)
    final = root / mesh_hash(case)
    cached = (final / INFO_FILE).exists()
    error: str | None = None
    if comm.rank == 0 and not cached:
        try:
            cached = _build_once(case, final, verbose)
        except Exception as err:
            error = f"{type(err).__name__}: {err}"
    error = comm.bcast(error, root=0)
    if error is not None:
        raise RuntimeError(f"meshing failed: {error}")
    cached = bool(comm.bcast(cached, root=0))
    return final, cached


def _build_once(case: Case, final: Path, verbose: bool) -> bool:
    """Build ``final`` unless another process does: under its lock, in a staging
    folder renamed into place (serial, rank 0).

    Returns:
        Whether ``final`` was complete after all (built by another process).
    """
    root = final.parent
    root.mkdir(parents=True, exist_ok=True)
    staging.remove_stale(root, ".tmp-*")
    with staging.exclusive(root / f".lock-{final.name}"):
        if (final / INFO_FILE).exists():  # built while this process waited
            return True
        tmp = staging.make_staging(root, f".tmp-{final.name}")
        try:
            build_mesh_files(case, tmp, verbose)
            try:
                os.rename(tmp, final)  # atomic; fails if a run without the lock got there first
            except OSError:
                if not (final / INFO_FILE).exists():
                    raise
                return True
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return False


def read_mesh(directory: Path, comm: Any) -> MeshData:
    """Read a cached mesh folder on every rank of ``comm`` (collective)."""
    info = json.loads((directory / INFO_FILE).read_text())
    with XDMFFile(comm, str(directory / MESH_FILE), "r") as xdmf:
        mesh = None
        if partition.use_balanced(comm):
            catalyst = np.array(groups.tags("catalyst_layer"))
            mesh = partition.read_balanced(xdmf, directory / MESH_FILE, comm, catalyst)
        if mesh is None:
            mesh = xdmf.read_mesh(name="mesh", ghost_mode=dolfinx.mesh.GhostMode.shared_facet)
        cell_tags = xdmf.read_meshtags(mesh, name="cell_tags")
        tdim = mesh.topology.dim
        mesh.topology.create_connectivity(tdim - 1, tdim)
        facet_tags = xdmf.read_meshtags(mesh, name="facet_tags")
    return MeshData(
        mesh=mesh,
        cell_tags=cell_tags,
        facet_tags=facet_tags,
        axisymmetric=bool(info["axisymmetric"]),
        multiplicity=float(info["multiplicity"]),
        info=info,
    )


def load_mesh(
    case: Case, comm: Any, cache_dir: Path | str | None = None, verbose: bool = False
) -> MeshData:
    """The mesh of a case: built on rank 0 (or reused from the cache), read on every rank.

    Args:
        case: a validated case.
        comm: MPI communicator (collective over it).
        cache_dir: cache root, one folder per :func:`mesh_hash` (None: :func:`cache_root`).
        verbose: print gmsh's log.

    Returns:
        The distributed mesh with its tags; ``info`` holds the builder's
        closed-form values, mesh statistics and ``cached``.
    """
    t0 = time.perf_counter()
    directory, cached = ensure_cached(case, comm, cache_dir, verbose)
    data = read_mesh(directory, comm)
    data.info["cached"] = cached
    data.info["load_s"] = time.perf_counter() - t0
    data.info["directory"] = str(directory)
    return data


def measure(data: MeshData, comm: Any) -> dict[str, dict[str, float]]:
    """Volume per cell group and area per facet group of the mesh, whole particle
    (nm³, nm²; revolved for the axisymmetric cell; summed over ranks; collective).

    Straight-sided cells are integrated exactly: revolved volumes and areas by
    Pappus's theorem (2π × centroid radius × area or length).
    """
    mesh = data.mesh
    tdim = mesh.topology.dim
    x = mesh.geometry.x
    out: dict[str, dict[str, float]] = {"volumes": {}, "areas": {}}
    for kind, dim, tags, table in (
        ("volumes", tdim, data.cell_tags, CELL_GROUPS),
        ("areas", tdim - 1, data.facet_tags, FACET_GROUPS),
    ):
        n_owned = mesh.topology.index_map(dim).size_local
        for name, value in table.items():
            ents = tags.find(value)
            ents = ents[ents < n_owned]
            local = 0.0
            if len(ents) and dim > 0:
                nodes = dolfinx.mesh.entities_to_geometry(mesh, dim, ents)
                local = float(
                    np.sum(simplex_measures(x[nodes][:, :, : mesh.geometry.dim], data.axisymmetric))
                )
            elif len(ents):
                local = float(len(ents))  # points: count (1D meshes)
            total = comm.allreduce(local)
            has = comm.allreduce(len(ents))
            if has:
                out[kind][name] = total * data.multiplicity
    return out


def mesh_case(
    case: Case,
    out_dir: Path,
    comm: Any,
    cache_dir: Path | str | None = None,
    verbose: bool = False,
) -> dict[str, Any]:
    """Build or reuse the mesh of a case and write ``out_dir/mesh.json`` and
    ``out_dir/subdomains.xdmf`` (mesh with cell and facet tags, for ParaView).

    Collective over ``comm``; files are written by rank 0 (XDMF in parallel).

    Returns:
        What mesh.json holds: cells, vertices, volumes and areas per group
        (measured on the mesh, whole particle, nm³/nm²) beside their closed
        forms, pore count, smallest wall at the cavity radius, minimum cell
        quality, the hash and timings.
    """
    t0 = time.perf_counter()
    data = load_mesh(case, comm, cache_dir, verbose)
    t_load = time.perf_counter() - t0
    measured = measure(data, comm)
    info = data.info
    mesh = data.mesh
    tdim = mesh.topology.dim
    cells = comm.allreduce(mesh.topology.index_map(tdim).size_local)
    vertices = comm.allreduce(mesh.topology.index_map(0).size_local)
    report: dict[str, Any] = {
        "case": case.case.name,
        "kind": info["kind"],
        "model": info["model"],
        "hash": info["hash"],
        "cached": info["cached"],
        "units": {"length": "nm", "volume": "nm^3", "area": "nm^2"},
        "basis": "whole particle (cell values x multiplicity; axisymmetric values revolved)",
        "dimension": info["dimension"],
        "axisymmetric": info["axisymmetric"],
        "multiplicity": info["multiplicity"],
        "cells": int(cells),
        "vertices": int(vertices),
        "pore_count": info["pore_count"],
        "pores_in_cell": info["pores_in_cell"],
        "pore_filled": info["pore_filled"],
        "min_wall_at_cavity_nm": info["min_wall"],
        "mean_wall_at_cavity_nm": info["mean_wall"],
        "porosity": info["porosity"],
        "min_cell_quality": info["min_quality"],
        "quality_measure": "gmsh minSICN",
        "catalytic": info["catalytic"],
        "volumes_nm3": measured["volumes"],
        "areas_nm2": measured["areas"],
        "closed_form": {"volumes_nm3": info["volumes"], "areas_nm2": info["areas"]},
        "sizes_nm": info["sizes"],
        "timings_s": {**info["timings"], "load_s": t_load},
        "peak_rss_mb_build": info.get("peak_rss_mb"),
        "ranks": comm.size,
        "cache": info["directory"],
        "paraview": "subdomains.xdmf",
    }
    out_dir = Path(out_dir)
    if comm.rank == 0:
        out_dir.mkdir(parents=True, exist_ok=True)
    comm.barrier()
    with XDMFFile(comm, str(out_dir / "subdomains.xdmf"), "w") as xdmf:
        xdmf.write_mesh(mesh)
        xdmf.write_meshtags(data.cell_tags, mesh.geometry)
        xdmf.write_meshtags(data.facet_tags, mesh.geometry)
    if comm.rank == 0:
        (out_dir / "mesh.json").write_text(json.dumps(report, indent=2, default=str))
    return report
