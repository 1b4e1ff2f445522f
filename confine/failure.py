"""A failed solve in one line: where it stopped and what to try.

``confine run`` prints it and failure.json keeps it (``summary``), so a user
of a single run and the reader of a failed sweep point see the same advice.
The details (residual history, SNES reason) stay in failure.json.
"""

from __future__ import annotations

from typing import Any

#: PETSc's SNES divergence reasons, in words.
SNES_REASONS = {
    -1: "function domain error",
    -2: "function evaluation limit",
    -3: "the linear solve failed",
    -4: "NaN or infinity in the residual",
    -5: "iteration limit",
    -6: "line search failed",
    -7: "inner solve failed",
    -8: "local minimum",
    -9: "residual grew",
    -10: "Jacobian domain error",
    -11: "trust region collapsed",
}


def is_solver_failure(err: BaseException) -> bool:
    """A non-converged solve (confine.solver.continuation.SolverError or a subclass of it).

    Duck-typed on its attributes so that reporting never imports the solver.
    """
    return all(hasattr(err, a) for a in ("history", "step", "multiplier", "reason"))


def summary(err: BaseException, case: Any = None) -> str:
    """One line: the step (or time) at which the solve failed, why, and what to try.

    Args:
        err: the exception the solve raised.
        case: the case solved (its [solver] settings name the current values); optional.
    """
    if not is_solver_failure(err):
        first = str(err).strip().splitlines()
        return f"{type(err).__name__}: {first[0] if first else 'no message'}"
    solver = getattr(case, "solver", None)
    reason = int(getattr(err, "reason", 0))
    why = SNES_REASONS.get(reason, f"SNES reason {reason}" if reason else "non-finite values")
    if solver is not None and getattr(solver, "transient", False):
        message = str(err).split(":", 1)[0]  # "time step collapsed at t = ... s"
        return (
            f"no convergence: {message} ({why}); try a smaller solver.time_step, "
            'solver.linear_solver = "direct" or a finer mesh'
        )
    step = getattr(err, "step", "?")
    done = getattr(err, "converged_multiplier", None)
    before = "none converged" if done is None else f"last converged at {done:.3g}"
    tries = []
    if reason == -5:
        now = f" (now {solver.max_iterations})" if solver is not None else ""
        tries.append(f"more solver.max_iterations{now}")
    now = f" (now {solver.continuation_steps})" if solver is not None else ""
    tries.append(f"more solver.continuation_steps{now}")
    if solver is None or solver.linear_solver != "direct":
        tries.append('solver.linear_solver = "direct"')
    tries.append("a finer mesh")
    return (
        f"no convergence at continuation step {step} (rate multiplier "
        f"{float(getattr(err, 'multiplier', float('nan'))):.3g}, {before}; Newton: {why}); "
        f"try {', '.join(tries[:-1])} or {tries[-1]}"
    )
