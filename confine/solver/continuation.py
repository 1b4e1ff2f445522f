"""From the bulk state to a solution: rate continuation, time stepping, warm starts.

Steady runs: continuation on a multiplier s of every catalytic rate constant
(and, from 1e-4 at the start, of every wall charge and wall potential,
[[walls]] of the poisson models: :data:`confine.fem.parameters.WALL_FLOOR`),
s = 1e-8 … 1 geometrically, from the bulk, nearly uncharged state with
coverages balancing the site kinetics (which solves s → 0 exactly); a failed
step is halved, and a step that needed more than :data:`SLOW_STEP_ITERATIONS`
Newton iterations halves the next increment. Each step is one
:meth:`confine.solver.newton.Newton.step`. A warm start (``initial``) first
tries s = 1. Transient runs march with backward Euler (see :func:`solve`).

The solver of a model lives as long as the model (:func:`newton_of`): a
warm-started sweep reuses the model (Functions, compiled forms) and its SNES
and matrices across points, while a :class:`~confine.solution.Solution`
refers to the model only.
"""

from __future__ import annotations

import functools
import logging
import math
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from confine.case import Case
from confine.env import import_dolfinx
from confine.fem.model import Model
from confine.fem.parameters import assign
from confine.fem.residual import SourceHook
from confine.fem.transfer import map_cell_state
from confine.mesh import MeshData
from confine.solution import Solution, frozen_state
from confine.solver.newton import DIVERGED_LINEAR_SOLVE, Newton
from confine.solver.options import direct_bytes, memory_available
from confine.solver.pseudo_time import SteadyMarch, owned_values, set_old_state, steady_residual

import_dolfinx()
from mpi4py import MPI  # noqa: E402

log = logging.getLogger("confine")

#: First continuation multiplier (the bulk state solves s → 0).
S_START = 1e-8
#: Most halvings of a failed continuation step.
MAX_HALVINGS = 12
#: Newton iterations above which a converged continuation step halves the next
#: increment in log s (double-layer runs crawl under the line search otherwise).
SLOW_STEP_ITERATIONS = 10
#: A backward-Euler step converged in at most this many iterations doubles the next.
MARCH_GROWTH_ITERATIONS = 10
#: Backward-Euler steps a march may try (converged or not) before it is failed: a march
#: whose steps stay ~1e-5 of time_step (Newton failing again at every doubling) would
#: otherwise run for hours (an electrode film at -0.9 V: 1,500 steps at t = 981 s of 1,136).
MAX_MARCH_STEPS = 500
#: A march's steps count as converged once their residual is below this times the
#: first step's initial residual (the switch-on). Near steady state a step starts from
#: a residual only 10²-10³ above the round-off floor of the largest terms (an electrode
#: film: 3.7e-9, floor ~2e-11, switch-on 289), so "fell by RESIDUAL_DROP" cannot be met
#: and steps failed at any size. The march only finds the steady solve's start.
MARCH_FLOOR = 1e-12
#: Smallest increment in log10 s that slow steps halve down to (failures still halve).
MIN_LOG_STEP = 1.0 / 16.0

#: The Newton solver of each live model (dropped with the model).
_SOLVERS: weakref.WeakKeyDictionary[Model, Newton] = weakref.WeakKeyDictionary()


class SolverError(RuntimeError):
    """Newton did not converge.

    Attributes:
        history: residual norms of every Newton iteration of the failed solve.
        step: continuation step reached (index into ``multipliers``).
        multiplier: the rate-constant multiplier at which it failed.
        converged_multiplier: the last multiplier that converged (None: none did).
        reason: the SNES converged reason (negative).
    """

    def __init__(
        self,
        message: str,
        *,
        history: Sequence[float],
        step: int,
        multiplier: float,
        converged_multiplier: float | None,
        reason: int,
    ):
        self.message = message
        self.history = list(history)
        self.step = step
        self.multiplier = multiplier
        self.converged_multiplier = converged_multiplier
        self.reason = reason
        tail = ", ".join(f"{r:.3e}" for r in self.history[-12:])
        super().__init__(
            f"{message}: continuation step {step} (rate multiplier {multiplier:.3e}; last "
            f"converged {converged_multiplier!s}), SNES reason {reason}, residual history "
            f"[{tail}]"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # rebuilt from its arguments where it is unpickled: a pool worker's failure
        # reaching its parent (the default, from ``args``, fails there and breaks the pool)
        kw: dict[str, Any] = {
            "history": self.history,
            "step": self.step,
            "multiplier": self.multiplier,
            "converged_multiplier": self.converged_multiplier,
            "reason": self.reason,
        }
        return (functools.partial(type(self), **kw), (self.message,))


def newton_of(model: Model) -> Newton:
    """The Newton solver a model was solved with (for benchmarks, diagnostics and
    tangent solves).

    Raises:
        KeyError: the model has no solver (it was never solved).
    """
    return _SOLVERS[model]


def jacobian_at(model: Model, state: Sequence[np.ndarray]) -> Any:
    """The assembled Newton Jacobian (both blocks, Dirichlet rows the identity) at a
    state, a new PETSc matrix the caller destroys; the model's Functions hold
    ``state`` afterwards."""
    model.restore(state)
    return newton_of(model).jacobian()


class Solver:
    """A model and its Newton solver: solves from the bulk or from a warm start."""

    def __init__(self, model: Model, newton: Newton):
        self.model, self.newton = model, newton
        _SOLVERS[model] = newton

    @classmethod
    def build(
        cls,
        case: Case,
        meshdata: MeshData,
        comm: MPI.Comm | None = None,
        *,
        manufactured: SourceHook | None = None,
        petsc_options: Mapping[str, Any] | None = None,
        linear_solver: str | None = None,
    ) -> Solver:
        """A new model of the case on the mesh, and its solver."""
        model = Model(case, meshdata, comm, manufactured=manufactured)
        newton = Newton(
            model.spaces,
            model.params,
            model.F,
            model.bcs,
            petsc_options=petsc_options,
            linear_solver=linear_solver,
        )
        return cls(model, newton)

    def _newton(self, record: _Record) -> tuple[int, int]:
        reason, its, lits = self.newton.step()
        record.newton += its
        record.linear += lits
        record.history += self.newton.history
        return reason, its

    def _error(self, message: str, **kw: Any) -> SolverError:
        return SolverError(message, history=self.newton.history, **kw)

    def _unless_broken(
        self, reason: int, step: int, multiplier: float, log_done: float | None
    ) -> None:
        """After a failed step: raise at once if the solver broke (no retry can work)."""
        if self.newton.broken is not None:
            raise self._error(
                f"the linear solver broke ({self.newton.broken})",
                step=step,
                multiplier=multiplier,
                converged_multiplier=None if log_done is None else 10.0**log_done,
                reason=reason,
            )

    def solve(self, warm: bool = False, cold_fallback: bool = False) -> Solution:
        """Continuation from the bulk state (or a warm start) to s = 1.

        A warm start that fails continues from its own state, or from the bulk with
        ``cold_fallback`` (a state mapped from another model: the continuation's first
        steps need the bulk state, which solves s → 0).

        Raises:
            SolverError: a step failed even after halving.
        """
        if self.model.transient:
            return self._march()
        record = _Record()
        model = self.model
        if warm:
            saved = model.state()
            model.set_multiplier(1.0)
            reason, its = self._newton(record)
            if reason > 0 and self.newton.finite():
                return self._result(record, [1.0], [its])
            self._unless_broken(reason, 0, 1.0, None)
            record.failed = its
            if not cold_fallback:
                model.restore(saved)  # fall back to the cold path from the warm state
        if not warm or cold_fallback:
            model.set_bulk_state()
        return self._continue(record)

    def _continue(self, record: _Record) -> Solution:
        """The continuation in s from the current state (see the module doc)."""
        model = self.model
        n_steps = model.case.solver.continuation_steps
        reached: list[float] = []
        per_step: list[int] = []
        logs = np.linspace(math.log10(S_START), 0.0, n_steps + 1)
        log_done: float | None = None
        step = target_idx = halvings = attempts = 0
        log_target = float(logs[0])
        max_attempts = 4 * (n_steps + MAX_HALVINGS)
        while True:
            attempts += 1
            saved = model.state()
            model.set_multiplier(10.0**log_target)
            reason, its = self._newton(record)
            if reason > 0 and self.newton.finite():
                reached.append(10.0**log_target)
                per_step.append(its)
                last_increment = None if log_done is None else log_target - log_done
                log_done = log_target
                step += 1
                if log_target >= 0.0:
                    break
                halvings = 0
                while target_idx < len(logs) - 1 and logs[target_idx] <= log_target + 1e-12:
                    target_idx += 1
                log_target = float(logs[target_idx])
                # a step that needed many (damped) iterations: the next, equally long
                # one would likely crawl into the iteration cap, so take half of it
                if its > SLOW_STEP_ITERATIONS and last_increment is not None:
                    half = max(0.5 * last_increment, MIN_LOG_STEP)
                    log_target = min(log_target, log_done + half)
                continue
            model.restore(saved)
            record.failed += its
            self._unless_broken(reason, step, 10.0**log_target, log_done)
            halvings += 1
            if log_done is None or halvings > MAX_HALVINGS or attempts >= max_attempts:
                raise self._error(
                    "Newton did not converge",
                    step=step,
                    multiplier=10.0**log_target,
                    converged_multiplier=None if log_done is None else 10.0**log_done,
                    reason=reason,
                )
            log_target = 0.5 * (log_done + log_target)
        return self._result(record, reached, per_step)

    def _march(self) -> Solution:
        """Backward Euler from the bulk state to end_time, or to steady state
        (``solver.until = "steady"``: :mod:`confine.solver.pseudo_time`); steps halved
        on failure, grown again once Newton converges easily (to steady state: as the
        steady residual falls)."""
        record = _Record()
        model = self.model
        sv = model.case.solver
        steady = SteadyMarch(self.newton, float(sv.time_step or 0.0), sv.rtol, sv.atol)
        to_steady = sv.until == "steady"
        end = math.inf if to_steady else float(sv.end_time or 0.0)
        dt_max = steady.first_step if not to_steady else math.inf
        self._start_march()
        t, dt = 0.0, float(sv.time_step or end)
        times = [0.0]
        tried = 0
        # the state before each step (to steady state): a failed step restores it, a
        # converged one's state is the next step's "before"
        before = owned_values(model, self.newton) if to_steady else None
        while t < end * (1 - 1e-12):
            if to_steady and steady.residual(steady_residual(model, self.newton)):
                break
            if tried >= MAX_MARCH_STEPS:
                raise self._march_error(f"{tried} steps tried", t, end, dt, steady, times)
            tried += 1
            step = min(dt, end - t)
            reason, its = self._march_step(step, record, tried == 1, len(times) - 1)
            if reason > 0:
                t += step
                times.append(t)
                if before is not None:
                    after = owned_values(model, self.newton)
                    if steady.unchanged(step, before, after):
                        break
                    before = after
                # grow back once Newton converges easily: after a run of halvings (a
                # stiff front) steps that take 5-10 iterations would otherwise stay tiny
                # for hundreds of steps
                easy = its <= MARCH_GROWTH_ITERATIONS
                if to_steady:
                    dt = steady.next_step(step, easy)
                elif easy:
                    dt = min(2 * dt, dt_max)
                continue
            dt = step / 2
            if dt < 1e-9 * steady.first_step:
                why = f"time step collapsed at t = {t:.6g} s"
                raise self._march_error(why, t, end, dt, steady, times, reason)
        return self._result(record, [1.0], (), times)

    def _start_march(self) -> None:
        """The bulk state (coverages at ``species.initial``), switched on (s = 1)."""
        model = self.model
        model.set_bulk_state()
        if model.theta is not None:  # a transient starts from the declared coverages
            tarr = model.theta.x.array.reshape(-1, len(model.adsorbed))
            for j, a in enumerate(model.adsorbed):
                tarr[:, j] = model.case.species_named(a).initial
        model.set_multiplier(1.0)
        # the case's own atol until the first step's initial residual sets MARCH_FLOOR's
        # scale (a reused solver would otherwise keep an earlier march's floor)
        self.newton.test.atol = model.case.solver.atol

    def _march_step(self, step: float, record: _Record, first: bool, index: int) -> tuple[int, int]:
        """One backward-Euler step of ``step`` from the current state (the ``index``-th):
        (SNES reason, iterations); a failed step (reason ≤ 0) leaves the state as it was."""
        model = self.model
        set_old_state(model)
        saved = model.state()
        assign(model.dt, step)
        reason, its = self._newton(record)
        h = self.newton.history
        first_res, last_res = (h[0], h[-1]) if h else (math.nan, math.nan)
        log.debug(
            "march: dt %.3g s, reason %d, %d its, residual %.3g -> %.3g",
            step,
            reason,
            its,
            first_res,
            last_res,
        )
        if first and h:
            self.newton.test.atol = max(model.case.solver.atol, MARCH_FLOOR * first_res)
        if reason > 0 and self.newton.finite():
            return reason, its
        model.restore(saved)
        self._unless_broken(reason, index, 1.0, None)
        return min(reason, 0), its

    def _march_error(
        self,
        why: str,
        t: float,
        end: float,
        dt: float,
        steady: SteadyMarch,
        times: list[float],
        reason: int = 0,
    ) -> SolverError:
        """A failed march, with where it stood."""
        if math.isinf(end):
            where = (
                f"the march did not reach steady state: {why}, t = {t:.6g} s, time step "
                f"{dt:.3g} s, steady residual {steady.last:.3g} (steady below "
                f"{steady.tolerance:.3g}; at the start {steady.start:.3g})"
            )
        elif reason:
            where = why
        else:
            where = (
                f"the march made no progress: {why}, t = {t:.6g} s of {end:.6g} s, time "
                f"step {dt:.3g} s (of {steady.first_step:.3g})"
            )
        return self._error(
            where, step=len(times) - 1, multiplier=1.0, converged_multiplier=None, reason=reason
        )

    def _result(
        self,
        record: _Record,
        reached: list[float],
        per_step: Sequence[int] = (),
        times: Sequence[float] = (),
    ) -> Solution:
        model = self.model
        return Solution(
            case=model.case,
            meshdata=model.meshdata,
            model=model,
            converged=True,
            newton_iterations=record.newton,
            linear_iterations=record.linear,
            residual_history=record.history,
            multipliers=reached,
            wall_time_s=time.perf_counter() - record.t0,
            dofs=model.dofs,
            linear_solver="direct" if self.newton.is_direct() else "iterative",
            state=frozen_state(model.state()),
            times=list(times),
            step_iterations=list(per_step),
            failed_iterations=record.failed,
        )


class _Record:
    """The iteration record of one solve, as it accumulates."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.newton = self.linear = self.failed = 0
        self.history: list[float] = []


def _reuse(initial: Solution, case: Case, linear_solver: str) -> Solver | None:
    """The warm start's model and solver with the case's values, if its forms fit."""
    newton = _SOLVERS.get(initial.model)
    if newton is None or newton.broken is not None or newton.linear_solver != linear_solver:
        return None
    try:
        newton.update(case)  # same forms: reuse them (no recompilation)
    except ValueError:
        return None
    initial.model.restore(initial.state)
    return Solver(initial.model, newton)


def solve(
    case: Case,
    meshdata: MeshData,
    comm: MPI.Comm | None = None,
    initial: Solution | None = None,
    *,
    manufactured: SourceHook | None = None,
    petsc_options: Mapping[str, Any] | None = None,
    linear_solver: str | None = None,
) -> Solution:
    """Solve a case to steady state on a mesh.

    Args:
        case: the validated case.
        meshdata: the mesh with its tags (coordinates in nm).
        comm: communicator (must be the mesh's; default the mesh's).
        initial: a converged solution to warm-start from: on the same mesh (e.g. a
            sweep's nearest point), or this 3D model's axisymmetric cell (``solver.start``).
        manufactured: verification hook (method of manufactured solutions,
            ``confine.verification.Manufactured``).
        petsc_options: extra PETSc options (over the defaults and the case's).
        linear_solver: "direct" (MUMPS LU), "iterative" (GMRES with one AMG
            V-cycle per field, see :data:`confine.solver.options.ITERATIVE_OPTIONS`),
            or "auto": direct in 2D and for 3D meshes up to
            :data:`confine.solver.options.DIRECT_MAX_WORK` (nodes × k³),
            iterative above, and direct again if an iterative linear solve fails
            (where it fits in memory). Default: the case's ``solver.linear_solver``.

    Returns:
        The converged solution.

    Raises:
        SolverError: Newton failed (with the residual history and the step reached).
        NotImplementedError: a potential model the solver lacks.

    A transient case (``solver.transient``) is marched with backward Euler from the
    bulk state (coverages at ``species.initial``) to ``solver.end_time`` with steps of
    ``solver.time_step`` (halved on failure); it returns the final state.
    """
    linear_solver = linear_solver or case.solver.linear_solver
    if (
        initial is not None
        and initial.meshdata is meshdata
        and manufactured is None
        and not petsc_options
    ):
        reused = _reuse(initial, case, linear_solver)
        if reused is not None:
            return reused.solve(warm=True)

    built: list[Solver] = []

    def attempt(kind: str) -> Solution:
        solver = Solver.build(
            case,
            meshdata,
            comm,
            manufactured=manufactured,
            petsc_options=petsc_options,
            linear_solver=kind,
        )
        built.append(solver)
        if initial is not None:
            return solver.solve(warm=True, cold_fallback=_copy_state(solver.model, initial))
        return solver.solve()

    try:
        return attempt(linear_solver)
    except SolverError as err:
        # "auto" chose the iterative solver (a large 3D mesh), a linear solve failed: the
        # preconditioner, not Newton, broke. Retry with MUMPS where it fits.
        iterative = bool(built) and not built[-1].newton.is_direct()
        if linear_solver != "auto" or err.reason != DIVERGED_LINEAR_SOLVE or not iterative:
            raise
        _unless_direct_fits(err, built[-1].model.spaces.global_dofs())
        log.warning(
            "the iterative linear solver failed (%s); solving again with MUMPS (direct)", err
        )
        return attempt("direct")


def _unless_direct_fits(err: SolverError, dofs: int) -> None:
    """Raise where MUMPS's LU of ``dofs`` unknowns would not fit this machine's memory
    (:func:`~confine.solver.options.direct_bytes`): a retry would die of memory, not say
    why."""
    need, have = direct_bytes(dofs), memory_available()
    if need <= have:
        return
    raise SolverError(
        f"the iterative linear solver failed, and MUMPS is not tried: its LU of {dofs} "
        f"unknowns would need about {need / 1e9:.3g} GB, {have / 1e9:.3g} GB available on "
        "this machine (solver.linear_solver = 'direct' forces it)",
        history=err.history,
        step=err.step,
        multiplier=err.multiplier,
        converged_multiplier=err.converged_multiplier,
        reason=err.reason,
    ) from err


def _copy_state(model: Model, initial: Solution) -> bool:
    """Warm start from another model's state on the same mesh and unknowns, or from the
    axisymmetric cell of a 3D model (:func:`confine.fem.transfer.map_cell_state`);
    True for the cell's state mapped."""
    other = initial.model
    if other.mesh is not model.mesh and other.axisymmetric and not model.axisymmetric:
        map_cell_state(model, initial)
        return True
    if (
        other.unknowns != model.unknowns
        or other.adsorbed != model.adsorbed
        or other.mesh is not model.mesh
    ):
        raise ValueError("cannot warm-start from a problem with other unknowns or mesh")
    model.restore(initial.state)
    return False
