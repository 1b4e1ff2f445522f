"""PETSc options of the Newton solve: line-search Newton, and MUMPS LU or GMRES
with a field-by-field preconditioner.

MUMPS LU in 2D and small 3D, GMRES + fieldsplit/AMG above
:data:`DIRECT_MAX_WORK` in 3D (``linear_solver = "auto"``); a case or a caller
can force either. :func:`split_fields` names the fieldsplit blocks.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, cast

import numpy as np

from confine.case import Case
from confine.env import RUN_CHOICES, import_dolfinx, run_choice

import_dolfinx()
from petsc4py import PETSc  # noqa: E402

#: A bounded (VI) step pins a variable at its bound only where it sits there (the VI
#: projects it onto the bound exactly). PETSc's default, 1e-8, pins every unknown
#: within 1e-8 of its bound, in scaled units: H+ at pH 12 in an electrode film is
#: 1e-8 of its pH-4 bulk, so it was frozen there, its balance unsolved (3.7e-4).
VI_ZERO_TOLERANCE = 0.0
#: Direct solve: MUMPS LU (2D, and 3D up to DIRECT_MAX_WORK).
DIRECT_OPTIONS: dict[str, Any] = {
    "ksp_type": "preonly",
    "pc_type": "lu",
    "pc_factor_mat_solver_type": "mumps",
    # workspace +50 % over MUMPS's estimate (default +20 %): the pivoting of a fast
    # surface reaction next to slow diffusion can need more (INFOG(1) = -9 otherwise,
    # a failed linear solve, e.g. a Tafel sphere at k = 0.1 m/s)
    "mat_mumps_icntl_14": 50,
}
#: Iterative solve (3D): GMRES with a field-by-field preconditioner. The
#: unknowns on the full mesh (species, φ) are split into one block per field,
#: each preconditioned by one V-cycle of scalar smoothed-aggregation AMG
#: (:data:`FIELD_AMG`), the blocks applied additively (block Jacobi over
#: fields); the coverages on the catalyst submesh follow multiplicatively with
#: ILU on overlapping subdomains (additive Schwarz, one layer of overlap: on one
#: rank the ILU of the whole block, as good as exact there; block Jacobi instead
#: drops the couplings across the partition, and on 2 ranks GMRES then took 566
#: iterations on the sector of cases/mchs-7nm.toml against 529 with the
#: coverages solved exactly, as with this, and 436 on one rank). Every field
#: alone is a scalar diffusion–migration–reaction operator that AMG solves in
#: ~15 iterations, while AMG on the node-blocked coupled matrix (all fields per
#: aggregate, constants as near-null space) fails on the urea network, where
#: migration (product ions to φ) and the buffer reactions couple the fields:
#: GMRES breaks down after hundreds of iterations (benchmarks/README.md,
#: "Iterative solver"); left out of the preconditioner, GMRES absorbs these
#: couplings. The per-field options are added by :func:`iterative_options`
#: (their number depends on the case).
ITERATIVE_OPTIONS: dict[str, Any] = {
    "ksp_type": "gmres",
    "ksp_gmres_restart": 200,
    "ksp_rtol": 1e-10,
    "ksp_max_it": 1000,
    "pc_type": "fieldsplit",
    "pc_fieldsplit_type": "multiplicative",
    "fieldsplit_c_ksp_type": "preonly",
    "fieldsplit_c_pc_type": "fieldsplit",
    "fieldsplit_c_pc_fieldsplit_type": "additive",
    "fieldsplit_theta_ksp_type": "preonly",
    "fieldsplit_theta_pc_type": "asm",
    "fieldsplit_theta_pc_asm_overlap": 1,
}
#: Preconditioner of one field's block: a V-cycle of smoothed-aggregation AMG,
#: Richardson/SOR smoothing (the blocks are not symmetric: no Chebyshev), four
#: sweeps per level instead of two: on the sector-3d urea network GMRES then
#: needs 21 → 24 iterations from h to h/2 instead of 21 → 28, in the same time.
FIELD_AMG: dict[str, Any] = {
    "ksp_type": "preonly",
    "pc_type": "gamg",
    "mg_levels_ksp_type": "richardson",
    "mg_levels_ksp_max_it": 4,
    "mg_levels_pc_type": "sor",
}
#: Largest 3D problem solved directly when linear_solver = "auto", as nodes × k³
#: for k unknowns on the mesh (150k nodes for one field; 2.3k for 4, 68 for 13):
#: the LU of k coupled fields costs about k³ times a scalar one, the iterative
#: solve about k times. Measured cold (one rank; benchmarks/README.md, "Block
#: insertion"): the 3D manufactured problem (4 fields + 1 coverage) at 10k
#: unknowns MUMPS 2.1 s, GMRES 0.8 s; at 71k 46 s / 1.6 GB against 5.3 s /
#: 0.5 GB; the urea sector at 16k 8.7 s against 3.3 s; one field at 49k about
#: even (11.6 against 12.8 s).
DIRECT_MAX_WORK = 150_000
#: MUMPS's LU of a 3D problem, measured: 1.6 GB at 71k unknowns (one rank, above); its
#: fill grows about as unknowns^(4/3) in 3D (nested dissection). A failed iterative solve
#: is retried with MUMPS only where that estimate fits the memory available.
DIRECT_BYTES_AT = (71_000, 1.6e9)
#: The linear solver choices of a case or a caller.
LINEAR_SOLVERS = ("auto", "direct", "iterative")
#: How the species block of the Jacobian is assembled (where block insertion can run):
#: "block" (block insertion into a BAIJ, a chunk of cells at a time
#: (:mod:`~confine.solver.cell_chunks`), gathered into the compacted AIJ: fast, and
#: no more than ~64 MiB of BAIJ at once), "lean" (dolfinx inserts value by value into
#: the compacted AIJ: ~50 B less per unknown, each Jacobian ~3× slower) or "auto"
#: (= "block"). Environment variable ``CONFINE_JACOBIAN`` (a run's choice: not part
#: of the case). benchmarks/README.md, "Memory by part".
JACOBIAN_STORAGES = RUN_CHOICES["CONFINE_JACOBIAN"]


def direct_bytes(unknowns: int) -> float:
    """Estimated memory of MUMPS's LU of a 3D problem of ``unknowns`` (all ranks)."""
    n0, b0 = DIRECT_BYTES_AT
    return b0 * (unknowns / n0) ** (4.0 / 3.0)


def is_direct(kind: str, tdim: int, nodes: int, unknowns: int) -> bool:
    """Whether a solve takes MUMPS LU: ``kind`` "direct", or "auto" in 2D and for 3D
    meshes up to :data:`DIRECT_MAX_WORK` (``nodes`` × ``unknowns``³)."""
    if kind != "auto":
        return kind == "direct"
    if tdim < 3:
        return True
    return nodes * unknowns**3 <= DIRECT_MAX_WORK


def lean_jacobian(kind: str | None = None) -> bool:
    """Whether the species block is assembled lean (:data:`JACOBIAN_STORAGES`):
    ``kind``, else ``CONFINE_JACOBIAN``, else "auto" (block insertion)."""
    kind = kind or run_choice("CONFINE_JACOBIAN")
    if kind not in JACOBIAN_STORAGES:
        raise ValueError(f"Jacobian storage must be auto, block or lean: {kind!r}")
    return kind == "lean"


def memory_available() -> float:
    """This machine's available memory in bytes (``MemAvailable`` of /proc/meminfo;
    infinite where there is none)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return float("inf")


def view_fieldsplit(jacobian: Any) -> bool:
    """Whether the fieldsplit preconditioner takes its blocks from a view of the
    Jacobian (:mod:`confine.solver.field_view`): where the Jacobian callback keeps the
    view's state (block insertion's), unless ``CONFINE_PC_VIEW=0``."""
    return hasattr(jacobian, "lean") and os.environ.get("CONFINE_PC_VIEW", "1") != "0"


def iterative_options(unknowns: int, adsorbed: bool) -> dict[str, Any]:
    """:data:`ITERATIVE_OPTIONS` with one :data:`FIELD_AMG` block per unknown on the
    full mesh (species, φ): inside the "c" split with adsorbates, at the top
    level (the splits named "0", "1", ... by :func:`split_fields`) without."""
    if adsorbed:
        out = dict(ITERATIVE_OPTIONS)
        out["fieldsplit_c_pc_fieldsplit_block_size"] = unknowns
        prefix = "fieldsplit_c_fieldsplit_"
    else:
        out = {k: v for k, v in ITERATIVE_OPTIONS.items() if not k.startswith("fieldsplit")}
        out["pc_fieldsplit_type"] = "additive"
        prefix = "fieldsplit_"
    for i in range(unknowns):
        out.update({f"{prefix}{i}_{k}": v for k, v in FIELD_AMG.items()})
    return out


def newton_options(
    case: Case, direct: bool, unknowns: int, adsorbed: bool, extra: Mapping[str, Any]
) -> dict[str, Any]:
    """The SNES options: line-search Newton, the linear solver's options, then the
    case's ``solver.petsc_options`` and ``extra`` over them."""
    s = case.solver
    opts: dict[str, Any] = {
        "snes_type": "newtonls",
        "snes_linesearch_type": "bt",
        "snes_rtol": s.rtol,
        "snes_atol": s.atol,
        "snes_stol": 0.0,
        "snes_max_it": s.max_iterations,
        "snes_divergence_tolerance": -1,
    }
    opts.update(DIRECT_OPTIONS if direct else iterative_options(unknowns, adsorbed))
    opts.update(s.petsc_options)
    opts.update(extra)
    return with_vi_tolerance(opts)


def with_vi_tolerance(opts: dict[str, Any]) -> dict[str, Any]:
    """``opts`` with :data:`VI_ZERO_TOLERANCE` where they make a bounded (VI) SNES and
    do not set it (on any other SNES PETSc would report the option unused)."""
    if str(opts.get("snes_type", "")).startswith("vi"):
        return {"snes_vi_zero_tolerance": VI_ZERO_TOLERANCE, **opts}
    return opts


def _index_set(indices: np.ndarray, comm: Any) -> Any:
    """A PETSc index set of global indices (owned by this rank)."""
    return PETSc.IS().createGeneral(cast(Any, indices), comm=comm)


def split_fields(pc: Any, start: int, n0: int, bs0: int, n1: int | None, comm: Any) -> Any:
    """Name the blocks of a fieldsplit preconditioner: "c" (species and φ: ``n0`` owned
    entries from ``start``, ``bs0`` per node) and "theta" (``n1`` coverages), or one
    split per unknown ("0", "1", ...) without adsorbates (``n1`` None). Returns the
    "c" split's index set (None without adsorbates)."""
    if n1 is None:
        splits = []
        for i in range(bs0):  # named by index: species names are no option prefixes
            idx = start + np.arange(i, n0, bs0, dtype=np.int32)
            splits.append((str(i), _index_set(idx, comm)))
        pc.setFieldSplitIS(*splits)
        return None
    is0 = _index_set(start + np.arange(n0, dtype=np.int32), comm)
    is0.setBlockSize(bs0)
    is1 = _index_set(start + n0 + np.arange(n1, dtype=np.int32), comm)
    pc.setFieldSplitIS(("c", is0), ("theta", is1))
    return is0
