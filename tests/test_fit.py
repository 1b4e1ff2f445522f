"""Calibration: twin experiments (known parameters recovered), identifiability warnings,
fit-file validation, and reading the measured data of the 7 nm study."""

from __future__ import annotations

import json
import math
import os
import signal
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sweep_runners import TWO_PATH, ShellRunner, shell_metrics

from confine.calibrate import FitError, fit
from confine.case import CaseError, load_case
from confine.fit_file import Target, conversion_factor, load_fit, normalize_unit
from confine.fit_report import FitReport

ROOT = Path(__file__).resolve().parent.parent
DU2025 = ROOT.parent / "shared" / "data" / "du2025-mchs7.csv"  # ../shared beside the clone
TRUE = {
    "reactions.one.rate_constant": 5e4,
    "reactions.one.transfer_coefficient": 0.45,
    "reactions.two.rate_constant": 1e4,
    "reactions.two.transfer_coefficient": 0.7,
}
UNITS = {"reactions.one.rate_constant": "1/s", "reactions.two.rate_constant": "1/s"}
POTENTIALS = (-0.7, -0.85, -1.0, -1.1)
FOUR = """
[parameters."reactions.one.rate_constant"]
start = "2e4 1/s"
bounds = ["1e2 1/s", "1e7 1/s"]
[parameters."reactions.one.transfer_coefficient"]
start = 0.55
bounds = [0.1, 1.0]
[parameters."reactions.two.rate_constant"]
start = "3e4 1/s"
bounds = ["1e2 1/s", "1e7 1/s"]
[parameters."reactions.two.transfer_coefficient"]
start = 0.6
bounds = [0.1, 1.0]
"""


def twin_data(path: Path, rel: float = 0.02, noise_seed: int | None = None) -> Path:
    """Targets computed by the closed-form model at TRUE (FE in %, current in nA)."""
    sets = {k: f"{v} {UNITS[k]}" if k in UNITS else v for k, v in TRUE.items()}
    rng = np.random.default_rng(noise_seed)
    rows = ["# twin experiment", "quantity,potential_V,value,uncertainty,unit,source"]
    for e in POTENTIALS:
        m = shell_metrics(load_case(TWO_PATH, set={**sets, "electrode.potential": f"{e} V"}))
        for q, v, unit in (
            ("fe.B", m["products"]["B-"]["faradaic_efficiency"]["value"] * 100, "%"),
            ("current", m["current_A"]["value"] * 1e9, "nA"),
        ):
            noisy = v * (1 + rel * rng.standard_normal()) if noise_seed is not None else v
            rows.append(f"{q},{e},{noisy!r},{rel * v!r},{unit},twin")
    path.write_text("\n".join(rows) + "\n")
    return path


def fit_file(tmp: Path, params: str, data: Path, extra: str = "") -> Path:
    path = tmp / "twin.fit.toml"
    path.write_text(
        f'[fit]\nname = "twin"\ncase = "{TWO_PATH}"\ndata = "{data.name}"\n{extra}\n'
        + textwrap.dedent(params)
        + '\n[conditions]\npotential_V = { key = "electrode.potential", unit = "V" }\n'
        '[targets]\n"fe.B" = "products.B-.faradaic_efficiency"\n"current" = "current_A"\n'
    )
    return path


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, FitReport]:
    """The noise-free twin fit of all four kinetic parameters (shared by tests)."""
    tmp = tmp_path_factory.mktemp("twin")
    data = twin_data(tmp / "twin.csv")
    return tmp, fit(fit_file(tmp, FOUR, data), tmp / "out", runner=ShellRunner())


def test_twin_experiment_recovers_the_true_parameters(twin: tuple[Path, FitReport]) -> None:
    tmp, report = twin
    assert report.success
    assert report.chi2 < 1e-6
    for key, true in TRUE.items():
        p = report.parameter(key)
        assert p.value == pytest.approx(true, rel=1e-3), key
        assert p.ci95_low < true < p.ci95_high
        assert p.ci95_high / p.ci95_low < 1.5  # determined, not just bracketed
    assert not report.warnings
    # written: JSON + Markdown + the fitted case, which loads and holds the values
    saved = json.loads((tmp / "out" / "fit.json").read_text())
    assert {p["key"] for p in saved["parameters"]} == set(TRUE)
    assert len(saved["targets"]) == 2 * len(POTENTIALS)
    md = (tmp / "out" / "fit.md").read_text()
    assert "## Sensitivities" in md and "reactions.two.transfer_coefficient" in md
    fitted = load_case(tmp / "out" / "fitted-case.toml")
    assert fitted.reaction_named("one").transfer_coefficient == pytest.approx(0.45, rel=1e-3)
    evals = (tmp / "out" / "evaluations.csv").read_text().splitlines()
    assert len(evals) == report.evaluations + 1


def test_twin_with_noise_lies_within_the_reported_intervals(tmp_path: Path) -> None:
    data = twin_data(tmp_path / "twin.csv", rel=0.02, noise_seed=11)
    report = fit(fit_file(tmp_path, FOUR, data), None, runner=ShellRunner())
    inside = [
        report.parameter(k).ci95_low < v < report.parameter(k).ci95_high for k, v in TRUE.items()
    ]
    assert all(inside), [(p.key, p.value, p.ci95_low, p.ci95_high) for p in report.parameters]
    # noise makes a real misfit: chi2 of the order of the degrees of freedom
    assert 0.5 < report.chi2 < 4 * (report.dof + 4)
    # residuals are reported per target, normalized by the uncertainty
    for t in report.targets:
        assert t.residual == pytest.approx((t.model - t.data) / t.uncertainty)


def test_sensitivity_is_the_log_derivative(twin: tuple[Path, FitReport]) -> None:
    report = twin[1]
    # at E = -1.0 V, compare with a central difference of the closed form
    sets = {k: f"{v} {UNITS[k]}" if k in UNITS else v for k, v in TRUE.items()}
    h = 1e-4

    def current(k_two: float) -> float:
        over = {
            **sets,
            "reactions.two.rate_constant": f"{k_two} 1/s",
            "electrode.potential": "-1.0 V",
        }
        return shell_metrics(load_case(TWO_PATH, set=over))["current_A"]["value"]

    k2 = TRUE["reactions.two.rate_constant"]
    expect = (math.log(current(k2 * math.exp(h))) - math.log(current(k2 * math.exp(-h)))) / (2 * h)
    got = report.sensitivity["current @ potential=-1.0 V"]["reactions.two.rate_constant"]
    assert got == pytest.approx(expect, rel=2e-2)


def test_correlated_pair_is_flagged(tmp_path: Path) -> None:
    # k and the reference potential enter only as ln k + α F E_ref / RT: one combination
    params = """
    [parameters."reactions.one.rate_constant"]
    start = "2e4 1/s"
    bounds = ["1e2 1/s", "1e7 1/s"]
    [parameters."reactions.one.reference_potential"]
    start = "-0.8 V"
    bounds = ["-1.2 V", "-0.5 V"]
    """
    data = twin_data(tmp_path / "twin.csv")
    report = fit(fit_file(tmp_path, params, data), None, runner=ShellRunner())
    text = " ".join(report.warnings)
    assert "not identifiable" in text
    assert "reactions.one.rate_constant" in text and "reactions.one.reference_potential" in text
    k = report.parameter("reactions.one.rate_constant")
    assert k.ci95_high / k.ci95_low > 100 or not math.isfinite(k.ci95_high)


def test_insensitive_parameter_is_flagged(tmp_path: Path) -> None:
    # the closed-form model has no sites: the site density changes nothing
    params = """
    [parameters."reactions.one.transfer_coefficient"]
    start = 0.55
    bounds = [0.1, 1.0]
    [parameters."catalyst.site_density"]
    start = "3e-5 mol/m^2"
    bounds = ["1e-6 mol/m^2", "1e-3 mol/m^2"]
    scale = "log"
    """
    data = twin_data(tmp_path / "twin.csv")
    path = fit_file(tmp_path, params, data, "max_evaluations = 60")
    report = fit(path, None, runner=ShellRunner())
    assert any("insensitive to catalyst.site_density" in w for w in report.warnings), (
        report.warnings
    )
    site = report.parameter("catalyst.site_density")
    assert site.value == pytest.approx(3e-5) and not math.isfinite(site.std_fit_coordinate)
    assert report.evaluations <= 60
    # the transfer coefficient is determined (though the other kinetics are off: a misfit)
    alpha = report.parameter("reactions.one.transfer_coefficient")
    assert alpha.ci95_high - alpha.ci95_low < 0.05
    assert report.chi2 > 100


@pytest.mark.parametrize(
    ("extra", "params", "key", "rule"),
    [
        ("metod = 'trf'", FOUR, "fit.metod", "did you mean 'method'"),
        (
            "",
            '[parameters."geometry.pore_diameter"]\nstart = "7 nm"\nbounds = ["4 nm", "11 nm"]\n',
            "geometry.pore_diameter",
            "fixed mesh",
        ),
        (
            "",
            FOUR.replace("start = 0.55", "start = 1.5"),
            "transfer_coefficient",
            "inside the bounds",
        ),
        (
            "",
            FOUR.replace('bounds = ["1e2 1/s", "1e7 1/s"]', 'bounds = ["1e2 1/s"]', 1),
            "bounds",
            "[lower, upper]",
        ),
        (
            "",
            FOUR.replace("reactions.two.rate", "reactions.three.rate"),
            "reactions.three",
            "no reactions entry named 'three'",
        ),
    ],
)
def test_fit_file_errors(tmp_path: Path, extra: str, params: str, key: str, rule: str) -> None:
    path = fit_file(tmp_path, params, twin_data(tmp_path / "twin.csv"), extra)
    with pytest.raises(CaseError) as info:
        load_fit(path)
    lines = [str(p) for p in info.value.problems]
    assert any(
        line.startswith(f"error: {path}: ") and key in line and rule in line for line in lines
    ), lines


def test_a_missing_metric_stops_the_fit_with_its_name(tmp_path: Path) -> None:
    path = fit_file(tmp_path, FOUR, twin_data(tmp_path / "twin.csv"))
    path.write_text(path.read_text().replace("products.B-.faradaic_efficiency", "products.B.fe"))
    with pytest.raises(FitError, match=r"no metric 'products\.B\.fe'"):
        fit(path, None, runner=ShellRunner())


def test_units_of_measured_data() -> None:
    assert normalize_unit("mA/cm2") == "mA/cm^2"
    assert normalize_unit("g/(h g_cat)") == "g/(h*g)"
    assert conversion_factor("mA/cm2", "A/m^2") == pytest.approx(10.0)
    assert conversion_factor("", "%") == pytest.approx(100.0)
    assert conversion_factor("g/(h g_cat)", "g/(h*g_cat)") == pytest.approx(1.0)
    with pytest.raises(ValueError, match="cannot convert"):
        conversion_factor("mA", "V")


@pytest.mark.skipif(not DU2025.is_file(), reason="shared data not present")
def test_reads_the_du2025_measurements(tmp_path: Path) -> None:
    path = tmp_path / "mchs7.fit.toml"
    path.write_text(
        textwrap.dedent(
            f"""
            [fit]
            case = "{ROOT / "cases" / "mchs-7nm.toml"}"
            data = "{DU2025}"
            [set]
            "mesh.cells_per_pore_diameter" = 4
            [parameters."reactions.volmer.rate_constant"]
            start = "1e-3 mol/(m^3*s)"
            bounds = ["1e-8 mol/(m^3*s)", "1e3 mol/(m^3*s)"]
            [conditions]
            potential_V = {{ key = "electrode.potential", unit = "V" }}
            [targets]
            "faradaic_efficiency.urea" = "products.urea.faradaic_efficiency"
            "yield.urea" = "yield_g_per_h_per_g_cat"
            "current_density.total" = {{ metric = "current_density_A_per_m2", \
relative_uncertainty = 0.15 }}
            """
        )
    )
    spec = load_fit(path)
    by = {(t.quantity, t.conditions.get("electrode.potential")): t for t in spec.targets}
    fe = by[("faradaic_efficiency.urea", "-0.7 V")]
    assert (fe.value, fe.uncertainty, fe.unit) == (16.5, 1.2, "%")
    assert by[("faradaic_efficiency.urea", "-1.1 V")].value == 13.3
    j = by[("current_density.total", "-1.1 V")]
    assert j.uncertainty == pytest.approx(0.15 * 37) and j.unit == "mA/cm2"
    assert by[("yield.urea", "-1.1 V")].uncertainty == 0.22
    assert len(spec.conditions()) == 2
    # a row without an uncertainty and no rule for it is an error naming the line
    path.write_text(path.read_text().replace(", relative_uncertainty = 0.15", ""))
    with pytest.raises(CaseError, match=r"line \d+: no uncertainty"):
        load_fit(path)


def test_fit_survives_a_solver_that_cannot_warm_start(tmp_path: Path) -> None:
    params = """
    [parameters."reactions.one.transfer_coefficient"]
    start = 0.5
    bounds = [0.1, 1.0]
    """
    data = twin_data(tmp_path / "twin.csv")
    path = fit_file(tmp_path, params, data, "max_evaluations = 20")
    report = fit(path, None, runner=ShellRunner(warm_fails=True))
    assert report.runs >= 2 * len(POTENTIALS)
    assert report.parameter("reactions.one.transfer_coefficient").value != 0.5


def test_warm_start_false_runs_every_evaluation_from_the_bulk(tmp_path: Path) -> None:
    """``[fit] warm_start = false``: no run is handed a warm start (each starts as
    ``confine run`` does); the default hands each condition its last state."""
    params = """
    [parameters."reactions.one.transfer_coefficient"]
    start = 0.5
    bounds = [0.1, 1.0]
    """
    data = twin_data(tmp_path / "twin.csv")
    for flag, calls in (("false", tmp_path / "cold"), ("true", tmp_path / "warm")):
        path = fit_file(tmp_path, params, data, f"max_evaluations = 6\nwarm_start = {flag}")
        assert load_fit(path).warm_start is (flag == "true")
        fit(path, None, runner=ShellRunner(calls=str(calls)))
        starts = {f.read_text() for f in calls.iterdir()}
        assert starts == ({"cold"} if flag == "false" else {"cold", "warm"})
    path = fit_file(tmp_path, params, data, 'warm_start = "no"')
    with pytest.raises(CaseError, match=r"fit\.warm_start: expected true or false"):
        load_fit(path)


def test_intervals_are_those_of_the_weighted_jacobian(twin: tuple[Path, FitReport]) -> None:
    """Recompute cov = (JᵀJ)⁻¹ by central differences of the closed form at the truth."""
    report = twin[1]
    keys = list(TRUE)
    h = 1e-5

    def model(x: dict[str, float]) -> np.ndarray:
        sets = {k: f"{v} {UNITS[k]}" if k in UNITS else v for k, v in x.items()}
        fe, cur = [], []  # the report's order: targets as in the fit file, rows as in the CSV
        for e in POTENTIALS:
            m = shell_metrics(load_case(TWO_PATH, set={**sets, "electrode.potential": f"{e} V"}))
            fe.append(m["products"]["B-"]["faradaic_efficiency"]["value"] * 100)
            cur.append(m["current_A"]["value"] * 1e9)
        return np.array(fe + cur)

    sigma = np.array([t.uncertainty for t in report.targets])
    cols = []
    for k in keys:  # fit coordinates: ln k for rate constants, α / α_start for the others
        p = report.parameter(k)
        if p.scale == "log":
            up_v, down_v = TRUE[k] * math.exp(h), TRUE[k] * math.exp(-h)
        else:
            up_v, down_v = TRUE[k] + h * abs(p.start), TRUE[k] - h * abs(p.start)
        up = model({**TRUE, k: up_v})
        down = model({**TRUE, k: down_v})
        cols.append((up - down) / (2 * h) / sigma)
    jac = np.array(cols).T
    std = np.sqrt(np.diag(np.linalg.inv(jac.T @ jac)))
    got = np.array([report.parameter(k).std_fit_coordinate for k in keys])
    np.testing.assert_allclose(got, std, rtol=0.03)


def test_a_target_may_be_the_sum_of_metrics(tmp_path: Path) -> None:
    """A list of metric paths is their sum (e.g. total ammonia: NH4+ + NH3): here the two
    products' FEs, which add to 100 % whatever the parameters."""
    data = twin_data(tmp_path / "twin.csv")
    lines = data.read_text().splitlines()
    lines += [f"fe.both,{e},100,1,%,twin" for e in POTENTIALS]
    data.write_text("\n".join(lines) + "\n")
    path = fit_file(tmp_path, FOUR, data)
    both = '["products.B-.faradaic_efficiency", "products.C2-.faradaic_efficiency"]'
    path.write_text(path.read_text() + f'"fe.both" = {{ metric = {both}, fit = false }}\n')
    spec = load_fit(path)
    summed = [t for t in spec.targets if t.quantity == "fe.both"]
    assert summed[0].paths() == (
        "products.B-.faradaic_efficiency",
        "products.C2-.faradaic_efficiency",
    )
    report = fit(spec, None, runner=ShellRunner())
    checks = [t for t in report.targets if t.label.startswith("fe.both")]
    assert len(checks) == len(POTENTIALS)
    assert all(t.model == pytest.approx(100.0, rel=1e-12) for t in checks)
    fe_b = [t for t in report.targets if t.label.startswith("fe.B")]
    assert all(0 < t.model < 100 for t in fe_b)  # the parts are not the sum


@pytest.mark.parametrize("metric", ["[]", "[1, 2]", "3"])
def test_a_summed_target_needs_paths(tmp_path: Path, metric: str) -> None:
    path = fit_file(tmp_path, FOUR, twin_data(tmp_path / "twin.csv"))
    path.write_text(
        path.read_text().replace('"current" = "current_A"', f'"current" = {{ metric = {metric} }}')
    )
    with pytest.raises(CaseError, match="list of paths"):
        load_fit(path)


class _FailsAbove:
    """The closed-form runner, failing (as a solver that cannot reach the point) wherever
    reactions.one.rate_constant exceeds ``limit`` 1/s, warm or cold."""

    def __init__(self, limit: float) -> None:
        self.limit, self.shell, self.failed = limit, ShellRunner(), 0

    def __call__(self, case: Any, out: Any = None, comm: Any = None, initial: Any = None) -> Any:
        if case.reaction_named("one").rate_constant > self.limit:
            self.failed += 1
            raise RuntimeError("Newton did not converge")
        return self.shell(case, out, comm, initial)


def test_a_trial_point_that_fails_is_a_rejected_step(tmp_path: Path) -> None:
    """A trial step into a region the solver cannot reach is penalised and rejected (the
    trust region shrinks), not the end of the fit: the twin's parameters are still found,
    and the report says how many points failed. A start that fails stops the fit."""
    data = twin_data(tmp_path / "twin.csv")
    path = fit_file(tmp_path, FOUR.replace('start = "2e4 1/s"', 'start = "1e3 1/s"'), data)
    runner = _FailsAbove(1e5)  # the truth is 5e4: the first steps from 1e3 overshoot it
    report = fit(path, None, runner=runner)
    assert runner.failed > 0
    assert any("failed to solve and were penalised" in w for w in report.warnings)
    fitted = {p.key: p.value for p in report.parameters}
    assert fitted["reactions.one.rate_constant"] == pytest.approx(5e4, rel=1e-3)
    with pytest.raises(FitError, match="Newton did not converge"):
        fit(path, None, runner=_FailsAbove(1e2))


def test_a_range_target_is_met_anywhere_inside_it() -> None:
    """A range row's residual is 0 inside [value, upper] and the distance outside over σ."""
    t = Target("fe", "m", {}, 36.4, 2.0, "%", upper=42.5)
    assert t.residual(36.4) == 0.0 and t.residual(40.0) == 0.0 and t.residual(42.5) == 0.0
    assert t.residual(30.4) == pytest.approx(-3.0, rel=1e-14)
    assert t.residual(46.5) == pytest.approx(2.0, rel=1e-14)
    value = replace(t, upper=None)
    assert value.residual(40.0) == pytest.approx(1.8, rel=1e-14)


def test_range_rows_constrain_only_outside_their_range(tmp_path: Path) -> None:
    """Range rows (an ``upper`` column) at potentials between the twin's values: one that
    holds the truth leaves the twin fit where it was (χ² ~ 0, the true parameters); the
    report gives each range's ends, and no sensitivity inside it (the residual is flat)."""
    data = twin_data(tmp_path / "twin.csv")
    lines = data.read_text().splitlines()
    lines[1] += ",upper"
    sets = {k: f"{v} {UNITS[k]}" if k in UNITS else v for k, v in TRUE.items()}
    for e in (-0.8, -0.95):
        m = shell_metrics(load_case(TWO_PATH, set={**sets, "electrode.potential": f"{e} V"}))
        fe = m["products"]["B-"]["faradaic_efficiency"]["value"] * 100
        lines.append(f"fe.B,{e},{fe - 3!r},0.5,%,range,{fe + 4!r}")
    data.write_text("\n".join(lines) + "\n")
    spec = load_fit(fit_file(tmp_path, FOUR, data))
    ranges = [t for t in spec.targets if t.upper is not None]
    assert [t.upper - t.value for t in ranges] == pytest.approx([7.0, 7.0], rel=1e-12)
    report = fit(spec, tmp_path / "out", runner=ShellRunner())
    assert report.chi2 < 1e-6
    for key, true in TRUE.items():
        assert report.parameter(key).value == pytest.approx(true, rel=1e-3), key
    inside = [t for t in report.targets if t.upper is not None]
    assert len(inside) == 2 and all(t.residual == 0.0 for t in inside)
    assert all(t.data + 3 == pytest.approx(t.model, rel=1e-9) for t in inside)
    md = (tmp_path / "out" / "fit.md").read_text()
    assert f"{inside[0].data:.4g}–{inside[0].upper:.4g} ± 0.5" in md
    saved = json.loads((tmp_path / "out" / "fit.json").read_text())
    for t in inside:  # each label once (the range rows are at their own potentials)
        assert all(v is None for v in saved["sensitivity"][t.label].values()), t.label


def test_a_range_needs_upper_above_value(tmp_path: Path) -> None:
    data = twin_data(tmp_path / "twin.csv")
    lines = data.read_text().splitlines()
    lines[1] += ",upper"
    lines.append("fe.B,-0.8,40,1,%,range,30")
    data.write_text("\n".join(lines) + "\n")
    path = fit_file(tmp_path, FOUR, data)
    with pytest.raises(CaseError) as info:
        load_fit(path)
    lines_out = [str(p) for p in info.value.problems]
    assert any(
        "targets.fe.B" in line and "twin.csv line" in line and "upper > value" in line
        for line in lines_out
    ), lines_out


def test_jobs_run_the_conditions_in_worker_processes(tmp_path: Path) -> None:
    """``jobs = 2`` (``confine fit --jobs 2``): each evaluation's conditions run in two
    worker processes, from the bulk; the fit is the one-process fit (the same
    evaluations and values). Warm starts cannot cross processes: a clear error."""
    data = twin_data(tmp_path / "twin.csv")
    path = fit_file(tmp_path, FOUR, data, "warm_start = false")
    one = fit(path, None, runner=ShellRunner())
    calls = tmp_path / "calls"
    two = fit(path, None, runner=ShellRunner(calls=str(calls)), jobs=2)
    assert two.evaluations == one.evaluations and two.chi2 == pytest.approx(one.chi2, abs=1e-12)
    for p in one.parameters:
        assert two.parameter(p.key).value == pytest.approx(p.value, rel=1e-12), p.key
    pids = {f.name.split(".")[1] for f in calls.iterdir()}
    assert len(pids) == 2 and str(os.getpid()) not in pids  # two workers, not this process
    assert {f.read_text() for f in calls.iterdir()} == {"cold"}
    with pytest.raises(FitError, match="warm_start = false"):
        fit(fit_file(tmp_path, FOUR, data), None, runner=ShellRunner(), jobs=2)


class _DiesAbove(_FailsAbove):
    """As :class:`_FailsAbove`, but the worker process dies (SIGKILL: a crash) instead."""

    def __call__(self, case: Any, out: Any = None, comm: Any = None, initial: Any = None) -> Any:
        if case.reaction_named("one").rate_constant > self.limit:
            os.kill(os.getpid(), signal.SIGKILL)
        return self.shell(case, out, comm, initial)


def test_a_worker_that_dies_is_a_rejected_step(tmp_path: Path) -> None:
    """With ``jobs``, a worker killed mid-run (a crash in a solver library, a signal)
    breaks its pool: the trial point is penalised as a failed run, a fresh pool takes
    the next evaluation, and the fit still finds the twin's parameters."""
    data = twin_data(tmp_path / "twin.csv")
    start = FOUR.replace('start = "2e4 1/s"', 'start = "1e3 1/s"')
    path = fit_file(tmp_path, start, data, "warm_start = false")
    report = fit(path, None, runner=_DiesAbove(1e5), jobs=2)
    assert report.chi2 < 1e-6
    for key, true in TRUE.items():
        assert report.parameter(key).value == pytest.approx(true, rel=1e-3), key
    assert any("BrokenProcessPool" in w for w in report.warnings), report.warnings
