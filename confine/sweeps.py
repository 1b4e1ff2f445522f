"""Sweeps: one run per point, resumable, parallel, cluster-safe; a merged table and plots.

Layout of an output directory::

    DIR/sweep.json              what was swept (name, base case, parameters, points)
    DIR/points/<hash16>/        one directory per point, named by the hash of its
        case.toml               fully resolved case
        point.json              its index and overrides
        metrics.json            written by the runner (or from Result.metrics)
        DONE | FAILED           completion marker, written last (atomic rename)
    DIR/results.csv             one row per point: swept values, status, metrics
    DIR/bands.csv               sampled sweeps: spread of every metric
    DIR/plots/*.png             default plots

A point with a ``DONE`` marker is never run again; a point with ``FAILED`` is
recorded with its error and not retried unless asked. A sweep killed at any
moment restarts where it stopped: a point without a marker is simply run
again. Points along the warm-start axis (a potential or a rate constant by
default) form a chain run in order in one process, each warm-started from the
last converged solution.

Parallelism: ``jobs`` processes (chains are the unit of work), or MPI
sub-communicators of ``ranks_per_point`` ranks when launched under mpiexec,
and, on top of either, one slice of the chains per SLURM array task.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from confine import progress
from confine.sampling import SAMPLE_AXIS, Point, SweepSpec, load_sweep

log = logging.getLogger("confine")

Runner = Callable[..., Any]
"""``runner(case, out=Path | None, comm=None, initial=None) -> Result``."""

DONE, FAILED = "DONE", "FAILED"
STATUS_DONE, STATUS_FAILED, STATUS_PENDING = "done", "failed", "pending"


class SweepStopped(SystemExit):
    """The sweep was stopped by a signal; finished points are kept, exit code 128 + signal."""

    def __init__(self, signum: int):
        super().__init__(128 + signum)
        self.signum = signum


# --------------------------------------------------------------------------- files
def point_dir(out: Path, point: Point) -> Path:
    """Directory of a point: ``DIR/points/<first 16 hex digits of the case hash>``."""
    return Path(out) / "points" / point.hash[:16]


def _write_atomic(path: Path, text: str) -> None:
    """Write a file so that readers see the old or the whole new content, never a part."""
    tmp = path.with_name(f".{path.name}.{socket.gethostname()}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def point_status(d: Path) -> str:
    """``done``, ``failed`` or ``pending`` from a point directory's marker."""
    if (d / DONE).exists():
        return STATUS_DONE
    if (d / FAILED).exists():
        return STATUS_FAILED
    return STATUS_PENDING


# --------------------------------------------------------------------------- work units
def chains(spec: SweepSpec, points: Sequence[Point]) -> list[list[Point]]:
    """Group points into chains run in order (warm starts along ``spec.warm_axis``).

    Points whose resolved cases are identical (same hash) are run once: only the
    first is kept. Without a warm-start axis every point is its own chain.
    """
    seen: set[str] = set()
    unique = []
    for p in points:
        if p.hash not in seen:
            seen.add(p.hash)
            unique.append(p)
    if spec.warm_axis is None:
        return [[p] for p in unique]
    groups: dict[tuple[tuple[str, int], ...], list[Point]] = {}
    for p in unique:
        rest = tuple((a, i) for a, i in p.coords.items() if a != spec.warm_axis)
        groups.setdefault(rest, []).append(p)
    return [sorted(g, key=lambda p: p.coords[spec.warm_axis or ""]) for g in groups.values()]


def split_chains(all_chains: Sequence[list[Point]], n: int) -> list[list[Point]]:
    """Split the longest chains in halves until there are ``n`` (parallelism over warm starts).

    Each half warm-starts within itself; its first point starts cold. Deterministic:
    every SLURM task computes the same split.
    """
    out = [list(c) for c in all_chains]
    while len(out) < n:
        i = max(range(len(out)), key=lambda k: len(out[k]), default=None)
        if i is None or len(out[i]) < 2:
            break
        c = out[i]
        out[i : i + 1] = [c[: (len(c) + 1) // 2], c[(len(c) + 1) // 2 :]]
    return out


def slurm_task(env: Mapping[str, str] | None = None) -> tuple[int, int] | None:
    """``(index, count)`` of this SLURM array task, or None outside a job array.

    The index counts from 0 whatever ``--array`` started at (SLURM_ARRAY_TASK_MIN).
    """
    env = os.environ if env is None else env
    if "SLURM_ARRAY_TASK_ID" not in env or "SLURM_ARRAY_TASK_COUNT" not in env:
        return None
    tid = int(env["SLURM_ARRAY_TASK_ID"]) - int(env.get("SLURM_ARRAY_TASK_MIN", "0"))
    count = int(env["SLURM_ARRAY_TASK_COUNT"])
    if not 0 <= tid < count:
        raise ValueError(
            f"SLURM array task {tid} outside 0..{count - 1}: use --array=0-{count - 1}"
        )
    return tid, count


def task_slice(all_chains: Sequence[list[Point]], index: int, count: int) -> list[list[Point]]:
    """The chains of task ``index`` of ``count`` (round robin: every chain exactly once)."""
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"task {index} of {count}")
    return list(all_chains[index::count])


# --------------------------------------------------------------------------- one point
def run_point(
    point: Point,
    out: Path,
    runner: Runner,
    comm: Any = None,
    initial: Any = None,
    root: bool = True,
) -> tuple[str, Any]:
    """Run one point and write its completion marker last.

    Args:
        point: the point.
        out: the sweep's output directory.
        runner: ``runner(case, out=..., comm=..., initial=...) -> Result``.
        comm: communicator handed to the runner (an MPI sub-communicator, or None).
        initial: a converged neighbour's solution to warm-start from.
        root: whether this rank writes the sweep's files (rank 0 of ``comm``).

    Returns:
        ``(status, result)``: ``"done"`` and the result, or ``"failed"`` and None.
        Signals (:class:`SweepStopped`, KeyboardInterrupt) propagate and leave no marker.
    """
    d = point_dir(out, point)
    info = {"index": point.index, "hash": point.hash, "overrides": point.overrides}
    if root:
        d.mkdir(parents=True, exist_ok=True)
        for stale in (DONE, FAILED):
            (d / stale).unlink(missing_ok=True)
        (d / "metrics.json").unlink(missing_ok=True)
        _write_atomic(d / "case.toml", point.case.to_toml())
        _write_atomic(d / "point.json", json.dumps(info, indent=1, default=str))
    t0 = time.perf_counter()
    marker: dict[str, Any] = {
        "hash": point.hash,
        "warm_started": initial is not None,
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
    try:
        try:
            result = runner(point.case, out=d, comm=comm, initial=initial)
        except Exception as err:
            if initial is None:
                raise
            # a warm start is only a shortcut: say so and start cold
            marker["warm_start_error"] = f"{type(err).__name__}: {err}"
            marker["warm_started"] = False
            if root:
                log.warning("point %d: warm start failed (%s); starting cold", point.index, err)
            result = runner(point.case, out=d, comm=comm, initial=None)
        converged = bool(getattr(result, "converged", True))
        error = None if converged else "the solver did not converge"
    except Exception as err:  # a failed point is recorded; the sweep goes on
        result, error = None, f"{type(err).__name__}: {err}"
        marker["traceback"] = traceback.format_exc()
    marker["wall_time_s"] = time.perf_counter() - t0
    marker["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    if not root:
        return (STATUS_FAILED, None) if error else (STATUS_DONE, result)
    # the run replaces the point's directory with its own output: put the index back
    if not (d / "point.json").exists():
        _write_atomic(d / "point.json", json.dumps(info, indent=1, default=str))
    if not (d / "case.toml").exists():
        _write_atomic(d / "case.toml", point.case.to_toml())
    if error is not None:
        marker.update(status=STATUS_FAILED, error=error)
        _write_atomic(d / FAILED, json.dumps(marker, indent=1))
        return STATUS_FAILED, None
    if not (d / "metrics.json").exists():
        _write_atomic(d / "metrics.json", json.dumps(result.metrics, indent=1, default=str))
    marker["status"] = STATUS_DONE
    _write_atomic(d / DONE, json.dumps(marker, indent=1))
    return STATUS_DONE, result


def _todo(point: Point, out: Path, retry_failed: bool) -> bool:
    status = point_status(point_dir(out, point))
    return status == STATUS_PENDING or (status == STATUS_FAILED and retry_failed)


def run_chain(
    chain: Sequence[Point],
    out: Path,
    runner: Runner,
    comm: Any = None,
    retry_failed: bool = False,
    root: bool = True,
    on_point: Callable[[Point, str], None] | None = None,
) -> list[tuple[int, str]]:
    """Run a chain in order, each point warm-started from the last converged one.

    Finished points (and failed ones unless ``retry_failed``) are skipped.

    Returns:
        ``(point index, status)`` per point of the chain.
    """
    initial = None
    statuses = []
    collective = comm is not None and getattr(comm, "size", 1) > 1
    for p in chain:
        status = point_status(point_dir(out, p)) if root else None
        if collective:  # one decision for the whole group: rank 0 may already have written
            status = comm.bcast(status, root=0)
        if status == STATUS_DONE or (status == STATUS_FAILED and not retry_failed):
            statuses.append((p.index, status))
            continue
        status, result = run_point(p, out, runner, comm=comm, initial=initial, root=root)
        if result is not None and getattr(result, "solution", None) is not None:
            initial = result.solution
        statuses.append((p.index, status))
        if on_point is not None:
            on_point(p, status)
    return statuses


def _default_runner() -> Runner:
    from confine.pipeline import run

    return run


def _worker_init() -> None:
    """Pool workers leave Ctrl-C to the parent, die on SIGTERM, and die with the parent.

    On Linux a worker gets SIGTERM when the sweep process dies (even by SIGKILL), so
    that no orphan goes on running points beside a restarted sweep.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            pr_set_pdeathsig = 1
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
            if os.getppid() == 1:  # the parent died before prctl
                os._exit(1)


def _worker_chain(
    chain: list[Point], out: Path, runner: Runner | None, retry_failed: bool
) -> list[tuple[int, str]]:
    return run_chain(chain, out, runner or _default_runner(), retry_failed=retry_failed)


# --------------------------------------------------------------------------- progress
class _Progress:
    """A live line on a terminal; one log line per finished point otherwise."""

    def __init__(self, name: str, points: Sequence[Point], out: Path, show: bool):
        self.name, self.points, self.out = name, list(points), out
        self.live = show and progress.interactive() and log.isEnabledFor(logging.INFO)
        self.t0 = time.perf_counter()
        self.known = {p.index: point_status(point_dir(out, p)) for p in self.points}
        self.start_done = sum(s != STATUS_PENDING for s in self.known.values())
        self.show = show

    def point(self, p: Point, status: str) -> None:
        if self.known.get(p.index) == status:
            return
        self.known[p.index] = status
        n = sum(s != STATUS_PENDING for s in self.known.values())
        if status == STATUS_FAILED:
            err = _read_json(point_dir(self.out, p) / FAILED) or {}
            if self.live:
                sys.stderr.write("\r\033[K")  # clear the live line before the warning
            log.warning("point %d failed: %s (%s)", p.index, err.get("error", "?"), p.label())
        elif not self.live and self.show:
            log.info("[%d/%d] point %d done: %s", n, len(self.points), p.index, p.label())
        self.draw()

    def scan(self) -> None:
        for p in self.points:
            if self.known[p.index] == STATUS_PENDING:
                s = point_status(point_dir(self.out, p))
                if s != STATUS_PENDING:
                    self.point(p, s)
        self.draw()

    def draw(self, final: bool = False) -> None:
        if not self.live:
            return
        done = sum(s == STATUS_DONE for s in self.known.values())
        failed = sum(s == STATUS_FAILED for s in self.known.values())
        total = len(self.points)
        elapsed = time.perf_counter() - self.t0
        new = done + failed - self.start_done
        left = total - done - failed
        eta = f", ~{_hms(elapsed / new * left)} left" if new and left else ""
        sys.stderr.write(
            f"\r  sweep {self.name}: {done}/{total} done, {failed} failed, "
            f"{_hms(elapsed)}{eta}   " + ("\n" if final else "")
        )
        sys.stderr.flush()


def _hms(s: float) -> str:
    s = int(s)
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """Turn SIGTERM (and SIGINT) into :class:`SweepStopped` in the main thread."""

    def handler(signum: int, frame: Any) -> None:
        raise SweepStopped(signum)

    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


# --------------------------------------------------------------------------- the sweep
def sweep(
    path_or_spec: str | Path | Mapping[str, Any] | SweepSpec,
    out: str | Path,
    jobs: int = 1,
    runner: Runner | None = None,
    comm: Any = None,
    *,
    task: tuple[int, int] | None = None,
    retry_failed: bool = False,
    ranks_per_point: int | None = None,
    plots: bool = True,
    show_progress: bool = True,
) -> pd.DataFrame:
    """Run every point of a sweep not finished yet, then merge ``DIR/results.csv``.

    Args:
        path_or_spec: a sweep file, its data as a dict, or a parsed :class:`SweepSpec`.
        out: output directory (created; reused to resume).
        jobs: worker processes (chains run in parallel). Ignored under MPI.
        runner: ``runner(case, out=..., comm=..., initial=...) -> Result``; default
            :func:`confine.pipeline.run`. With ``jobs > 1`` it must be picklable.
        comm: an MPI communicator. None: ``MPI.COMM_WORLD`` if launched under
            mpiexec with more than one rank, else no MPI.
        task: ``(index, count)`` of a job-array slice; default from SLURM_ARRAY_TASK_ID
            and SLURM_ARRAY_TASK_COUNT when set.
        retry_failed: run points recorded as failed again.
        ranks_per_point: MPI ranks per point (default: the sweep file's, else 1).
        plots: write the default plots.
        show_progress: a live line on a terminal, a log line per point otherwise.

    Returns:
        The merged table (one row per point; also in ``DIR/results.csv``).

    Raises:
        CaseError: a problem in the sweep file or in any resolved point (nothing ran).
        SweepStopped: on SIGTERM/SIGINT (a SystemExit with code 128 + signal); the
            point under way is abandoned without a marker, results.csv is merged.
    """
    spec = path_or_spec if isinstance(path_or_spec, SweepSpec) else load_sweep(path_or_spec)
    out = Path(out)
    points = spec.points()  # every point validated before anything runs
    all_chains = chains(spec, points)
    task = task if task is not None else slurm_task()
    if task:
        all_chains = split_chains(all_chains, task[1])
    mine = task_slice(all_chains, *task) if task else all_chains
    comm = comm if comm is not None else _launched_comm()
    mpi = comm is not None and comm.size > 1
    if mpi:
        groups = comm.size // (ranks_per_point or spec.ranks_per_point)
        mine = split_chains(mine, groups)
    elif jobs > 1:
        mine = split_chains(mine, jobs)
    rank = comm.rank if mpi else 0
    if mpi and jobs > 1 and rank == 0:
        log.warning("under MPI, -j is ignored: the ranks split into groups of ranks_per_point")
    # chains with nothing left to run are not handed out (no idle worker start-up)
    keep = [any(_todo(p, out, retry_failed) for p in c) for c in mine] if rank == 0 else None
    keep = comm.bcast(keep, root=0) if mpi else keep
    mine = [c for c, k in zip(mine, keep or [], strict=True) if k]
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        _write_atomic(out / "sweep.json", json.dumps(_describe(spec, points), indent=1))
    if mpi:
        comm.Barrier()
    my_points = [p for c in mine for p in c]
    where = f" (array task {task[0]} of {task[1]})" if task else ""
    if rank == 0:
        log.info(
            "sweep %s: %d points in %d chains%s -> %s",
            spec.name,
            len(points),
            len(all_chains),
            where,
            out,
        )
    try:
        with _stop_on_signals():
            if mpi:
                _run_mpi(
                    spec, mine, out, runner, comm, retry_failed, ranks_per_point, show_progress
                )
            else:
                bar = _Progress(spec.name, my_points, out, show_progress)
                if jobs <= 1:
                    run = runner or _default_runner()
                    for chain in mine:
                        run_chain(chain, out, run, retry_failed=retry_failed, on_point=bar.point)
                else:
                    _run_pool(mine, out, runner, jobs, retry_failed, bar)
                bar.draw(final=True)
    except SweepStopped:
        if rank == 0:
            merge(spec, out, points)
            log.warning("sweep %s stopped by a signal: run it again to finish", spec.name)
        raise
    if mpi:
        comm.Barrier()
    table = merge(spec, out, points, write=rank == 0)
    counts = table["status"].value_counts().to_dict()
    if rank == 0:
        log.info("sweep %s: %s -> %s", spec.name, counts, out / "results.csv")
        if plots and counts.get(STATUS_DONE):
            try:
                default_plots(table, spec, out / "plots")
            except ImportError as err:  # matplotlib missing: the table is what matters
                log.warning("no plots: %s", err)
    return table


def _run_pool(
    mine: Sequence[list[Point]],
    out: Path,
    runner: Runner | None,
    jobs: int,
    retry_failed: bool,
    bar: _Progress,
) -> None:
    import multiprocessing as mp

    pool = ProcessPoolExecutor(
        max_workers=jobs, mp_context=mp.get_context("spawn"), initializer=_worker_init
    )
    pending: set[Future[list[tuple[int, str]]]] = set()
    try:
        pending = {pool.submit(_worker_chain, c, out, runner, retry_failed) for c in mine}
        while pending:
            finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for f in finished:
                exc = f.exception()
                if exc is not None:  # a crash (BrokenProcessPool) or e.g. an import error
                    log.error(
                        "a chain could not run in its worker: %s: %s (its points stay pending)",
                        type(exc).__name__,
                        exc,
                    )
            bar.scan()
    except BaseException:
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.terminate()  # abandon the points under way: they have no marker
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    bar.scan()


def _launched_comm() -> Any:
    """MPI.COMM_WORLD when launched under mpiexec with several ranks, else None."""
    sizes = (
        "PMI_SIZE",
        "OMPI_COMM_WORLD_SIZE",
        "PMIX_SIZE",
        "MPI_LOCALNRANKS",
        "SLURM_STEP_NUM_TASKS",
    )
    if not any(int(os.environ.get(v, "1") or 1) > 1 for v in sizes):
        return None
    from mpi4py import MPI

    return MPI.COMM_WORLD if MPI.COMM_WORLD.size > 1 else None


def _run_mpi(
    spec: SweepSpec,
    mine: Sequence[list[Point]],
    out: Path,
    runner: Runner | None,
    comm: Any,
    retry_failed: bool,
    ranks_per_point: int | None,
    show_progress: bool,
) -> None:
    """Split ``comm`` into groups of ``ranks_per_point`` ranks; each runs its chains."""
    rpp = ranks_per_point or spec.ranks_per_point
    if comm.size % rpp:
        raise ValueError(f"{comm.size} ranks do not divide into groups of {rpp} ranks per point")
    groups = comm.size // rpp
    color = comm.rank // rpp
    sub = comm.Split(color, comm.rank)
    try:
        run = runner or _default_runner()
        root = sub.rank == 0
        if comm.rank == 0:
            log.info("MPI: %d groups of %d ranks", groups, rpp)
        bar = _Progress(spec.name, [p for c in mine[color::groups] for p in c], out, root)
        bar.live = False
        for chain in mine[color::groups]:
            run_chain(
                chain,
                out,
                run,
                comm=sub,
                retry_failed=retry_failed,
                root=root,
                on_point=bar.point if root else None,
            )
    finally:
        sub.Free()


def _describe(spec: SweepSpec, points: Sequence[Point]) -> dict[str, Any]:
    return {
        "name": spec.name,
        "source": spec.source,
        "case": str(spec.case_path),
        "fixed": spec.fixed,
        "warm_axis": spec.warm_axis,
        "sampling": spec.sampling,
        "parameters": [
            {"key": p.key, "axis": p.axis, "unit": p.unit, "values": list(p.values)}
            for p in spec.parameters
        ],
        "points": [
            {"index": p.index, "hash": p.hash, "dir": f"points/{p.hash[:16]}"} for p in points
        ],
    }


# --------------------------------------------------------------------------- merging
def flatten_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Metric columns: ``"path [unit]"`` -> value for every ``{"value", "unit"}`` leaf.

    Scalar leaves without a unit (strings, booleans, counts) keep their bare path;
    lists are left out.
    """
    out: dict[str, Any] = {}
    for k, v in metrics.items():
        path = f"{prefix}{k}"
        if isinstance(v, Mapping):
            if "value" in v:
                unit = v.get("unit")
                val = v["value"]
                if isinstance(val, list | dict):
                    continue
                out[path if unit is None else f"{path} [{unit or '1'}]"] = val
            else:
                out.update(flatten_metrics(v, path + "."))
        elif isinstance(v, str | bool | int | float) or v is None:
            out[path] = v
    return out


def merge(
    path_or_spec: str | Path | Mapping[str, Any] | SweepSpec,
    out: str | Path,
    points: Sequence[Point] | None = None,
    write: bool = True,
) -> pd.DataFrame:
    """Merge the point directories into one table (and ``DIR/results.csv``).

    Safe to call at any time, from any task (e.g. a final job after a SLURM
    array): it only reads markers and metrics, and replaces ``results.csv``
    atomically.

    Returns:
        One row per point, in sweep order: ``point``, the swept values (units in
        the headers), ``sample`` for sampled sweeps, ``status``, ``error``,
        ``wall_time_s``, ``warm_started``, ``hash``, then every metric as
        ``path [unit]``. ``df.attrs["units"]`` maps columns to units.
    """
    spec = path_or_spec if isinstance(path_or_spec, SweepSpec) else load_sweep(path_or_spec)
    out = Path(out)
    points = list(points) if points is not None else spec.points()
    by_hash: dict[str, Point] = {}
    rows = []
    units: dict[str, str] = {}
    for p in points:
        first = by_hash.setdefault(p.hash, p)
        d = point_dir(out, first)
        row: dict[str, Any] = {"point": p.index}
        for par in spec.parameters:
            i = p.coords[par.axis]
            num = par.numbers[i] if par.numbers else None
            row[par.column] = num if num is not None else par.values[i]
            if par.unit is not None:
                units[par.column] = par.unit or "1"
        if SAMPLE_AXIS in p.coords:
            row["sample"] = p.coords[SAMPLE_AXIS]
        status = point_status(d)
        marker = _read_json(d / (DONE if status == STATUS_DONE else FAILED)) or {}
        row["status"] = status
        row["error"] = marker.get("error", "")
        row["wall_time_s"] = marker.get("wall_time_s", math.nan)
        row["warm_started"] = marker.get("warm_started")
        row["hash"] = p.hash[:16]
        if status == STATUS_DONE:
            metrics = _read_json(d / "metrics.json") or {}
            flat = flatten_metrics(metrics)
            row.update(flat)
        rows.append(row)
    df = pd.DataFrame(rows)
    for col in df.columns:
        if col.endswith("]") and " [" in col:
            units.setdefault(col, col.rsplit(" [", 1)[1][:-1])
    df.attrs["units"] = units
    if write:
        out.mkdir(parents=True, exist_ok=True)
        _write_atomic(out / "results.csv", df.to_csv(index=False))
        if any(p.sampled for p in spec.parameters):
            b = bands(df, spec)
            _write_atomic(out / "bands.csv", b.to_csv(index=False))
    return df


def collect(
    path_or_spec: str | Path | Mapping[str, Any] | SweepSpec, out: str | Path, plots: bool = True
) -> pd.DataFrame:
    """Merge ``DIR/results.csv`` (and bands) and draw the default plots, running nothing.

    For the end of a SLURM job array, or to look at a sweep still running.
    """
    spec = path_or_spec if isinstance(path_or_spec, SweepSpec) else load_sweep(path_or_spec)
    table = merge(spec, out)
    if plots and (table["status"] == STATUS_DONE).any():
        try:
            default_plots(table, spec, Path(out) / "plots")
        except ImportError as err:  # matplotlib missing: the table is what matters
            log.warning("no plots: %s", err)
    return table


def bands(df: pd.DataFrame, spec: SweepSpec) -> pd.DataFrame:
    """Spread of every numeric metric over the samples of a sampled sweep.

    Rows are grouped by the non-sampled swept values; for each group and metric:
    ``n`` (finished samples), ``mean``, ``std``, ``p05``, ``p50``, ``p95``.
    """
    fixed_cols = [p.column for p in spec.parameters if not p.sampled]
    skip = {"point", "sample", "status", "error", "wall_time_s", "warm_started", "hash"}
    sampled_cols = {p.column for p in spec.parameters if p.sampled}
    done = df[df["status"] == STATUS_DONE]
    metric_cols = [
        c
        for c in df.columns
        if c not in skip
        and c not in fixed_cols
        and pd.api.types.is_numeric_dtype(df[c])
        and not pd.api.types.is_bool_dtype(df[c])
    ]
    rows = []
    groups = done.groupby(fixed_cols, sort=False) if fixed_cols else [((), done)]
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        for c in metric_cols:
            vals = pd.to_numeric(g[c], errors="coerce").dropna()
            row: dict[str, Any] = dict(zip(fixed_cols, key, strict=True))
            row.update(
                quantity=c,
                kind="parameter" if c in sampled_cols else "metric",
                n=len(vals),
                mean=vals.mean() if len(vals) else math.nan,
                std=vals.std(ddof=1) if len(vals) > 1 else math.nan,
                p05=vals.quantile(0.05) if len(vals) else math.nan,
                p50=vals.quantile(0.50) if len(vals) else math.nan,
                p95=vals.quantile(0.95) if len(vals) else math.nan,
            )
            rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- plots
def find_column(df: pd.DataFrame, name: str) -> str:
    """The column for a metric or parameter path, with or without its ``[unit]``."""
    if name in df.columns:
        return name
    hits = [c for c in df.columns if c.split(" [", 1)[0] == name]
    if len(hits) != 1:
        raise KeyError(f"no column {name!r} in the table" if not hits else f"{name!r}: {hits}")
    return hits[0]


def plot(
    df: pd.DataFrame,
    metric: str | Sequence[str],
    parameter: str,
    path: str | Path | None = None,
    spec: SweepSpec | None = None,
    logy: bool = False,
    title: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> Any:
    """Plot metrics against a swept parameter; a line per value of the other swept keys.

    Rows of a sampled sweep are drawn as a median line and a 5-95 % band.

    Args:
        df: the merged table.
        metric: one or several metric paths (e.g. ``"species.urea.ratio_interior_exterior"``).
        parameter: the swept key on the x axis (e.g. ``"geometry.pore_diameter"``).
        path: write a PNG there (and close the figure); otherwise return the figure.
        spec: the sweep (to know which columns are swept); default: guessed.
        logy: logarithmic y axis.
        title: figure title.
        labels: legend names of the metrics (default: their paths).
    """
    from matplotlib.figure import Figure  # no pyplot: no backend switch, no global state

    metrics = [metric] if isinstance(metric, str) else list(metric)
    xcol = find_column(df, parameter)
    swept = [p.column for p in spec.parameters if not p.sampled] if spec else _swept_columns(df)
    others = [c for c in swept if c != xcol and df[c].nunique() > 1]
    banded = "sample" in df.columns and xcol in swept
    done = df[df["status"] == STATUS_DONE]
    combos = list(done.groupby(others, sort=False)) if others else [((), done)]
    facets = len(metrics) > 1 and len(combos) > 1  # a panel per value of the other keys
    if facets and len(combos) > MAX_PANELS:
        pick = np.linspace(0, len(combos) - 1, MAX_PANELS).round().astype(int)
        combos = [combos[i] for i in sorted(set(pick))]
    panels = len(combos) if facets else 1
    ncols = min(3, panels)
    nrows = -(-panels // ncols)
    fig = Figure(figsize=(4.2 * ncols + 1.8, 3.3 * nrows + 0.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False))
    axes = axes.ravel()

    def describe(key: Any) -> str:
        key = key if isinstance(key, tuple) else (key,)
        return ", ".join(
            f"{c.split(' [')[0].split('.')[-1]}={v:g}" if isinstance(v, float) else f"{c}={v}"
            for c, v in zip(others, key, strict=True)
        )

    for k, (key, g) in enumerate(combos):
        ax = axes[k if facets else 0]
        if facets:
            ax.set_title(describe(key), fontsize=9)
        for i, m in enumerate(metrics):
            ycol = find_column(df, m)
            name = (labels or {}).get(m, m.split(" [")[0])
            label: str | None = name if len(metrics) > 1 else describe(key)
            if label is not None and not facets and len(metrics) > 1 and others:
                label += f" ({describe(key)})"
            style = {"color": f"C{i % 10}", "linestyle": ("-", "--", ":")[i // 10 % 3]}
            if not (facets or len(metrics) == 1):
                style = {}
            if k and facets:
                label = None  # one legend entry per metric
            if banded:  # a sampled sweep: median and 5-95 % band over the samples
                q = g.groupby(xcol)[ycol].quantile([0.05, 0.5, 0.95]).unstack()
                ax.fill_between(q.index, q[0.05], q[0.95], alpha=0.25, **style)
                ax.plot(q.index, q[0.5], marker="o", ms=3, label=label or None, **style)
            elif "sample" in df.columns:  # x is itself sampled: a scatter
                ax.scatter(g[xcol], g[ycol], s=8, label=label or None, **style)
            else:
                srt = g.sort_values(xcol)
                ax.plot(srt[xcol], srt[ycol], marker="o", ms=3, label=label or None, **style)
    ylabel = find_column(df, metrics[0]) if len(metrics) == 1 else _common_unit(df, metrics)
    for ax in axes[:panels]:
        ax.set_xlabel(xcol, fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        if logy:
            ax.set_yscale("log")
    for ax in axes[panels:]:
        ax.set_visible(False)
    handles, names = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, names, loc="outside right upper", fontsize=7)
    if title:
        fig.suptitle(title)
    if path is None:
        return fig
    fig.savefig(path, dpi=120)
    return Path(path)


def _swept_columns(df: pd.DataFrame) -> list[str]:
    """Columns between ``point`` and ``status`` (the swept values), without ``sample``."""
    cols = list(df.columns)
    end = cols.index("status") if "status" in cols else 0
    return [c for c in cols[1:end] if c != "sample"]


def _common_unit(df: pd.DataFrame, metrics: Sequence[str]) -> str:
    units = {find_column(df, m).rsplit(" [", 1)[-1].rstrip("]") for m in metrics}
    return f"[{units.pop()}]" if len(units) == 1 else ""


MAX_PANELS = 6

DEFAULT_PLOTS: tuple[tuple[str, str, str, bool], ...] = (
    # file stem, x parameter, metric pattern (prefix.*.suffix), log y
    ("ratio-vs-pore-diameter", "geometry.pore_diameter", "species.*.ratio_interior_exterior", True),
    ("production-vs-pore-diameter", "geometry.pore_diameter", "products.*.production_mol_s", True),
    ("fe-vs-potential", "electrode.potential", "products.*.faradaic_efficiency", False),
)


def default_plots(df: pd.DataFrame, spec: SweepSpec, out: str | Path) -> list[Path]:
    """The plots users want first, for the parameters this sweep varies.

    C_I/C_E per species and production rates versus pore size; faradaic
    efficiency of every product, and the partial current density of the first
    declared product, versus potential. Nothing for what was not swept.
    """
    out = Path(out)
    swept = {p.key for p in spec.parameters if not p.sampled}
    written = []
    for stem, x, pattern, logy in DEFAULT_PLOTS:
        if x not in swept:
            continue
        head, tail = pattern.split("*")
        cols = [
            c
            for c in df.columns
            if c.startswith(head)
            and c.split(" [")[0].endswith(tail.rstrip("."))
            and pd.api.types.is_numeric_dtype(df[c])
        ]
        if not cols:
            continue
        out.mkdir(parents=True, exist_ok=True)
        positive = all((df[c].dropna() > 0).all() for c in cols)
        names = {c: c.split(" [")[0][len(head) :].removesuffix(tail) for c in cols}
        ylabel = f"{tail.strip('.')} [{cols[0].rsplit(' [', 1)[-1]}" if " [" in cols[0] else tail
        path = out / f"{stem}.png"
        plot(df, cols, x, path, spec=spec, logy=logy and positive, title=ylabel, labels=names)
        written.append(path)
    if "electrode.potential" in swept:
        partial = partial_current_plot(df, spec, out)
        if partial is not None:
            written.append(partial)
    return written


def partial_current_plot(df: pd.DataFrame, spec: SweepSpec, out: str | Path) -> Path | None:
    """Partial current density of the first declared product against potential.

    ``products.<first>.partial_current_density_A_per_m2`` (the product's current
    per electrode area), drawn in mA/cm^2 as measurements are reported, one line
    per value of the other swept keys (e.g. per pore size).

    Returns:
        ``partial-current-density-vs-potential.png``, or None when the table has
        no partial current density (no product, or no electrode loading).
    """
    suffix = ".partial_current_density_A_per_m2"
    cols = [
        c for c in df.columns if c.startswith("products.") and c.split(" [")[0].endswith(suffix)
    ]
    if not cols:
        return None
    name = cols[0].split(" [")[0].removeprefix("products.").removesuffix(suffix)
    column = f"products.{name}.partial_current_density [mA/cm^2]"
    j = pd.to_numeric(df[cols[0]], errors="coerce")
    table = df.assign(**{column: j * 0.1})  # 1 A/m^2 = 0.1 mA/cm^2
    if not table.loc[table["status"] == STATUS_DONE, column].notna().any():
        return None
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "partial-current-density-vs-potential.png"
    plot(
        table,
        column,
        "electrode.potential",
        path,
        spec=spec,
        title=f"{name} partial current density",
    )
    return path
