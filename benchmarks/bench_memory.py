"""Memory by part of the 3D iterative solve: where the bytes per unknown go.

The reference urea network (cases/mchs-7nm.toml, -1.1 V; 13 unknowns on the
mesh, 2 coverages on the catalytic layer) on the 3D hexagonal sector at mesh
level ``--level`` (cross_fidelity.py's levels: every target cell size ÷ f),
solved cold by the iterative solver (GMRES + fieldsplit/AMG), then its
metrics. Memory is measured per stage as the change of the process's resident
set (``VmRSS``) and the stage's own peak above its start (``VmHWM``, reset
before each stage through ``/proc/self/clear_refs``): the mesh (gmsh and the
conversion to dolfinx), the model (spaces, Constants, UFL residual), the
Newton solver's set-up (dolfinx's forms, vectors and Jacobian, then the
compaction of the Jacobian: :func:`confine.solver.sparsity.drop_structural_zeros`),
the solve (the preconditioner's sub-matrices and AMG hierarchies, the Krylov
space, the bounded solver if any) and the metrics. The PETSc matrices are
sized from their stored entries (``MatGetInfo``: 8-byte values, 4-byte
column indices; BAIJ one index per block): the Jacobian, the block-insertion
BAIJ matrix, the fieldsplit diagonal blocks and every AMG level (operator
and interpolation). Glibc may keep freed memory, so a stage's RSS change is
an upper bound of what it holds; its peak is what a run must have.

Run: ``PYTHONPATH=. python benchmarks/bench_memory.py [--level 1] [--bath bulk|far-field]
[--jacobian auto|block|lean] [--out benchmarks/records/memory-sector-3d-urea.json]``
(one rank; also under ``mpiexec -n N``: max over ranks).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from cross_fidelity import level_overrides  # noqa: E402
from mpi4py import MPI  # noqa: E402
from petsc4py import PETSc  # noqa: E402

import confine.solve  # noqa: E402
import confine.solver.newton as newton_module  # noqa: E402
from confine.case import load_case  # noqa: E402
from confine.env import versions  # noqa: E402
from confine.mesh import load_mesh  # noqa: E402
from confine.metrics import compute_metrics  # noqa: E402
from confine.solve import FIELD_AMG, ITERATIVE_OPTIONS, Model, Newton, Solver  # noqa: E402

MB = 2**20


def _status(key: str) -> float:
    """A /proc/self/status entry in bytes (VmRSS, VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return float(line.split()[1]) * 1024
    raise KeyError(key)


def _reset_peak() -> None:
    """Reset VmHWM to the current RSS (Linux >= 4.0)."""
    with suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


class Stages:
    """RSS change and peak above the start of each named stage."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, float]] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        before = _status("VmRSS")
        _reset_peak()
        t0 = time.perf_counter()
        yield
        self.rows[name] = {
            "rss_change_bytes": _status("VmRSS") - before,
            "peak_above_start_bytes": _status("VmHWM") - before,
            "peak_bytes": _status("VmHWM"),
            "seconds": time.perf_counter() - t0,
            "rss_after_bytes": _status("VmRSS"),
        }


def _matrix_bytes(A: Any) -> dict[str, float]:
    """Stored entries and bytes of a PETSc matrix (values, indices and row pointers);
    none for a view (a Python matrix: confine.solver.field_view)."""
    if A.getType() == "python":
        return {"entries": 0.0, "bytes": 0.0}
    info = A.getInfo()
    nz = float(info["nz_allocated"])
    rows = A.getLocalSize()[0]
    bs = A.getBlockSize() if A.getType().endswith("baij") else 1
    return {"entries": nz, "bytes": nz * 8 + nz / (bs * bs) * 4 + rows / bs * 8}


def _sum(parts: list[dict[str, float]]) -> dict[str, float]:
    return {k: sum(p[k] for p in parts) for k in ("entries", "bytes")} | {"count": len(parts)}


def _amg_parts(pc: Any) -> dict[str, float]:
    """The operators (below the finest, which is the field's block) and the
    interpolations of a GAMG hierarchy."""
    if pc.getType() != "gamg":
        return _sum([])
    n = pc.getMGLevels()
    mats = [_matrix_bytes(pc.getMGSmoother(lvl).getOperators()[0]) for lvl in range(n - 1)]
    mats += [_matrix_bytes(pc.getMGInterpolation(lvl)) for lvl in range(1, n)]
    return _sum(mats) | {"levels": n}


def preconditioner_parts(pc: Any) -> dict[str, Any]:
    """The fieldsplit's diagonal blocks and the AMG hierarchies under it (recursive)."""
    out: dict[str, Any] = {"blocks": [], "amg": []}

    def walk(p: Any) -> None:
        if p.getType() != "fieldsplit":
            out["amg"].append(_amg_parts(p))
            return
        for ksp in p.getFieldSplitSubKSP():
            out["blocks"].append(_matrix_bytes(ksp.getOperators()[1]))
            walk(ksp.getPC())

    walk(pc)
    return {"diagonal_blocks": _sum(out["blocks"]), "amg_hierarchies": _sum(out["amg"])}


def solver_parts(newton: Any) -> dict[str, Any]:
    """The Jacobian, the block-insertion objects and the preconditioner's matrices."""
    snes = newton.snes
    parts: dict[str, Any] = {"jacobian": _matrix_bytes(newton.nlp.A)}
    jac = snes.getJacobian()[2][0]
    jac = getattr(jac, "callback", jac)  # under _Timed
    if hasattr(jac, "direct"):
        local = jac.local  # None with the lean storage
        if local is not None:
            parts["block_insertion_baij"] = _matrix_bytes(local)
        direct = getattr(jac, "direct", None)
        arrays = [getattr(jac, k) for k in ("gather", "offsets", "values") if hasattr(jac, k)]
        arrays += [direct.starts] if direct is not None else []
        parts["block_insertion_arrays"] = {"bytes": float(sum(a.nbytes for a in arrays))}
        if hasattr(jac, "values"):
            # PETSc's COO map of the Jacobian (MatSetPreallocationCOO): jmap (one count per
            # stored entry) and perm (one per COO entry), 8-byte PetscCount each
            nnz = parts["jacobian"]["entries"]
            parts["jacobian_coo_map"] = {"bytes": 8.0 * (nnz + 1 + len(jac.values))}
    pc = snes.getKSP().getPC()
    parts.update(preconditioner_parts(pc))
    ksp = snes.getKSP()
    restart = PETSc.Options().getInt(f"{newton._prefix}ksp_gmres_restart", 30)
    n = newton.nlp.x.getLocalSize()
    # GMRES allocates its basis 10 vectors at a time, up to the restart (+ 2 work vectors)
    used = min(restart, -(-(ksp.getIterationNumber() + 1) // 10) * 10) + 2
    parts["krylov_basis"] = {"vectors": used, "bytes": float(used * n * 8), "restart": restart}
    parts["ksp_type"] = ksp.getType()
    return parts


def _revision() -> str:
    """The git revision of the confine package that ran (PYTHONPATH may point elsewhere)."""
    where = Path(confine.solve.__file__).resolve().parent.parent
    out = subprocess.run(
        ["git", "-C", str(where), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
    )
    return f"{out.stdout.strip()} ({where})"


def _watch_compaction(stages: Stages) -> Callable[..., None]:
    """Time and size drop_structural_zeros (inside Newton's set-up) as its own stage."""
    original = newton_module.drop_structural_zeros

    def watched(*args: Any) -> None:
        with stages("newton: compaction of the Jacobian (drop_structural_zeros)"):
            original(*args)

    newton_module.drop_structural_zeros = watched
    return original


class _Timed:
    """A SNES Jacobian callback, its calls counted and timed."""

    def __init__(self, callback: Any) -> None:
        self.callback, self.calls, self.seconds = callback, 0, 0.0

    def __call__(self, *args: Any) -> None:
        t0 = time.perf_counter()
        self.callback(*args)
        self.seconds += time.perf_counter() - t0
        self.calls += 1


def run(level: float, bath: str) -> dict[str, Any]:
    """Build, solve and measure one level."""
    comm = MPI.COMM_WORLD
    stages = Stages()
    sets = {"geometry.model": "sector-3d", "geometry.bath_boundary": bath}
    path = ROOT / "cases" / "mchs-7nm.toml"
    base = load_case(path, set=sets)
    case = load_case(path, set={**sets, **level_overrides(base, level)})
    start_rss, start_peak = _status("VmRSS"), _status("VmHWM")
    with stages("mesh (gmsh or cache, conversion to dolfinx)"):
        md = load_mesh(case, comm)
    with stages("model (spaces, Constants, UFL residual, conditions)"):
        model = Model(case, md, comm)
    original = _watch_compaction(stages)
    with stages("newton (forms compiled, vectors, dolfinx Jacobian; compaction included)"):
        newton = Newton(model.spaces, model.params, model.F, model.bcs, linear_solver="iterative")
    newton_module.drop_structural_zeros = original
    jacobian: Any = newton.snes.getJacobian()
    timed = _Timed(jacobian[2][0])
    newton.snes.setJacobian(
        timed, jacobian[0], jacobian[1], args=jacobian[2][1], kargs=jacobian[2][2]
    )
    solver = Solver(model, newton)
    with stages("solve (PC set-up: sub-matrices, AMG; Krylov space; continuation)"):
        sol = solver.solve()
    with stages("metrics"):
        metrics = compute_metrics(case, md, sol, comm)
    dofs = sol.dofs
    parts = solver_parts(newton)
    record = {
        "level": level,
        "bath_boundary": bath,
        "cells": md.mesh.topology.index_map(3).size_global,
        "dofs": dofs,
        "newton_iterations": sol.newton_iterations,
        "linear_iterations": sol.linear_iterations,
        "jacobian_storage": "lean" if getattr(timed.callback, "lean", False) else "block",
        "jacobian_assembly": {"calls": timed.calls, "seconds": timed.seconds},
        # equal hashes: the same metrics to the last digit (before and after a change)
        "metrics_sha256": hashlib.sha256(
            json.dumps(metrics, sort_keys=True, default=str).encode()
        ).hexdigest(),
        "metrics": metrics,
        "start_rss_bytes": start_rss,
        "stages": stages.rows,
        "parts": parts,
        # the stages reset VmHWM (and with it getrusage's peak): the process peak is
        # the largest of the stages' peaks and of the imports' before them
        "process_peak_rss_mb": comm.allreduce(
            max(start_peak, *(r["peak_bytes"] for r in stages.rows.values())) / MB, op=MPI.MAX
        ),
    }
    return record


def per_unknown(record: dict[str, Any]) -> dict[str, float]:
    """Bytes per unknown of each stage's peak and each part."""
    n = record["dofs"] / MPI.COMM_WORLD.size
    out = {f"stage peak: {k}": v["peak_above_start_bytes"] / n for k, v in record["stages"].items()}
    for k, v in record["parts"].items():
        if isinstance(v, dict) and "bytes" in v:
            out[f"part: {k}"] = v["bytes"] / n
    out["process peak"] = record["process_peak_rss_mb"] * MB / n
    out["process peak minus start (imports)"] = (
        record["process_peak_rss_mb"] * MB - record["start_rss_bytes"]
    ) / n
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--level", type=float, default=1.0, help="mesh level f (h ∝ 1/f)")
    ap.add_argument("--bath", default="far-field", choices=("bulk", "far-field"))
    ap.add_argument("--out", type=Path, help="write the record as JSON")
    ap.add_argument(
        "--jacobian",
        choices=("auto", "block", "lean"),
        help="the species block's storage (sets CONFINE_JACOBIAN; default: its value or auto)",
    )
    args = ap.parse_args()
    if args.jacobian:
        os.environ["CONFINE_JACOBIAN"] = args.jacobian
    record = run(args.level, args.bath)
    full = {
        "benchmark": "memory",
        "command": " ".join(sys.argv),
        "revision": _revision(),
        "ranks": MPI.COMM_WORLD.size,
        "machine": platform.node(),
        "versions": versions(),
        "petsc_options": {"iterative": ITERATIVE_OPTIONS, "iterative_field_amg": FIELD_AMG},
        **record,
        "bytes_per_unknown": per_unknown(record),
    }
    if MPI.COMM_WORLD.rank == 0:
        for k, v in full["bytes_per_unknown"].items():
            print(f"{v:10.0f} B/unknown  {k}")
        print(f"dofs {record['dofs']}, peak {record['process_peak_rss_mb']:.0f} MiB")
        if args.out:
            args.out.write_text(json.dumps(full, indent=1, default=str))
    PETSc.garbage_cleanup()


if __name__ == "__main__":
    main()
