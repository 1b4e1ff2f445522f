"""One run: case -> mesh -> solve -> metrics -> files.

This is the glue behind :func:`confine.run` and ``confine run``; each stage
lives in its own module and data flows one way through them.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from confine import electrode_run, io
from confine.case import Case, case_from_dict
from confine.env import git_revision, import_dolfinx, release_unreachable, versions
from confine.failure import summary as failure_summary
from confine.figures import CATALYST_TAGS, flatten, render_fields
from confine.film import is_electrode
from confine.geometry.groups import CELL_GROUPS, FACET_GROUPS
from confine.io import FAILURE_FILE, write_failure
from confine.profiles import main_species, render_film_profiles, render_overview, render_profiles
from confine.progress import step
from confine.readable import readable_case
from confine.result import Result, field_units, output_fields

import_dolfinx()  # MPI in dolfinx's order, before mpi4py
from mpi4py import MPI  # noqa: E402

from confine.mesh import load_mesh, mesh_hash  # noqa: E402
from confine.metrics import compute_metrics  # noqa: E402
from confine.quality import QualityError, assess, field_bounds  # noqa: E402
from confine.solver.continuation import SolverError, solve  # noqa: E402

log = logging.getLogger("confine")


def run(case: Case, out: Path | str | None = None, comm: Any = None, initial: Any = None) -> Result:
    """Solve a case and (optionally) write its results.

    An electrode case (``film.coupling``) is solved as its particle and its film
    (:mod:`confine.electrode_run`), each through this function.

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
        confine.solver.continuation.SolverError: the solve did not converge (with its residual
            history); ``out`` then holds only failure.json.
        confine.quality.QualityError: it converged, but failed a quality check
            (mass balance, bounds, finite values, FE sum); ``out`` then holds
            only failure.json, saying what failed and by how much.
    """
    comm = MPI.COMM_WORLD if comm is None else comm
    if is_electrode(case):  # the film with the particle as its sub-grid model
        return electrode_run.run(case, out, comm, run, write_result, initial=initial)
    timings: dict[str, float] = {}
    t_start = time.perf_counter()
    warm = getattr(initial, "solution", initial)
    with step("mesh", comm.rank) as t:
        meshdata = _same_mesh(warm, case)
        if meshdata is None:
            release_unreachable(comm)  # before a new mesh: free the earlier ones
            meshdata = load_mesh(case, comm)
    timings["mesh_s"] = t["seconds"]
    from_cell = warm is None and case.solver.start == "axisymmetric-cell"
    try:
        solution, body, findings = _solve_and_assess(case, meshdata, comm, warm, from_cell, timings)
    except Exception as err:
        if out is not None:
            _record_failure(Path(out), err, case, comm)
        raise
    if findings:  # a wrong answer is a failure, never a result
        rejected = QualityError(findings, solution.residual_history)
        if out is not None:
            _record_failure(Path(out), rejected, case, comm)
        raise rejected
    metrics = _document(case, meshdata, solution, body, timings, comm)
    result = Result(case=case, metrics=metrics, converged=True, solution=solution)
    if out is not None:
        with step("output", comm.rank) as t:
            write_result(result, out, comm)
        timings["output_s"] = t["seconds"]
        timings["total_s"] = time.perf_counter() - t_start
    return result


def write_result(result: Result, out: Path | str, comm: Any) -> None:
    """Write a solved result's files into ``out`` (what :func:`run` writes; collective)."""
    out = Path(out)
    with io.output_dir(out, comm) as tmp:
        _write_outputs(tmp, result, result.solution.meshdata, comm)
    result.out = out


def _record_failure(out: Path, err: Exception, case: Case, comm: Any) -> None:
    """failure.json in ``out``; a failure to write it is logged, never raised over ``err``."""
    try:
        write_failure(out, err, readable_case(case), comm, summary=failure_summary(err, case))
    except OSError as io_err:
        log.error("error: %s: cannot write %s (%s)", out, FAILURE_FILE, io_err.strerror)


def _solve_and_assess(
    case: Case, meshdata: Any, comm: Any, warm: Any, from_cell: bool, timings: dict[str, float]
) -> tuple[Any, dict[str, Any], list[Any]]:
    """Solve (from ``warm``, or ``from_cell``: the case's axisymmetric cell) and assess:
    the solution, the metrics body and the quality findings. A state reached from the
    cell that fails the quality checks (Newton judged converged from a poor start) is
    solved again from the bulk, said in the log."""
    if from_cell:
        with step("cell start", comm.rank) as t:
            warm = cell_solution(case, comm)
        timings["cell_start_s"] = t["seconds"]
    with step("solve", comm.rank) as t:
        solution = solve(case, meshdata, comm, initial=warm)
    timings["solve_s"] = t["seconds"]
    with step("metrics", comm.rank) as t:
        body = compute_metrics(case, meshdata, solution, comm)
        findings = assess(case, body, field_bounds(solution.load(), comm))
    timings["metrics_s"] = t["seconds"]
    if findings and from_cell and warm is not None:
        log.warning(
            "the state reached from the axisymmetric cell failed its quality checks (%s): "
            "solving again from the bulk",
            QualityError(findings, []),
        )
        del solution, warm
        release_unreachable(comm)  # the first model and solver, before the second
        return _solve_and_assess(case, meshdata, comm, None, False, timings)
    return solution, body, findings


def cell_solution(case: Case, comm: Any) -> Any:
    """The case solved on its axisymmetric cell (``solver.start``): Newton on the 3D
    mesh starts from it (:func:`confine.fem.transfer.map_cell_state`)."""
    raw = case.to_dict()
    raw["geometry"] = {**raw["geometry"], "model": "axisymmetric-cell"}
    # the cell is 2D: MUMPS ("auto"), from the bulk
    raw["solver"] = {**raw["solver"], "start": "bulk", "linear_solver": "auto"}
    cell = case_from_dict(raw, case.source)
    try:
        return solve(cell, load_mesh(cell, comm), comm)
    except SolverError as err:  # the 3D model then starts from the bulk, as by default
        log.warning("the axisymmetric cell did not solve (%s): starting from the bulk", err)
        return None


def _same_mesh(warm: Any, case: Case) -> Any:
    """The warm start's mesh when this case has the same one (same forms: no recompilation)."""
    meshdata = getattr(warm, "meshdata", None)
    if meshdata is None or "directory" not in meshdata.info:
        return None
    return meshdata if Path(meshdata.info["directory"]).name == mesh_hash(case) else None


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
        "mpi_ranks": comm.size,
        "mesh": {k: v for k, v in meshdata.info.items() if isinstance(v, int | float | str)},
        "timings": {k: {"value": v, "unit": "s"} for k, v in timings.items()},
    }
    doc.update(body)
    return doc


def _write_outputs(tmp: Path, result: Result, meshdata: Any, comm: Any) -> None:
    """metrics.json, metrics.csv, case.toml (rank 0); fields (all ranks); figures (rank 0,
    from the fields of every rank)."""
    if comm.rank == 0:
        io.write_json(tmp / "metrics.json", result.metrics)
        io.write_metrics_csv(tmp / "metrics.csv", result.metrics)
        (tmp / "case.toml").write_text(result.case.to_toml(), encoding="utf-8")
    solution = result.solution
    if not hasattr(solution, "fields"):
        return
    out = result.case.output
    fields = output_fields(result)  # interpolated once, shared by every writer below
    units = {name: field_units(result.case).get(name, "1") for name in fields}
    cell_names = {v: k for k, v in CELL_GROUPS.items()}
    if out.fields:
        io.write_fields(tmp / "fields.xdmf", fields, meshdata.cell_tags, meshdata.facet_tags, units)
        io.write_vtk(tmp / "vtk" / "fields.pvd", fields, meshdata.cell_tags, units)
        if comm.rank == 0:
            facet_names = {v: k for k, v in FACET_GROUPS.items()}
            io.write_field_info(tmp / io.FIELD_INFO_FILE, units, cell_names, facet_names)
    revolve = out.fields and meshdata.axisymmetric
    if not (revolve or out.figures) or not _have_pyvista():
        return
    # under MPI the fields are gathered on rank 0 (None elsewhere), which writes the
    # revolved view and draws the profiles; the maps are shared out (see _figures)
    grid = io.to_pyvista(fields, getattr(solution, "cell_tags", None), comm)
    if grid is not None and revolve:
        io.write_revolved(tmp / "vtk" / "revolved.vtp", grid, units, cell_names)
    if out.figures:
        _figures(tmp, grid, result.case, meshdata, result.metrics, comm)
    del grid
    # Drawing leaves reference cycles on the ranks that draw (matplotlib's mathtext
    # parser catches exceptions whose tracebacks hold the frames up this stack,
    # and with them the solution and its solver). Left to the garbage collector,
    # one rank would destroy the solver (collective: MUMPS, SNES) at another point
    # than the other ranks, which free it when the result goes: a hang at exit.
    # Collected here, on every rank at once, the solver goes the same way everywhere.
    release_unreachable(comm)


def _have_pyvista() -> bool:
    try:
        import pyvista  # noqa: F401  (optional: the viz extra; only probed here)
    except ImportError:
        log.warning("pyvista is not installed: no figures or revolved view")
        return False
    return True


def _figures(tmp: Path, grid: Any, case: Case, meshdata: Any, metrics: Any, comm: Any) -> None:
    """Maps on a cut through a pore, profiles along its axis, and the run's overview.

    Collective. ``grid`` (the gathered fields) is on rank 0 only (None elsewhere):
    rank 0 cuts the section once and shares it, every rank draws some of the maps
    (they are most of the output phase: 3.6 of 4.5 s on the 7 nm sector), and
    rank 0 draws the profiles and the overview from the grid.
    """
    if meshdata.mesh.topology.dim < 2:  # a 1D run (a film): its profiles, no maps
        if grid is not None:
            adsorbed = {s.name for s in case.species if s.phase == "adsorbed"}
            names = [n for n in grid.point_data if n not in ("subdomain", "phi")]
            (tmp / "figures").mkdir(exist_ok=True)
            render_film_profiles(
                grid,
                [n for n in names if n not in adsorbed],
                tmp / "figures" / "profiles.png",
                subtitle=_subtitle(case),
            )
        return
    window, _ = _shell_window(case)
    axis = meshdata.info.get("pore_axis", (0.0, 0.0, 1.0))
    subtitle = _subtitle(case)
    names, units = _maps(tmp, grid, case, meshdata.axisymmetric, axis, window, comm)
    if grid is None:
        return
    if window is not None:
        solution_species = [n for n in names if units[n] == "mol/L"]
        profiles = render_profiles(
            grid,
            solution_species,
            tmp / "figures" / "profiles.png",
            axisymmetric=meshdata.axisymmetric,
            r_range=(0.0, window[1]),
            axis=axis,
            subtitle=subtitle,
        )
        if metrics is not None:
            main = main_species(profiles, list(metrics.get("products", {})))
            render_overview(
                profiles, main, metrics, tmp / "figures" / "overview.png", subtitle=subtitle
            )


def _maps(
    tmp: Path,
    grid: Any,
    case: Case,
    axisymmetric: bool,
    axis: Any,
    window: tuple[float, float] | None,
    comm: Any,
) -> tuple[list[str], dict[str, str]]:
    """Draw one map per field, shared out between the ranks (collective); the fields'
    names and units. A blank map raises on every rank (none is left waiting)."""
    section = None
    if grid is not None:
        section = (
            [n for n in grid.point_data if n != "subdomain"],
            flatten(grid, axisymmetric, axis, window),
        )
    names, plane = comm.bcast(section, root=0)
    adsorbed = {s.name for s in case.species if s.phase == "adsorbed"}
    units = {
        n: "V" if n == "phi" else "fraction of sites" if n in adsorbed else "mol/L" for n in names
    }
    quantities = {
        n: "φ" if n == "phi" else f"θ({n})" if n in adsorbed else f"c({n})" for n in names
    }
    bulk = {s.name: s.bulk / 1000.0 for s in case.species if s.bulk}  # mol/m^3 -> mol/L
    # rank 0 takes the fewest: it draws the profiles and the overview as well
    mine = names[comm.size - 1 - comm.rank :: comm.size]
    error = None
    try:
        render_fields(
            plane,
            mine,
            tmp / "figures",
            units=units,
            quantities=quantities,
            references=bulk,
            live={n: CATALYST_TAGS for n in adsorbed},
            subtitle=_subtitle(case),
        )
    except RuntimeError as err:
        error = str(err)
    errors = [e for e in comm.allgather(error) if e]
    if errors:
        raise RuntimeError("; ".join(errors))
    return names, units


def _subtitle(case: Case) -> str:
    """The case in one line: name, potential (V), pore diameter (nm)."""
    parts = [case.case.name, f"E = {case.electrode.potential:g} V"]
    pore = getattr(case.geometry, "pore_diameter", None)
    if pore:
        parts.append(f"pore {pore / 1e-9:.3g} nm")
    return ", ".join(parts)


def _shell_window(case: Case) -> tuple[tuple[float, float] | None, dict[str, float]]:
    """Radial zoom on the shell (nm) and the radii to mark, for particle kinds."""
    g = case.geometry
    if g.kind not in ("hollow-sphere", "solid-sphere"):
        return None, {}
    r_out = g.outer_diameter / 2 / 1e-9
    r_in = r_out - g.shell_thickness / 1e-9 if g.kind == "hollow-sphere" else 0.0
    margin = 0.5 * g.shell_thickness / 1e-9
    marks = {"outer surface": r_out}
    if g.kind == "hollow-sphere":
        marks["cavity wall"] = r_in
    return (max(r_in - margin, 0.0), r_out + margin), marks
