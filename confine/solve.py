"""The solver's public names in one place (a facade over the stages).

The solver is a one-way pipeline: :mod:`confine.fem` (spaces and scales →
swept Constants → residual from :mod:`confine.physics` → Dirichlet
conditions, composed by :class:`~confine.fem.model.Model`) →
:mod:`confine.solver` (options, sparsity, per-field Newton, continuation)
→ a frozen :class:`~confine.solution.Solution` that metrics read.
Manufactured solutions live in ``confine.verification`` (tests only).
"""

from __future__ import annotations

from confine.fem.model import Model
from confine.fem.swept import SWEPT, form_signature, is_swept
from confine.solution import Solution
from confine.solver.continuation import (
    Solver,
    SolverError,
    jacobian_at,
    newton_of,
    solve,
)
from confine.solver.newton import DIVERGED_LINEAR_SOLVE, Newton
from confine.solver.options import (
    DIRECT_MAX_WORK,
    DIRECT_OPTIONS,
    FIELD_AMG,
    ITERATIVE_OPTIONS,
)

__all__ = [
    "DIRECT_MAX_WORK",
    "DIRECT_OPTIONS",
    "DIVERGED_LINEAR_SOLVE",
    "FIELD_AMG",
    "ITERATIVE_OPTIONS",
    "SWEPT",
    "Model",
    "Newton",
    "Solution",
    "Solver",
    "SolverError",
    "form_signature",
    "is_swept",
    "jacobian_at",
    "newton_of",
    "solve",
]
