"""confine's errors cross a process pool: a sweep's or a fit's worker that fails sends its
exception to the parent pickled. One that cannot be rebuilt there (the default rebuild
calls the class with ``args``) breaks the whole pool: the parent terminates every worker
(the SIGTERMs a fit's log showed) and each in-flight point fails as "BrokenProcessPool"."""

from __future__ import annotations

import pickle
from concurrent.futures import ProcessPoolExecutor

import pytest

from confine.cli_guard import UsageError
from confine.findings import CaseError
from confine.findings import Finding as CaseFinding
from confine.quality import Finding, QualityError
from confine.solver.continuation import SolverError
from confine.worker_context import spawn_context


def _errors() -> list[Exception]:
    return [
        SolverError(
            "Newton diverged",
            history=[1.0, 0.5],
            step=3,
            multiplier=0.25,
            converged_multiplier=0.125,
            reason=-6,
        ),
        QualityError([Finding("relative undershoot below 0", "NO2-", -2e-3, -1e-6)], [1.0, 1e-9]),
        CaseError([CaseFinding("case.toml", "geometry.pore_diameter", "must be positive")]),
        UsageError("no such file", code=3),
    ]


@pytest.mark.parametrize("err", _errors(), ids=lambda e: type(e).__name__)
def test_an_error_survives_pickling(err: Exception) -> None:
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err)
    assert str(back) == str(err)
    assert vars(back) == vars(err)


def _raise(err: Exception) -> None:
    raise err


def test_a_worker_s_solver_error_reaches_the_parent_and_the_pool_survives() -> None:
    """The parent gets the worker's SolverError itself, and the pool runs on."""
    err = _errors()[0]
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn_context(False)) as pool:
        with pytest.raises(SolverError) as got:
            pool.submit(_raise, err).result()
        assert got.value.history == [1.0, 0.5] and got.value.reason == -6
        assert pool.submit(abs, -2).result() == 2  # not broken
