"""Shared fixtures. MPI tests are marked `mpi` and run under `mpiexec -n 2`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def root() -> Path:
    """The repository root."""
    return ROOT


@pytest.fixture(autouse=True, scope="module")
def _release_petsc_objects() -> Iterator[None]:
    """After each module: free unreachable PETSc objects and their MPI communicators.

    Tests that call the solver directly build hundreds of meshes and solvers in
    one process; petsc4py destroys collected objects only in ``garbage_cleanup``
    (``confine.run`` does this itself before each new mesh). Collective.
    """
    yield
    from confine.env import comm_world, release_unreachable

    release_unreachable(comm_world())
