"""The performance and regression suite behind ``confine bench``.

Each benchmark solves one case through :func:`confine.pipeline.run` and writes
a JSON record (``<out>/<name>.json``): the case hash, a subset of the metrics,
wall and CPU time per phase, Newton and linear iterations, unknowns, peak
memory, MPI ranks, versions, git revision, machine and PETSc options.

Speed is never judged in seconds: every record also times one scalar P1
Poisson solve (assembly + linear solve, the same kind of linear solver) on the
same mesh, in the same process, and reports phases as ratios to it.

Regression: ``--update`` stores each record as a reference in
``benchmarks/references/<name>.json``; ``--check`` compares the new record's
checked values against the stored ones with each metric's absolute and
relative tolerance (kept in the reference, so they too change only through
``--update``) and prints one line per drifted metric.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confine import atomic, document, progress
from confine.case import load_case
from confine.env import comm_world, git_revision, import_dolfinx, versions
from confine.pipeline import run
from confine.solver.continuation import newton_of
from confine.solver.options import DIRECT_OPTIONS

import_dolfinx()
import ufl  # noqa: E402
from dolfinx import fem  # noqa: E402
from dolfinx.fem import petsc as fem_petsc  # noqa: E402
from mpi4py import MPI  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
REFERENCES = ROOT / "benchmarks" / "references"
DEFAULT_OUT = Path("results") / "bench"

#: Timed Poisson solves on small meshes (the fastest counts).
POISSON_REPEATS = 5

#: Exit codes of :func:`main`.
EXIT_OK, EXIT_DRIFT, EXIT_MISSING = 0, 1, 2


@dataclass(frozen=True)
class Tolerance:
    """Allowed drift of one checked value: ``|new - stored| <= abs + rel * |stored|``."""

    abs: float = 0.0
    rel: float = 0.0

    def allows(self, stored: float, new: float) -> bool:
        """Whether ``new`` is within tolerance of ``stored``."""
        return abs(new - stored) <= self.abs + self.rel * abs(stored)


#: Tolerances by kind of value.
EXACT = Tolerance(0.0, 0.0)
PHYSICS = Tolerance(abs=1e-30, rel=1e-4)
ITERATIONS = Tolerance(abs=2.0, rel=0.2)
#: Performance ratios (to the Poisson solve of the same run): fail past 2.5x.
PERFORMANCE = Tolerance(abs=0.0, rel=1.5)


@dataclass(frozen=True)
class Benchmark:
    """One benchmark: a case (with overrides) and what to check.

    Attributes:
        name: record name (file ``<name>.json``).
        case: case file.
        overrides: ``--set`` style overrides applied before validation.
        metrics: dotted metric paths (in ``result.metrics``) to check, with tolerances.
        performance: ratio names (see :func:`ratios`) to check, with tolerances.
        quick: part of the quick subset (``confine bench`` without ``--full``).
        output: also write the run's files (times the output phase).
    """

    name: str
    case: Path
    overrides: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, Tolerance] = field(default_factory=dict)
    performance: Mapping[str, Tolerance] = field(default_factory=dict)
    quick: bool = True
    output: bool = True


_COMMON: dict[str, Tolerance] = {
    "mesh.cells": EXACT,
    "mesh.dofs": EXACT,
    "solver.newton_iterations": ITERATIONS,
    "solver.linear_iterations": ITERATIONS,
    "mass_balance_relative_error": Tolerance(abs=1e-6, rel=0.0),
}
_PERF: dict[str, Tolerance] = {"newton_step_over_poisson": PERFORMANCE}

_FIRST_ORDER = ROOT / "cases" / "first-order-shell.toml"
_UREA = ROOT / "cases" / "mchs-7nm.toml"
_FIRST_ORDER_METRICS = _COMMON | {
    "species.A.ratio_interior_exterior": PHYSICS,
    "species.A.flux_into_cavity_mol_s": PHYSICS,
    "reactions.consume.rate_mol_s": PHYSICS,
    "products.B.production_mol_s": PHYSICS,
}
_UREA_METRICS = _COMMON | {
    "current_A": PHYSICS,
    "products.urea.production_mol_s": PHYSICS,
    "products.urea.faradaic_efficiency": PHYSICS,
    "products.H2.faradaic_efficiency": PHYSICS,
    "species.urea.ratio_interior_exterior": PHYSICS,
    "species.CO2.ratio_interior_exterior": PHYSICS,
}

#: The suite: the shipped cases on the axisymmetric cell (quick), and more (full).
SUITE: tuple[Benchmark, ...] = (
    Benchmark("first-order-shell", _FIRST_ORDER, {}, _FIRST_ORDER_METRICS, _PERF),
    Benchmark("mchs-7nm", _UREA, {}, _UREA_METRICS, _PERF),
    Benchmark(
        "first-order-shell-refine2",
        _FIRST_ORDER,
        {"mesh.refine": "2"},
        _FIRST_ORDER_METRICS,
        _PERF,
        quick=False,
    ),
    Benchmark("mchs-7nm-refine1", _UREA, {"mesh.refine": "1"}, _UREA_METRICS, _PERF, quick=False),
    Benchmark(
        "first-order-shell-sector-3d",
        _FIRST_ORDER,
        {"geometry.model": "sector-3d"},
        _FIRST_ORDER_METRICS,
        _PERF,
        quick=False,
    ),
)


# --------------------------------------------------------------------------- measuring
def poisson_time(md: Any, options: Mapping[str, Any]) -> float:
    """Wall time of one assembled scalar P1 Poisson solve on a mesh (assembly + solve).

    Forms are compiled and the solve run once before timing; when that takes
    under half a second the best of :data:`POISSON_REPEATS` solves is kept
    (sub-millisecond solves are noisy). The right-hand
    side is 1, u = 0 on the outer boundary (tag 11); axisymmetric meshes carry
    the r weight. Fieldsplit options become plain GAMG (one field).

    Args:
        md: the mesh (``confine.mesh.MeshData``).
        options: PETSc options of the linear solver to mimic.

    Returns:
        Seconds, the maximum over ranks.
    """
    msh = md.mesh
    V = fem.functionspace(msh, ("Lagrange", 1))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    x = ufl.SpatialCoordinate(msh)
    w = x[0] if md.axisymmetric else 1.0
    a = ufl.inner(ufl.grad(u), ufl.grad(v)) * w * ufl.dx
    L = w * v * ufl.dx
    fdim = msh.topology.dim - 1
    facets = md.facet_tags.indices[md.facet_tags.values == 11]
    bc = fem.dirichletbc(0.0, fem.locate_dofs_topological(V, fdim, facets), V)
    opts = {
        k: val
        for k, val in options.items()
        if not k.startswith(("fieldsplit", "pc_fieldsplit", "snes"))
    }
    if opts.get("pc_type") == "fieldsplit":
        opts.update(
            {"pc_type": "gamg", "mg_levels_ksp_type": "richardson", "mg_levels_pc_type": "sor"}
        )
    problem = fem_petsc.LinearProblem(
        a, L, bcs=[bc], petsc_options=opts, petsc_options_prefix=f"poisson_{id(md)}_"
    )
    comm = msh.comm
    t0 = time.perf_counter()
    problem.solve()  # compile and warm up
    warm = comm.allreduce(time.perf_counter() - t0, op=_mpi_max())
    best = float("inf")
    for _ in range(POISSON_REPEATS if warm < 0.5 else 1):  # small meshes: best of several
        comm.barrier()
        t0 = time.perf_counter()
        problem.solve()
        best = min(best, float(comm.allreduce(time.perf_counter() - t0, op=_mpi_max())))
    return best


def newton_step_parts(p: Any) -> tuple[float, float]:
    """(assembly, linear solve) seconds of one Newton step at the converged state.

    Args:
        p: the Newton solver of a solved model (``confine.solver.continuation.newton_of``).

    Returns:
        Residual + Jacobian assembly time and one linear solve's time.
    """
    snes = p.nlp.solver
    x = p.nlp.x
    u, theta = p.spaces.u, p.spaces.theta
    fem_petsc.assign([u, theta] if theta is not None else u, x)
    b = x.duplicate()
    t0 = time.perf_counter()
    snes.computeFunction(x, b)
    snes.computeJacobian(x, p.nlp.A)
    t1 = time.perf_counter()
    ksp = snes.getKSP()
    ksp.setOperators(p.nlp.A)
    y = x.duplicate()
    ksp.solve(b, y)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1


def _mpi_max() -> Any:
    return MPI.MAX


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MiB; ru_maxrss is KiB on Linux)."""
    scale = 1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def machine() -> dict[str, Any]:
    """Platform, host, CPU model (from /proc/cpuinfo) and core counts."""
    cpu = platform.processor() or None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "platform": platform.platform(),
        "node": platform.node(),
        "cpu_model": cpu,
        "nproc": os.cpu_count(),
        "cpus_available": affinity,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }


def metric_value(metrics: Mapping[str, Any], path: str) -> Any:
    """A metric by dotted path, ``{"value": v, "unit": u}`` unwrapped (:mod:`confine.document`).

    Raises:
        KeyError: no such metric.
    """
    return document.value(metrics, path)


def ratios(phases: Mapping[str, Mapping[str, float]], newton: int, poisson_s: float) -> dict:
    """Phase times as ratios to the Poisson solve of the same run.

    Args:
        phases: ``{phase: {"wall_s": ...}}`` as in a record.
        newton: Newton iterations.
        poisson_s: the Poisson reference solve's wall time.

    Returns:
        ``newton_step_over_poisson`` (mean time per Newton step), and
        ``<phase>_over_poisson`` for every timed phase.
    """
    out = {f"{k}_over_poisson": v["wall_s"] / poisson_s for k, v in phases.items()}
    out["newton_step_over_poisson"] = phases["newton"]["wall_s"] / max(newton, 1) / poisson_s
    return out


def run_benchmark(bench: Benchmark, comm: Any = None) -> dict[str, Any]:
    """Run one benchmark and return its record (collective).

    Args:
        bench: what to run.
        comm: communicator (default COMM_WORLD).

    Returns:
        The JSON-ready record.
    """
    comm = comm_world() if comm is None else comm
    case = load_case(bench.case, set=dict(bench.overrides))
    t0, c0 = time.perf_counter(), time.process_time()
    with progress.recording() as timed, tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run" if bench.output else None
        if out is not None and comm.size > 1:  # one directory for all ranks
            out = Path(comm.bcast(str(out) if comm.rank == 0 else None, root=0))
        result = run(case, out=out, comm=comm)
        comm.barrier()
    wall_total, cpu_total = time.perf_counter() - t0, time.process_time() - c0
    m = result.metrics
    sol = result.solution
    solver = newton_of(sol.model)
    phases: dict[str, dict[str, float | None]] = dict(timed)  # type: ignore[arg-type]
    # solve = problem set-up (forms: JIT compile or cache load, sparsity, SNES) + Newton
    setup = float(timed["solve"]["wall_s"]) - sol.wall_time_s
    phases["setup_compile"] = {"wall_s": setup, "cpu_s": None}
    phases["newton"] = {"wall_s": sol.wall_time_s, "cpu_s": None}
    assembly, linear = newton_step_parts(solver)
    options = dict(solver.options())
    poisson_options = DIRECT_OPTIONS if solver.is_direct() else options
    poisson = poisson_time(sol.meshdata, poisson_options)
    wall_phases = {k: {"wall_s": float(v["wall_s"] or 0.0)} for k, v in phases.items()}
    newton = int(sol.newton_iterations)
    fields = len(sol.model.unknowns) + len(sol.model.adsorbed)
    rat = ratios(wall_phases, newton, poisson)
    rat["assembly_per_newton_over_poisson"] = assembly / poisson
    rat["linear_solve_per_newton_over_poisson"] = linear / poisson
    rat["newton_step_over_poisson_per_field"] = rat["newton_step_over_poisson"] / fields
    checked = _checked(bench, m, rat)
    peak = float(comm.allreduce(peak_rss_mb(), op=_mpi_max()))
    return {
        "benchmark": bench.name,
        "case": case.case.name,
        "case_file": str(
            bench.case.relative_to(ROOT) if bench.case.is_relative_to(ROOT) else bench.case
        ),
        "overrides": dict(bench.overrides),
        "case_hash": m["case_hash"],
        "mesh_hash": Path(str(sol.meshdata.info.get("directory", ""))).name or None,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "mpi_ranks": comm.size,
        "threads": os.environ.get("OMP_NUM_THREADS"),
        "mesh": {"cells": metric_value(m, "mesh.cells"), "dofs": int(sol.dofs), "fields": fields},
        "solver": {
            "newton_iterations": newton,
            "linear_iterations": int(sol.linear_iterations),
            "continuation_steps": len(sol.multipliers),
            "time_per_newton_s": sol.wall_time_s / max(newton, 1),
            "kind": "direct" if solver.is_direct() else "iterative",
        },
        "phases": phases,
        "per_newton_step": {"assembly_s": assembly, "linear_solve_s": linear},
        "total": {"wall_s": wall_total, "cpu_s": cpu_total},
        "poisson_reference": {"wall_s": poisson, "petsc_options": _jsonable(poisson_options)},
        "ratios": rat,
        "peak_rss_mb": peak,
        "peak_rss_note": "process peak so far (max over ranks); earlier benchmarks count",
        "petsc_options": _jsonable(options),
        "check": checked,
        "versions": versions(),
        "git": git_revision(),
        "machine": machine(),
    }


def _checked(bench: Benchmark, metrics: Mapping[str, Any], rat: Mapping[str, float]) -> dict:
    """The values ``--check`` compares, each with its tolerance."""
    checked = {
        path: {"value": metric_value(metrics, path), "abs": tol.abs, "rel": tol.rel}
        for path, tol in bench.metrics.items()
    }
    checked |= {
        f"performance.{name}": {"value": rat[name], "abs": tol.abs, "rel": tol.rel}
        for name, tol in bench.performance.items()
    }
    return checked


def _jsonable(d: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: v if isinstance(v, int | float | str | bool) or v is None else str(v)
        for k, v in d.items()
    }


# --------------------------------------------------------------------------- regression
@dataclass(frozen=True)
class Drift:
    """One checked value outside its tolerance."""

    benchmark: str
    metric: str
    stored: Any
    new: Any
    tolerance: Tolerance | None = None

    def __str__(self) -> str:
        tol = (
            ""
            if self.tolerance is None
            else (f" (tolerance abs {self.tolerance.abs:g} + rel {self.tolerance.rel:g})")
        )
        return (
            f"DRIFT {self.benchmark}: {self.metric}: stored {self.stored!r}, new {self.new!r}{tol}"
        )


def compare(reference: Mapping[str, Any], record: Mapping[str, Any]) -> list[Drift]:
    """Checked values of a record that drifted from a stored reference.

    The tolerances are the reference's. A changed case hash, a metric missing
    from either side and a non-numeric value that differs are drifts too.

    Args:
        reference: the stored record.
        record: the new record.

    Returns:
        The drifts, empty when everything agrees.
    """
    name = str(record.get("benchmark"))
    drifts: list[Drift] = []
    if reference.get("case_hash") != record.get("case_hash"):
        drifts.append(Drift(name, "case_hash", reference.get("case_hash"), record.get("case_hash")))
    new_checked = record.get("check", {})
    for metric, stored in reference.get("check", {}).items():
        if metric not in new_checked:
            drifts.append(Drift(name, metric, stored["value"], None))
            continue
        a, b = stored["value"], new_checked[metric]["value"]
        tol = Tolerance(float(stored.get("abs", 0.0)), float(stored.get("rel", 0.0)))
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (a, b))
        if (numeric and not tol.allows(float(a), float(b))) or (not numeric and a != b):
            drifts.append(Drift(name, metric, a, b, tol if numeric else None))
    return drifts


# --------------------------------------------------------------------------- entry point
def main(
    full: bool = False,
    check: bool = False,
    update: bool = False,
    out: Path | str | None = None,
    references: Path | str | None = None,
    benchmarks: Sequence[Benchmark] | None = None,
    case: Path | str | None = None,
    overrides: Mapping[str, str] | None = None,
    name: str | None = None,
) -> int:
    """Run the suite; write records; optionally check against or update the references.

    Args:
        full: every benchmark, not only the quick subset.
        check: compare against the stored references; exit non-zero on drift.
        update: store this run's records as the new references.
        out: directory for the records (default ``results/bench``).
        references: directory of the stored references (default ``benchmarks/references``).
        benchmarks: run these instead of :data:`SUITE` (tests).
        case: run this one case file instead (cluster runs: e.g. the full-3d
            particle); its record checks the mesh, iteration and mass-balance
            values by default.
        overrides: ``--set`` overrides of ``case``.
        name: record name of ``case`` (default: the file's stem).

    Returns:
        0 when all ran (and checked clean), 1 on drift, 2 when a reference is missing.
    """
    comm = comm_world()
    out_dir = Path(out) if out is not None else DEFAULT_OUT
    ref_dir = Path(references) if references is not None else REFERENCES
    if case is not None:
        case = Path(case).resolve()
        one = Benchmark(name or case.stem, case, dict(overrides or {}), _COMMON, _PERF)
        benchmarks = [one]
    chosen = [b for b in (benchmarks or SUITE) if full or b.quick or benchmarks is not None]
    status = EXIT_OK
    lines: list[str] = []
    for bench in chosen:
        record = run_benchmark(bench, comm)
        if comm.rank != 0:
            continue
        _write(out_dir / f"{bench.name}.json", record)
        r = record["ratios"]
        print(
            f"{bench.name:32s} dofs={record['mesh']['dofs']:8d} "
            f"newton={record['solver']['newton_iterations']:3d} "
            f"t/newton/poisson={r['newton_step_over_poisson']:7.2f} "
            f"per field={r['newton_step_over_poisson_per_field']:6.2f} "
            f"peak={record['peak_rss_mb']:.0f} MiB",
            flush=True,
        )
        ref_file = ref_dir / f"{bench.name}.json"
        if update:
            _write(ref_file, record)
            lines.append(f"updated {ref_file}")
        elif check:
            if not ref_file.exists():
                lines.append(f"MISSING reference {ref_file} (make it with --update)")
                status = max(status, EXIT_MISSING)
                continue
            drifts = compare(json.loads(ref_file.read_text(encoding="utf-8")), record)
            lines.extend(str(d) for d in drifts)
            if drifts:
                status = max(status, EXIT_DRIFT)
            else:
                lines.append(f"ok {bench.name}: {len(record['check'])} values within tolerance")
    if comm.rank == 0:
        for line in lines:
            print(line, file=sys.stderr if line.startswith(("DRIFT", "MISSING")) else sys.stdout)
        if check:
            verdict = "PASS" if status == EXIT_OK else "FAIL"
            print(f"bench check: {verdict}", file=sys.stderr if status else sys.stdout)
    return int(comm.bcast(status, root=0))


def _write(path: Path, record: Mapping[str, Any]) -> None:
    atomic.write_text(path, json.dumps(record, indent=1, default=str) + "\n")
