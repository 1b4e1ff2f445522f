"""What a run, a sweep and a fit tell at the end: the summary, its JSON form, quiet runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from confine import summary
from confine.fit_report import FitReport, FittedParameter, TargetResult

ROOT = Path(__file__).resolve().parents[1]


def confine_cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m confine ARGS`` in ``cwd`` with this checkout's package (no display)."""
    env = {k: v for k, v in os.environ.items() if k not in ("CONFINE_MESH_CACHE", "DISPLAY")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "confine", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def mchs_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """``confine run cases/mchs-7nm.toml`` once (about 10 s): its output directory and process."""
    cwd = tmp_path_factory.mktemp("mchs")
    out = cwd / "out"
    proc = confine_cli("run", ROOT / "cases" / "mchs-7nm.toml", "--out", out, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_run_prints_fe_and_ratio_with_numbers(
    mchs_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, proc = mchs_run
    text = proc.stdout
    assert re.search(r"^mchs-7nm: converged \(\d+ Newton iterations\)$", text, re.M), text
    assert re.search(r"FE +urea \d+(\.\d+)? %, NH4\+ \d", text), text
    assert re.search(r"urea C_I/C_E +\d+\.\d+", text), text
    assert "C_I: volume mean over cavity cells" in text
    assert re.search(r"current +\d+(\.\d+)? mA/cm\^2 per electrode area", text), text
    assert re.search(r"local pH +cavity \d+\.\d+, pore mouth \d+\.\d+", text), text
    assert re.search(r"mass balance error \d", text) and "wall time" in text
    assert f"results        {out.resolve()}" in text
    assert len(text.strip().splitlines()) <= 12


def test_a_healthy_run_warns_of_nothing(
    mchs_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    _, proc = mchs_run
    assert "warn" not in proc.stderr.lower(), proc.stderr  # no VTK "bad X server connection"


def test_summary_matches_the_metrics_document(
    mchs_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, _ = mchs_run
    metrics = json.loads((out / "metrics.json").read_text())
    info = summary.summarize(metrics, out, 1.0)
    assert info["ratio"]["species"] == "urea"
    assert info["ratio"]["value"] == metrics["species"]["urea"]["ratio_interior_exterior"]["value"]
    fe = metrics["products"]["urea"]["faradaic_efficiency"]["value"]
    assert info["faradaic_efficiency"]["urea"] == fe
    assert info["current_density_mA_per_cm2"] == pytest.approx(
        metrics["current_density_A_per_m2"]["value"] / 10
    )
    assert info["local_pH"]["cavity"] == metrics["local_pH"]["cavity"]["value"]


def test_json_summary_parses_and_quiet_is_quiet(tmp_path: Path) -> None:
    case = ROOT / "cases" / "first-order-shell.toml"
    proc = confine_cli("run", case, "--out", tmp_path / "a", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["case"] == "first-order-shell" and info["converged"] is True
    assert isinstance(info["ratio"]["value"], float) and info["ratio"]["species"] == "B"
    assert info["results"] == str((tmp_path / "a").resolve())
    for args in (["-q", "run", case], ["run", case, "-q"]):
        proc = confine_cli(*args, "--out", tmp_path / "b", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == "" and proc.stderr == ""


def test_sweep_table_shows_swept_values_and_key_metrics() -> None:
    table = pd.DataFrame(
        {
            "point": [0, 1],
            "geometry.pore_diameter [nm]": [4.18, 7.55],
            "status": ["done", "failed"],
            "error": ["", "boom"],
            "current_density_A_per_m2 [A/m^2]": [370.0, None],
            "products.NH3.faradaic_efficiency [1]": [0.1, None],
            "products.urea.faradaic_efficiency [1]": [0.13, None],
            "species.CO2.ratio_interior_exterior [1]": [0.5, None],
            "species.urea.ratio_interior_exterior [1]": [3.74, None],
            "local_pH.cavity [1]": [None, None],
        }
    )
    lines = summary.sweep_text(table).splitlines()
    assert lines[0].split() == [
        "pore_diameter",
        "[nm]",
        "status",
        "j",
        "[A/m^2]",
        "FE",
        "urea",
        "urea",
        "C_I/C_E",
    ]
    assert lines[1].split() == ["4.18", "done", "370", "0.13", "3.74"]
    assert lines[2].split()[:2] == ["7.55", "failed"]


def test_fit_text_gives_values_intervals_and_quality() -> None:
    par = FittedParameter(
        "reactions.r.rate_constant", "log", "1/s", 1, 2.5, 2.0, 3.1, 0.1, 0, 9, False
    )
    target = TargetResult(
        label="urea FE at -0.9 V",
        quantity="fe",
        metric="products.urea.faradaic_efficiency",
        conditions={},
        unit="1",
        data=0.1,
        uncertainty=0.01,
        model=0.12,
        residual=2.0,
        source="x",
    )
    report = FitReport("k", True, "ok", 7, 14, 4.0, 1, [par], [target], {}, [[1.0]])
    text = report.to_text()
    assert text.startswith("fit k: converged (7 evaluations, 14 runs")
    assert "chi2 = 4 for 1 degrees of freedom" in text
    assert "reactions.r.rate_constant  2.5 1/s  95 % [2, 3.1]" in text
    assert "(model - data)/sigma = +2.00" in text
