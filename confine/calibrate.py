"""Calibration: fit named case parameters to measured metrics, with honest uncertainties.

:func:`fit` minimises the uncertainty-weighted residuals of a fit file's
targets (:mod:`confine.fit_file`) with :func:`scipy.optimize.least_squares`
(finite-difference Jacobian, every run on the same mesh) and finds the fitted
values with 95 % confidence intervals from the Jacobian, the residual of each
target, the sensitivities ∂ln(metric)/∂ln(parameter), the parameter
correlations, and warnings when parameters are not identifiable; the result
is a :class:`confine.fit_report.FitReport`. The fit file's schema is in
:mod:`confine.fit_file` and docs/sweeps.md.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np

from confine import document, progress
from confine.case import Case
from confine.fit_file import FitSpec, Target, conversion_factor, is_number, load_fit
from confine.fit_report import FitReport, FittedParameter, TargetResult
from confine.pipeline import run as pipeline_run
from confine.result import Result
from confine.worker_context import worker_pool

log = logging.getLogger("confine")

Runner = Callable[..., Any]

Z95 = 1.959963984540054  # two-sided 95 % normal quantile


#: Normalized residual of every target at a trial point whose run fails.
PENALTY = 1e3


class FitError(RuntimeError):
    """A fit that cannot go on (a failed run, a missing metric, incompatible units)."""


# --------------------------------------------------------------------------- fitting
class _Model:
    """Residuals of a parameter vector: one run per condition, warm-started, cached."""

    def __init__(
        self, spec: FitSpec, runner: Runner, comm: Any, log_path: Path | None, jobs: int = 1
    ):
        self.spec, self.runner, self.comm, self.jobs = spec, runner, comm, jobs
        self.pool: ProcessPoolExecutor | None = None  # started at the first evaluation
        self.base = spec.base_case()
        self.conds = spec.conditions()
        self.warm: dict[int, Any] = {}
        self.cache: dict[tuple[float, ...], np.ndarray] = {}
        self.factors: dict[int, list[float]] = {}
        self.evaluations = 0
        self.runs = 0
        self.log_path = log_path
        self.last_case: Case | None = None
        self.warm_broken = False
        self.failed: list[str] = []  # trial points whose runs failed (penalised)
        self.tally: progress.Tally | None = None  # evaluations so far, shown by rank 0
        if log_path is not None:
            header = ["evaluation", *[p.key for p in spec.parameters], "chi2"]
            log_path.write_text(",".join(header) + "\n", encoding="utf-8")

    def values(self, x: np.ndarray) -> list[float]:
        return [p.from_x(float(v)) for p, v in zip(self.spec.parameters, x, strict=True)]

    def model(self, x: np.ndarray) -> np.ndarray:
        """Model values of every target, in the target's (CSV) unit."""
        key = tuple(float(v) for v in x)
        if key in self.cache:
            return self.cache[key]
        sets = {
            p.key: p.override(v) for p, v in zip(self.spec.parameters, self.values(x), strict=True)
        }
        out = np.empty(len(self.spec.targets))
        cases = [self.base.replace(**sets, **cond) for cond in self.conds]
        # in a pool: every condition at once, each run from the bulk, only metrics come back
        pool = self._pool()
        futures = [pool.submit(_cold_metrics, self.runner, c) for c in cases] if pool else []
        for ci, cond in enumerate(self.conds):
            case = cases[ci]
            try:
                result = futures[ci].result() if futures else self._run(case, self.warm.get(ci))
            except Exception as e:
                what = f"the run at {sets} {cond} failed: {type(e).__name__}: {e}"
                if not self.cache:  # the start itself: nothing to step back to
                    raise FitError(what) from e
                # a trial point the solver cannot reach: a residual far above any the fit has
                # seen, so the optimizer rejects the step and shrinks its trust region
                log.warning("fit: %s; penalised (the step is rejected)", what)
                self.failed.append(what)
                for f in futures:
                    f.cancel()
                if isinstance(e, BrokenProcessPool):  # a worker died (a crash, a signal)
                    self.close()  # a fresh pool at the next evaluation
                penalty = np.array([t.value + PENALTY * t.uncertainty for t in self.spec.targets])
                self.cache[key] = penalty
                return penalty
            self.runs += 1
            if getattr(result, "solution", None) is not None:
                self.warm[ci] = result.solution
            for ti, t in enumerate(self.spec.targets):
                if t.conditions == cond:
                    out[ti] = self._metric(result, ti, t)
            self.last_case = case
        self.cache[key] = out
        return out

    def _pool(self) -> ProcessPoolExecutor | None:
        """The worker pool (``jobs`` > 1), started on first use and after a breakage."""
        if self.jobs > 1 and self.pool is None:
            self.pool = worker_pool(min(self.jobs, len(self.conds)), self.runner)
        return self.pool

    def close(self) -> None:
        """Stop the worker pool, if any (its workers end with it)."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def _run(self, case: Case, initial: Any) -> Any:
        """One run, warm-started when possible (``[fit] warm_start``; else always cold, as
        ``confine run``). A failed warm start is retried cold; warm starts stop for good
        only when the cold retry succeeds (the solver cannot warm start), not when the
        point itself fails both ways."""
        if initial is not None and self.spec.warm_start and not self.warm_broken:
            try:
                return self.runner(case, out=None, comm=self.comm, initial=initial)
            except Exception as e:
                log.info("fit: warm start failed (%s); solving cold", e)
                result = self.runner(case, out=None, comm=self.comm, initial=None)
                self.warm_broken = True
                log.warning("fit: warm start failed (%s); cold starts from now on", e)
                return result
        return self.runner(case, out=None, comm=self.comm, initial=None)

    def _metric(self, result: Any, ti: int, t: Target) -> float:
        """The target's model value in its data unit: its metric, or the sum of its parts
        (each converted from its own unit)."""
        if ti not in self.factors:
            self.factors[ti] = [self._factor(result, t, path) for path in t.paths()]
        total = 0.0
        for path, factor in zip(t.paths(), self.factors[ti], strict=True):
            try:
                v = result.metric(path)
            except KeyError as e:
                raise FitError(f"target {t.label()}: no metric '{path}' ({e})") from None
            if v is None or not is_number(v):
                raise FitError(f"target {t.label()}: metric '{path}' is {v!r}")
            total += float(v) * factor
        return total

    def _factor(self, result: Any, t: Target, path: str) -> float:
        """Factor from a metric's unit (in the document) to the target's data unit."""
        try:
            node: Any = document.get(result.metrics, path)
        except KeyError as e:
            raise FitError(f"target {t.label()}: no metric '{path}' ({e})") from None
        unit = node.get("unit", "") if isinstance(node, dict) else ""
        try:
            return conversion_factor(unit or "", t.unit)
        except ValueError as e:
            raise FitError(f"target {t.label()}: metric unit vs data unit: {e}") from None

    def normalized(self, x: np.ndarray) -> np.ndarray:
        """(model − data)/σ of every target, checks included (a range: the distance
        outside it over σ)."""
        values = self.model(x)
        return np.array(
            [t.residual(float(m)) for t, m in zip(self.spec.targets, values, strict=True)]
        )

    def residuals(self, x: np.ndarray) -> np.ndarray:
        """The objective's residuals: fitted targets only."""
        r = self.normalized(x)[[t.fitted for t in self.spec.targets]]
        self.evaluations += 1
        if self.log_path is not None:
            row = [str(self.evaluations), *[repr(v) for v in self.values(x)], repr(float(r @ r))]
            with open(self.log_path, "a", encoding="utf-8") as fh:
                fh.write(",".join(row) + "\n")
        log.debug("fit evaluation %d: chi2 = %.6g", self.evaluations, float(r @ r))
        if self.tally is not None:
            self.tally.draw(self.evaluations, 0)
            if not self.tally.live:
                log.info("%s, chi2 = %.4g", self.tally.text(self.evaluations, 0), float(r @ r))
        return r


def _cold_metrics(runner: Runner, case: Case) -> Result:
    """One run from the bulk in a pool worker: its result without the solution (the
    metrics are what the fit reads; dolfinx functions do not cross processes)."""
    result = runner(case, out=None, comm=None, initial=None)
    return Result(case=result.case, metrics=result.metrics, converged=result.converged)


def fit(
    path_or_spec: str | Path | Mapping[str, Any] | FitSpec,
    out: str | Path | None = None,
    runner: Runner | None = None,
    comm: Any = None,
    jobs: int = 1,
) -> FitReport:
    """Calibrate case parameters to measured targets (scipy least squares).

    Args:
        path_or_spec: a fit file, its data as a dict, or a parsed :class:`FitSpec`.
        out: directory for ``fit.json``, ``fit.md``, ``fitted-case.toml`` and
            ``evaluations.csv`` (None: nothing written).
        runner: ``runner(case, out=None, comm=..., initial=...) -> Result``; default
            :func:`confine.pipeline.run`.
        comm: communicator passed to the runner (collective: call on every rank;
            rank 0 writes the files).
        jobs: worker processes running an evaluation's conditions at once (needs
            ``warm_start = false``: warm states stay in their process); ignored with
            ``comm``. ``runner`` must then be picklable.

    Returns:
        The report: fitted values with 95 % intervals, residuals, sensitivities,
        correlations and identifiability warnings.

    Raises:
        CaseError: a problem in the fit file, its data or the cases it implies.
        FitError: a run failed or a metric is missing.
    """
    spec = path_or_spec if isinstance(path_or_spec, FitSpec) else load_fit(path_or_spec)
    runner = pipeline_run if runner is None else runner
    root = comm is None or getattr(comm, "rank", 0) == 0  # files from one rank only
    if out is not None and root:
        Path(out).mkdir(parents=True, exist_ok=True)
    evaluations = Path(out) / "evaluations.csv" if out is not None and root else None
    parallel = jobs > 1 and comm is None and len(spec.conditions()) > 1
    if parallel and spec.warm_start:
        raise FitError(
            f"{jobs} jobs need warm_start = false in [fit] (a warm start is the last "
            "evaluation's state, which stays in the process that solved it)"
        )
    model = _Model(spec, runner, comm, evaluations, jobs if parallel else 1)
    try:
        return _fit(spec, root, out, model)
    finally:
        model.close()


def _fit(spec: FitSpec, root: bool, out: str | Path | None, model: _Model) -> FitReport:
    """The least-squares search and its report (:func:`fit` made the model)."""
    from scipy.optimize import least_squares  # lazy: scipy.optimize is slow to import (~0.4 s)

    ps = spec.parameters
    x0 = np.array([p.to_x(p.start) for p in ps])
    lo = np.array([p.to_x(p.lower) for p in ps])
    hi = np.array([p.to_x(p.upper) for p in ps])
    per_jacobian = 2 if spec.jacobian == "3-point" else 1  # residuals per parameter
    t0 = time.perf_counter()
    log.info(
        "fit %s: %d parameters, %d targets at %d conditions",
        spec.name,
        len(ps),
        len(spec.targets),
        len(spec.conditions()),
    )
    if root:
        model.tally = progress.Tally(
            f"fit {spec.name} (evaluations, at most)", spec.max_evaluations
        )
    res = least_squares(
        model.residuals,
        x0,
        bounds=(lo, hi),
        method=spec.method,
        jac=spec.jacobian,
        diff_step=spec.step,
        max_nfev=max(1, spec.max_evaluations // (1 + per_jacobian * len(ps))),
        x_scale=1.0,
    )
    if model.tally is not None:  # the budget was an upper bound: end on what was done
        model.tally.total = model.evaluations
        model.tally.draw(model.evaluations, 0, final=True)
    report = _report(spec, model, res, time.perf_counter() - t0)
    if out is not None and root:
        report.write(out)
        log.info("fit %s: chi2 = %.4g -> %s", spec.name, report.chi2, Path(out) / "fit.md")
    for w in report.warnings:
        log.warning("fit %s: %s", spec.name, w)
    return report


def _report(spec: FitSpec, model: _Model, res: Any, wall: float) -> FitReport:
    """The report at the optimum: intervals, residuals, sensitivities, identifiability."""
    ps = spec.parameters
    n, m = len(ps), sum(t.fitted for t in spec.targets)
    x = np.asarray(res.x, dtype=float)
    jac = np.asarray(res.jac, dtype=float)
    r = np.asarray(res.fun, dtype=float)
    cov, undetermined = _covariance(jac)
    std = np.sqrt(np.clip(np.diag(cov), 0, None))
    std[list(undetermined)] = math.inf
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(np.sqrt(np.diag(cov)), np.sqrt(np.diag(cov)))
    corr = np.where(np.isfinite(corr), corr, 0.0)
    np.fill_diagonal(corr, 1.0)
    active = getattr(res, "active_mask", np.zeros(n))
    fitted, warnings = _intervals(spec, x, std, active)
    targets, sens = _targets(spec, model, x, jac)
    warnings += _identifiability(spec, m, undetermined, jac, sens, corr)
    if model.failed:
        warnings.append(
            f"{len(model.failed)} trial point(s) failed to solve and were penalised "
            f"(steps rejected); the first: {model.failed[0]}"
        )
    base = model.base.replace(
        **{p.key: p.override(f.value) for p, f in zip(ps, fitted, strict=True)}
    )
    return FitReport(
        name=spec.name,
        success=bool(res.success),
        message=str(res.message),
        evaluations=model.evaluations,
        runs=model.runs,
        chi2=float(r @ r),
        dof=m - n,
        parameters=fitted,
        targets=targets,
        sensitivity=sens,
        correlation=corr.tolist(),
        warnings=warnings,
        fitted_case=base.to_toml(),
        wall_time_s=wall,
    )


def _intervals(
    spec: FitSpec, x: np.ndarray, std: np.ndarray, active: np.ndarray
) -> tuple[list[FittedParameter], list[str]]:
    """Fitted values with 95 % intervals, and a warning per parameter at a bound."""
    fitted = []
    warnings: list[str] = []
    for j, p in enumerate(spec.parameters):
        lo_x, hi_x = x[j] - Z95 * std[j], x[j] + Z95 * std[j]
        if p.scale == "log":
            lo_v = math.exp(lo_x) if math.isfinite(lo_x) else 0.0
            hi_v = math.exp(hi_x) if math.isfinite(hi_x) else math.inf
        else:
            lo_v, hi_v = lo_x * p.ref, hi_x * p.ref
        fitted.append(
            FittedParameter(
                key=p.key,
                scale=p.scale,
                unit=p.unit,
                start=p.start,
                value=p.from_x(x[j]),
                ci95_low=lo_v,
                ci95_high=hi_v,
                std_fit_coordinate=float(std[j]),
                lower=p.lower,
                upper=p.upper,
                at_bound=bool(active[j] != 0),
            )
        )
        if active[j] != 0:
            warnings.append(
                f"{p.key} is at its {'lower' if active[j] < 0 else 'upper'} bound: "
                "its interval is not meaningful; widen the bounds or fix it"
            )
    return fitted, warnings


def _targets(
    spec: FitSpec, model: _Model, x: np.ndarray, jac: np.ndarray
) -> tuple[list[TargetResult], dict[str, dict[str, float]]]:
    """Every target at the fit, and the sensitivities ∂ln(metric)/∂ln(p) of the fitted ones."""
    values = model.model(x)
    normalized = model.normalized(x)
    rows = np.cumsum([t.fitted for t in spec.targets]) - 1  # target -> Jacobian row
    targets = []
    sens: dict[str, dict[str, float]] = {}
    for i, t in enumerate(spec.targets):
        targets.append(
            TargetResult(
                label=t.label(),
                quantity=t.quantity,
                metric=t.metric,
                conditions=t.conditions,
                unit=t.unit,
                data=t.value,
                uncertainty=t.uncertainty,
                model=float(values[i]),
                residual=float(normalized[i]),
                source=t.source,
                fitted=t.fitted,
                upper=t.upper,
            )
        )
        if not t.fitted:
            continue
        row = {}
        inside = t.upper is not None and normalized[i] == 0.0  # flat: no slope to report
        for j, p in enumerate(spec.parameters):
            if inside:
                row[p.key] = math.nan
                continue
            dm_dx = t.uncertainty * jac[rows[i], j]  # ∂m/∂x
            dx_dlnp = 1.0 if p.scale == "log" else x[j]  # ln p = x (log), p = x·ref (linear)
            row[p.key] = float(dm_dx * dx_dlnp / values[i]) if values[i] != 0 else math.nan
        label = t.label()
        while label in sens:
            label += "'"
        sens[label] = row
    return targets, sens


def _identifiability(
    spec: FitSpec,
    m: int,
    undetermined: set[int],
    jac: np.ndarray,
    sens: Mapping[str, Mapping[str, float]],
    corr: np.ndarray,
) -> list[str]:
    """Warnings for parameters the targets cannot determine (too few, flat, correlated)."""
    ps = spec.parameters
    n = len(ps)
    warnings: list[str] = []
    if m < n:
        warnings.append(f"{m} targets for {n} parameters: the fit cannot determine them all")
    if undetermined:
        names = ", ".join(ps[j].key for j in sorted(undetermined))
        warnings.append(
            f"not identifiable: the Jacobian is rank-deficient; only a combination of {names} "
            "is determined by these targets (intervals infinite)"
        )
    col_norm = np.linalg.norm(jac, axis=0)
    for j, p in enumerate(ps):
        elasticity = max(
            (abs(sens[k][p.key]) for k in sens if math.isfinite(sens[k][p.key])), default=0.0
        )
        if col_norm[j] < spec.sensitivity_threshold or elasticity < spec.sensitivity_threshold:
            warnings.append(
                f"not identifiable: the targets are insensitive to {p.key} "
                f"(max |∂ln metric/∂ln p| = {elasticity:.2g})"
            )
    for a in range(n):
        for b in range(a + 1, n):
            if abs(corr[a, b]) > spec.correlation_threshold:
                warnings.append(
                    f"not identifiable: {ps[a].key} and {ps[b].key} are strongly correlated "
                    f"(ρ = {corr[a, b]:+.3f}); fix one or add targets that separate them"
                )
    return warnings


def _covariance(jac: np.ndarray, rtol: float = 1e-6) -> tuple[np.ndarray, set[int]]:
    """(JᵀJ)⁻¹ by SVD (absolute uncertainties), and the parameters in its null space."""
    _, s, vt = np.linalg.svd(jac, full_matrices=True)
    n = jac.shape[1]
    s = np.concatenate([s, np.zeros(n - s.size)])  # fewer targets than parameters
    if s[0] == 0:
        return np.full((n, n), math.inf), set(range(n))
    keep = s > s[0] * rtol
    inv = np.where(keep, 1.0 / np.where(keep, s, 1.0) ** 2, 0.0)
    cov = (vt.T * inv) @ vt
    undetermined: set[int] = set()
    for k in np.flatnonzero(~keep):
        undetermined |= {int(j) for j in np.flatnonzero(np.abs(vt[k]) > 0.1)}
    return cov, undetermined
