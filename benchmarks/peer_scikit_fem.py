"""Peer comparison: one linear reaction–diffusion problem in dolfinx and in scikit-fem.

    −D ∇²c + k c = 0  in [0, 1]^d,   c = 1 on x = 0,   no flux elsewhere,

P1 elements on the same mesh (dolfinx builds it; scikit-fem gets the same
vertices and cells), with D = 1, k = 100 (Thiele modulus m = √(k/D) = 10).
The exact solution is c = cosh(m (1 − x)) / cosh(m).

Each code assembles and solves twice (the first pass compiles/warms up; the
second is timed), with a direct solver (dolfinx: MUMPS; scikit-fem: scipy's
``spsolve``) and an AMG-preconditioned CG (dolfinx: PETSc GAMG; scikit-fem:
pyamg smoothed aggregation, when installed), both to a relative residual of
1e-10. Reported per mesh: unknowns, assembly and solve times, the time ratio
dolfinx / scikit-fem, the largest nodal difference between the two answers,
and each code's largest nodal error against the exact solution.

Run (serial)::

    PYTHONPATH=. python benchmarks/peer_scikit_fem.py --out benchmarks/records/peer-scikit-fem.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from confine.bench import machine
from confine.env import comm_world, git_revision, versions

D, K = 1.0, 100.0
RTOL = 1e-10


def exact(x: np.ndarray) -> np.ndarray:
    """The exact solution at points x (rows are coordinates)."""
    m = np.sqrt(K / D)
    return np.cosh(m * (1.0 - x[:, 0])) / np.cosh(m)


def dolfinx_solve(msh: Any, solver: str) -> tuple[np.ndarray, dict[str, float]]:
    """Solve with dolfinx/PETSc; the solution at the mesh's geometry nodes and timings."""
    import ufl
    from dolfinx import fem
    from dolfinx.fem import petsc as fem_petsc
    from petsc4py import PETSc

    t0 = time.perf_counter()
    V = fem.functionspace(msh, ("Lagrange", 1))
    c, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    a = fem.form(D * ufl.inner(ufl.grad(c), ufl.grad(v)) * ufl.dx + K * c * v * ufl.dx)
    L = fem.form(fem.Constant(msh, 0.0) * v * ufl.dx)
    t_compile = time.perf_counter() - t0
    fdim = msh.topology.dim - 1
    from dolfinx import mesh as dmesh

    facets = dmesh.locate_entities_boundary(msh, fdim, lambda x: np.isclose(x[0], 0.0))
    bc = fem.dirichletbc(1.0, fem.locate_dofs_topological(V, fdim, facets), V)
    ksp = PETSc.KSP().create(msh.comm)
    if solver == "direct":
        ksp.setType("preonly")
        ksp.getPC().setType("lu")
        ksp.getPC().setFactorSolverType("mumps")
    else:
        ksp.setType("cg")
        ksp.getPC().setType("gamg")
        ksp.setTolerances(rtol=RTOL, atol=0.0)
    uh = fem.Function(V)
    add: Any = PETSc.InsertMode.ADD
    reverse: Any = PETSc.ScatterMode.REVERSE
    times: dict[str, float] = {"compile_s": t_compile}
    for _ in range(2):  # first pass warms up, second is timed
        t0 = time.perf_counter()
        A = fem_petsc.assemble_matrix(a, bcs=[bc])
        A.assemble()
        b = fem_petsc.assemble_vector(L)
        fem_petsc.apply_lifting(b, [a], bcs=[[bc]])
        b.ghostUpdate(addv=add, mode=reverse)
        fem_petsc.set_bc(b, [bc])
        t1 = time.perf_counter()
        ksp.setOperators(A)
        ksp.solve(b, uh.x.petsc_vec)
        uh.x.scatter_forward()
        t2 = time.perf_counter()
        times |= {"assembly_s": t1 - t0, "solve_s": t2 - t1}
        A.destroy()
        b.destroy()
    times["iterations"] = ksp.getIterationNumber()
    ksp.destroy()
    # P1: the dofs of a cell's vertices follow the geometry nodes of the same cell
    geo = msh.geometry.dofmaps[0]
    dofs = V.dofmap.list
    at_nodes = np.empty(msh.geometry.x.shape[0])
    at_nodes[geo.ravel()] = uh.x.array[dofs.ravel()]
    return at_nodes, times


def skfem_solve(points: np.ndarray, cells: np.ndarray, solver: str) -> tuple[np.ndarray, dict]:
    """Solve with scikit-fem and scipy (or pyamg); the nodal solution and timings."""
    import skfem
    from skfem.helpers import dot, grad
    from skfem.models.poisson import unit_load

    dim = points.shape[1]
    mesh_type = skfem.MeshTet if dim == 3 else skfem.MeshTri
    element = skfem.ElementTetP1() if dim == 3 else skfem.ElementTriP1()

    @skfem.BilinearForm
    def form(u: Any, v: Any, w: Any) -> Any:
        return D * dot(grad(u), grad(v)) + K * u * v

    times: dict[str, float] = {"compile_s": 0.0}
    for _ in range(2):
        t0 = time.perf_counter()
        mesh = mesh_type(np.ascontiguousarray(points.T), np.ascontiguousarray(cells.T))
        basis = skfem.Basis(mesh, element)
        A = form.assemble(basis)
        b = 0.0 * unit_load.assemble(basis)
        dirichlet = basis.get_dofs(lambda x: np.isclose(x[0], 0.0))
        x = basis.zeros()
        x[dirichlet] = 1.0
        system = skfem.condense(A, b, x=x, D=dirichlet)
        t1 = time.perf_counter()
        if solver == "direct":
            c = skfem.solve(*system)
            iterations = 1
        else:
            import pyamg

            Ai, bi, xi, interior = system
            ml = pyamg.smoothed_aggregation_solver(Ai.tocsr())
            residuals: list[float] = []
            xi_new = ml.solve(bi, tol=RTOL, accel="cg", residuals=residuals)
            c = xi.copy()
            c[interior] = xi_new
            iterations = len(residuals) - 1
        t2 = time.perf_counter()
        times |= {"assembly_s": t1 - t0, "solve_s": t2 - t1, "iterations": iterations}
    return np.asarray(c), times


def compare(dim: int, n: int, solver: str) -> dict[str, Any]:
    """Both codes on the unit square/cube with n cells per side; the comparison row."""
    from dolfinx import mesh as dmesh
    from mpi4py import MPI

    comm = MPI.COMM_SELF
    if dim == 3:
        msh = dmesh.create_unit_cube(comm, n, n, n, dmesh.CellType.tetrahedron)
    else:
        msh = dmesh.create_unit_square(comm, n, n, dmesh.CellType.triangle)
    points = msh.geometry.x[:, :dim].copy()
    cells = msh.geometry.dofmaps[0].copy()
    c_dfx, t_dfx = dolfinx_solve(msh, solver)
    c_skf, t_skf = skfem_solve(points, cells, solver)
    ref = exact(points)
    total_dfx = t_dfx["assembly_s"] + t_dfx["solve_s"]
    total_skf = t_skf["assembly_s"] + t_skf["solve_s"]
    row = {
        "dim": dim,
        "n": n,
        "cells": int(cells.shape[0]),
        "dofs": int(points.shape[0]),
        "solver": solver,
        "dolfinx": t_dfx,
        "scikit_fem": t_skf,
        "time_ratio_dolfinx_over_skfem": total_dfx / total_skf,
        "assembly_ratio_dolfinx_over_skfem": t_dfx["assembly_s"] / t_skf["assembly_s"],
        "solve_ratio_dolfinx_over_skfem": t_dfx["solve_s"] / t_skf["solve_s"],
        "max_nodal_difference": float(np.max(np.abs(c_dfx - c_skf))),
        "max_error_dolfinx": float(np.max(np.abs(c_dfx - ref))),
        "max_error_skfem": float(np.max(np.abs(c_skf - ref))),
    }
    print(
        f"{dim}D n={n:4d} dofs={row['dofs']:8d} {solver:9s} "
        f"dolfinx {total_dfx:7.3f}s (asm {t_dfx['assembly_s']:.3f}) "
        f"skfem {total_skf:7.3f}s (asm {t_skf['assembly_s']:.3f}) "
        f"ratio {row['time_ratio_dolfinx_over_skfem']:5.2f} "
        f"max|Δc| {row['max_nodal_difference']:.2e} "
        f"err {row['max_error_dolfinx']:.2e}/{row['max_error_skfem']:.2e}",
        flush=True,
    )
    return row


def main() -> None:
    """Command line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes-2d", type=int, nargs="*", default=[128, 256, 512])
    ap.add_argument("--sizes-3d", type=int, nargs="*", default=[16, 32, 48])
    ap.add_argument("--out", type=Path, help="write the record as JSON")
    args = ap.parse_args()
    comm_world()  # dolfinx before mpi4py (wheel ordering)
    try:
        import pyamg  # noqa: F401

        solvers = ["direct", "amg-cg"]
    except ImportError:
        solvers = ["direct"]
    rows = [
        compare(dim, n, s)
        for dim, sizes in ((2, args.sizes_2d), (3, args.sizes_3d))
        for n in sizes
        for s in solvers
    ]
    import skfem

    record = {
        "benchmark": "peer-scikit-fem",
        "problem": f"-D lap c + k c = 0 on [0,1]^d, c=1 at x=0, D={D}, k={K}, P1",
        "rows": rows,
        "versions": versions() | {"scikit-fem": getattr(skfem, "__version__", None)},
        "git": git_revision(),
        "machine": machine(),
        "note": "times of the second (warm) pass; dolfinx form compilation reported apart",
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(record, indent=1, default=str) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
