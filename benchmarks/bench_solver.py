"""Solver benchmark: Newton and linear iterations, time per Newton step, under refinement.

Three problems, each on three meshes halving h:

* ``axisymmetric``: the reference urea network (cases/mchs-7nm.toml, secondary
  model, -1.1 V) on a mini axisymmetric pore cell, MUMPS LU (or, with
  ``--axisymmetric-solver iterative``, the 3D solver's GMRES + fieldsplit/AMG);
* ``3d``: the coupled manufactured problem of tests/test_mms.py (two ions, a
  neutral, φ, Tafel, an adsorbate on a submesh) on a 3D box, iterative
  (GMRES + field-by-field AMG, confine.solve.ITERATIVE_OPTIONS);
* ``sector-3d-urea``: the reference urea network (13 unknowns on the mesh, 2
  coverages on the catalytic layer; bath held at the bulk unless --bath) on the 3D hexagonal
  sector at mesh levels f = 0.5, 1, 2 (every target cell size of the case ÷ f,
  as in cross_fidelity.py: h ∝ 1/f), iterative. The coarsest level runs the
  case's continuation from the bulk state; each finer one starts Newton at full
  rates from the coarser converged state interpolated onto it (what a mesh
  study does, and where the former node-blocked AMG broke down), or, with
  ``--cold``, runs the continuation as well (``--bath far-field``: the case's
  own isolated-sphere condition).

For each mesh: unknowns, Newton iterations, linear iterations per Newton step
(and its growth per halving of h; target ≤ 1.3), the iterations of one linear
solve at the converged state (the same system at every level), assembly time
(residual + Jacobian) and linear-solve time per Newton step, and the time per
Newton step relative to one scalar Poisson solve (P1, same mesh, same kind of
linear solver) per field (target ≤ 3), and the process's peak memory.

Run: ``PYTHONPATH=. python benchmarks/bench_solver.py [--quick] [--only P ...]
[--cold] [--bath bulk|far-field] [--axisymmetric-solver direct|iterative]
[--out FILE.json]`` (also under ``mpiexec -n N``).
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

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the dolfinx-built test meshes and MMS problem

import solver_meshes as sm  # noqa: E402
from cross_fidelity import level_overrides  # noqa: E402
from mpi4py import MPI  # noqa: E402
from petsc4py import PETSc  # noqa: E402

from confine.bench import newton_step_parts, peak_rss_mb, poisson_time  # noqa: E402
from confine.case import load_case  # noqa: E402
from confine.env import import_dolfinx, versions  # noqa: E402
from confine.mesh import load_mesh  # noqa: E402
from confine.solve import DIRECT_OPTIONS, FIELD_AMG, ITERATIVE_OPTIONS, Solver  # noqa: E402

PROBLEMS = ("axisymmetric", "3d", "sector-3d-urea")


def run_axisymmetric(quick: bool, kind: str = "direct") -> list[dict[str, Any]]:
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
        rows.append(measure("axisymmetric", h, case, md, kind, None)[0])
    return rows


def run_3d(quick: bool) -> list[dict[str, Any]]:
    import test_mms as mms

    rows = []
    for n in (6, 12) if quick else (6, 12, 24):
        md = sm.box(MPI.COMM_WORLD, 3, n, mms.SIZE)
        rows.append(measure("3d", mms.SIZE / n, mms.mms_case(), md, "iterative", mms.exact(3))[0])
    return rows


def run_sector_urea(quick: bool, cold: bool = False, bath: str = "bulk") -> list[dict[str, Any]]:
    sets = {"geometry.model": "sector-3d", "geometry.bath_boundary": bath}
    path = ROOT / "cases" / "mchs-7nm.toml"
    base = load_case(path, set=sets)
    rows: list[dict[str, Any]] = []
    coarser = None
    for f in (0.5, 1.0) if quick else (0.5, 1.0, 2.0):
        case = load_case(path, set={**sets, **level_overrides(base, f)})
        md = load_mesh(case, MPI.COMM_WORLD)
        start = None if cold else coarser
        row, coarser = measure("sector-3d-urea", 1.0 / f, case, md, "iterative", None, start)
        row["level"] = f
        row["bath_boundary"] = bath
        row["start"] = "coarser state" if start is not None else "continuation from the bulk state"
        rows.append(row)
    return rows


def interpolate_from(dst: Solver, src: Solver) -> None:
    """Start ``dst`` from the state of ``src`` (another mesh of the same case), interpolated."""
    import_dolfinx()
    from dolfinx import fem

    pairs = ((dst.model.u, src.model.u), (dst.model.theta, src.model.theta))
    for f_to, f_from in pairs:
        if f_to is None or f_from is None:
            continue
        msh = f_to.function_space.mesh
        cells = np.arange(msh.topology.index_map(msh.topology.dim).size_local, dtype=np.int32)
        # padding: the coarse chords of curved faces lie inside some fine nodes (nm)
        data = fem.create_interpolation_data(
            f_to.function_space, f_from.function_space, cells, padding=0.5
        )
        f_to.interpolate_nonmatching(f_from, cells, data)
        f_to.x.scatter_forward()


def measure(
    name: str,
    h: float,
    case: Any,
    md: Any,
    kind: str,
    exact: Any,
    start: Solver | None = None,
) -> tuple[dict[str, Any], Solver]:
    """Solve one problem on one mesh and time its parts (``start``: warm start from it)."""
    t0 = time.perf_counter()
    p = Solver.build(case, md, manufactured=exact, linear_solver=kind)
    if start is not None:
        interpolate_from(p, start)
    t_setup = time.perf_counter() - t0
    sol = p.solve(warm=start is not None)
    assembly, linear = newton_step_parts(p.newton)
    converged_its = p.newton.snes.getKSP().getIterationNumber()
    options = p.newton.options()
    poisson = poisson_time(md, DIRECT_OPTIONS if kind == "direct" else options)
    fields = len(p.model.unknowns) + len(p.model.adsorbed)
    per_step = sol.wall_time_s / max(sol.newton_iterations, 1)
    row = {
        "problem": name,
        "h_nm" if name != "sector-3d-urea" else "h_rel": h,
        "linear_solver": kind,
        "cells": md.mesh.topology.index_map(md.mesh.topology.dim).size_global,
        "dofs": sol.dofs,
        "fields": fields,
        "newton_iterations": sol.newton_iterations,
        "continuation_steps": len(sol.multipliers),
        "linear_iterations": sol.linear_iterations,
        "linear_iterations_per_newton": sol.linear_iterations / max(sol.newton_iterations, 1),
        "linear_iterations_at_converged_state": converged_its,
        "setup_s": t_setup,
        "solve_s": sol.wall_time_s,
        "time_per_newton_s": per_step,
        "assembly_per_newton_s": assembly,
        "linear_solve_per_newton_s": linear,
        "poisson_solve_s": poisson,
        "newton_step_over_poisson_per_field": per_step / (poisson * fields),
        "peak_rss_mb": float(MPI.COMM_WORLD.allreduce(peak_rss_mb(), op=MPI.MAX)),
    }
    if MPI.COMM_WORLD.rank == 0:
        print(
            f"{name:14s} h={h:5.2f} dofs={row['dofs']:8d} newton={row['newton_iterations']:3d} "
            f"lin/newton={row['linear_iterations_per_newton']:6.1f} "
            f"(converged state {converged_its}) "
            f"t/newton={per_step:7.3f}s (asm {assembly:.3f}s, lin {linear:.3f}s) "
            f"poisson={poisson:.3f}s ratio/field={row['newton_step_over_poisson_per_field']:.2f} "
            f"rss={row['peak_rss_mb']:.0f}MiB",
            flush=True,
        )
    return row, p


def growth(rows: list[dict[str, Any]], key: str = "linear_iterations_per_newton") -> list[float]:
    """Ratio of linear iterations per Newton step between successive halvings of h."""
    its = [r[key] for r in rows]
    return [b / a for a, b in itertools.pairwise(its)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two meshes per problem")
    ap.add_argument("--only", nargs="+", choices=PROBLEMS, default=list(PROBLEMS))
    ap.add_argument(
        "--cold", action="store_true", help="sector-3d-urea: every level from the bulk state"
    )
    ap.add_argument("--bath", default="bulk", choices=("bulk", "far-field"), help="sector-3d-urea")
    ap.add_argument(
        "--axisymmetric-solver",
        default="direct",
        choices=("direct", "iterative"),
        help="axisymmetric: MUMPS (what 'auto' picks in 2D) or GMRES + fieldsplit/AMG",
    )
    ap.add_argument("--out", type=Path, help="write the records as JSON")
    args = ap.parse_args()
    runners = {
        "axisymmetric": lambda q: run_axisymmetric(q, args.axisymmetric_solver),
        "3d": run_3d,
        "sector-3d-urea": lambda q: run_sector_urea(q, args.cold, args.bath),
    }
    results = {name: runners[name](args.quick) for name in args.only}
    record: dict[str, Any] = {
        "benchmark": "solver",
        "command": " ".join(sys.argv),
        "ranks": MPI.COMM_WORLD.size,
        "machine": platform.node(),
        "versions": versions(),
        "petsc_options": {
            "direct": DIRECT_OPTIONS,
            "iterative": ITERATIVE_OPTIONS,
            "iterative_field_amg": FIELD_AMG,
        },
        **results,
        "linear_iteration_growth_per_halving": {k: growth(v) for k, v in results.items()},
        "converged_state_linear_iteration_growth_per_halving": {
            k: growth(v, "linear_iterations_at_converged_state") for k, v in results.items()
        },
    }
    if MPI.COMM_WORLD.rank == 0:
        for k, v in record["linear_iteration_growth_per_halving"].items():
            print(f"growth of linear iterations per Newton step per halving ({k}):", v)
        if args.out:
            args.out.write_text(json.dumps(record, indent=1, default=str))
    PETSc.garbage_cleanup()


if __name__ == "__main__":
    main()
