"""Double-layer cost: ``poisson-steric`` against ``secondary`` on the same case and mesh.

For each pore size asked for, the urea case of the double-layer study
(``examples/double_layer_study.py``: catalyst on the carbon walls, bath held at
bulk, mesh refined at every wall to 0.1 λ_D) is solved from a cold start with
both potential models on the *same* cached mesh. Recorded per run: unknowns,
continuation steps, Newton iterations in all and per continuation step (and in
failed, halved attempts), linear iterations, the solver's wall time and its
time per Newton step; per pore size, the ratios poisson-steric ÷ secondary.
The mesh is built (or loaded) before the timed solves; each run's JIT forms
may compile on first use, which the ``setup_s`` column (pipeline solve time
minus the solver's) shows apart.

Run: ``python benchmarks/bench_double_layer.py [--sizes 4 7 11] [--coarse] [--out FILE]``
(default FILE: ``benchmarks/records/double-layer-cost.json``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import confine
from confine.env import versions

ROOT = Path(__file__).resolve().parent.parent
RECORD = ROOT / "benchmarks" / "records" / "double-layer-cost.json"


def _study() -> Any:
    """examples/double_layer_study.py as a module (its case preparation is the study's)."""
    spec = importlib.util.spec_from_file_location(
        "double_layer_study", ROOT / "examples" / "double_layer_study.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_one(case: Any, out: Path) -> dict[str, Any]:
    """Solve one case cold; the solver's counts and times from its metrics."""
    t0 = time.perf_counter()
    result = confine.run(case, out=out)
    wall = time.perf_counter() - t0

    def m(path: str) -> Any:
        return result.metric(path)

    newton = int(m("solver.newton_iterations"))
    solve_s = float(m("solver.wall_time_s"))
    return {
        "model": case.electrolyte.potential_model,
        "unknowns": int(m("mesh.dofs")),
        "continuation_steps": len(m("solver.continuation_multipliers")),
        "newton_iterations": newton,
        "newton_iterations_per_step": list(m("solver.newton_iterations_per_step")),
        "newton_iterations_failed_attempts": int(m("solver.newton_iterations_failed_attempts")),
        "linear_iterations": int(m("solver.linear_iterations")),
        "solve_s": solve_s,
        "time_per_newton_step_s": solve_s / max(newton, 1),
        "run_wall_s": wall,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["7"], choices=["4", "7", "11"])
    ap.add_argument("--coarse", action="store_true", help="the study's coarse meshes")
    ap.add_argument("--out", type=Path, default=RECORD)
    args = ap.parse_args(argv)
    study = _study()
    overrides = dict(study.COARSE) if args.coarse else {}
    record: dict[str, Any] = {
        "benchmark": "double-layer cost",
        "machine": {"platform": platform.platform(), "processor": platform.processor()},
        "versions": versions(),
        "coarse": args.coarse,
        "ranks": 1,
        "sizes": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            runs = {}
            for model in study.MODELS:
                case = study.double_layer_case(size, model, True, overrides)
                runs[model] = run_one(case, Path(tmp) / f"{size}-{model}")
                print(json.dumps({"pore": size, **runs[model]}), flush=True)
            sec, pnp = runs["secondary"], runs["poisson-steric"]
            record["sizes"][size] = {
                **runs,
                "ratio_poisson_steric_over_secondary": {
                    "solve_time": pnp["solve_s"] / sec["solve_s"],
                    "newton_iterations": pnp["newton_iterations"] / sec["newton_iterations"],
                    "time_per_newton_step": pnp["time_per_newton_step_s"]
                    / sec["time_per_newton_step_s"],
                },
            }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
