"""Scaling study: time per Newton step versus unknowns, and strong scaling over MPI ranks.

Problems (``--problem``), each with its mesh levels (coarse to fine):

* ``axisymmetric``: cases/first-order-shell.toml on the axisymmetric cell,
  ``mesh.refine`` 0..3 (each level halves every cell size);
* ``axisymmetric-urea``: cases/mchs-7nm.toml (15 fields) on the axisymmetric
  cell: the shipped mesh, refine 1, refine 1 with growth 1.15, refine 2 (the
  pore resolution alone hardly changes the cell count);
* ``sector-3d``: cases/first-order-shell.toml on the 3D sector: the shipped
  mesh, 8 cells per pore diameter with growth 1.12, refine 1, refine 2
  (≈ 9k, 12k, 45k, 260k unknowns; the cell count hardly moves with the pore
  resolution alone, so the levels are not uniform halvings).

Every point runs in its own process (``mpiexec -n R python scaling.py point ...``)
through :func:`confine.bench.run_benchmark`, so its record is a benchmark
record (phases, iterations, unknowns, peak memory, the Poisson reference on
the same mesh, versions, machine). The study record adds, per problem:

* ``refinement``: time per Newton step and its ratio to the Poisson solve per
  level, and the exponent b fitted to ``t_newton_step ∝ dofs^b`` (least squares in
  log-log) over all levels and over the finest three;
* ``strong``: time per Newton step (and Newton phase) at 1..N ranks on one
  level, speed-up and parallel efficiency ``T1 / (R * TR)``.

Usage::

    python benchmarks/scaling.py refine --problem sector-3d [--levels 0 1 2 3]
    python benchmarks/scaling.py strong --problem axisymmetric-urea --level 3 --ranks 1 2
    python benchmarks/scaling.py all --out benchmarks/records/scaling.json

Set ``MPIEXEC`` (default: mpiexec beside this Python, else on PATH) to srun
on a cluster, e.g. ``MPIEXEC="srun --cpu-bind=cores"``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RECORDS = ROOT / "benchmarks" / "records"
FIRST_ORDER = ROOT / "cases" / "first-order-shell.toml"
UREA = ROOT / "cases" / "mchs-7nm.toml"

#: problem -> (case file, fixed overrides, overrides per level).
PROBLEMS: dict[str, tuple[Path, dict[str, str], list[dict[str, str]]]] = {
    "axisymmetric": (
        FIRST_ORDER,
        {"output.fields": "false", "output.figures": "false"},
        [{"mesh.refine": str(k)} for k in range(4)],
    ),
    "axisymmetric-urea": (
        UREA,
        {"output.fields": "false", "output.figures": "false"},
        [
            {},
            {"mesh.refine": "1"},
            {"mesh.refine": "1", "mesh.growth": "1.15"},
            {"mesh.refine": "2"},
        ],
    ),
    "sector-3d": (
        FIRST_ORDER,
        {"geometry.model": "sector-3d", "output.fields": "false", "output.figures": "false"},
        [
            {},
            {"mesh.cells_per_pore_diameter": "8", "mesh.growth": "1.12"},
            {"mesh.refine": "1"},
            {"mesh.refine": "2"},
        ],
    ),
}


def mpiexec() -> list[str]:
    """The MPI launcher: $MPIEXEC, else mpiexec beside this Python, else on PATH."""
    if os.environ.get("MPIEXEC"):
        return shlex.split(os.environ["MPIEXEC"])
    beside = Path(sys.executable).parent / "mpiexec"
    return [str(beside) if beside.exists() else shutil.which("mpiexec") or "mpiexec"]


def point(problem: str, level: int, out: Path) -> None:
    """Run one point in this process (under mpiexec) and write its benchmark record."""
    from confine.bench import Benchmark, run_benchmark

    case, fixed, levels = PROBLEMS[problem]
    bench = Benchmark(
        name=f"scaling-{problem}-L{level}",
        case=case,
        overrides=fixed | levels[level],
        output=False,
    )
    record = run_benchmark(bench)
    record["level"] = level
    from mpi4py import MPI

    if MPI.COMM_WORLD.rank == 0:
        out.write_text(json.dumps(record, indent=1, default=str) + "\n", encoding="utf-8")


def run_point(problem: str, level: int, ranks: int, timeout: float) -> dict[str, Any]:
    """Run one point in a fresh process on ``ranks`` ranks; its record."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "point.json"
        cmd = [*mpiexec(), "-n", str(ranks), sys.executable, __file__, "point"]
        cmd += ["--problem", problem, "--level", str(level), "--json", str(out)]
        env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
        env.setdefault("OMP_NUM_THREADS", "1")
        t0 = time.perf_counter()
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        if res.returncode != 0 or not out.exists():
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{res.stderr[-3000:]}")
        record: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    record["process_wall_s"] = time.perf_counter() - t0
    return record


def fit_exponent(dofs: list[float], times: list[float]) -> float | None:
    """Exponent b of ``time ∝ dofs^b`` (least squares in log-log); None below two points."""
    if len(dofs) < 2:
        return None
    return float(np.polyfit(np.log(dofs), np.log(times), 1)[0])


def _row(rec: dict[str, Any]) -> dict[str, Any]:
    return {
        "level": rec["level"],
        "overrides": rec["overrides"],
        "ranks": rec["mpi_ranks"],
        "cells": rec["mesh"]["cells"],
        "dofs": rec["mesh"]["dofs"],
        "fields": rec["mesh"]["fields"],
        "linear_solver": rec["solver"]["kind"],
        "newton_iterations": rec["solver"]["newton_iterations"],
        "time_per_newton_s": rec["solver"]["time_per_newton_s"],
        "newton_wall_s": rec["phases"]["newton"]["wall_s"],
        "assembly_per_newton_s": rec["per_newton_step"]["assembly_s"],
        "linear_solve_per_newton_s": rec["per_newton_step"]["linear_solve_s"],
        "poisson_s": rec["poisson_reference"]["wall_s"],
        "newton_step_over_poisson": rec["ratios"]["newton_step_over_poisson"],
        "newton_step_over_poisson_per_field": rec["ratios"]["newton_step_over_poisson_per_field"],
        "peak_rss_mb": rec["peak_rss_mb"],
    }


def refine(problem: str, levels: list[int], timeout: float) -> dict[str, Any]:
    """Time per Newton step at each level (1 rank) and the fitted exponent.

    The block's ``records`` (dropped before writing) keep the full point records.
    """
    rows, records = [], []
    for level in levels:
        rec = run_point(problem, level, 1, timeout)
        records.append(rec)
        rows.append(_row(rec))
        r = rows[-1]
        print(
            f"{problem:18s} L{level} dofs={r['dofs']:8d} newton={r['newton_iterations']:3d} "
            f"t/newton={r['time_per_newton_s']:8.4f}s poisson={r['poisson_s']:8.4f}s "
            f"ratio={r['newton_step_over_poisson']:6.2f}",
            flush=True,
        )
    dofs = [float(r["dofs"]) for r in rows]
    times = [float(r["time_per_newton_s"]) for r in rows]
    return {
        "problem": problem,
        "rows": rows,
        "exponent_time_per_newton_vs_dofs": fit_exponent(dofs, times),
        "exponent_finest_three": fit_exponent(dofs[-3:], times[-3:]) if len(rows) > 3 else None,
        "exponent_poisson_vs_dofs": fit_exponent(dofs, [float(r["poisson_s"]) for r in rows]),
        "machine": records[-1]["machine"] if records else None,
        "versions": records[-1]["versions"] if records else None,
        "git": records[-1]["git"] if records else None,
        "records": records,
    }


def strong(
    problem: str,
    level: int,
    ranks: list[int],
    timeout: float,
    known: dict[int, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Time per Newton step on each rank count at one level: speed-up and efficiency.

    ``known`` holds point records already made on this level, by rank count.
    """
    known = known or {}
    rows = [_row(known[r] if r in known else run_point(problem, level, r, timeout)) for r in ranks]
    t1 = rows[0]["time_per_newton_s"] * rows[0]["ranks"]
    for r in rows:
        r["speedup"] = t1 / r["time_per_newton_s"]
        r["parallel_efficiency"] = r["speedup"] / r["ranks"]
        r["newton_phase_speedup"] = rows[0]["newton_wall_s"] / r["newton_wall_s"]
        print(
            f"{problem:18s} L{level} ranks={r['ranks']} dofs={r['dofs']:8d} "
            f"newton={r['newton_iterations']:3d} t/newton={r['time_per_newton_s']:8.4f}s "
            f"speed-up={r['speedup']:5.2f} efficiency={r['parallel_efficiency']:5.2f}",
            flush=True,
        )
    return {"problem": problem, "level": level, "rows": rows}


def main() -> None:
    """Command line: point | refine | strong | all."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("point", "refine", "strong", "all"))
    ap.add_argument("--problem", choices=tuple(PROBLEMS), action="append")
    ap.add_argument("--level", type=int, default=None, help="point/strong: the level")
    ap.add_argument("--levels", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per point")
    ap.add_argument("--json", type=Path, help="point: where to write its record")
    ap.add_argument("--out", type=Path, help="write the study record here")
    args = ap.parse_args()
    problems = args.problem or list(PROBLEMS)
    if args.mode == "point":
        point(problems[0], args.level or 0, args.json)
        return
    study: dict[str, Any] = {"benchmark": "scaling", "refinement": [], "strong": []}
    if args.mode in ("refine", "all"):
        study["refinement"] = [refine(p, args.levels, args.timeout) for p in problems]
    if args.mode in ("strong", "all"):
        level = args.level if args.level is not None else max(args.levels)
        done: dict[str, dict[int, dict[str, Any]]] = {}
        for b in study["refinement"]:
            for rec in b.pop("records"):
                if rec["level"] == level:
                    done[b["problem"]] = {1: rec}
        study["strong"] = [
            strong(p, level, args.ranks, args.timeout, done.get(p)) for p in problems
        ]
    for block in study["refinement"]:
        block.pop("records", None)
    for block in study["refinement"]:
        print(
            f"exponent {block['problem']}: {block['exponent_time_per_newton_vs_dofs']:.3f} "
            f"(finest three: {block['exponent_finest_three']})"
        )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(study, indent=1, default=str) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
