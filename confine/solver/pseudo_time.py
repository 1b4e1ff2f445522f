"""A march to steady state: the steady residual, the time-step rule and the stop test.

A transient case with ``solver.until = "steady"`` is marched with backward
Euler by :meth:`confine.solver.continuation.Solver._march` until it no longer
changes: pseudo-transient continuation with switched evolution relaxation
(SER, Mulder & van Leer 1985; Kelley & Keyes, SIAM J. Numer. Anal. 35 (1998)
508). The first step is ``solver.time_step``; after each converged step the
next is the last times the fall of the steady residual since the step before,

    Δt_{n+1} = Δt_n · min(:data:`GROWTH_CAP`, ‖F(u_{n−1})‖ / ‖F(u_n)‖),

at least doubled after a step Newton solved in a few iterations (where the
residual falls slowly SER alone would keep the step) and never grown after a
hard one; failed steps are halved (:mod:`confine.solver.continuation`).
where F is the steady residual (the time term dropped: the model's old state
set to its current one). The march has reached steady state when
‖F(u_n)‖ ≤ max(atol, :data:`~confine.solver.convergence.RESIDUAL_DROP`
‖F(u_0)‖) (``solver.atol``; u_0 the switch-on state: the fall a steady Newton
solve is asked for, from the start of the march), or when a step of at least
the first time step moved no field by more than ``solver.rtol`` of its size
(the residual at its round-off floor). The steady solve started from there
polishes it: a march run on to the round-off floor would leave that solve
nothing to reduce, and its test (a fall of RESIDUAL_DROP, or an undamped
correction below rtol) could then fail on a state that is already steady.
What it reaches is a function of the case only: the steady state the
switched-on electrode relaxes to from the bulk.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from confine.env import import_dolfinx
from confine.fem.model import Model
from confine.solver.convergence import RESIDUAL_DROP
from confine.solver.newton import Newton

import_dolfinx()
from dolfinx.fem import petsc as fem_petsc  # noqa: E402

#: Largest growth of the time step from one step to the next.
GROWTH_CAP = 10.0
#: Least growth of the time step after a step Newton solved easily: where the steady
#: residual falls slowly (a slow mode, far from steady state) SER alone keeps the step.
EASY_GROWTH = 2.0
#: Largest fall of the time step after a step whose residual grew (a front passing).
SHRINK_CAP = 0.1
#: Largest time step, over the first: none in effect (dt → ∞ is Newton on the steady
#: equations). Coverages whose kinetics are ~1e-17 of their scale (a film built from a
#: poisoned particle's effectiveness factors) relax over ~1e16 s.
MAX_GROWTH = 1e100


def set_old_state(model: Model) -> None:
    """The previous time level := the current state (the time term of the residual is
    then zero)."""
    model.u_old.x.array[:] = model.u.x.array
    if model.theta_old is not None and model.theta is not None:
        model.theta_old.x.array[:] = model.theta.x.array


def steady_residual(model: Model, newton: Newton) -> float:
    """‖F‖ (the SNES's norm, scaled units) of the steady equations at the model's state
    (collective): the residual with the old state set to the current one. The old state
    is put back afterwards: the metrics of a march's last state read its accumulation."""
    old = [f.x.array.copy() for f in _old(model)]
    set_old_state(model)
    x = newton.nlp.x.duplicate()
    f: Any = newton.nlp.b.duplicate()
    fem_petsc.assign(_functions(model), x)
    newton.snes.computeFunction(x, f)
    norm = float(f.norm())
    x.destroy()
    f.destroy()
    for func, values in zip(_old(model), old, strict=True):
        func.x.array[:] = values
    return norm


def _old(model: Model) -> list[Any]:
    """The previous time level's Functions."""
    return [model.u_old] + ([model.theta_old] if model.theta_old is not None else [])


def owned_values(model: Model, newton: Newton) -> np.ndarray:
    """The unknowns of this rank in the solver's vector layout (a copy)."""
    x = newton.nlp.x.duplicate()
    fem_petsc.assign(_functions(model), x)
    out = np.array(x.array_r, copy=True)
    x.destroy()
    return out


def _functions(model: Model) -> Any:
    return [model.u, model.theta] if model.theta is not None else model.u


class SteadyMarch:
    """The time-step rule and the stop test of a march to steady state (module doc).

    Args:
        newton: the model's solver (its per-field step test judges "no change").
        first_step: ``solver.time_step`` (s).
        rtol, atol: ``solver.rtol``, ``solver.atol``.
    """

    def __init__(self, newton: Newton, first_step: float, rtol: float, atol: float):
        self.newton = newton
        self.first_step = first_step
        self.rtol, self.atol = rtol, atol
        self.start = math.nan  # ‖F(u_0)‖
        self.previous = math.nan  # ‖F‖ at the state before the last
        self.last = math.nan  # ‖F‖ now

    @property
    def tolerance(self) -> float:
        """The steady residual's target: max(atol, RESIDUAL_DROP ‖F(u_0)‖)."""
        return max(self.atol, RESIDUAL_DROP * self.start)

    def residual(self, value: float) -> bool:
        """Take the steady residual at the current state; whether it is steady."""
        if math.isnan(self.start):
            self.start = value
        self.previous, self.last = self.last, value
        return value <= self.tolerance

    def unchanged(self, step: float, before: np.ndarray, after: np.ndarray) -> bool:
        """A converged step of at least the first time step that moved no field by more
        than rtol of its size (collective)."""
        small = self.newton.test.small_step(after - before, after, self.rtol)
        return step >= self.first_step and small

    def next_step(self, step: float, easy: bool) -> float:
        """The time step after a converged one of ``step`` (SER, capped both ways); after
        an ``easy`` step (Newton converged in a few iterations) at least
        :data:`EASY_GROWTH` times it, else at most the same."""
        ratio = 1.0
        if self.previous > 0.0 and self.last > 0.0:
            ratio = min(GROWTH_CAP, max(SHRINK_CAP, self.previous / self.last))
        ratio = max(ratio, EASY_GROWTH) if easy else min(ratio, 1.0)
        return min(step * ratio, MAX_GROWTH * self.first_step)
