"""A march to steady state (``solver.until = "steady"``, :mod:`confine.solver.pseudo_time`).

A → B in the right half of a 10 nm box whose edges hold the bulk (Damköhler
number 10): the march from the bulk stops where its steady residual fell by
RESIDUAL_DROP from the switch-on, near the steady solve's state, which a steady
solve from there reaches; a march that cannot get there fails with where it
stood; the key is validated.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import solver_meshes as sm
from mpi4py import MPI
from test_solve import decay_raw

from confine.case import Case, CaseError, case_from_dict
from confine.solve import SolverError, newton_of, solve
from confine.solver import continuation
from confine.solver.convergence import RESIDUAL_DROP
from confine.solver.pseudo_time import steady_residual

COMM = MPI.COMM_WORLD
K = 1e8  # 1/s: k L²/D = 10 over the 10 nm box


def decay(**solver: Any) -> Case:
    """A → B at K in the catalytic layer, A and B held at the bulk on the box's edges."""
    return case_from_dict(decay_raw(K, solver))


STEADY_MARCH = {"transient": True, "until": "steady", "time_step": "1e-10 s"}


def test_the_march_stops_at_the_steady_state() -> None:
    """The march ends with its steady residual below RESIDUAL_DROP × its switch-on value,
    in a few dozen growing steps, next to the state the steady Newton solve finds, and
    the steady solve from there finds it."""
    md = sm.box(COMM, 2, 8, 10.0, layer_from=0.5)
    case = decay(**STEADY_MARCH)
    marched = solve(case, md)
    steps = np.diff(marched.times)
    assert 3 < len(steps) < 60
    assert steps[-1] > 100 * steps[0]  # the steps grew (SER)
    model = marched.model
    end = steady_residual(model, newton_of(model))
    model.set_bulk_state()  # the switch-on state
    start = steady_residual(model, newton_of(model))
    assert start > 0 and end <= RESIDUAL_DROP * start
    steady = solve(decay(), md)
    a_march = np.asarray(marched.state[0]).reshape(-1, 2)[:, 0]
    a_steady = np.asarray(steady.state[0]).reshape(-1, 2)[:, 0]
    # deviations from the bulk (scaled: bulk 1): the steady state's depletion, ~0.5 deep
    assert np.abs(a_steady).max() > 0.1
    assert np.allclose(a_march, a_steady, rtol=0, atol=1e-5)
    polished = solve(decay(), md, initial=marched)  # what an electrode film does next
    a_polished = np.asarray(polished.state[0]).reshape(-1, 2)[:, 0]
    assert np.allclose(a_polished, a_steady, rtol=0, atol=1e-12)


def test_a_march_that_does_not_reach_steady_state_fails_with_where_it_stood(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Cut to 3 steps, the march is failed, saying how far its steady residual is."""
    monkeypatch.setattr(continuation, "MAX_MARCH_STEPS", 3)
    md = sm.box(COMM, 2, 8, 10.0, layer_from=0.5)
    with pytest.raises(SolverError, match=r"did not reach steady state: 3 steps tried") as info:
        solve(decay(**STEADY_MARCH), md)
    assert "steady residual" in str(info.value) and "at the start" in str(info.value)


def test_a_fixed_end_time_march_still_ends_there() -> None:
    """Without ``until`` a transient run marches to end_time, as before."""
    md = sm.box(COMM, 2, 8, 10.0, layer_from=0.5)
    sol = solve(decay(transient=True, end_time="4e-10 s", time_step="1e-10 s"), md)
    assert sol.times[-1] == pytest.approx(4e-10)


@pytest.mark.parametrize(
    ("solver", "key", "says"),
    [
        (
            {"transient": True, "until": "steady", "time_step": "1 s", "end_time": "2 s"},
            "solver.end_time",
            "drop end_time",
        ),
        ({"transient": True, "until": "steady"}, "solver.time_step", "first time_step"),
        ({"until": "steady"}, "solver.until", "transient = true"),
        ({"transient": True, "until": "forever", "time_step": "1 s"}, "solver.until", "not one of"),
    ],
)
def test_until_is_validated(solver: dict[str, Any], key: str, says: str) -> None:
    """One line each: end_time beside "steady", no first step, not transient, a typo."""
    with pytest.raises(CaseError) as info:
        decay(**solver)
    found = [p for p in info.value.problems if p.key == key]
    assert found and says in found[0].message, info.value.problems
