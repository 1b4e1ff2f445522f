"""Sweeps: one run per point, resumable, parallel, cluster-safe (the scheduler).

Every point runs in its own directory (:mod:`confine.sweep_files`), its
completion marker written last. A point with a ``DONE`` marker is never run
again; a point with ``FAILED`` is recorded with its error and not retried
unless asked. A sweep killed at any moment (SIGTERM, SIGINT) restarts where it
stopped: a point without a marker is simply run again. Points along the
warm-start axis (a potential or a rate constant by default) form a chain run
in order in one process, each warm-started from the last converged solution.
The table and the plots come from :mod:`confine.sweep_table` and
:mod:`confine.sweep_plots` once the points are done.

Parallelism: ``jobs`` processes (chains are the unit of work), or MPI
sub-communicators of ``ranks_per_point`` ranks when launched under mpiexec,
and, on top of either, one slice of the chains per SLURM array task.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path
from typing import Any

import pandas as pd

from confine import atomic, progress
from confine.pipeline import run as pipeline_run
from confine.sampling import load_sweep
from confine.sweep_chains import chains, slurm_task, split_chains, task_slice
from confine.sweep_files import (
    DONE,
    FAILED,
    STATUS_DONE,
    STATUS_FAILED,
    STATUS_PENDING,
    point_dir,
    point_status,
    read_json,
)
from confine.sweep_plots import default_plots
from confine.sweep_spec import Point, SweepSpec
from confine.sweep_table import merge
from confine.worker_context import worker_pool

log = logging.getLogger("confine")

Runner = Callable[..., Any]
"""``runner(case, out=Path | None, comm=None, initial=None) -> Result``."""


class SweepStopped(SystemExit):
    """The sweep was stopped by a signal; finished points are kept, exit code 128 + signal."""

    def __init__(self, signum: int):
        super().__init__(128 + signum)
        self.signum = signum


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
        atomic.write_text(d / "case.toml", point.case.to_toml())
        atomic.write_text(d / "point.json", json.dumps(info, indent=1, default=str))
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
        atomic.write_text(d / "point.json", json.dumps(info, indent=1, default=str))
    if not (d / "case.toml").exists():
        atomic.write_text(d / "case.toml", point.case.to_toml())
    if error is not None:
        marker.update(status=STATUS_FAILED, error=error)
        atomic.write_text(d / FAILED, json.dumps(marker, indent=1))
        return STATUS_FAILED, None
    if not (d / "metrics.json").exists():
        atomic.write_text(d / "metrics.json", json.dumps(result.metrics, indent=1, default=str))
    marker["status"] = STATUS_DONE
    atomic.write_text(d / DONE, json.dumps(marker, indent=1))
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


def _worker_chain(
    chain: list[Point], out: Path, runner: Runner | None, retry_failed: bool
) -> list[tuple[int, str]]:
    return run_chain(chain, out, runner or pipeline_run, retry_failed=retry_failed)


# --------------------------------------------------------------------------- progress
class _Progress:
    """Points finished so far: a live line on a terminal, one log line per point otherwise."""

    def __init__(
        self, name: str, points: Sequence[Point], out: Path, show: bool, live: bool = True
    ):
        self.points, self.out, self.show = list(points), out, show
        self.known = {p.index: point_status(point_dir(out, p)) for p in self.points}
        already = sum(s != STATUS_PENDING for s in self.known.values())
        label = f"sweep {name}"
        self.tally = progress.Tally(label, len(self.points), already, live=show and live)

    def point(self, p: Point, status: str) -> None:
        """Record that a point finished (from this process or another)."""
        if self.known.get(p.index) == status:
            return
        self.known[p.index] = status
        n = sum(s != STATUS_PENDING for s in self.known.values())
        if status == STATUS_FAILED:
            err = read_json(point_dir(self.out, p) / FAILED) or {}
            self.tally.clear()  # the warning stands alone, the live line follows it
            log.warning("point %d failed: %s (%s)", p.index, err.get("error", "?"), p.label())
        elif not self.tally.live and self.show:
            done = sum(s == STATUS_DONE for s in self.known.values())
            text = self.tally.text(done, n - done)
            log.info("%s (point %d: %s)", text, p.index, p.label())
        self.draw()

    def scan(self) -> None:
        """Look at the markers of the points still pending (worker processes write them)."""
        for p in self.points:
            if self.known[p.index] == STATUS_PENDING:
                s = point_status(point_dir(self.out, p))
                if s != STATUS_PENDING:
                    self.point(p, s)
        self.draw()

    def draw(self, final: bool = False) -> None:
        """Redraw the live line."""
        done = sum(s == STATUS_DONE for s in self.known.values())
        failed = sum(s == STATUS_FAILED for s in self.known.values())
        self.tally.draw(done, failed, final)


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """Turn SIGTERM (and SIGINT) into :class:`SweepStopped` in the main thread."""

    def handler(signum: int, frame: Any) -> None:
        raise SweepStopped(signum)

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
    comm = comm if comm is not None else _launched_comm()
    mpi = comm is not None and comm.size > 1
    rank = comm.rank if mpi else 0
    world = comm if mpi else None
    mine = _my_chains(spec, all_chains, out, task, world, jobs, retry_failed, ranks_per_point)
    _announce(spec, points, all_chains, out, task, world)
    try:
        with _stop_on_signals():
            if mpi:
                _run_mpi(
                    spec, mine, out, runner, comm, retry_failed, ranks_per_point, show_progress
                )
            else:
                _run_local(spec, mine, out, runner, jobs, retry_failed, show_progress)
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
            _plots(table, spec, out)
    return table


def collect(
    path_or_spec: str | Path | Mapping[str, Any] | SweepSpec, out: str | Path, plots: bool = True
) -> pd.DataFrame:
    """Merge ``DIR/results.csv`` (and bands) and draw the default plots, running nothing.

    For the end of a SLURM job array, or to look at a sweep still running.
    """
    spec = path_or_spec if isinstance(path_or_spec, SweepSpec) else load_sweep(path_or_spec)
    table = merge(spec, out)
    if plots and (table["status"] == STATUS_DONE).any():
        _plots(table, spec, Path(out))
    return table


def _plots(table: pd.DataFrame, spec: SweepSpec, out: Path) -> None:
    try:
        default_plots(table, spec, out / "plots")
    except ImportError as err:  # matplotlib missing: the table is what matters
        log.warning("no plots: %s", err)


def _my_chains(
    spec: SweepSpec,
    all_chains: Sequence[list[Point]],
    out: Path,
    task: tuple[int, int] | None,
    comm: Any,
    jobs: int,
    retry_failed: bool,
    ranks_per_point: int | None,
) -> list[list[Point]]:
    """The chains this process (or MPI world) runs, split for its workers or rank groups.

    ``all_chains`` are already split for the job array, if any; ``comm`` is None
    outside MPI.

    Chains with nothing left to run are not handed out (no idle worker start-up).
    """
    mine = task_slice(all_chains, *task) if task else list(all_chains)
    if comm is not None:
        groups = comm.size // (ranks_per_point or spec.ranks_per_point)
        mine = split_chains(mine, groups)
    elif jobs > 1:
        mine = split_chains(mine, jobs)
    rank = comm.rank if comm is not None else 0
    if comm is not None and jobs > 1 and rank == 0:
        log.warning("under MPI, -j is ignored: the ranks split into groups of ranks_per_point")
    keep = [any(_todo(p, out, retry_failed) for p in c) for c in mine] if rank == 0 else None
    keep = comm.bcast(keep, root=0) if comm is not None else keep
    return [c for c, k in zip(mine, keep or [], strict=True) if k]


def _announce(
    spec: SweepSpec,
    points: Sequence[Point],
    all_chains: Sequence[list[Point]],
    out: Path,
    task: tuple[int, int] | None,
    comm: Any,
) -> None:
    """Write ``DIR/sweep.json`` (rank 0, before any rank runs) and log what will run."""
    rank = comm.rank if comm is not None else 0
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        atomic.write_text(out / "sweep.json", json.dumps(_describe(spec, points), indent=1))
    if comm is not None:
        comm.Barrier()
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


def _run_local(
    spec: SweepSpec,
    mine: Sequence[list[Point]],
    out: Path,
    runner: Runner | None,
    jobs: int,
    retry_failed: bool,
    show_progress: bool,
) -> None:
    """Run the chains in this process (``jobs`` <= 1) or in a pool of ``jobs`` processes."""
    bar = _Progress(spec.name, [p for c in mine for p in c], out, show_progress)
    if jobs <= 1:
        run = runner or pipeline_run
        for chain in mine:
            run_chain(chain, out, run, retry_failed=retry_failed, on_point=bar.point)
    else:
        _run_pool(mine, out, runner, jobs, retry_failed, bar)
    bar.draw(final=True)


def _run_pool(
    mine: Sequence[list[Point]],
    out: Path,
    runner: Runner | None,
    jobs: int,
    retry_failed: bool,
    bar: _Progress,
) -> None:
    # workers do not re-run the caller's script (no `if __name__ == "__main__"` needed),
    # unless they need a runner written in it
    pool = worker_pool(jobs, runner)
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
    from mpi4py import MPI  # lazy: importing it initialises MPI, only under mpiexec

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
        run = runner or pipeline_run
        root = sub.rank == 0
        if comm.rank == 0:
            log.info("MPI: %d groups of %d ranks", groups, rpp)
        bar = _Progress(
            spec.name, [p for c in mine[color::groups] for p in c], out, root, live=False
        )
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
            {"index": p.index, "hash": p.hash, "dir": str(point_dir(Path(), p))} for p in points
        ],
    }
