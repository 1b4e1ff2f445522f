"""Cold start: a first run with empty form-JIT and mesh caches, then the same run warm (issue #24).

Two runs, each as a fresh process (`python -m confine ...`, start-up included):

* ``pore-sweep``: ``confine sweep cases/pore-sweep.toml`` (15 points, 3 pore
  sizes × 5 potentials, axisymmetric cell);
* ``sector``: ``confine run cases/mchs-7nm.toml --set geometry.model=sector-3d``
  (the urea network on the 3D sector).

"Cold" is an empty FFCx/dolfinx JIT cache (``$XDG_CACHE_HOME/fenics``: the
variable points at a fresh directory) and an empty mesh cache
(``$CONFINE_MESH_CACHE``, fresh too); "warm" repeats the run with both caches as
the cold run left them. Each row has the wall time, the CPU time of the
process, the JIT modules the cold run compiled (forms and expressions: the
``.so`` files in the cache) and, for the sector, the run's phases from
metrics.json. Other processes share the cores: the 1-minute load average is
recorded around each run.

Run: ``python benchmarks/bench_cold_start.py [--only pore-sweep|sector] [--out FILE]``
(default FILE: ``benchmarks/records/cold-start.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from confine.env import git_revision, versions

ROOT = Path(__file__).resolve().parent.parent
RECORD = ROOT / "benchmarks" / "records" / "cold-start.json"

#: name -> confine arguments (``--out`` is added)
RUNS: dict[str, list[str]] = {
    "pore-sweep": ["sweep", str(ROOT / "cases" / "pore-sweep.toml")],
    "sector": ["run", str(ROOT / "cases" / "mchs-7nm.toml"), "--set", "geometry.model=sector-3d"],
}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _once(args: list[str], env: dict[str, str], work: Path, out: Path) -> dict[str, Any]:
    """One run as a fresh process: wall and CPU seconds, load average around it."""
    load = os.getloadavg()[0]
    cpu0, t0 = _children_cpu(), time.perf_counter()
    res = subprocess.run(
        [sys.executable, "-m", "confine", *args, "--out", str(out)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    if res.returncode != 0:
        raise RuntimeError(f"confine {' '.join(args)} failed:\n{res.stdout}\n{res.stderr}")
    row: dict[str, Any] = {"wall_s": wall, "cpu_s": cpu}
    row["load_average_1min"] = {"before": load, "after": os.getloadavg()[0]}
    metrics = out / "metrics.json"
    if metrics.exists():
        timings = json.loads(metrics.read_text()).get("timings", {})
        row["phases_s"] = {k: v["value"] for k, v in timings.items()}
    return row


def measure(name: str) -> dict[str, Any]:
    """The cold and then the warm run of one entry of :data:`RUNS`."""
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        env = dict(os.environ)
        env["XDG_CACHE_HOME"] = str(base / "xdg")  # dolfinx's JIT cache: <it>/fenics
        env["CONFINE_MESH_CACHE"] = str(base / "meshes")
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(":")
        cold = _once(RUNS[name], env, base, base / "cold")
        jit = base / "xdg" / "fenics"
        cold["jit_modules_compiled"] = len(list(jit.glob("*.so"))) if jit.is_dir() else 0
        warm = _once(RUNS[name], env, base, base / "warm")
    return {"command": "confine " + " ".join(RUNS[name]), "cold": cold, "warm": warm}


def main() -> None:
    """Measure and write the record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(RUNS), action="append")
    parser.add_argument("--out", type=Path, default=RECORD)
    args = parser.parse_args()
    record: dict[str, Any] = {
        "benchmark": "cold-start",
        "runs": {name: measure(name) for name in (args.only or list(RUNS))},
        "versions": versions() | {"git": git_revision()},
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpus": os.cpu_count(),
        },
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    for name, run in record["runs"].items():
        c, w = run["cold"], run["warm"]
        print(
            f"{name}: cold {c['wall_s']:.1f} s ({c['jit_modules_compiled']} JIT modules), "
            f"warm {w['wall_s']:.1f} s"
        )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
