"""Why the 3D iterative solver failed on the urea network, and what works: one Jacobian, many PCs.

Builds the reference urea network (cases/mchs-7nm.toml, -1.1 V) on the 3D
hexagonal sector at mesh level ``--level`` (cross_fidelity.py's levels), starts
it from the converged state of ``--from-level`` interpolated onto it (the warm
start of a mesh study, where SNES reported DIVERGED_LINEAR_SOLVE) after solving
that coarser level from the bulk state, assembles the Newton system there, and
solves it with MUMPS and with each preconditioner of :func:`configs` (GMRES,
rtol 1e-10): KSP reason, iterations, wall time, true relative residual and the
error against MUMPS (``--no-mumps``: none, for meshes MUMPS cannot hold).
``--blocks`` also solves single diagonal blocks (one field, all species, the
coverages) with scalar/node-blocked AMG and ILU; ``--variants`` tries the
field-by-field preconditioner with other compositions, cycles and smoothing
instead of :func:`configs`.

Run: ``PYTHONPATH=. python benchmarks/iterative_diagnosis.py [--level 1] [--from-level 0.5]
[--bath bulk|far-field] [--blocks] [--variants] [--no-mumps]
[--out benchmarks/records/FILE.json]`` (one rank).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_solver import interpolate_from  # noqa: E402
from cross_fidelity import level_overrides  # noqa: E402
from mpi4py import MPI  # noqa: E402
from petsc4py import PETSc  # noqa: E402

from confine.case import load_case  # noqa: E402
from confine.env import versions  # noqa: E402
from confine.mesh import load_mesh  # noqa: E402
from confine.solve import FIELD_AMG, ITERATIVE_OPTIONS, Model, Solver  # noqa: E402

KRYLOV = {"ksp_type": "gmres", "ksp_gmres_restart": 300, "ksp_rtol": 1e-10, "ksp_max_it": 300}
#: The two-way split of confine.solve: "c" (species + φ, node-blocked) and "theta".
SPLIT = {
    "pc_type": "fieldsplit",
    "pc_fieldsplit_type": "multiplicative",
    "fieldsplit_c_ksp_type": "preonly",
    "fieldsplit_theta_ksp_type": "preonly",
}
SOR_AMG = {"mg_levels_ksp_type": "richardson", "mg_levels_pc_type": "sor"}


def _c(opts: dict[str, Any]) -> dict[str, Any]:
    return {f"fieldsplit_c_{k}": v for k, v in opts.items()}


def configs(n: int) -> dict[str, dict[str, Any]]:
    """Named option sets tried (``n``: unknowns per mesh node)."""
    per_field = {"fieldsplit_c_pc_fieldsplit_block_size": n}
    for i in range(n):
        per_field.update({f"fieldsplit_c_fieldsplit_{i}_{k}": v for k, v in FIELD_AMG.items()})
    lu_theta = {"fieldsplit_theta_pc_type": "lu"}
    return {
        "former: node-blocked GAMG/SOR on c, bjacobi on theta (restart 200, max 1000)": {
            **KRYLOV,
            "ksp_gmres_restart": 200,
            "ksp_max_it": 1000,
            **SPLIT,
            **_c({"pc_type": "gamg", **SOR_AMG}),
            "fieldsplit_theta_pc_type": "bjacobi",
        },
        "node-blocked GAMG, pbjacobi smoother": {
            **KRYLOV,
            **SPLIT,
            **lu_theta,
            **_c({"pc_type": "gamg", "mg_levels_ksp_type": "richardson"}),
            "fieldsplit_c_mg_levels_pc_type": "pbjacobi",
        },
        "node-blocked GAMG, Chebyshev/pbjacobi smoother": {
            **KRYLOV,
            **SPLIT,
            **lu_theta,
            **_c({"pc_type": "gamg", "mg_levels_ksp_type": "chebyshev"}),
            "fieldsplit_c_mg_levels_pc_type": "pbjacobi",
        },
        "node-blocked GAMG, unsmoothed aggregation, SOR": {
            **KRYLOV,
            **SPLIT,
            **lu_theta,
            **_c({"pc_type": "gamg", "pc_gamg_agg_nsmooths": 0, **SOR_AMG}),
        },
        "node-blocked GAMG, GMRES(3)/ILU smoother, FGMRES": {
            **KRYLOV,
            "ksp_type": "fgmres",
            **SPLIT,
            **lu_theta,
            **_c({"pc_type": "gamg", "mg_levels_ksp_type": "gmres", "mg_levels_ksp_max_it": 3}),
            "fieldsplit_c_mg_levels_pc_type": "bjacobi",
        },
        "ILU(1) on c": {
            **KRYLOV,
            **SPLIT,
            **lu_theta,
            **_c({"pc_type": "ilu"}),
            "fieldsplit_c_pc_factor_levels": 1,
        },
        "ILU(0) on everything": {**KRYLOV, "pc_type": "bjacobi"},
        "field by field, additive (chosen)": {
            **KRYLOV,
            **SPLIT,
            "fieldsplit_c_pc_type": "fieldsplit",
            "fieldsplit_c_pc_fieldsplit_type": "additive",
            "fieldsplit_theta_pc_type": "bjacobi",
            **per_field,
        },
        "field by field, multiplicative": {
            **KRYLOV,
            **SPLIT,
            "fieldsplit_c_pc_type": "fieldsplit",
            "fieldsplit_c_pc_fieldsplit_type": "multiplicative",
            "fieldsplit_theta_pc_type": "bjacobi",
            **per_field,
        },
    }


def variants(n: int) -> dict[str, dict[str, Any]]:
    """The field-by-field preconditioner with other compositions, cycles and smoothing."""

    def per_field(kind: str, amg: dict[str, Any], phi_first: bool = False) -> dict[str, Any]:
        order = [n - 1, *range(n - 1)] if phi_first else list(range(n))
        out = {
            **KRYLOV,
            **SPLIT,
            "fieldsplit_theta_pc_type": "bjacobi",
            "fieldsplit_c_pc_type": "fieldsplit",
            "fieldsplit_c_pc_fieldsplit_type": kind,
            "fieldsplit_c_pc_fieldsplit_block_size": n,
        }
        for i, fld in enumerate(order):
            out[f"fieldsplit_c_pc_fieldsplit_{i}_fields"] = str(fld)
            out.update({f"fieldsplit_c_fieldsplit_{i}_{k}": v for k, v in amg.items()})
        return out

    two = {**FIELD_AMG, "mg_levels_ksp_max_it": 2}
    return {
        "additive, V-cycle, 2 SOR sweeps per level": per_field("additive", two),
        "additive, V-cycle, 4 SOR sweeps per level": per_field(
            "additive", {**FIELD_AMG, "mg_levels_ksp_max_it": 4}
        ),
        "additive, W-cycle, 2 sweeps": per_field("additive", {**two, "pc_mg_cycle_type": "w"}),
        "multiplicative, phi first, 2 sweeps": per_field("multiplicative", two, True),
        "symmetric multiplicative, phi first, 2 sweeps": per_field(
            "symmetric_multiplicative", two, True
        ),
    }


def run_ksp(
    name: str, A: Any, b: Any, opts: dict[str, Any], splits: Any, ref: Any
) -> dict[str, Any]:
    """Solve A y = b with ``opts`` (named ISs ``splits`` for a fieldsplit PC)."""
    prefix = f"diag{abs(hash(name)) % 10**8}_"
    db: Any = PETSc.Options()
    for k, v in opts.items():
        db[prefix + k] = v
    ksp = PETSc.KSP().create(MPI.COMM_WORLD)
    ksp.setOptionsPrefix(prefix)
    ksp.setOperators(A)
    if opts.get("pc_type") == "fieldsplit" and splits:
        ksp.getPC().setType("fieldsplit")
        ksp.getPC().setFieldSplitIS(*splits)
    ksp.setFromOptions()
    y = b.duplicate()
    y.set(0.0)
    t0 = time.perf_counter()
    ksp.setUp()
    t1 = time.perf_counter()
    ksp.solve(b, y)
    t2 = time.perf_counter()
    r = b.duplicate()
    A.mult(y, r)
    r.axpy(-1.0, b)
    out = {
        "config": name,
        "reason": int(ksp.getConvergedReason()),
        "iterations": int(ksp.getIterationNumber()),
        "setup_s": t1 - t0,
        "solve_s": t2 - t1,
        "true_relative_residual": r.norm() / b.norm(),
    }
    if ref is not None:
        d = y.copy()
        d.axpy(-1.0, ref)
        out["relative_error_vs_mumps"] = d.norm() / ref.norm()
    for k in opts:
        del db[prefix + k]
    ksp.destroy()
    print(
        f"{name:78s} reason={out['reason']:3d} its={out['iterations']:4d} "
        f"t={out['setup_s'] + out['solve_s']:6.2f}s res={out['true_relative_residual']:.1e} "
        f"err={out.get('relative_error_vs_mumps', 0.0):.1e}",
        flush=True,
    )
    return out


def blocks(A: Any, p: Model) -> list[dict[str, Any]]:
    """Single diagonal blocks (a random right-hand side) with AMG and ILU."""
    bs = len(p.unknowns)
    n0 = p.V.dofmap.index_map.size_local * bs
    nodes = np.arange(n0, dtype=np.int32).reshape(-1, bs)
    sets = {name: (nodes[:, i].copy(), 1) for i, name in enumerate(p.unknowns)}
    sets["all species (no phi)"] = (nodes[:, : bs - 1].ravel().copy(), bs - 1)
    sets["coverages"] = (np.arange(n0, A.getSize()[0], dtype=np.int32), 1)
    rows = []
    for name, (idx, nb) in sets.items():
        iset = PETSc.IS().createGeneral(idx)
        B = A.createSubMatrix(iset, iset)
        B.setBlockSize(nb)
        rhs = B.createVecLeft()
        rhs.setRandom()
        for pc, opts in (
            ("GAMG/SOR", {"pc_type": "gamg", **SOR_AMG}),
            ("GAMG unsmoothed/SOR", {"pc_type": "gamg", "pc_gamg_agg_nsmooths": 0, **SOR_AMG}),
            ("ILU(0)", {"pc_type": "ilu"}),
        ):
            row = run_ksp(
                f"block {name}: {pc}", B, rhs, {**KRYLOV, "ksp_max_it": 200, **opts}, None, None
            )
            rows.append({"block": name, "unknowns": len(idx), "pc": pc, **row})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--level", type=float, default=1.0)
    ap.add_argument("--from-level", type=float, default=0.5)
    ap.add_argument("--bath", default="far-field", choices=("bulk", "far-field"))
    ap.add_argument("--blocks", action="store_true", help="also single diagonal blocks")
    ap.add_argument(
        "--variants", action="store_true", help="only variants of the field-by-field PC"
    )
    ap.add_argument("--no-mumps", action="store_true", help="no MUMPS reference (large meshes)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    path = ROOT / "cases" / "mchs-7nm.toml"
    sets = {"geometry.model": "sector-3d", "geometry.bath_boundary": args.bath}
    base = load_case(path, set=sets)
    comm = MPI.COMM_WORLD
    coarse = load_case(path, set={**sets, **level_overrides(base, args.from_level)})
    # the coarse state (converged: the same to round-off with either solver)
    src = Solver.build(coarse, load_mesh(coarse, comm), linear_solver="iterative")
    src.solve()
    case = load_case(path, set={**sets, **level_overrides(base, args.level)})
    solver = Solver.build(case, load_mesh(case, comm), linear_solver="direct")
    interpolate_from(solver, src)
    p, nlp = solver.model, solver.newton.nlp
    snes, x = nlp.solver, nlp.x
    from dolfinx.fem import petsc as fem_petsc

    fem_petsc.assign([p.u, p.theta], x)
    b = x.duplicate()
    snes.computeFunction(x, b)
    snes.computeJacobian(x, nlp.A)
    A = nlp.A
    bs = len(p.unknowns)
    n0 = p.V.dofmap.index_map.size_local * bs
    is_c = PETSc.IS().createGeneral(np.arange(n0, dtype=np.int32))
    is_c.setBlockSize(bs)
    is_t = PETSc.IS().createGeneral(np.arange(n0, A.getSize()[0], dtype=np.int32))
    splits = [("c", is_c), ("theta", is_t)]
    print(f"level {args.level:g} from {args.from_level:g}: {A.getSize()[0]} unknowns", flush=True)
    mumps = {"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"}
    rows, ref = [], None
    if not args.no_mumps:
        rows.append(run_ksp("MUMPS LU", A, b, mumps, None, None))
        ref = b.duplicate()
        ksp = PETSc.KSP().create(comm)
        ksp.setOperators(A)
        ksp.setType("preonly")
        ksp.getPC().setType("lu")
        ksp.getPC().setFactorSolverType("mumps")
        ksp.solve(b, ref)
    tried = variants(bs) if args.variants else configs(bs)
    rows += [run_ksp(k, A, b, v, splits, ref) for k, v in tried.items()]
    record = {
        "benchmark": "iterative-diagnosis",
        "command": " ".join(sys.argv),
        "case": "cases/mchs-7nm.toml, sector-3d, -1.1 V",
        "bath_boundary": args.bath,
        "level": args.level,
        "start": f"converged level {args.from_level:g}, interpolated",
        "unknowns": A.getSize()[0],
        "fields": {"mesh": p.unknowns, "layer_submesh": p.adsorbed},
        "krylov": KRYLOV,
        "chosen": {"iterative": ITERATIVE_OPTIONS, "field_amg": FIELD_AMG},
        "newton_system": rows,
        "blocks": blocks(A, p) if args.blocks else None,
        "versions": versions(),
    }
    if args.out:
        args.out.write_text(json.dumps(record, indent=1, default=str))


if __name__ == "__main__":
    main()
