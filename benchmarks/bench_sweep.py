"""Sweep benchmark: a 12-point pore-size x potential sweep, `-j 1` against `-j 2`.

Runs cases/sweeps/pore-size.sweep.toml restricted to 4 potentials (3 pore
sizes x 4 = 12 points, each pore size a chain warm-started along the
potential) twice into fresh directories, and records the wall time of each,
the speed-up, and the cost of the points after the first of each chain
(forms compiled, warm start) against the first (cold, compiling).

Run: ``python benchmarks/bench_sweep.py [--out benchmarks/records/sweep-12pt.json]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
import tomllib
from pathlib import Path

import confine
from confine.env import git_revision, versions

ROOT = Path(__file__).resolve().parent.parent


def spec() -> dict:
    """The shipped pore-size sweep with 4 potentials and an absolute case path."""
    raw = tomllib.loads((ROOT / "cases" / "sweeps" / "pore-size.sweep.toml").read_text())
    raw["sweep"]["case"] = str(ROOT / "cases" / "mchs-7nm.toml")
    raw["parameters"]["electrode.potential"] = {"linspace": [-0.8, -1.1, 4], "unit": "V"}
    return raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "records" / "sweep-12pt.json"))
    args = parser.parse_args()
    record: dict = {
        "benchmark": "sweep-12pt",
        "versions": versions() | {"git": git_revision()},
        "machine": {"platform": platform.platform(), "processor": platform.processor()},
        "runs": {},
    }
    for jobs in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            table = confine.sweep(
                spec(), out=Path(tmp) / "sweep", jobs=jobs, plots=False, show_progress=False
            )
            wall = time.perf_counter() - t0
        first = table[~table["warm_started"].astype(bool)]["wall_time_s"]
        later = table[table["warm_started"].astype(bool)]["wall_time_s"]
        record["runs"][f"j{jobs}"] = {
            "points": len(table),
            "failed": int((table["status"] != "done").sum()),
            "wall_s": wall,
            "first_point_mean_s": float(first.mean()),
            "later_point_mean_s": float(later.mean()) if len(later) else None,
            "warm_started_points": len(later),
        }
    j1, j2 = record["runs"]["j1"], record["runs"]["j2"]
    record["speedup_j2_over_j1"] = j1["wall_s"] / j2["wall_s"]
    if j1["later_point_mean_s"]:
        record["later_over_first_point"] = j1["later_point_mean_s"] / j1["first_point_mean_s"]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
    print(
        json.dumps({k: v for k, v in record.items() if k not in ("versions", "machine")}, indent=2)
    )


if __name__ == "__main__":
    main()
