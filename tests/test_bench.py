"""The benchmark machinery on a tiny case, so that ``confine bench`` never rots.

Speed is never asserted: only that records are complete and that ``--check``
passes against a reference just made and fails, naming the metric, on drift.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from confine import bench
from confine.bench import Benchmark, Tolerance

ROOT = Path(__file__).resolve().parent.parent

#: A coarse first-order shell on the axisymmetric cell; fields but no figures.
TINY = Benchmark(
    name="tiny",
    case=ROOT / "cases" / "first-order-shell.toml",
    overrides={"mesh.cells_per_pore_diameter": "3", "output.figures": "false"},
    metrics={
        "mesh.dofs": bench.EXACT,
        "solver.newton_iterations": bench.ITERATIONS,
        "species.A.ratio_interior_exterior": bench.PHYSICS,
        "reactions.consume.rate_mol_s": bench.PHYSICS,
    },
    # recorded and compared, but wide enough never to fail on a busy machine
    performance={"newton_step_over_poisson": Tolerance(abs=1e9, rel=1e9)},
)

REQUIRED = {
    "benchmark": str,
    "case_hash": str,
    "mesh_hash": str,
    "mpi_ranks": int,
    "mesh": dict,
    "solver": dict,
    "phases": dict,
    "per_newton_step": dict,
    "total": dict,
    "poisson_reference": dict,
    "ratios": dict,
    "peak_rss_mb": float,
    "petsc_options": dict,
    "check": dict,
    "versions": dict,
    "machine": dict,
}


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Run the tiny benchmark once with --update: its record and reference."""
    base = tmp_path_factory.mktemp("bench")
    dirs = {"out": base / "records", "references": base / "references"}
    code = bench.main(update=True, benchmarks=[TINY], **dirs)  # type: ignore[arg-type]
    assert code == 0
    return dirs


def _record(path: Path) -> dict[str, Any]:
    return json.loads((path / "tiny.json").read_text(encoding="utf-8"))


def test_record_has_every_field(made: dict[str, Path]) -> None:
    rec = _record(made["out"])
    for key, kind in REQUIRED.items():
        assert isinstance(rec[key], kind), key
    assert "git" in rec
    for phase in ("mesh", "solve", "metrics", "output", "setup_compile", "newton"):
        assert rec["phases"][phase]["wall_s"] >= 0.0, phase
    for phase in ("mesh", "solve", "metrics", "output"):
        assert rec["phases"][phase]["cpu_s"] >= 0.0, phase
    assert rec["mesh"]["dofs"] > 0 and rec["mesh"]["cells"] > 0
    assert rec["solver"]["newton_iterations"] > 0
    assert rec["solver"]["linear_iterations"] > 0
    assert rec["poisson_reference"]["wall_s"] > 0.0
    assert rec["ratios"]["newton_step_over_poisson"] > 0.0
    assert {"platform", "cpu_model", "nproc"} <= set(rec["machine"])
    assert {"confine", "dolfinx", "petsc"} <= set(rec["versions"])
    assert set(rec["check"]) == set(TINY.metrics) | {"performance.newton_step_over_poisson"}
    # the reference is the record
    assert _record(made["references"])["check"] == rec["check"]


def test_check_passes_against_fresh_reference(
    made: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code = bench.main(check=True, benchmarks=[TINY], **made)  # type: ignore[arg-type]
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "bench check: PASS" in out.out


def test_check_fails_loudly_on_drift(
    made: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = _record(made["references"])
    stored = ref["check"]["species.A.ratio_interior_exterior"]["value"]
    ref["check"]["species.A.ratio_interior_exterior"]["value"] = stored * 1.01
    refs = tmp_path / "refs"
    refs.mkdir()
    (refs / "tiny.json").write_text(json.dumps(ref), encoding="utf-8")
    code = bench.main(check=True, benchmarks=[TINY], out=tmp_path / "rec", references=refs)
    err = capsys.readouterr().err
    assert code == bench.EXIT_DRIFT
    drift = [line for line in err.splitlines() if line.startswith("DRIFT")]
    assert len(drift) == 1, err
    assert "species.A.ratio_interior_exterior" in drift[0]
    assert f"stored {stored * 1.01!r}" in drift[0]
    assert "bench check: FAIL" in err


def test_missing_reference_fails(tmp_path: Path) -> None:
    code = bench.main(check=True, benchmarks=[TINY], out=tmp_path, references=tmp_path / "none")
    assert code == bench.EXIT_MISSING


def test_compare_tolerances() -> None:
    ref = {"benchmark": "x", "case_hash": "h", "check": {"a": {"value": 1.0, "abs": 0, "rel": 0.1}}}
    ok = {"benchmark": "x", "case_hash": "h", "check": {"a": {"value": 1.05}}}
    bad = {"benchmark": "x", "case_hash": "h", "check": {"a": {"value": 1.2}}}
    moved = {"benchmark": "x", "case_hash": "g", "check": {"a": {"value": 1.0}}}
    assert bench.compare(ref, ok) == []
    assert [d.metric for d in bench.compare(ref, bad)] == ["a"]
    assert [d.metric for d in bench.compare(ref, moved)] == ["case_hash"]
    assert [d.metric for d in bench.compare(ref, {"benchmark": "x", "case_hash": "h"})] == ["a"]


def test_cli_arguments() -> None:
    from confine.cli import build_parser

    args = build_parser().parse_args(
        ["bench", "--case", "c.toml", "--set", "mesh.refine=1", "--name", "n", "--out", "d"]
    )
    assert (args.case, args.set, args.name, args.out) == ("c.toml", ["mesh.refine=1"], "n", "d")
    assert not args.check and not args.update
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "--check", "--update"])
