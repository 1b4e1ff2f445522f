"""Which points of a sweep run together, and where: warm-start chains and their split.

A chain is a run of points along the warm-start axis, run in order in one
process, each warm-started from the last converged one. Chains are the unit of
work: split over worker processes, MPI rank groups, or SLURM array tasks
(deterministically, so every task computes the same split).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from confine.sweep_spec import Point, SweepSpec


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
