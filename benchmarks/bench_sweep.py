"""Sweep benchmark: the full pore-size study, 3 pore sizes x 5 potentials = 15 points.

Runs ``cases/pore-sweep.toml`` as shipped (axisymmetric cell, each pore size a
chain warm-started along the potential, no fields or figures per point, the
default plots at the end) into a fresh directory, with ``-j 1`` by default, and
records the wall time of the whole sweep and where it goes:

* ``startup``: importing confine, loading and validating the sweep file and
  every point case (timed separately, before the sweep; the sweep repeats it);
* per point, from each ``metrics.json``: ``mesh`` (generation into an empty
  mesh cache, or a cache load, or nothing when the warm start's mesh is reused),
  ``setup_compile`` (function spaces, form JIT compile or cache load, SNES
  set-up: the pipeline's solve time minus the solver's own), ``newton``
  (continuation and Newton), ``metrics``, and ``rest``: the point's wall time
  minus those (writing metrics.json, metrics.csv and case.toml; on the first
  point also importing dolfinx);
* ``sweep_overhead``: the sweep's wall time minus the points' (validating every
  point case, sweep.json, merging ``results.csv``, the default plots);
* ``plots``: the default plots alone, drawn again afterwards from the merged table.

The mesh cache (``meshes/`` under the working directory) is a fresh temporary
one, so the default measures a first run, every mesh built; ``--reuse-meshes``
runs in the repository root and uses its cache. ``--profile FILE``
writes a cProfile of the sweep (sorted by cumulative time) to FILE.

Run: ``python benchmarks/bench_sweep.py [--sweep FILE] [--jobs 1] [--out FILE]`` (default:
``cases/pore-sweep.toml`` into ``benchmarks/records/pore-sweep-15pt.json``; the study through
the electrode: ``--sweep cases/electrode/pore-sweep.toml --out
benchmarks/records/electrode-pore-sweep-15pt.json``).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import platform
import pstats
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SWEEP = ROOT / "cases" / "pore-sweep.toml"
RECORD = ROOT / "benchmarks" / "records" / "pore-sweep-15pt.json"
PHASES = ("mesh", "setup_compile", "newton", "metrics", "rest")


@contextlib.contextmanager
def _cwd(path: Path) -> Iterator[None]:
    """Run in ``path`` (the mesh cache is ``meshes/`` under the working directory)."""
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def point_phases(table: Any) -> dict[str, list[float]]:
    """Seconds per phase and point, from the timing columns of the merged table.

    ``rest`` is the point's wall time (its completion marker) minus the phases
    its metrics.json times (the output phase is timed after metrics.json is made).
    """
    from confine.sweep_table import find_column

    def col(name: str) -> list[float]:
        try:
            return [float(v) for v in table[find_column(table, name)].fillna(0.0)]
        except KeyError:
            return [0.0] * len(table)

    solve = col("timings.solve_s")
    newton = col("solver.wall_time_s")
    phases = {
        "mesh": col("timings.mesh_s"),
        "setup_compile": [s - n for s, n in zip(solve, newton, strict=True)],
        "newton": newton,
        "metrics": col("timings.metrics_s"),
    }
    wall = [float(v) for v in table["wall_time_s"]]
    phases["rest"] = [w - sum(p[i] for p in phases.values()) for i, w in enumerate(wall)]
    return phases


def jit_cache() -> dict[str, Any]:
    """The form JIT cache: its directory and how many files it holds.

    Every form a run creates is looked up there (a listing of the directory per
    form, even on a cache hit), so the metrics phase slows as the cache grows.
    """
    from confine.env import import_dolfinx

    import_dolfinx()  # the wheel's MPI libraries first
    from dolfinx import jit

    directory = Path(jit.get_options()["cache_dir"])
    files = sum(1 for _ in directory.iterdir()) if directory.is_dir() else 0
    return {"dir": str(directory), "files": files}


def main() -> None:
    """Run the sweep once and write the record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", type=Path, default=SWEEP)
    parser.add_argument("--jobs", "-j", type=int, default=1)
    parser.add_argument(
        "--reuse-meshes", action="store_true", help="use the repository's mesh cache"
    )
    parser.add_argument("--profile", type=Path, default=None, help="write a cProfile here")
    parser.add_argument("--out", type=Path, default=RECORD)
    args = parser.parse_args()
    sweep_file = args.sweep.resolve()

    load_before = os.getloadavg()
    t0 = time.perf_counter()
    import confine
    from confine.env import git_revision, versions
    from confine.sampling import load_sweep
    from confine.sweep_chains import chains
    from confine.sweep_plots import default_plots

    spec = load_sweep(sweep_file)
    points = spec.points()
    startup = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        work = ROOT if args.reuse_meshes else Path(tmp)
        out = Path(tmp) / "sweep"
        profiler = cProfile.Profile() if args.profile else None
        with _cwd(work):
            t1 = time.perf_counter()
            if profiler:
                profiler.enable()
            table = confine.sweep(sweep_file, out=out, jobs=args.jobs, show_progress=False)
            if profiler:
                profiler.disable()
            wall = time.perf_counter() - t1
        t2 = time.perf_counter()
        plots = default_plots(table, spec, Path(tmp) / "plots-again")
        plots_s = time.perf_counter() - t2
        built = None if args.reuse_meshes else len(list((work / "meshes").iterdir()))
    if profiler and args.profile:
        profiler.dump_stats(args.profile.with_suffix(".pstats"))
        buf = io.StringIO()
        pstats.Stats(profiler, stream=buf).sort_stats("cumulative").print_stats(60)
        args.profile.parent.mkdir(parents=True, exist_ok=True)
        args.profile.write_text(buf.getvalue())

    phases = point_phases(table)
    point_wall = [float(v) for v in table["wall_time_s"]]
    warm = table["warm_started"].astype(bool).tolist()
    first = [w for w, s in zip(point_wall, warm, strict=True) if not s]
    later = [w for w, s in zip(point_wall, warm, strict=True) if s]
    record: dict[str, Any] = {
        "benchmark": f"{spec.name}-{len(points)}pt",
        "sweep": str(sweep_file.relative_to(ROOT)) if sweep_file.is_relative_to(ROOT) else "",
        "jobs": args.jobs,
        "points": len(table),
        "chains": [len(c) for c in chains(spec, points)],
        "failed": int((table["status"] != "done").sum()),
        "meshes_built": built,
        "wall_s": wall,
        "startup_s": startup,
        "wall_with_startup_s": wall + startup,
        "under_a_minute": wall + startup < 60.0,
        "under_five_minutes": wall + startup < 300.0,
        "phases_s": {p: sum(v) for p, v in phases.items()}
        | {
            "points_total": sum(point_wall),
            "sweep_overhead": wall - sum(point_wall),
            "plots": plots_s,
        },
        "plots": [p.name for p in plots],
        "per_point": [
            {
                "point": int(row["point"]),
                "warm_started": bool(warm[i]),
                "wall_s": point_wall[i],
                **{p: phases[p][i] for p in PHASES},
                "newton_iterations": int(row.get("solver.newton_iterations", 0) or 0),
            }
            for i, row in table.iterrows()
        ],
        "first_point_mean_s": sum(first) / len(first) if first else None,
        "later_point_mean_s": sum(later) / len(later) if later else None,
        "versions": versions() | {"git": git_revision()},
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpus": os.cpu_count(),
            # other processes share the cores: the 1-minute load average around the run
            "load_average_1min": {"before": load_before[0], "after": os.getloadavg()[0]},
        },
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    record["jit_cache"] = jit_cache()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    short = {k: record[k] for k in ("points", "failed", "wall_s", "startup_s", "phases_s")}
    print(json.dumps(short, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
