"""Solver benchmark: Newton and linear iterations, time per Newton step, under refinement.

Two problems, each on three meshes halving h:

* ``axisymmetric``: the reference urea network (cases/mchs-7nm.toml, secondary
  model, -1.1 V) on a mini axisymmetric pore cell, MUMPS LU;
* ``3d``: the coupled manufactured problem of tests/test_mms.py (two ions, a
  neutral, φ, Tafel, an adsorbate on a submesh) on a 3D box, iterative
  (GMRES + fieldsplit/AMG, confine.solve.ITERATIVE_OPTIONS).

For each mesh: unknowns, Newton iterations, linear iterations per Newton step
(and its growth per halving of h; target ≤ 1.3), assembly time (residual +
Jacobian) and linear-solve time per Newton step, and the time per Newton step
relative to one scalar Poisson solve (P1, same mesh, same kind of linear
solver) per field (target ≤ 3).

Run: ``PYTHONPATH=. python benchmarks/bench_solver.py [--quick] [--out FILE.json]``
(also under ``mpiexec -n N``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the dolfinx-built test meshes and MMS problem

import solver_meshes as sm  # noqa: E402
from mpi4py import MPI  # noqa: E402
from petsc4py import PETSc  # noqa: E402

from confine.bench import newton_step_parts, poisson_time  # noqa: E402
from confine.case import load_case  # noqa: E402
from confine.env import versions  # noqa: E402
from confine.solve import DIRECT_OPTIONS, ITERATIVE_OPTIONS, Problem  # noqa: E402


def run_axisymmetric(quick: bool) -> list[dict[str, Any]]:
    case = load_case(
        ROOT / "cases" / "mchs-7nm.toml",
        set={"geometry.bath_boundary": "bulk", "electrode.potential": "-1.1 V"},
    )
    rows = []
    for h in (2.0, 1.0) if quick else (2.0, 1.0, 0.5):
        md = sm.pore_cell(
            MPI.COMM_WORLD, h=h, r_pore=3.775, r_cell=6.0, layer=2.0, z_cavity=20.0,
            shell=20.0, bath=20.0, multiplicity=480.0,
        )  # fmt: skip
        rows.append(measure("axisymmetric", h, case, md, "direct", None))
    return rows


def run_3d(quick: bool) -> list[dict[str, Any]]:
    import test_mms as mms

    rows = []
    for n in (6, 12) if quick else (6, 12, 24):
        md = sm.box(MPI.COMM_WORLD, 3, n, mms.SIZE)
        rows.append(measure("3d", mms.SIZE / n, mms.mms_case(), md, "iterative", mms.exact(3)))
    return rows


def measure(name: str, h: float, case: Any, md: Any, kind: str, exact: Any) -> dict[str, Any]:
    t0 = time.perf_counter()
    p = Problem(case, md, manufactured=exact, linear_solver=kind)
    t_setup = time.perf_counter() - t0
    sol = p.solve()
    assembly, linear = newton_step_parts(p)
    options = p._options()
    poisson = poisson_time(md, DIRECT_OPTIONS if kind == "direct" else options)
    fields = len(p.unknowns) + len(p.adsorbed)
    per_step = sol.wall_time_s / max(sol.newton_iterations, 1)
    row = {
        "problem": name,
        "h_nm": h,
        "linear_solver": kind,
        "cells": md.mesh.topology.index_map(md.mesh.topology.dim).size_global,
        "dofs": sol.dofs,
        "fields": fields,
        "newton_iterations": sol.newton_iterations,
        "continuation_steps": len(sol.multipliers),
        "linear_iterations_per_newton": sol.linear_iterations / max(sol.newton_iterations, 1),
        "setup_s": t_setup,
        "solve_s": sol.wall_time_s,
        "time_per_newton_s": per_step,
        "assembly_per_newton_s": assembly,
        "linear_solve_per_newton_s": linear,
        "poisson_solve_s": poisson,
        "newton_step_over_poisson_per_field": per_step / (poisson * fields),
    }
    if MPI.COMM_WORLD.rank == 0:
        print(
            f"{name:12s} h={h:5.2f} dofs={row['dofs']:8d} newton={row['newton_iterations']:3d} "
            f"lin/newton={row['linear_iterations_per_newton']:6.1f} "
            f"t/newton={per_step:7.3f}s (asm {assembly:.3f}s, lin {linear:.3f}s) "
            f"poisson={poisson:.3f}s ratio/field={row['newton_step_over_poisson_per_field']:.2f}",
            flush=True,
        )
    return row


def growth(rows: list[dict[str, Any]]) -> list[float]:
    """Ratio of linear iterations per Newton step between successive halvings of h."""
    its = [r["linear_iterations_per_newton"] for r in rows]
    return [b / a for a, b in itertools.pairwise(its)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two meshes per problem")
    ap.add_argument("--out", type=Path, help="write the records as JSON")
    args = ap.parse_args()
    axi = run_axisymmetric(args.quick)
    three = run_3d(args.quick)
    record = {
        "benchmark": "solver",
        "ranks": MPI.COMM_WORLD.size,
        "machine": platform.node(),
        "versions": versions(),
        "petsc_options": {
            "direct": DIRECT_OPTIONS,
            "iterative": ITERATIVE_OPTIONS,
        },
        "axisymmetric": axi,
        "3d": three,
        "linear_iteration_growth_per_halving": {"axisymmetric": growth(axi), "3d": growth(three)},
    }
    if MPI.COMM_WORLD.rank == 0:
        print("growth of linear iterations per halving (3d):", growth(three))
        if args.out:
            args.out.write_text(json.dumps(record, indent=1, default=str))
    PETSc.garbage_cleanup()


if __name__ == "__main__":
    main()
