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
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

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
def write_fields(path: Path, functions: Mapping[str, Any], cell_tags: Any, facet_tags: Any) -> None:
    """Write fields and subdomain tags to one XDMF/HDF5 file (ParaView, parallel).

    Args:
        path: the ``.xdmf`` file.
        functions: name -> dolfinx Function (P1 on the mesh of the tags).
        cell_tags: cell meshtags (subdomains).
        facet_tags: facet meshtags (walls, mouths, boundaries).
    """
    import_dolfinx()
    from dolfinx import io

    funcs = list(functions.values())
    msh = funcs[0].function_space.mesh if funcs else cell_tags.topology
    with io.XDMFFile(msh.comm, str(path), "w") as f:
        f.write_mesh(msh)
        msh.topology.create_connectivity(msh.topology.dim - 1, msh.topology.dim)
        f.write_meshtags(cell_tags, msh.geometry)
        f.write_meshtags(facet_tags, msh.geometry)
        for name, fn in functions.items():
            fn.name = name
            f.write_function(fn)


def write_vtk(path: Path, functions: Mapping[str, Any], cell_tags: Any) -> None:
    """Write fields and a ``subdomain`` cell field as VTK (``.pvd`` + ``.vtu`` per rank).

    pyvista, meshio (the ``.vtu`` pieces) and ParaView read it; collective.
    """
    import_dolfinx()
    import numpy as np
    from dolfinx import fem, io

    funcs = list(functions.values())
    msh = funcs[0].function_space.mesh
    W = fem.functionspace(msh, ("DG", 0))
    sub = fem.Function(W, name="subdomain")
    sub.x.array[cell_tags.indices] = cell_tags.values.astype(np.float64)
    sub.x.scatter_forward()
    with io.VTKFile(msh.comm, str(path), "w") as f:
        f.write_function([*funcs, sub], 0.0)


def write_revolved(path: Path, grid: Any, angle: float = 270.0, resolution: int = 72) -> None:
    """Revolve an axisymmetric (r, z) field grid about the z axis into 3D (cut-away).

    The 2D cell's boundary and faces are swept by ``angle`` degrees about the
    pore axis, so ParaView shows the cell as a solid with its fields (``.vtp``).
    """
    surface = grid.extract_surface(algorithm="dataset_surface")
    revolved = surface.extrude_rotate(
        resolution=resolution, rotation_axis=(0.0, 1.0, 0.0), angle=angle, capping=True
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    revolved.save(str(path))


def to_pyvista(fields: Mapping[str, Any], tags: Any = None) -> Any:
    """A pyvista grid of fields (point data) and subdomains (cell data).

    Args:
        fields: name -> Function, all on one (P1) function space.
        tags: cell meshtags of that mesh (optional).
    """
    import numpy as np
    import pyvista as pv

    import_dolfinx()
    from dolfinx import plot

    first = next(iter(fields.values()))
    V = first.function_space
    topology, cell_types, x = plot.vtk_mesh(V)
    grid = pv.UnstructuredGrid(topology, cell_types, x)
    for name, fn in fields.items():
        grid.point_data[name] = np.asarray(fn.x.array[: len(x)], dtype=float)
    if tags is not None:
        n_cells = V.mesh.topology.index_map(V.mesh.topology.dim).size_local
        values = np.zeros(n_cells, dtype=np.int32)
        keep = tags.indices < n_cells
        values[tags.indices[keep]] = tags.values[keep]
        grid.cell_data["subdomain"] = values[: grid.n_cells]
    return grid
