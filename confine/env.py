"""Runtime environment: import dolfinx in the right order and report versions.

The PyPI wheel ``dolfinx-solver-real`` needs ``dolfinx_solver`` imported before
``dolfinx``/``petsc4py`` (it orders the MPI libraries); conda and spack builds
have no such module and need nothing.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import platform
import subprocess
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from confine._version import __version__

#: A run's choices made by environment variables (how, not what: never part of a
#: case): name -> allowed values, the first the default.
RUN_CHOICES: dict[str, tuple[str, ...]] = {
    "CONFINE_JACOBIAN": ("auto", "block", "lean"),  # confine.solver.options
    "CONFINE_PARTITION": ("balanced", "cells"),  # confine.partition
}


def run_choice(name: str) -> str:
    """The value of the run choice ``name`` (:data:`RUN_CHOICES`; unset: its default).

    Raises:
        ValueError: a value it does not allow, naming the variable and the rule.
    """
    allowed = RUN_CHOICES[name]
    value = os.environ.get(name) or allowed[0]
    if value not in allowed:
        raise ValueError(f"{name}={value!r}: must be one of {', '.join(allowed)}")
    return value


@cache
def import_dolfinx() -> ModuleType:
    """Import dolfinx (after ``dolfinx_solver`` where the wheel provides it).

    Returns:
        The dolfinx module.

    Raises:
        ImportError: with install instructions when dolfinx is missing.
    """
    with contextlib.suppress(ImportError):  # conda/spack dolfinx: nothing to order
        importlib.import_module("dolfinx_solver")
    try:
        return importlib.import_module("dolfinx")
    except ImportError as err:
        raise ImportError(
            "dolfinx is not importable: run `make setup` (installs the dolfinx-solver-real "
            "wheel), or install FEniCSx with conda/spack and `pip install -e .` into it"
        ) from err


def comm_world() -> Any:
    """MPI.COMM_WORLD, with dolfinx imported first (the wheel must order MPI before mpi4py)."""
    import_dolfinx()
    from mpi4py import MPI  # heavy and optional: only after dolfinx, only when asked

    return MPI.COMM_WORLD


def release_unreachable(comm: Any) -> None:
    """Free the PETSc objects and MPI communicators of unreachable meshes and solvers.

    Python frees cycles only when the cyclic garbage collector runs, and
    petsc4py defers destroying collected parallel PETSc objects to
    ``garbage_cleanup``: a process that builds hundreds of meshes (a sweep, a
    fit, a test session) would otherwise hold their communicators. Collective.
    """
    import_dolfinx()
    from petsc4py import PETSc  # heavy and optional: only after dolfinx, only when asked

    gc.collect()
    PETSc.garbage_cleanup(comm)


def _version(module: str) -> str | None:
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    return str(getattr(mod, "__version__", "unknown"))


def versions() -> dict[str, str | None]:
    """Versions of confine and the libraries it runs on (None: not installed)."""
    out: dict[str, str | None] = {"confine": __version__, "python": platform.python_version()}
    try:
        import_dolfinx()
        out["dolfinx"] = _version("dolfinx")
        from petsc4py import PETSc  # heavy and optional: only after dolfinx

        out["petsc"] = ".".join(str(v) for v in PETSc.Sys.getVersion())
    except ImportError:
        out["dolfinx"] = out["petsc"] = None
    for name in ("gmsh", "numpy", "scipy", "pint", "meshio", "pyvista"):
        out[name] = _version(name)
    return out


def git_revision() -> str | None:
    """The git revision of the confine checkout, if it is one."""
    root = Path(__file__).resolve().parent.parent
    try:
        res = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout.strip() or None
