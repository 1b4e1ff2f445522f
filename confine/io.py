"""Output files: metrics JSON/CSV (rank 0), fields for ParaView, PNG figures.

Output directories are written atomically: everything goes into a sibling
temporary directory which replaces ``DIR`` only when the run succeeded, so a
failed or killed run never leaves files that look like success. A failed run
leaves ``DIR/failure.json`` (a one-line summary, the error, the residual
history and the resolved case in readable units) and nothing else.
The sibling (``.DIR.partial_<host>_<pid>_<random>``) of a killed run is removed
by the next run writing beside it (:mod:`confine.staging`); files and folders
get the modes the umask asks for.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from confine import atomic, document, staging
from confine.env import import_dolfinx  # light: dolfinx loads when a field writer calls it

FAILURE_FILE = "failure.json"


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (:func:`confine.atomic.write_text`); NaN/inf become null."""
    text = json.dumps(_clean(data), indent=2, sort_keys=False, allow_nan=False) + "\n"
    atomic.write_text(path, text)


def _clean(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, Mapping):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if hasattr(x, "item") and callable(x.item):  # numpy scalars
        return _clean(x.item())
    return x


def write_metrics_csv(path: Path, metrics: Mapping[str, Any]) -> None:
    """One row per metric: name, value, unit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["metric", "value", "unit"])
        for name, (value, unit) in document.flatten(metrics).items():
            w.writerow([name, value, "" if unit is None else unit])


@contextlib.contextmanager
def output_dir(out: Path, comm: Any) -> Iterator[Path]:
    """A temporary sibling of ``out`` that replaces it when the block succeeds.

    Collective: every rank must enter. On an exception ``out`` holds only
    ``failure.json`` (written by the caller through :func:`write_failure`).
    Stale partial siblings of killed runs in ``out``'s folder are removed first.

    Yields:
        The temporary directory to write into (same path on every rank).
    """
    out = Path(out)
    made: tuple[str | None, str | None] = (None, None)  # (folder, error) from rank 0
    if comm.rank == 0:
        try:
            # "-????????": tempfile.mkdtemp's suffix, before staging folders named their owner
            staging.remove_stale(out.parent, ".*.partial_*", ".*.partial-????????")
            made = (str(staging.make_staging(out.parent, f".{out.name}.partial")), None)
        except OSError as err:  # every rank raises it, none waits for rank 0 for ever
            made = (None, f"{out}: cannot create its folder ({err.strerror or err})")
    tmp, error = comm.bcast(made, root=0)
    if tmp is None:
        raise OSError(error)
    ok = False
    try:
        yield Path(tmp)
        ok = True
    finally:
        oks = comm.allgather(ok)
        failure: str | None = None
        if comm.rank == 0:
            try:
                if all(oks):
                    if out.exists():
                        shutil.rmtree(out)
                    os.replace(tmp, out)
                else:
                    shutil.rmtree(tmp, ignore_errors=True)
            except OSError as err:
                failure = f"{out}: cannot put the results in place ({err.strerror or err})"
        failure = comm.bcast(failure, root=0)
        if failure is not None and all(oks):
            raise OSError(failure)


def write_failure(
    out: Path, error: BaseException, case: Mapping[str, Any], comm: Any, summary: str = ""
) -> None:
    """Replace ``out`` by a directory holding only failure.json (rank 0).

    Args:
        out: the run's output directory.
        error: what the solve raised; a SolverError's residual history, step,
            multipliers and SNES reason are copied in.
        case: the resolved case as TOML-ready data, readable units
            (:func:`confine.readable.readable_case`): it reproduces the run.
        comm: MPI communicator (only rank 0 writes).
        summary: one line, where it failed and what to try (:func:`confine.failure.summary`).
    """
    if comm.rank != 0:
        return
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    info: dict[str, Any] = {
        "converged": False,
        "summary": summary,
        "error": f"{type(error).__name__}: {error}",
    }
    for attr in ("history", "step", "multiplier", "converged_multiplier", "reason", "quality"):
        if hasattr(error, attr):
            info[attr] = getattr(error, attr)
    info["case"] = dict(case)
    write_json(out / FAILURE_FILE, info)


# ----------------------------------------------------------------------------- fields
#: Coordinates of every field file are in nanometres (the mesh's unit).
LENGTH_UNIT = "nm"
FIELD_INFO_FILE = "fields.json"
FACET_TAGS_FILE = "facet_tags.xdmf"
#: Suffix of the plain twin of each ``.xdmf`` file (``fields.meshio.xdmf``), for ``meshio.read``.
MESHIO_SUFFIX = ".meshio.xdmf"


def meshio_twin(path: Path) -> Path:
    """The plain twin of an ``.xdmf`` file: ``fields.xdmf`` -> ``fields.meshio.xdmf``."""
    return path.with_suffix(MESHIO_SUFFIX)


def label(name: str, unit: str) -> str:
    """A field's name in the files, with its unit: ``"CO2 [mol/L]"``."""
    return f"{name} [{unit}]"


def write_fields(
    path: Path,
    functions: Mapping[str, Any],
    cell_tags: Any,
    facet_tags: Any,
    units: Mapping[str, str],
) -> None:
    """Write fields and subdomain tags as XDMF/HDF5 that ParaView, pyvista and meshio read.

    Collective. dolfinx writes the heavy data (``.h5``); rank 0 then rewrites
    the light XML as one temporal collection holding one grid (time 0) with
    every field (``"CO2 [mol/L]"``) on the nodes and ``subdomain`` (cell tag)
    on the cells. dolfinx's own layout (a mesh grid, tag grids and one
    collection per function, sharing geometry through ``xi:include``) makes
    pyvista's XDMF reader crash (VTK 9.x), pyvista needs a time value, and
    meshio reads one grid only (``meshio.xdmf.TimeSeriesReader``). The facet
    tags (walls, mouths) go to ``facet_tags.xdmf`` beside it, same layout,
    same ``.h5``. Each file has a plain twin (``fields.meshio.xdmf``,
    ``facet_tags.meshio.xdmf``: the same grid with no time series, pointing at
    the same ``.h5`` data) for ``meshio.read``, which reads no temporal
    collection, while ``pyvista.read`` needs one (pyvista/pyvista#7801).

    Args:
        path: the ``.xdmf`` file.
        functions: name -> dolfinx Function (P1 on the mesh of the tags).
        cell_tags: cell meshtags (subdomains).
        facet_tags: facet meshtags (walls, mouths, boundaries).
        units: name -> unit of each field (:func:`label`).
    """
    import_dolfinx()
    from dolfinx import io

    msh = next(iter(functions.values())).function_space.mesh
    sub = _subdomain_function(msh, cell_tags)
    with io.XDMFFile(msh.comm, str(path), "w") as f:
        f.write_mesh(msh)
        msh.topology.create_connectivity(msh.topology.dim - 1, msh.topology.dim)
        f.write_meshtags(facet_tags, msh.geometry)
        for name, fn in functions.items():
            fn.name = name  # the HDF5 path: no unit (its "/" would nest groups)
            f.write_function(fn)
        f.write_function(sub)
    msh.comm.barrier()
    if msh.comm.rank == 0:
        names = {name: label(name, units[name]) for name in functions} | {"subdomain": "subdomain"}
        _rewrite_xdmf(path, names, facet_tags.name)


def _subdomain_function(msh: Any, cell_tags: Any) -> Any:
    """A DG0 function holding each cell's tag (0 where untagged)."""
    from dolfinx import fem

    sub = fem.Function(fem.functionspace(msh, ("DG", 0)), name="subdomain")
    sub.x.array[cell_tags.indices] = cell_tags.values.astype(np.float64)
    sub.x.scatter_forward()
    return sub


def _rewrite_xdmf(path: Path, names: Mapping[str, str], facet_name: str) -> None:
    """dolfinx's XDMF -> one grid of fields (``path``) and one of facet tags (beside it)."""
    domain = ET.parse(path).getroot().find("Domain")
    assert domain is not None
    grids = {g.get("Name"): g for g in domain.findall("Grid")}
    mesh = next(g for g in grids.values() if g.find("Geometry") is not None)
    topology, geometry = mesh.find("Topology"), mesh.find("Geometry")
    attributes = []
    for name, shown in names.items():
        attr = grids[name].find("Grid/Attribute")
        assert attr is not None
        attr.set("Name", shown)
        attributes.append(attr)
    facets = grids[facet_name]
    facet_topology = facets.find("Topology")
    assert facet_topology is not None
    if facet_topology.get("TopologyType") == "PolyLine":  # XDMF's spelling, which meshio needs
        facet_topology.set("TopologyType", "Polyline")
    _write_xdmf(path, "fields", [topology, geometry, *attributes])
    _write_xdmf(
        path.with_name(FACET_TAGS_FILE),
        "facet_tags",
        [facet_topology, geometry, facets.find("Attribute")],
    )


def _write_xdmf(path: Path, name: str, parts: list[Any]) -> None:
    """``path``: one grid at time 0 in a temporal collection; its twin: the bare grid."""
    for file, temporal in ((path, True), (meshio_twin(path), False)):
        root = ET.Element("Xdmf", Version="3.0")
        parent = ET.SubElement(root, "Domain")
        if temporal:  # pyvista needs the time; plain meshio.read rejects the collection
            parent = ET.SubElement(
                parent, "Grid", Name=name, GridType="Collection", CollectionType="Temporal"
            )
        grid = ET.SubElement(parent, "Grid", Name=name, GridType="Uniform")
        if temporal:
            ET.SubElement(grid, "Time", Value="0")
        grid.extend(parts)
        ET.indent(root)
        atomic.write_text(
            file, '<?xml version="1.0"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
        )


def write_field_info(
    path: Path,
    units: Mapping[str, str],
    cell_names: Mapping[int, str],
    facet_names: Mapping[int, str],
) -> None:
    """``fields.json``: what the field files hold (units, coordinate unit, tag names).

    Args:
        path: the ``fields.json`` file.
        units: field name -> unit.
        cell_names: cell tag -> region name (``subdomain`` values).
        facet_names: facet tag -> wall or boundary name (``facet_tags`` values).
    """
    write_json(
        path,
        {
            "length_unit": LENGTH_UNIT,
            "fields": {label(n, u): {"name": n, "unit": u} for n, u in units.items()},
            "subdomain": {str(k): v for k, v in sorted(cell_names.items())},
            "facet_tags": {str(k): v for k, v in sorted(facet_names.items())},
            "files": {
                "fields.xdmf": "fields on the nodes, subdomain on the cells "
                "(HDF5 data: fields.h5); ParaView, pyvista.read, meshio.xdmf.TimeSeriesReader",
                "fields.meshio.xdmf": "the same grid without the time series, for meshio.read",
                FACET_TAGS_FILE: "walls, mouths and boundaries as facet_tags (data: fields.h5)",
                "facet_tags.meshio.xdmf": "the same facet tags, for meshio.read",
                "vtk/fields.pvd": "the same fields as VTK (one .vtu per MPI rank)",
                "vtk/revolved.vtp": "axisymmetric runs: the cell revolved about the pore axis",
            },
        },
    )


def write_vtk(
    path: Path, functions: Mapping[str, Any], cell_tags: Any, units: Mapping[str, str]
) -> None:
    """Write fields (``"CO2 [mol/L]"``) and a ``subdomain`` cell field as VTK.

    A ``.pvd`` + ``.pvtu`` and one ``.vtu`` piece per MPI rank.

    pyvista and ParaView read every file, meshio the ``.vtu`` pieces (it has
    no ``.pvd`` reader); collective.
    """
    import_dolfinx()
    from dolfinx import io

    funcs = list(functions.values())
    msh = funcs[0].function_space.mesh
    for name, fn in functions.items():
        fn.name = label(name, units[name])
    with io.VTKFile(msh.comm, str(path), "w") as f:
        f.write_function([*funcs, _subdomain_function(msh, cell_tags)], 0.0)
    if msh.geometry.cmaps[0].degree == 1:
        for piece in path.parent.glob(f"{path.stem}_p{msh.comm.rank}_*.vtu"):
            _as_vtu_1_0(piece)


def _as_vtu_1_0(piece: Path) -> None:
    """Label a dolfinx VTU piece (ASCII, linear cells) as file version 1.0, which meshio reads.

    Version 2.2 only changes the node order of higher-order Lagrange cells, so
    for linear cells the two versions describe the same grid.
    """
    text = piece.read_text(encoding="utf-8")
    head, sep, rest = text.partition("\n<VTKFile")
    header, close, body = rest.partition(">")
    piece.write_text(head + sep + header.replace('version="2.2"', 'version="1.0"') + close + body)


def write_revolved(
    path: Path,
    grid: Any,
    units: Mapping[str, str],
    cell_names: Mapping[int, str],
    angle: float = 270.0,
    resolution: int = 72,
) -> None:
    """Revolve an axisymmetric (r, z) field grid about the z axis into 3D (cut-away).

    The 2D cell's boundary and faces are swept by ``angle`` degrees about the
    pore axis, so ParaView shows the cell as a solid with its fields (``.vtp``),
    named with their units; field data ``length_unit`` and ``subdomain_names``
    ("1 cavity", ...) say what the coordinates and the subdomain values are.
    """
    surface = grid.extract_surface(algorithm="dataset_surface")
    revolved = surface.extrude_rotate(
        resolution=resolution, rotation_axis=(0.0, 1.0, 0.0), angle=angle, capping=True
    )
    for name, unit in units.items():
        if name in revolved.point_data:
            revolved.point_data[label(name, unit)] = revolved.point_data.pop(name)
    revolved.field_data["length_unit"] = [LENGTH_UNIT]
    revolved.field_data["subdomain_names"] = [f"{k} {v}" for k, v in sorted(cell_names.items())]
    path.parent.mkdir(parents=True, exist_ok=True)
    revolved.save(str(path))


def to_pyvista(fields: Mapping[str, Any], tags: Any = None, comm: Any = None) -> Any:
    """A pyvista grid of fields (point data) and subdomains (cell data).

    Under MPI (``comm`` with more than one rank) every rank's owned cells and
    their nodes are gathered on rank 0, which gets the whole grid (nodes shared
    between ranks appear once per rank: harmless for cuts and sampling); the
    other ranks get None. Collective then.

    Args:
        fields: name -> Function, all on one (P1) function space.
        tags: cell meshtags of that mesh (optional).
        comm: the mesh's communicator (None: this rank's part only).
    """
    import pyvista as pv  # optional (the viz extra)

    part = _grid_part(fields, tags)
    parts = [part] if comm is None or comm.size == 1 else comm.gather(part, root=0)
    if parts is None:
        return None
    offset = 0
    topologies, types, points, subdomains = [], [], [], []
    for topology, cell_types, x, _, sub in parts:
        cells = np.asarray(topology).reshape(len(cell_types), -1).copy()
        cells[:, 1:] += offset  # VTK's flat layout: [n, i_1 … i_n] per cell
        topologies.append(cells.ravel())
        types.append(cell_types)
        points.append(x)
        subdomains.append(sub)
        offset += len(x)
    grid = pv.UnstructuredGrid(
        np.concatenate(topologies), np.concatenate(types), np.concatenate(points)
    )
    for name in fields:
        grid.point_data[name] = np.concatenate([p[3][name] for p in parts])
    if tags is not None:
        grid.cell_data["subdomain"] = np.concatenate(subdomains)
    return grid


def _grid_part(fields: Mapping[str, Any], tags: Any) -> tuple[Any, ...]:
    """This rank's owned cells (VTK topology, types, node coordinates), the fields at
    those nodes and the cells' subdomain tags."""
    import_dolfinx()
    from dolfinx import plot  # with dolfinx, loaded by import_dolfinx above

    first = next(iter(fields.values()))
    V = first.function_space
    topology, cell_types, x = plot.vtk_mesh(V)  # owned cells, every local node
    values = {name: np.asarray(fn.x.array[: len(x)], dtype=float) for name, fn in fields.items()}
    sub = np.zeros(len(cell_types), dtype=np.int32)
    if tags is not None:
        keep = tags.indices < len(cell_types)
        sub[tags.indices[keep]] = tags.values[keep]
    return topology, cell_types, x, values, sub
