"""One run: case -> mesh -> solve -> metrics -> files.

This is the glue behind :func:`confine.run` and ``confine run``; each stage
lives in its own module and data flows one way through them.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from confine.case import Case
from confine.env import git_revision, import_dolfinx, versions
from confine.progress import step
from confine.result import Result

log = logging.getLogger("confine")


def run(case: Case, out: Path | str | None = None, comm: Any = None, initial: Any = None) -> Result:
    """Solve a case and (optionally) write its results.

    Args:
        case: a validated case (:func:`confine.load_case`).
        out: output directory for metrics.json, case.toml, fields and figures;
            None keeps everything in memory.
        comm: MPI communicator (default COMM_WORLD). Collective.
        initial: a previous result's ``solution`` to warm-start Newton from
            (same geometry and species).

    Returns:
        The result; ``result.metrics`` is what metrics.json holds.

    Raises:
        confine.solve.SolverError: the solve did not converge (with its residual
            history); ``out`` then holds only failure.json.
    """
    import_dolfinx()
    from mpi4py import MPI

    from confine import io
    from confine.mesh import load_mesh
    from confine.metrics import compute_metrics
    from confine.solve import solve

    comm = MPI.COMM_WORLD if comm is None else comm
    timings: dict[str, float] = {}
    t_start = time.perf_counter()
    with step("mesh", comm.rank) as t:
        meshdata = load_mesh(case, comm)
    timings["mesh_s"] = t["seconds"]
    try:
        with step("solve", comm.rank) as t:
            solution = solve(case, meshdata, comm, initial=getattr(initial, "solution", initial))
        timings["solve_s"] = t["seconds"]
    except Exception as err:
        if out is not None:
            io.write_failure(Path(out), err, case.to_toml(), comm)
        raise
    with step("metrics", comm.rank) as t:
        body = compute_metrics(case, meshdata, solution, comm)
    timings["metrics_s"] = t["seconds"]
    metrics = _document(case, meshdata, solution, body, timings, comm)
    result = Result(case=case, metrics=metrics, converged=True, solution=solution)
    if out is not None:
        out = Path(out)
        with step("output", comm.rank) as t, io.output_dir(out, comm) as tmp:
            _write_outputs(tmp, result, meshdata, comm)
        timings["output_s"] = t["seconds"]
        timings["total_s"] = time.perf_counter() - t_start
        result.out = out
    return result


def _document(
    case: Case,
    meshdata: Any,
    solution: Any,
    body: dict[str, Any],
    timings: dict[str, float],
    comm: Any,
) -> dict[str, Any]:
    """The self-describing metrics document around what metrics.py computed."""
    doc: dict[str, Any] = {
        "case": case.case.name,
        "case_hash": case.hash(),
        "versions": versions() | {"git": git_revision()},
        "model": {
            "kind": case.geometry.kind,
            "fidelity": case.geometry.model,
            "potential_model": case.electrolyte.potential_model,
            "hindrance": case.electrolyte.hindrance,
            "bath_boundary": case.geometry.bath_boundary,
        },
        "basis": f"one whole particle (cell values × multiplicity {meshdata.multiplicity:g})",
        "mpi_ranks": comm.size,
        "mesh": {k: v for k, v in meshdata.info.items() if isinstance(v, int | float | str)},
        "timings": {k: {"value": v, "unit": "s"} for k, v in timings.items()},
    }
    doc.update(body)
    return doc


def _write_outputs(tmp: Path, result: Result, meshdata: Any, comm: Any) -> None:
    """metrics.json, metrics.csv, case.toml (rank 0); fields (all ranks); figures."""
    from confine import io

    if comm.rank == 0:
        io.write_json(tmp / "metrics.json", result.metrics)
        io.write_metrics_csv(tmp / "metrics.csv", result.metrics)
        (tmp / "case.toml").write_text(result.case.to_toml(), encoding="utf-8")
    solution = result.solution
    if result.case.output.fields and hasattr(solution, "fields"):
        io.write_fields(
            tmp / "fields.xdmf", solution.fields(), meshdata.cell_tags, meshdata.facet_tags
        )
    if result.case.output.figures and comm.size == 1 and hasattr(solution, "fields"):
        _figures(tmp, result, meshdata)


def _figures(tmp: Path, result: Result, meshdata: Any) -> None:
    try:
        import pyvista  # noqa: F401
    except ImportError:
        log.warning("pyvista is not installed: no figures")
        return
    from confine.figures import render_fields

    grid = result.to_pyvista()
    names = [n for n in grid.point_data if n != "subdomain"]
    render_fields(grid, names, tmp / "figures", axisymmetric=meshdata.axisymmetric)
