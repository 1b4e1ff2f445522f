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
  resolution alone, so the levels are not uniform halvings);
* ``sector-3d-urea``: cases/mchs-7nm.toml (the urea network, 13 fields + 2
  coverages, the iterative solver) on the 3D sector at the levels f = 0.5, 1,
  1.5, 2 of ``cross_fidelity.py`` (every target size ÷ f: ≈ 16k, 67k, 190k,
  364k unknowns).

Every point runs in its own process (``mpiexec -n R python scaling.py point ...``)
through :func:`confine.bench.run_benchmark`, so its record is a benchmark
record (phases, iterations, unknowns, peak memory, the Poisson reference on
the same mesh, versions, machine). The study record adds, per problem:

* ``refinement``: time per Newton step and its ratio to the Poisson solve per
  level, and the exponent b fitted to ``t_newton_step ∝ dofs^b`` (least squares in
  log-log) over all levels and over the finest three;
* ``strong``: time per Newton step (and Newton phase) at 1..N ranks on one
  level, speed-up and parallel efficiency ``T1 / (R * TR)``, each phase's
  speed-up (mesh, set-up, Newton, metrics, output, the whole run), the peak
  memory of every rank, and ``agreement``: the largest relative difference of
  each checked metric from the 1-rank run (the answer must not depend on the
  rank count; Newton and GMRES iterations may);
* ``weak``: growing sectors (``geometry.sector_rings`` 0, 1, 2 ...: 1, 7, 19
  pores) on proportionally many ranks (``--ranks-per-pore``), so the unknowns
  per rank stay put: time per Newton step and weak efficiency ``T1 / TR``.

Every row records the load average before and after its point (``load_1min``):
on a shared machine a time is only worth comparing at equal load. Ranks above
the cores are oversubscribed (MPICH's hydra allows it; Open MPI needs
``MPIEXEC="mpiexec --oversubscribe"``): such rows prove correctness and memory
per rank, not speed (``oversubscribed`` says which).

``--whole`` times the whole run of a user: a fresh mesh cache (gmsh on rank 0
and the XDMF write/read are in the ``mesh`` phase), the case's own output
(fields; figures off: they are serial matplotlib) in the ``output`` phase.
Form compilation stays warm (the JIT cache), as in production.

Usage::

    python benchmarks/scaling.py refine --problem sector-3d [--levels 0 1 2 3]
    python benchmarks/scaling.py strong --problem axisymmetric-urea --level 3 --ranks 1 2
    python benchmarks/scaling.py all --out benchmarks/records/scaling.json
    python benchmarks/scaling.py strong --problem sector-3d-urea --level 0 --ranks 1 2 4 8 \
        --whole --out benchmarks/records/scaling-sector-3d-urea-strong.json
    python benchmarks/scaling.py weak --problem sector-3d-urea --level 0 --rings 0 1 \
        --out benchmarks/records/scaling-sector-3d-urea-weak.json

Set ``MPIEXEC`` (default: mpiexec beside this Python, else on PATH) to srun
on a cluster, e.g. ``MPIEXEC="srun --cpu-bind=cores"``.
"""

from __future__ import annotations

import argparse
import json
import math
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
sys.path.insert(0, str(ROOT / "benchmarks"))

from cross_fidelity import level_overrides  # noqa: E402

RECORDS = ROOT / "benchmarks" / "records"
FIRST_ORDER = ROOT / "cases" / "first-order-shell.toml"
UREA = ROOT / "cases" / "mchs-7nm.toml"
NO_OUTPUT = {"output.fields": "false", "output.figures": "false"}
#: Metrics compared across rank counts (relative difference from the 1-rank run).
AGREEMENT_METRICS = {
    FIRST_ORDER: (
        "species.A.ratio_interior_exterior",
        "species.A.flux_into_cavity_mol_s",
        "reactions.consume.rate_mol_s",
    ),
    UREA: (
        "current_A",
        "products.urea.production_mol_s",
        "products.urea.faradaic_efficiency",
        "products.H2.faradaic_efficiency",
        "species.urea.ratio_interior_exterior",
        "species.CO2.ratio_interior_exterior",
    ),
}
#: Phases of a run's record, in order (``setup_compile`` + ``newton`` = ``solve``).
PHASES = ("mesh", "setup_compile", "newton", "metrics", "output")

#: problem -> (case file, fixed overrides, per level: overrides, or a level factor f
#: resolved by ``cross_fidelity.level_overrides``).
PROBLEMS: dict[str, tuple[Path, dict[str, str], list[dict[str, str] | float]]] = {
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
    "sector-3d-urea": (
        UREA,
        {"geometry.model": "sector-3d", **NO_OUTPUT},
        [0.5, 1.0, 1.5, 2.0],
    ),
}


def mpiexec() -> list[str]:
    """The MPI launcher: $MPIEXEC, else mpiexec beside this Python, else on PATH."""
    if os.environ.get("MPIEXEC"):
        return shlex.split(os.environ["MPIEXEC"])
    beside = Path(sys.executable).parent / "mpiexec"
    return [str(beside) if beside.exists() else shutil.which("mpiexec") or "mpiexec"]


def level_sets(problem: str, level: int, whole: bool = False, rings: int = 0) -> dict[str, str]:
    """The overrides of one point: the problem's fixed ones, its level's, the sector's rings.

    ``whole`` keeps the case's own field output (figures off: serial matplotlib).
    """
    from confine.case import load_case

    case, fixed, levels = PROBLEMS[problem]
    sets = dict(fixed)
    if whole:
        sets = {k: v for k, v in sets.items() if k not in NO_OUTPUT} | {"output.figures": "false"}
    if rings:
        sets["geometry.sector_rings"] = str(rings)
    spec = levels[level]
    if isinstance(spec, float):
        return sets | level_overrides(load_case(case, set=sets), spec)
    return sets | spec


def point(problem: str, level: int, out: Path, whole: bool = False, rings: int = 0) -> None:
    """Run one point in this process (under mpiexec) and write its benchmark record.

    The record adds the level, the rings, every rank's peak memory and the
    checked metrics' values (``check``) the agreement across rank counts is read from.
    """
    from confine.bench import PHYSICS as TOLERANCE
    from confine.bench import Benchmark, peak_rss_mb, run_benchmark

    case = PROBLEMS[problem][0]
    bench = Benchmark(
        name=f"scaling-{problem}-L{level}" + (f"-rings{rings}" if rings else ""),
        case=case,
        overrides=level_sets(problem, level, whole, rings),
        metrics=dict.fromkeys(AGREEMENT_METRICS[case], TOLERANCE),
        output=whole,
    )
    record = run_benchmark(bench)
    record["level"] = level
    record["sector_rings"] = rings
    from mpi4py import MPI

    record["peak_rss_mb_per_rank"] = MPI.COMM_WORLD.gather(peak_rss_mb(), root=0)
    if MPI.COMM_WORLD.rank == 0:
        out.write_text(json.dumps(record, indent=1, default=str) + "\n", encoding="utf-8")


def run_point(
    problem: str,
    level: int,
    ranks: int,
    timeout: float,
    whole: bool = False,
    rings: int = 0,
) -> dict[str, Any]:
    """Run one point in a fresh process on ``ranks`` ranks; its record.

    ``whole``: a fresh mesh cache (the mesh is built in the run) and the case's output.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "point.json"
        cmd = [*mpiexec(), "-n", str(ranks), sys.executable, __file__, "point"]
        cmd += ["--problem", problem, "--level", str(level), "--json", str(out)]
        cmd += ["--rings", str(rings)] + (["--whole"] if whole else [])
        env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
        env.setdefault("OMP_NUM_THREADS", "1")
        if whole:
            env["CONFINE_MESH_CACHE"] = str(Path(tmp) / "meshes")
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        if res.returncode != 0 or not out.exists():
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{res.stderr[-3000:]}")
        record: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    record["process_wall_s"] = time.perf_counter() - t0
    record["load_1min"] = {"before": load, "after": os.getloadavg()[0]}
    record["cores"] = len(os.sched_getaffinity(0))
    return record


def fit_exponent(dofs: list[float], times: list[float]) -> float | None:
    """Exponent b of ``time ∝ dofs^b`` (least squares in log-log); None below two points."""
    if len(dofs) < 2:
        return None
    return float(np.polyfit(np.log(dofs), np.log(times), 1)[0])


def _row(rec: dict[str, Any]) -> dict[str, Any]:
    phases = rec["phases"]
    row = {
        "level": rec["level"],
        "overrides": rec["overrides"],
        "ranks": rec["mpi_ranks"],
        "cells": rec["mesh"]["cells"],
        "dofs": rec["mesh"]["dofs"],
        "fields": rec["mesh"]["fields"],
        "linear_solver": rec["solver"]["kind"],
        "newton_iterations": rec["solver"]["newton_iterations"],
        "linear_iterations": rec["solver"]["linear_iterations"],
        "time_per_newton_s": rec["solver"]["time_per_newton_s"],
        "newton_wall_s": phases["newton"]["wall_s"],
        "assembly_per_newton_s": rec["per_newton_step"]["assembly_s"],
        "linear_solve_per_newton_s": rec["per_newton_step"]["linear_solve_s"],
        "poisson_s": rec["poisson_reference"]["wall_s"],
        "newton_step_over_poisson": rec["ratios"]["newton_step_over_poisson"],
        "newton_step_over_poisson_per_field": rec["ratios"]["newton_step_over_poisson_per_field"],
        "peak_rss_mb": rec["peak_rss_mb"],
        "phases_wall_s": {k: phases[k]["wall_s"] for k in PHASES if k in phases},
        "run_wall_s": rec["total"]["wall_s"],
        "git": rec.get("git"),
    }
    for key in ("sector_rings", "peak_rss_mb_per_rank", "load_1min", "cores"):
        if key in rec:
            row[key] = rec[key]
    if "cores" in rec:
        row["oversubscribed"] = rec["mpi_ranks"] > rec["cores"]
    row["metrics"] = {
        k: v["value"] for k, v in rec.get("check", {}).items() if not k.startswith("performance.")
    }
    return row


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


def agreement(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Largest relative difference of each checked metric from the first row's (1 rank)."""
    ref = rows[0]["metrics"]
    out: dict[str, Any] = {}
    for key, v0 in ref.items():
        diffs = [
            abs(r["metrics"][key] - v0) / max(abs(v0), 1e-300)
            for r in rows[1:]
            if isinstance(r["metrics"].get(key), int | float) and isinstance(v0, int | float)
        ]
        out[key] = max(diffs, default=0.0)
    out["max"] = max((v for v in out.values()), default=0.0)
    return out


def _speedups(rows: list[dict[str, Any]]) -> None:
    """Speed-up of every phase and of the whole run against the first row, in place."""
    base = rows[0]
    for r in rows:
        r["phase_speedup"] = {
            k: base["phases_wall_s"][k] / v
            for k, v in r["phases_wall_s"].items()
            if v and k in base["phases_wall_s"]
        }
        r["run_speedup"] = base["run_wall_s"] / r["run_wall_s"]


def strong(
    problem: str,
    level: int,
    ranks: list[int],
    timeout: float,
    known: dict[int, dict[str, Any]] | None = None,
    whole: bool = False,
) -> dict[str, Any]:
    """Time per Newton step on each rank count at one level: speed-up and efficiency.

    ``known`` holds point records already made on this level, by rank count.
    """
    known = known or {}
    rows = []
    for n in ranks:
        rows.append(_row(known[n] if n in known else run_point(problem, level, n, timeout, whole)))
        r = rows[-1]
        print(
            f"{problem:18s} L{level} ranks={r['ranks']} dofs={r['dofs']:8d} "
            f"newton={r['newton_iterations']:3d} t/newton={r['time_per_newton_s']:8.4f}s "
            f"run={r['run_wall_s']:7.1f}s "
            f"peak/rank={max(r.get('peak_rss_mb_per_rank') or [0]):6.0f}MB "
            f"load={r.get('load_1min', {}).get('before', float('nan')):.2f}",
            flush=True,
        )
    t1 = rows[0]["time_per_newton_s"] * rows[0]["ranks"]
    for r in rows:
        r["speedup"] = t1 / r["time_per_newton_s"]
        r["parallel_efficiency"] = r["speedup"] / r["ranks"]
        r["newton_phase_speedup"] = rows[0]["newton_wall_s"] / r["newton_wall_s"]
    _speedups(rows)
    return {
        "problem": problem,
        "level": level,
        "whole_run": whole,
        "rows": rows,
        "agreement": agreement(rows),
    }


def pores_in_sector(rings: int) -> int:
    """Pores of a hexagon and its ``rings`` rings of neighbours."""
    return 3 * rings * (rings + 1) + 1


def weak(
    problem: str, level: int, rings: list[int], per_pore: float, timeout: float
) -> dict[str, Any]:
    """Growing sectors on proportionally many ranks: time per Newton step and weak efficiency."""
    rows = []
    for k in rings:
        ranks = max(1, math.ceil(per_pore * pores_in_sector(k) - 1e-9))
        rows.append(_row(run_point(problem, level, ranks, timeout, rings=k)))
        r = rows[-1]
        r["pores_in_cell"] = pores_in_sector(k)
        r["dofs_per_rank"] = r["dofs"] / r["ranks"]
        print(
            f"{problem:18s} L{level} rings={k} ranks={ranks} dofs={r['dofs']:8d} "
            f"newton={r['newton_iterations']:3d} t/newton={r['time_per_newton_s']:8.4f}s "
            f"peak/rank={max(r.get('peak_rss_mb_per_rank') or [0]):6.0f}MB",
            flush=True,
        )
    for r in rows:
        r["weak_efficiency"] = rows[0]["time_per_newton_s"] / r["time_per_newton_s"]
        r["weak_efficiency_newton_phase"] = rows[0]["newton_wall_s"] / r["newton_wall_s"]
    _speedups(rows)
    return {"problem": problem, "level": level, "ranks_per_pore": per_pore, "rows": rows}


def main() -> None:
    """Command line: point | refine | strong | weak | all."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("point", "refine", "strong", "weak", "all"))
    ap.add_argument("--problem", choices=tuple(PROBLEMS), action="append")
    ap.add_argument("--level", type=int, default=None, help="point/strong/weak: the level")
    ap.add_argument("--levels", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rings", type=int, nargs="+", default=[0, 1], help="weak: sector rings")
    ap.add_argument("--ranks-per-pore", type=float, default=1.0, help="weak: ranks per pore")
    ap.add_argument("--whole", action="store_true", help="strong: fresh mesh cache, output on")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per point")
    ap.add_argument("--json", type=Path, help="point: where to write its record")
    ap.add_argument("--out", type=Path, help="write the study record here")
    args = ap.parse_args()
    problems = args.problem or list(PROBLEMS)
    if args.mode == "point":
        point(problems[0], args.level or 0, args.json, args.whole, args.rings[0])
        return
    study: dict[str, Any] = {
        "benchmark": "scaling",
        "command": " ".join(["python", "benchmarks/scaling.py", *sys.argv[1:]]),
        "mpiexec": mpiexec(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cores": len(os.sched_getaffinity(0)),
        "refinement": [],
        "strong": [],
        "weak": [],
    }
    if args.mode in ("refine", "all"):
        study["refinement"] = [refine(p, args.levels, args.timeout) for p in problems]
    if args.mode in ("strong", "all"):
        level = args.level if args.level is not None else max(args.levels)
        done: dict[str, dict[int, dict[str, Any]]] = {}
        for b in study["refinement"]:
            for rec in b.pop("records"):
                if rec["level"] == level and not args.whole:
                    done[b["problem"]] = {1: rec}
        study["strong"] = [
            strong(p, level, args.ranks, args.timeout, done.get(p), args.whole) for p in problems
        ]
    if args.mode == "weak":
        level = args.level or 0
        study["weak"] = [
            weak(p, level, args.rings, args.ranks_per_pore, args.timeout) for p in problems
        ]
    for block in study["refinement"]:
        block.pop("records", None)
    for block in study["refinement"]:
        print(
            f"exponent {block['problem']}: {block['exponent_time_per_newton_vs_dofs']:.3f} "
            f"(finest three: {block['exponent_finest_three']})"
        )
    rows = [r for k in ("strong", "weak") for b in study[k] for r in b["rows"]]
    study["git"] = next((r["git"] for r in rows if r.get("git")), None)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(study, indent=1, default=str) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
