"""The solver's hand-off: a frozen Solution that holds no solver object."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

from confine.case import load_case
from confine.mesh import load_mesh
from confine.solution import Solution
from confine.solver.continuation import newton_of, solve
from confine.solver.newton import Newton

ROOT = Path(__file__).resolve().parent.parent


def _solved() -> Solution:
    case = load_case(ROOT / "cases" / "first-order-shell.toml")
    return solve(case, load_mesh(case, MPI.COMM_WORLD))


def _solver_objects(obj: object) -> list[str]:
    """Attributes of obj (one level) that are solver objects: Newton, PETSc SNES/KSP."""
    from petsc4py import PETSc

    found = []
    for name, value in vars(obj).items():
        if isinstance(value, Newton | PETSc.SNES | PETSc.KSP):
            found.append(name)
    return found


def test_solution_is_frozen_and_its_state_read_only() -> None:
    sol = _solved()
    with pytest.raises(dataclasses.FrozenInstanceError):
        sol.converged = False  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        sol.state[0][0] = 1.0


def test_solution_and_its_model_hold_no_solver() -> None:
    """The Newton solver lives beside the model (for warm starts), never in the
    Solution or the model it reads; the model's state is the solution's."""
    sol = _solved()
    assert _solver_objects(sol) == []
    assert _solver_objects(sol.model) == []
    assert isinstance(newton_of(sol.model), Newton)  # reachable only through the solver
    model = sol.load()
    assert np.array_equal(model.state()[0], sol.state[0])
