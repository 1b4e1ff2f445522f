"""A 3D hollow sphere started from its axisymmetric cell (``solver.start``): the map
onto the cell's r–z plane, the interpolation, and the run it starts."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mpi4py import MPI

from confine import pipeline
from confine.case import load_case
from confine.fem.transfer import _Interpolant, cell_coordinates
from confine.pipeline import run
from confine.quality import Finding, assess
from confine.result import Result
from confine.solver import continuation

ROOT = Path(__file__).resolve().parent.parent
COMM = MPI.COMM_WORLD

#: The 7 nm urea case on a coarse sector (tests/test_solve.py's coarse_sector_case).
COARSE = {
    "geometry.model": "sector-3d",
    "mesh.cells_per_pore_diameter": 3,
    "mesh.cells_across_layer": 1,
    "mesh.max_cell_size": "40 nm",
    "mesh.growth": 1.6,
}


def test_points_go_to_the_nearest_axis_and_into_the_cone() -> None:
    axes = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    half = 0.3
    on_axis = np.array([[0.0, 0.0, 50.0], [70.0, 0.0, 0.0]])
    assert np.allclose(cell_coordinates(on_axis, axes, half), [[0.0, 50.0], [0.0, 70.0]])
    inside = 60.0 * np.array([[math.sin(0.2), 0.0, math.cos(0.2)]])  # 0.2 rad off z
    assert np.allclose(
        cell_coordinates(inside, axes, half), [[60 * math.sin(0.2), 60 * math.cos(0.2)]]
    )
    # 0.5 rad off z (and further from x): turned onto the cone's side at the same radius
    outside = 60.0 * np.array([[0.0, math.sin(0.5), math.cos(0.5)]])
    rz = cell_coordinates(outside, axes, half)
    assert np.allclose(rz, [[60 * math.sin(half), 60 * math.cos(half)]])
    assert np.hypot(*rz[0]) == pytest.approx(60.0)


def test_the_interpolation_is_exact_for_linear_fields_and_nearest_outside() -> None:
    rng = np.random.default_rng(1)
    points = rng.random((200, 2))
    values = np.column_stack([2 * points[:, 0] - points[:, 1] + 3, points[:, 1]])
    at = 0.2 + 0.6 * rng.random((50, 2))  # inside the hull of the points
    got = _Interpolant(points, values)(at)
    assert np.allclose(got[:, 0], 2 * at[:, 0] - at[:, 1] + 3, atol=1e-12)
    assert np.allclose(got[:, 1], at[:, 1], atol=1e-12)
    far = np.array([[5.0, 5.0]])
    nearest = np.argmin(np.linalg.norm(points - far, axis=1))
    assert np.array_equal(_Interpolant(points, values)(far)[0], values[nearest])


PATH = ROOT / "cases" / "mchs-7nm.toml"
OFF = {"output.fields": False, "output.figures": False}


@pytest.fixture(scope="module")
def cold() -> Result:
    """The coarse sector from the bulk (the rate continuation)."""
    return run(load_case(PATH, set={**COARSE, **OFF}), None, COMM)


def started() -> Result:
    """The coarse sector started from its axisymmetric cell."""
    return run(
        load_case(PATH, set={**COARSE, **OFF, "solver.start": "axisymmetric-cell"}), None, COMM
    )


def assert_same_state(warm: Result, cold: Result) -> None:
    """The reported values of two runs equal to the solver's tolerances (1e-8 relative)."""
    for key in ("current_A", "faradaic_efficiency_sum"):
        assert warm.metrics[key]["value"] == pytest.approx(cold.metrics[key]["value"], rel=1e-8)
    urea = [m.metrics["species"]["urea"]["ratio_interior_exterior"]["value"] for m in (warm, cold)]
    assert urea[0] == pytest.approx(urea[1], rel=1e-8)
    for name, p in cold.metrics["products"].items():
        fe = warm.metrics["products"][name]["faradaic_efficiency"]["value"]
        assert fe == pytest.approx(p["faradaic_efficiency"]["value"], rel=1e-8), name


def test_the_sector_from_its_cell_reaches_the_cold_state_in_few_newton_steps(
    cold: Result,
) -> None:
    """The same state as the continuation from the bulk (its tolerances: 1e-8 relative
    on the reported values, measured ~1e-11), in a fraction of the Newton steps."""
    warm = started()
    steps = warm.metrics["solver"]["newton_iterations"]["value"]
    assert steps <= 5 < cold.metrics["solver"]["newton_iterations"]["value"]
    assert warm.metrics["solver"]["continuation_multipliers"] == [1.0]
    assert "cell_start_s" in warm.metrics["timings"]
    assert_same_state(warm, cold)


def test_a_start_newton_cannot_take_continues_from_the_bulk(
    cold: Result, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mapped state Newton fails from (here: not finite) is dropped for the bulk
    state and the whole continuation, not continued from (its first steps need the
    state that solves s → 0)."""

    def poisoned(model: Any, cell: Any) -> None:
        model.u.x.array[:] = np.nan

    monkeypatch.setattr(continuation, "map_cell_state", poisoned)
    warm = started()
    multipliers = warm.metrics["solver"]["continuation_multipliers"]
    assert multipliers[0] < 1e-6 and multipliers[-1] == 1.0  # the whole continuation
    assert_same_state(warm, cold)


def test_a_state_from_the_cell_that_fails_the_quality_checks_is_solved_again(
    cold: Result, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Newton may judge a poor start converged (its test is relative to the first
    residual): where the state reached from the cell fails the quality checks, the run
    solves again from the bulk and says so, never reports the first state. Forced here:
    the first assessment fails."""
    calls: list[int] = []

    def first_fails(*args: Any) -> list[Any]:
        calls.append(1)
        found = assess(*args)
        return found or ([Finding("mass balance", "urea", 1.0, 1e-6)] if len(calls) == 1 else [])

    monkeypatch.setattr(pipeline, "assess", first_fails)
    with caplog.at_level("WARNING", logger="confine"):
        warm = started()
    assert len(calls) == 2 and "solving again from the bulk" in caplog.text
    multipliers = warm.metrics["solver"]["continuation_multipliers"]
    assert multipliers[0] < 1e-6 and multipliers[-1] == 1.0
    assert_same_state(warm, cold)
