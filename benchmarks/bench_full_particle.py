"""The whole particle solved: set-up, Newton steps, memory per rank and per unknown,
and the same case on the sector and the axisymmetric cell, compared (issue #24 item 2).

The case's ``full-3d`` model is solved by the iterative solver from its axisymmetric
cell's solution (``solver.start = "axisymmetric-cell"``: the cell is solved first,
mapped onto the particle, and Newton starts there). Stages as in
``bench_memory.py`` (each stage's time, RSS change and peak above its start, every
rank's peak); then the same case on ``sector-3d`` and ``axisymmetric-cell`` at the
same mesh keys (the same target sizes: the same mesh density) through
:func:`confine.pipeline.run`, and the relative differences of urea C_I/C_E, the
products' rates and faradaic efficiencies, and the current.

Run (2 ranks on this machine; ``--jacobian lean`` keeps no block-insertion BAIJ)::

    mpiexec -n 2 python benchmarks/bench_full_particle.py --case cases/mchs-11nm.toml \\
        --set mesh.cells_across_layer=1 --jacobian lean \\
        --out benchmarks/records/full-3d-11nm-layer1.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_memory import MB, Stages, _revision, _status, _Timed, solver_parts  # noqa: E402
from mpi4py import MPI  # noqa: E402
from petsc4py import PETSc  # noqa: E402

from confine.case import Case, load_case  # noqa: E402
from confine.env import versions  # noqa: E402
from confine.fem.transfer import map_cell_state  # noqa: E402
from confine.mesh import load_mesh  # noqa: E402
from confine.metrics import compute_metrics  # noqa: E402
from confine.pipeline import cell_solution, run  # noqa: E402
from confine.solve import Model, Newton, Solver  # noqa: E402

#: The models the particle is compared with (same case, same mesh keys).
OTHERS = ("sector-3d", "axisymmetric-cell")


def headline(metrics: dict[str, Any]) -> dict[str, float]:
    """The compared values: urea C_I/C_E, each product's rate and FE, the current."""
    out = {
        "urea C_I/C_E": metrics["species"]["urea"]["ratio_interior_exterior"]["value"],
        "current_A": metrics["current_A"]["value"],
    }
    for name, p in metrics["products"].items():
        out[f"{name} production_mol_s"] = p["production_mol_s"]["value"]
        out[f"{name} faradaic_efficiency"] = p["faradaic_efficiency"]["value"]
    return out


def solve_particle(case: Case, stages: Stages) -> tuple[Any, dict[str, Any]]:
    """Mesh, cell start, set-up and Newton on the particle, stage by stage."""
    comm = MPI.COMM_WORLD
    with stages("mesh (cache load, conversion to dolfinx)"):
        md = load_mesh(case, comm)
    with stages("cell start (the axisymmetric cell: mesh and solve)"):
        cell = cell_solution(case, comm)
    with stages("model (spaces, Constants, UFL residual, conditions)"):
        model = Model(case, md, comm)
    with stages("newton set-up (forms, vectors, Jacobian pattern)"):
        newton = Newton(model.spaces, model.params, model.F, model.bcs, linear_solver="iterative")
    jacobian: Any = newton.snes.getJacobian()
    timed = _Timed(jacobian[2][0])
    newton.snes.setJacobian(
        timed, jacobian[0], jacobian[1], args=jacobian[2][1], kargs=jacobian[2][2]
    )
    with stages("map the cell's solution onto the particle"):
        map_cell_state(model, cell)
    del cell
    with stages("solve (Newton from the mapped state)"):
        sol = Solver(model, newton).solve(warm=True)
    with stages("metrics"):
        metrics = compute_metrics(case, md, sol, comm)
    newton_s = stages.rows["solve (Newton from the mapped state)"]["seconds"]
    record = {
        "cells": md.mesh.topology.index_map(3).size_global,
        "dofs": sol.dofs,
        "newton_iterations": sol.newton_iterations,
        "failed_newton_iterations": sol.failed_iterations,
        "continuation_multipliers": sol.multipliers,
        "linear_iterations": sol.linear_iterations,
        "residual_history": sol.residual_history,
        "seconds_per_newton_step": newton_s / max(sol.newton_iterations, 1),
        "jacobian_storage": "lean" if getattr(timed.callback, "lean", False) else "block",
        "jacobian_assembly": {"calls": timed.calls, "seconds": timed.seconds},
        "parts": solver_parts(newton),
    }
    return metrics, record


def compare(path: Path, sets: dict[str, str], full: dict[str, float]) -> dict[str, Any]:
    """The same case on the other models: their headline values and relative gaps."""
    out: dict[str, Any] = {}
    for model in OTHERS:
        case = load_case(path, set={**sets, "geometry.model": model})
        t0 = time.perf_counter()
        values = headline(run(case, None, MPI.COMM_WORLD).metrics)
        out[model] = {
            "seconds": time.perf_counter() - t0,
            "values": values,
            "relative_difference_of_full_3d": {
                k: (full[k] - v) / v for k, v in values.items() if k in full and v != 0.0
            },
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", type=Path, default=ROOT / "cases" / "mchs-11nm.toml")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--jacobian", choices=("auto", "block", "lean"))
    ap.add_argument("--no-compare", action="store_true", help="the particle only")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if args.jacobian:
        os.environ["CONFINE_JACOBIAN"] = args.jacobian
    comm = MPI.COMM_WORLD
    sets = dict(s.split("=", 1) for s in args.set)
    case = load_case(
        args.case,
        set={**sets, "geometry.model": "full-3d", "solver.start": "axisymmetric-cell"},
    )
    stages = Stages()
    start = _status("VmRSS")
    t0 = time.perf_counter()
    metrics, record = solve_particle(case, stages)
    wall = time.perf_counter() - t0
    peak = max(r["peak_bytes"] for r in stages.rows.values())
    full = headline(metrics)
    record |= {
        "benchmark": "full-particle",
        "command": " ".join(sys.argv),
        "case_file": str(args.case),
        "overrides": sets,
        "revision": _revision(),
        "ranks": comm.size,
        "machine": {"node": platform.node(), "cpus": os.cpu_count()},
        "load_average": os.getloadavg(),
        "versions": versions(),
        "wall_s": wall,
        "stages": stages.rows,
        "peak_rss_mb_per_rank": [p / MB for p in comm.allgather(peak)],
        "start_rss_mb_per_rank": [s / MB for s in comm.allgather(start)],
        "bytes_per_unknown": comm.allreduce(peak, op=MPI.SUM) / record["dofs"],
        "bytes_per_unknown_above_start": comm.allreduce(peak - start, op=MPI.SUM) / record["dofs"],
        "values": full,
    }
    if not args.no_compare:
        record["compared"] = compare(args.case, sets, full)
    if comm.rank == 0:
        for k, v in stages.rows.items():
            print(f"{v['seconds']:8.1f} s  peak {v['peak_bytes'] / MB:8.0f} MiB  {k}")
        print(
            f"{record['dofs']} unknowns, {record['newton_iterations']} Newton steps, "
            f"{wall:.0f} s, {record['bytes_per_unknown']:.0f} B/unknown"
        )
        for model, c in record.get("compared", {}).items():
            worst = max(abs(x) for x in c["relative_difference_of_full_3d"].values())
            print(f"against {model}: worst relative difference {worst:.2e}")
        if args.out:
            args.out.write_text(json.dumps(record, indent=1, default=str))
    PETSc.garbage_cleanup()


if __name__ == "__main__":
    main()
