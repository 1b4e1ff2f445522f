"""Sweeps: expansion, validation, resumability, failures, signals, -j N, SLURM slices, bands.

The runner is :class:`sweep_runners.ShellRunner` (closed form, milliseconds per
point), which records every invocation as a file so that tests can count them.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sweep_runners import TWO_PATH, ShellRunner, calls_by_point, shell_metrics

from confine.case import CaseError, load_case
from confine.sampling import load_sweep
from confine.sweep_chains import chains, slurm_task, split_chains, task_slice
from confine.sweep_files import DONE, FAILED, point_dir
from confine.sweep_table import find_column, merge
from confine.sweeps import sweep

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def write_sweep(tmp: Path, body: str, name: str = "s.sweep.toml", head: str = "") -> Path:
    """A sweep file on the two-path test case (``head``: more lines of [sweep])."""
    path = tmp / name
    path.write_text(f'[sweep]\ncase = "{TWO_PATH}"\n{head}\n' + textwrap.dedent(body))
    return path


GRID = """
[parameters]
"geometry.pore_diameter" = ["4.18 nm", "7.55 nm", "11.12 nm"]
"electrode.potential" = { linspace = [-0.7, -1.1, 3], unit = "V" }
"""


# --------------------------------------------------------------------------- expansion
def test_grid_is_a_product_last_axis_fastest(tmp_path: Path) -> None:
    spec = load_sweep(write_sweep(tmp_path, GRID))
    points = spec.points()
    assert len(points) == 9 == spec.size()
    got = [
        (p.overrides["geometry.pore_diameter"], p.overrides["electrode.potential"]) for p in points
    ]
    assert got[:4] == [
        ("4.18 nm", "-0.7 V"),
        ("4.18 nm", "-0.9 V"),
        ("4.18 nm", "-1.1 V"),
        ("7.55 nm", "-0.7 V"),
    ]
    assert points[4].case.electrode.potential == pytest.approx(-0.9)
    assert points[8].case.geometry.pore_diameter == pytest.approx(11.12e-9)
    assert len({p.hash for p in points}) == 9


def test_zip_log_range_and_units(tmp_path: Path) -> None:
    spec = load_sweep(
        write_sweep(
            tmp_path,
            """
            [parameters]
            "reactions.one.rate_constant" = { logspace = [1e2, 1e4, 3], unit = "1/s" }
            "geometry.pore_diameter" = { values = [4.18, 7.55], unit = "nm", zip = "pore" }
            "catalyst.site_density" = { values = ["2e-5 mol/m^2", "4e-5 mol/m^2"], zip = "pore" }
            "geometry.model" = ["axisymmetric-cell"]
            """,
        )
    )
    points = spec.points()
    assert len(points) == 3 * 2 * 1
    ks = sorted({p.case.reaction_named("one").rate_constant for p in points})
    assert ks == pytest.approx([1e2, 1e3, 1e4], rel=1e-12)
    pairs = {(p.case.geometry.pore_diameter, p.case.catalyst.site_density) for p in points}
    assert {round(d * 1e9, 2): s for d, s in pairs} == {4.18: 2e-5, 7.55: 4e-5}
    cols = [p.column for p in spec.parameters]
    assert cols == [
        "reactions.one.rate_constant [1/s]",
        "geometry.pore_diameter [nm]",
        "catalyst.site_density [mol/m^2]",
        "geometry.model",
    ]
    # the rate axis is the default warm-start axis: chains of 3 along it
    assert spec.warm_axis == "reactions.one.rate_constant"
    cs = chains(spec, points)
    assert [len(c) for c in cs] == [3, 3]
    for c in cs:
        ks_c = [p.case.reaction_named("one").rate_constant for p in c]
        assert ks_c == sorted(ks_c)


@pytest.mark.parametrize(
    ("body", "key", "rule"),
    [
        (
            '[parameters]\n"electrode.potential" = { linspace = [-0.7, -1.1] }\n',
            "linspace",
            "count",
        ),
        (
            '[parameters]\n"electrode.potential" = { logspace = [-1, 1, 3], unit = "V" }\n',
            "logspace",
            "positive",
        ),
        (
            '[parameters]\n"a.b" = { values = [1], zip = "z" }\n'
            '"c.d" = { values = [1, 2], zip = "z" }\n',
            "parameters",
            "equal lengths",
        ),
        (
            '[parameters]\n"electrode.potential" = { valeus = [1] }\n',
            "valeus",
            "did you mean 'values'",
        ),
        (
            '[parameters]\n"electrode.potential" = '
            '{ distribution = "normal", mean = 1, std = 0.1 }\n',
            "sampling",
            "required",
        ),
        (
            '[parameters]\n"electrode.potential" = { values = [1], unit = "blargs" }\n',
            "unit",
            "cannot parse",
        ),
        ("[sweep.extra]\n", "sweep.extra", "unknown key"),
        (
            '[parameters]\n"electrode.potential" = ["-1 V"]\n[sampling]\nn = 0\nseed = 1\n',
            "sampling.n",
            "positive",
        ),
    ],
)
def test_sweep_file_errors_name_file_key_and_rule(
    tmp_path: Path, body: str, key: str, rule: str
) -> None:
    path = write_sweep(tmp_path, body)
    with pytest.raises(CaseError) as info:
        load_sweep(path)
    lines = [str(p) for p in info.value.problems]
    assert any(
        line.startswith(f"error: {path}: ") and key in line and rule in line for line in lines
    ), lines


def test_every_point_is_validated_before_anything_runs(tmp_path: Path) -> None:
    path = write_sweep(
        tmp_path,
        """
        [parameters]
        "geometry.pore_diameter" = ["7.55 nm", "-4 nm", "60 nm"]
        "geometry.wall_thicknes" = ["3 nm"]
        """,
    )
    calls = tmp_path / "calls"
    with pytest.raises(CaseError) as info:
        sweep(path, tmp_path / "out", runner=ShellRunner(calls=str(calls)))
    text = str(info.value)
    assert "geometry.wall_thicknes: unknown key (did you mean 'wall_thickness'?)" in text
    assert str(path) in text
    assert not calls.exists() and not (tmp_path / "out").exists()


def test_bad_point_value_is_reported_with_its_points(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, '[parameters]\n"geometry.pore_diameter" = ["7.55 nm", "-4 nm"]\n')
    with pytest.raises(CaseError) as info:
        load_sweep(path).points()
    (problem,) = info.value.problems
    assert problem.key == "geometry.pore_diameter"
    assert "positive" in problem.message and "(point 1)" in problem.message


# --------------------------------------------------------------------------- runs and table
def test_results_table_columns_units_and_values(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, GRID)
    df = sweep(path, tmp_path / "out", runner=ShellRunner())
    on_disk = pd.read_csv(tmp_path / "out" / "results.csv")
    assert len(df) == len(on_disk) == 9
    assert list(on_disk.columns) == list(df.columns)
    for col in (
        "point",
        "geometry.pore_diameter [nm]",
        "electrode.potential [V]",
        "status",
        "error",
        "species.A.ratio_interior_exterior [1]",
        "products.B-.faradaic_efficiency [1]",
        "reactions.one.rate_mol_s [mol/s]",
        "current_A [A]",
    ):
        assert col in on_disk.columns, col
    assert (on_disk["status"] == "done").all()
    assert df.attrs["units"]["electrode.potential [V]"] == "V"
    # each row holds the closed-form metrics of its own case
    row = on_disk[on_disk["point"] == 4].iloc[0]
    assert row["geometry.pore_diameter [nm]"] == pytest.approx(7.55)
    case = load_case(
        TWO_PATH, set={"geometry.pore_diameter": "7.55 nm", "electrode.potential": "-0.9 V"}
    )
    ref = shell_metrics(case)
    assert row["species.A.ratio_interior_exterior [1]"] == pytest.approx(
        ref["species"]["A"]["ratio_interior_exterior"]["value"], rel=1e-12
    )
    # the point directory: resolved case, metrics, marker
    d = point_dir(tmp_path / "out", load_sweep(path).points()[4])
    assert load_case(d / "case.toml").hash() == case.hash()
    assert json.loads((d / DONE).read_text())["status"] == "done"
    # default plots for pore size and potential sweeps
    plots = sorted(p.name for p in (tmp_path / "out" / "plots").glob("*.png"))
    assert plots == [
        "fe-vs-potential.png",
        "production-vs-pore-diameter.png",
        "ratio-vs-pore-diameter.png",
    ]


def test_warm_starts_follow_the_potential_axis(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, GRID)
    df = sweep(path, tmp_path / "out", runner=ShellRunner(), plots=False)
    first = df["electrode.potential [V]"] == -0.7
    assert not df.loc[first, "warm_started"].any()
    assert df.loc[~first, "warm_started"].all()
    cold = write_sweep(tmp_path, GRID, "n.sweep.toml", head='warm_start = "none"')
    df = sweep(cold, tmp_path / "cold", runner=ShellRunner(), plots=False)
    assert not df["warm_started"].any()
    bad = write_sweep(tmp_path, GRID, "b.sweep.toml", head='warm_start = "electrode.potentail"')
    with pytest.raises(CaseError, match=r"did you mean 'electrode\.potential'"):
        load_sweep(bad)


def test_finished_points_are_never_redone(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, GRID)
    calls = tmp_path / "calls"
    runner = ShellRunner(calls=str(calls))
    sweep(path, tmp_path / "out", runner=runner, plots=False)
    again = sweep(path, tmp_path / "out", runner=runner, plots=False)
    counts = calls_by_point(calls)
    assert len(counts) == 9 and set(counts.values()) == {1}
    assert (again["status"] == "done").all()


def test_a_failed_point_is_recorded_and_the_others_finish(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, GRID)
    calls = tmp_path / "calls"
    runner = ShellRunner(calls=str(calls), fail_key="geometry.pore_diameter", fail_value=7.55e-9)
    df = sweep(path, tmp_path / "out", runner=runner, plots=False)
    failed = df[df["status"] == "failed"]
    assert len(failed) == 3 and (failed["geometry.pore_diameter [nm]"] == 7.55).all()
    assert failed["error"].str.contains("RuntimeError: made to fail").all()
    assert failed["species.A.ratio_interior_exterior [1]"].isna().all()
    assert (df[df["status"] != "failed"]["status"] == "done").all()
    d = point_dir(tmp_path / "out", load_sweep(path).points()[3])
    assert "Traceback" in json.loads((d / FAILED).read_text())["traceback"]
    assert not (d / DONE).exists()
    # the points after a failure in a chain still warm-start (from the last converged)
    # failed points are not retried by default, and are when asked
    sweep(path, tmp_path / "out", runner=runner, plots=False)
    assert sum(calls_by_point(calls).values()) == 9
    fixed = ShellRunner(calls=str(calls))
    df = sweep(path, tmp_path / "out", runner=fixed, plots=False, retry_failed=True)
    assert (df["status"] == "done").all()
    assert sum(calls_by_point(calls).values()) == 12


def test_jobs_2_gives_the_same_table_as_jobs_1(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, GRID)
    one = sweep(path, tmp_path / "j1", jobs=1, runner=ShellRunner(), plots=False)
    t0 = time.perf_counter()
    two = sweep(path, tmp_path / "j2", jobs=2, runner=ShellRunner(), plots=False)
    assert time.perf_counter() - t0 < 60
    drop = [c for c in one.columns if "wall_time" in c]
    pd.testing.assert_frame_equal(one.drop(columns=drop), two.drop(columns=drop))
    a = pd.read_csv(tmp_path / "j1" / "results.csv").drop(columns=drop)
    b = pd.read_csv(tmp_path / "j2" / "results.csv").drop(columns=drop)
    pd.testing.assert_frame_equal(a, b)


def test_slurm_slices_cover_every_point_exactly_once(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, GRID)
    calls = tmp_path / "calls"
    runner = ShellRunner(calls=str(calls))
    spec = load_sweep(path)
    all_chains = chains(spec, spec.points())
    count = 2  # fewer tasks than chains (3): one task takes two chains
    slices = [task_slice(all_chains, i, count) for i in range(count)]
    seen = [p.index for s in slices for c in s for p in c]
    assert sorted(seen) == list(range(9))
    for i in range(count):
        env = {"SLURM_ARRAY_TASK_ID": str(i + 1), "SLURM_ARRAY_TASK_COUNT": str(count)}
        env["SLURM_ARRAY_TASK_MIN"] = "1"
        assert slurm_task(env) == (i, count)
        df = sweep(path, tmp_path / "out", runner=runner, task=slurm_task(env), plots=False)
        if i == 0:
            assert (df["status"] == "done").sum() == sum(len(c) for c in slices[0])
            assert (df["status"] == "pending").sum() == 9 - sum(len(c) for c in slices[0])
    counts = calls_by_point(calls)
    assert len(counts) == 9 and set(counts.values()) == {1}
    assert (merge(path, tmp_path / "out")["status"] == "done").all()
    # many more tasks than chains: the extra tasks have nothing to do
    assert [len(task_slice(all_chains, i, 5)) for i in range(5)] == [1, 1, 1, 0, 0]
    assert slurm_task({}) is None


def test_slurm_environment_is_read_by_sweep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_sweep(tmp_path, GRID)
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "2")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "3")
    df = sweep(path, tmp_path / "out", runner=ShellRunner(), plots=False)
    done = df[df["status"] == "done"]
    assert set(done["geometry.pore_diameter [nm]"]) == {11.12}
    assert len(done) == 3


# --------------------------------------------------------------------------- killed sweeps
SCRIPT = """
import sys
from confine.sweeps import sweep
from sweep_runners import ShellRunner
sweep(sys.argv[1], sys.argv[2], jobs=int(sys.argv[4]), plots=False,
      runner=ShellRunner(calls=sys.argv[3], sleep=float(sys.argv[5])))
"""


def _start(path: Path, out: Path, calls: Path, jobs: int, sleep: float) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'tests'}")
    cmd = [PYTHON, "-c", SCRIPT, str(path), str(out), str(calls), str(jobs), str(sleep)]
    return subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)


def _wait_for_markers(
    out: Path, n: int, proc: subprocess.Popen[str], calls: Path, timeout: float = 60
) -> int:
    """Wait until ``n`` points are done and the next one has started."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        k = len(list(out.glob(f"points/*/{DONE}")))
        if k >= n and len(calls_by_point(calls)) > k:
            return k
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.02)
    raise AssertionError("the sweep did not progress")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_sweep_restarts_where_it_stopped(tmp_path: Path, sig: signal.Signals) -> None:
    path = write_sweep(tmp_path, GRID)
    out, calls = tmp_path / "out", tmp_path / "calls"
    proc = _start(path, out, calls, jobs=1, sleep=0.3)
    _wait_for_markers(out, 3, proc, calls)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    done_before = {p.parent.name[-16:] for p in out.glob(f"points/*/{DONE}")}  # the hash
    assert 3 <= len(done_before) < 9
    assert not list(out.glob(f"points/*/{FAILED}"))
    if sig == signal.SIGTERM:
        assert proc.returncode == 128 + signal.SIGTERM, err
        table = pd.read_csv(out / "results.csv")  # merged on the way out
        assert (table["status"] == "done").sum() == len(done_before)
        assert set(table["status"]) == {"done", "pending"}
        assert "stopped by a signal" in err
    else:
        assert proc.returncode == -signal.SIGKILL
    # a point under way when killed has been invoked but has no marker
    started = calls_by_point(calls)
    assert len(started) == len(done_before) + 1
    df = sweep(path, out, runner=ShellRunner(calls=str(calls)), plots=False)
    assert (df["status"] == "done").all()
    counts = calls_by_point(calls)
    assert len(counts) == 9
    for h in done_before:
        assert counts[h] == 1  # never redone
    assert sum(counts.values()) == 10  # the interrupted point ran twice, the rest once


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_stopping_the_sweep_stops_its_workers(tmp_path: Path, sig: signal.Signals) -> None:
    path = write_sweep(tmp_path, GRID)
    out, calls = tmp_path / "out", tmp_path / "calls"
    proc = _start(path, out, calls, jobs=2, sleep=0.25)
    _wait_for_markers(out, 2, proc, calls)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == (128 + sig if sig == signal.SIGTERM else -sig), err
    done = len(list(out.glob(f"points/*/{DONE}")))
    time.sleep(1.0)  # no orphaned worker goes on writing markers
    assert len(list(out.glob(f"points/*/{DONE}"))) == done < 9
    df = sweep(path, out, runner=ShellRunner(calls=str(calls)), plots=False)
    assert (df["status"] == "done").all()
    assert max(calls_by_point(calls).values()) <= 2


# --------------------------------------------------------------------------- sampling
SAMPLED = """
[parameters]
"geometry.pore_diameter" = { distribution = "normal", mean = 7.55, std = 0.4, unit = "nm" }
[parameters."reactions.one.rate_constant"]
distribution = "lognormal"
median = 3e4
sigma = 0.3
unit = "1/s"
[parameters."electrode.potential"]
values = ["-0.8 V", "-1.0 V"]
[sampling]
n = 12
seed = 7
"""


def test_sampled_sweeps_are_reproducible_with_a_seed(tmp_path: Path) -> None:
    a = load_sweep(write_sweep(tmp_path, SAMPLED, "a.sweep.toml"))
    b = load_sweep(write_sweep(tmp_path, SAMPLED, "b.sweep.toml"))
    c = load_sweep(write_sweep(tmp_path, SAMPLED.replace("seed = 7", "seed = 8"), "c.sweep.toml"))
    da = [p.numbers for p in a.parameters if p.sampled]
    assert da == [p.numbers for p in b.parameters if p.sampled]
    assert da != [p.numbers for p in c.parameters if p.sampled]
    d = np.array(da[0])
    assert len(d) == 12 and abs(d.mean() - 7.55) < 0.4 and 0.2 < d.std() < 0.7
    k = np.log(np.array(da[1]))
    assert abs(np.median(k) - math.log(3e4)) < 0.3
    assert len(a.points()) == 24


def test_sampled_sweep_bands(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, SAMPLED)
    df = sweep(path, tmp_path / "o1", jobs=1, runner=ShellRunner(), plots=True)
    assert "sample" in df.columns and len(df) == 24
    bands = pd.read_csv(tmp_path / "o1" / "bands.csv")
    ratio = bands[bands["quantity"] == "species.A.ratio_interior_exterior [1]"]
    assert len(ratio) == 2 and (ratio["n"] == 12).all()
    assert (ratio["p05"] < ratio["p50"]).all() and (ratio["p50"] < ratio["p95"]).all()
    col = find_column(df, "species.A.ratio_interior_exterior")
    sel = df[df["electrode.potential [V]"] == -0.8][col]
    row = ratio[ratio["electrode.potential [V]"] == -0.8].iloc[0]
    assert row["mean"] == pytest.approx(sel.mean()) and row["p95"] == pytest.approx(
        sel.quantile(0.95)
    )
    # same seed, new directory: the same bands
    sweep(path, tmp_path / "o2", runner=ShellRunner(), plots=False)
    again = pd.read_csv(tmp_path / "o2" / "bands.csv")
    pd.testing.assert_frame_equal(bands, again)


def test_latin_hypercube_stratifies(tmp_path: Path) -> None:
    body = """
    [parameters]
    "electrode.potential" = { distribution = "uniform", low = -1.1, high = -0.7, unit = "V" }
    [sampling]
    n = 10
    seed = 3
    method = "lhs"
    """
    spec = load_sweep(write_sweep(tmp_path, body))
    (p,) = spec.parameters
    bins = np.floor((np.array(p.numbers) + 1.1) / 0.04).astype(int)
    assert sorted(bins) == list(range(10))  # one sample per tenth of the range


# --------------------------------------------------------------------------- MPI
@pytest.mark.mpi
@pytest.mark.parametrize("ranks_per_point", [1, 2])
def test_mpi_sub_communicators_share_the_points(tmp_path: Path, ranks_per_point: int) -> None:
    """Under ``mpiexec -n 2``: groups of ``ranks_per_point`` ranks run disjoint chains."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    if comm.size % ranks_per_point:
        pytest.skip("needs a rank count divisible by ranks_per_point")
    base = Path(comm.bcast(str(tmp_path), root=0))
    path = base / "s.sweep.toml"
    if comm.rank == 0:
        write_sweep(base, GRID)
    comm.Barrier()
    calls = base / "calls"
    df = sweep(
        path,
        base / "out",
        runner=ShellRunner(calls=str(calls)),
        comm=comm,
        ranks_per_point=ranks_per_point,
        plots=False,
    )
    assert len(df) == 9 and (df["status"] == "done").all()
    comm.Barrier()
    counts = calls_by_point(calls)
    assert len(counts) == 9
    # every rank of a group calls the runner (it is collective): ranks_per_point calls a point
    assert set(counts.values()) == {ranks_per_point}
    groups = comm.size // ranks_per_point
    pids = {f.name.split(".")[1] for f in calls.iterdir()}
    assert len(pids) == min(comm.size, 3 * ranks_per_point) if groups > 1 else len(pids) >= 1


def test_shipped_example_sweeps_are_valid() -> None:
    files = sorted((ROOT / "cases" / "sweeps").glob("*.sweep.toml"))
    assert len(files) >= 3
    for f in files:
        spec = load_sweep(f)
        points = spec.points()
        assert len(points) == spec.size() > 1, f
    pore = load_sweep(ROOT / "cases" / "sweeps" / "pore-size.sweep.toml")
    assert [len(c) for c in chains(pore, pore.points())] == [5, 5, 5]
    film = load_sweep(ROOT / "cases" / "electrode" / "pore-sweep.toml")  # through the film
    points = film.points()
    assert len(points) == film.size() == 15
    assert all(p.case.film.coupling == "effectiveness" for p in points)


def test_a_single_chain_is_split_across_workers(tmp_path: Path) -> None:
    body = '[parameters]\n"electrode.potential" = { linspace = [-0.7, -1.2, 6], unit = "V" }\n'
    path = write_sweep(tmp_path, body)
    spec = load_sweep(path)
    (chain,) = chains(spec, spec.points())
    halves = split_chains([chain], 2)
    assert [[p.index for p in c] for c in halves] == [[0, 1, 2], [3, 4, 5]]
    assert split_chains(halves, 100) == [[p] for p in chain]  # no further than single points
    df = sweep(path, tmp_path / "out", jobs=2, runner=ShellRunner(), plots=False)
    assert (df["status"] == "done").all()
    assert df["warm_started"].tolist() == [False, True, True, False, True, True]


def test_a_failed_warm_start_is_retried_cold(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, GRID)
    df = sweep(path, tmp_path / "out", runner=ShellRunner(warm_fails=True), plots=False)
    assert (df["status"] == "done").all()
    assert not df["warm_started"].any()
    d = point_dir(tmp_path / "out", load_sweep(path).points()[1])
    marker = json.loads((d / DONE).read_text())
    assert "cannot warm-start" in marker["warm_start_error"]


def test_real_runs_keep_the_point_files(tmp_path: Path) -> None:
    """The pipeline replaces a point's directory with its output: the index survives."""
    shell = Path(__file__).resolve().parent.parent / "cases" / "first-order-shell.toml"
    path = tmp_path / "real.sweep.toml"
    path.write_text(
        f'[sweep]\ncase = "{shell}"\n\n[set]\n"mesh.cells_per_pore_diameter" = 3\n'
        '"output.fields" = false\n"output.figures" = false\n\n[parameters]\n'
        '"reactions.consume.rate_constant" = { logspace = [3, 5, 2], unit = "1/s" }\n'
    )
    sweep(path, tmp_path / "out")
    for point in load_sweep(path).points():
        d = point_dir(tmp_path / "out", point)
        assert json.loads((d / "point.json").read_text())["index"] == point.index
        assert load_case(d / "case.toml").hash() == point.case.hash()
        assert (d / "metrics.json").is_file()
        assert json.loads((d / DONE).read_text())["status"] == "done"


@pytest.mark.slow
@pytest.mark.parametrize(
    "representation",
    [
        "immobile",
        "surface",
        "mobile",
    ],
)
def test_representation_sweeps_run_with_bands(tmp_path: Path, representation: str) -> None:
    """Each representation's pore-size sweep with bands (issue 23, item 5) runs: the
    shipped file on coarse cells, two samples per pore size; every point solves and
    bands.csv holds urea's C_I/C_E at the three pore sizes."""
    shipped = ROOT / "cases" / "sweeps" / f"representation-{representation}.sweep.toml"
    spec = tomllib.loads(shipped.read_text(encoding="utf-8"))
    case = (shipped.parent / spec["sweep"]["case"]).resolve()
    sets = {**spec["set"], "mesh.cells_per_pore_diameter": 4, "mesh.cells_across_layer": 1}

    def toml(v: object) -> str:  # the values these files hold: str, number, bool, list, table
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{a} = {toml(b)}" for a, b in v.items()) + " }"
        return json.dumps(v)

    lines = [f'[sweep]\ncase = "{case}"\n\n[set]']
    lines += [f'"{k}" = {toml(v)}' for k, v in sets.items()]
    lines += ["\n[parameters]"] + [f'"{k}" = {toml(v)}' for k, v in spec["parameters"].items()]
    lines += ["\n[sampling]", "n = 2", f"seed = {spec['sampling']['seed']}", 'method = "lhs"']
    path = tmp_path / "coarse.sweep.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    df = sweep(path, tmp_path / "out", jobs=1, plots=False)
    assert len(df) == 6 and (df["status"] == "done").all(), df[["status", "error"]]
    bands = pd.read_csv(tmp_path / "out" / "bands.csv")
    urea = bands[bands["quantity"] == "species.urea.ratio_interior_exterior [1]"]
    assert len(urea) == 3 and (urea["n"] == 2).all()
    assert np.isfinite(urea["p50"]).all()
