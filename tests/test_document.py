"""The one reader of the metrics document, the one atomic writer, the nearest-name helper."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from confine import atomic, document, names, progress
from confine.result import Result
from confine.sweep_table import metric_columns

METRICS = {
    "case": "dotted",
    "current_A": {"value": -1.5e-12, "unit": "A"},
    "species": {
        "CO.ads": {"coverage_mean": {"value": 0.25, "unit": ""}},
        "CO": {"ratio_interior_exterior": {"value": 0.5, "unit": "1"}},
        "NH4+": {"ratio_interior_exterior": {"value": 2.0, "unit": "1"}},
    },
    "products": {"urea": {"faradaic_efficiency": {"value": 0.1, "unit": "1"}}},
    "mesh": {"cells": 1200, "profile": [1, 2, 3]},
    "history": {"value": [1.0, 0.1], "unit": "1"},
}


def test_dotted_species_names_resolve_greedily() -> None:
    assert document.value(METRICS, "species.CO.ads.coverage_mean") == 0.25
    assert document.value(METRICS, "species.CO.ratio_interior_exterior") == 0.5
    assert document.value(METRICS, "species.NH4+.ratio_interior_exterior") == 2.0
    assert document.split("species.CO.ads.coverage_mean", METRICS) == [
        "species",
        "CO.ads",
        "coverage_mean",
    ]
    assert document.get(METRICS, "current_A") == {"value": -1.5e-12, "unit": "A"}
    assert document.value(METRICS, "mesh.cells") == 1200
    with pytest.raises(KeyError, match="stuck at 'nope'"):
        document.value(METRICS, "species.nope.ratio_interior_exterior")
    with pytest.raises(KeyError):
        document.value(METRICS, "mesh.cells.more")


def test_every_reader_goes_through_the_document() -> None:
    from confine.bench import metric_value  # dolfinx: only here

    result = Result(case=None, metrics=METRICS)  # type: ignore[arg-type]
    for path in ("species.CO.ads.coverage_mean", "products.urea.faradaic_efficiency"):
        assert result.metric(path) == metric_value(METRICS, path) == document.value(METRICS, path)


def test_flatten_keeps_leaves_and_units() -> None:
    flat = document.flatten(METRICS)
    assert flat["species.CO.ads.coverage_mean"] == (0.25, "")
    assert flat["current_A"] == (-1.5e-12, "A")
    assert flat["case"] == ("dotted", None)
    assert flat["history"] == ([1.0, 0.1], "1")
    assert "mesh.profile" not in flat
    columns = metric_columns(METRICS)
    assert columns["species.CO.ads.coverage_mean [1]"] == 0.25
    assert columns["current_A [A]"] == -1.5e-12
    assert columns["case"] == "dotted" and columns["mesh.cells"] == 1200
    assert not any(c.startswith("history") for c in columns)


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_atomic_writes_whole_files_with_the_umask_mode(tmp_path: Path, umask_022: None) -> None:
    path = tmp_path / "sub" / "a.txt"
    atomic.write_text(path, "one\n")
    atomic.write_text(path, "two\n")
    assert path.read_text() == "two\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.txt"]  # no temporary left
    os.umask(0o077)
    atomic.write_text(tmp_path / "private.txt", "x")
    assert stat.S_IMODE((tmp_path / "private.txt").stat().st_mode) == 0o600


def test_a_failed_atomic_write_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    atomic.write_text(path, "old")
    with pytest.raises(UnicodeEncodeError):
        atomic.write_text(path, "\udcff")  # a lone surrogate cannot be encoded
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_nearest_name() -> None:
    assert names.nearest("potental", ["potential", "bulk"]) == "potential"
    assert names.nearest("zzz", ["potential", "bulk"]) is None
    assert names.did_you_mean("bulck", iter(["bulk"])) == " (did you mean 'bulk'?)"
    assert names.did_you_mean("zzz", ["bulk"]) == ""


def test_steps_are_recorded_inside_recording_only() -> None:
    with progress.step("outside"):
        pass
    with progress.recording() as phases, progress.step("inside"):
        pass
    with progress.step("after"):
        pass
    assert list(phases) == ["inside"]
    assert set(phases["inside"]) == {"wall_s", "cpu_s"}
