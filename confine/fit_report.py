"""The fit report: fitted values with intervals, targets, sensitivities, correlations, files.

:class:`FitReport` is what :func:`confine.calibrate.fit` returns; it writes
``fit.json`` (data), ``fit.md`` (tables for people) and ``fitted-case.toml``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from confine import atomic


@dataclass
class FittedParameter:
    """A fitted value with its 95 % confidence interval (in the unit of its start value)."""

    key: str
    scale: str
    unit: str
    start: float
    value: float
    ci95_low: float
    ci95_high: float
    std_fit_coordinate: float
    lower: float
    upper: float
    at_bound: bool


@dataclass
class TargetResult:
    """A target, the model's value at the fit, and the normalized residual."""

    label: str
    quantity: str
    metric: str
    conditions: dict[str, Any]
    unit: str
    data: float
    uncertainty: float
    model: float
    residual: float
    source: str
    fitted: bool = True
    upper: float | None = None  # a range target's upper end (``data`` its lower end)


@dataclass
class FitReport:
    """What :func:`fit` found.

    Attributes:
        name: fit name.
        success: whether the optimizer met a convergence criterion.
        message: the optimizer's message.
        evaluations: residual evaluations (each one run per condition).
        runs: model runs.
        chi2: Σ residual² at the fit.
        dof: targets − parameters.
        parameters: fitted values and intervals.
        targets: per target data, model and residual.
        sensitivity: target label -> parameter key -> ∂ln(metric)/∂ln(parameter).
        correlation: parameter correlation matrix (rows/columns in parameter order).
        warnings: identifiability and other warnings.
        fitted_case: the base case with the fitted values, as TOML.
        wall_time_s: total time.
    """

    name: str
    success: bool
    message: str
    evaluations: int
    runs: int
    chi2: float
    dof: int
    parameters: list[FittedParameter]
    targets: list[TargetResult]
    sensitivity: dict[str, dict[str, float]]
    correlation: list[list[float]]
    warnings: list[str] = field(default_factory=list)
    fitted_case: str = field(default="", repr=False)
    wall_time_s: float = 0.0

    def parameter(self, key: str) -> FittedParameter:
        """The fitted parameter with this key."""
        return next(p for p in self.parameters if p.key == key)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (non-finite numbers as null)."""
        d = asdict(self)
        d.pop("fitted_case")
        return _finite(d)

    def to_markdown(self) -> str:
        """A human-readable report."""
        lines = [f"# Fit: {self.name}", ""]
        lines.append(
            f"{'Converged' if self.success else 'NOT converged'}: {self.message} "
            f"({self.evaluations} evaluations, {self.runs} runs, {self.wall_time_s:.1f} s). "
            f"χ² = {self.chi2:.4g} for {self.dof} degrees of freedom."
        )
        lines += ["", "## Warnings", ""]
        lines += [f"- {w}" for w in self.warnings] or ["- none"]
        lines += [
            "",
            "## Parameters",
            "",
            "95 % intervals from the Jacobian at the fit (linearised, normal quantile; "
            "log-scale parameters: symmetric in ln).",
            "",
            "| parameter | scale | start | fitted | 95 % interval | unit | at bound |",
            "|---|---|---|---|---|---|---|",
        ]
        for p in self.parameters:
            lines.append(
                f"| `{p.key}` | {p.scale} | {p.start:.4g} | {p.value:.4g} | "
                f"[{p.ci95_low:.4g}, {p.ci95_high:.4g}] | {p.unit or '1'} | "
                f"{'yes' if p.at_bound else ''} |"
            )
        lines += [
            "",
            "## Targets",
            "",
            "Checks (not fitted: compared at the fit only) are marked *check*. A range "
            "(data low–high) is met anywhere inside it: its residual is the distance outside "
            "over σ.",
            "",
            "| target | metric | data ± σ | model | (model − data)/σ | unit | source |",
            "|---|---|---|---|---|---|---|",
        ]
        for t in self.targets:
            mark = "" if t.fitted else " *check*"
            data = f"{t.data:.4g}" if t.upper is None else f"{t.data:.4g}–{t.upper:.4g}"
            lines.append(
                f"| {t.label}{mark} | `{t.metric}` | {data} ± {t.uncertainty:.2g} | "
                f"{t.model:.4g} | {t.residual:+.2f} | {t.unit or '1'} | {t.source} |"
            )
        keys = [p.key for p in self.parameters]
        lines += [
            "",
            "## Sensitivities ∂ln(metric)/∂ln(parameter)",
            "",
            "| target | " + " | ".join(f"`{k}`" for k in keys) + " |",
            "|---|" + "---|" * len(keys),
        ]
        for label, row in self.sensitivity.items():
            lines.append(f"| {label} | " + " | ".join(f"{row[k]:.3g}" for k in keys) + " |")
        lines += ["", "## Correlations", "", "| | " + " | ".join(f"`{k}`" for k in keys) + " |"]
        lines.append("|---|" + "---|" * len(keys))
        for k, corr_row in zip(keys, self.correlation, strict=True):
            lines.append(f"| `{k}` | " + " | ".join(f"{c:+.3f}" for c in corr_row) + " |")
        return "\n".join(lines) + "\n"

    def to_text(self) -> str:
        """The fitted parameters with their intervals and the fit's quality, for a terminal."""
        state = "converged" if self.success else "NOT converged"
        lines = [
            f"fit {self.name}: {state} ({self.evaluations} evaluations, {self.runs} runs, "
            f"{self.wall_time_s:.1f} s); chi2 = {self.chi2:.4g} for {self.dof} degrees of freedom"
        ]
        width = max((len(p.key) for p in self.parameters), default=0)
        for p in self.parameters:
            bound = "  (at a bound)" if p.at_bound else ""
            lines.append(
                f"  {p.key.ljust(width)}  {p.value:.4g} {p.unit}  "
                f"95 % [{p.ci95_low:.4g}, {p.ci95_high:.4g}]{bound}"
            )
        worst = max(self.targets, key=lambda t: abs(t.residual), default=None)
        if worst is not None:
            lines.append(
                f"  worst target: {worst.label} (model - data)/sigma = {worst.residual:+.2f}"
            )
        return "\n".join(lines)

    def write(self, out: str | Path) -> None:
        """Write ``fit.json``, ``fit.md`` and ``fitted-case.toml`` into ``out``."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        atomic.write_text(out / "fit.json", json.dumps(self.to_dict(), indent=1))
        atomic.write_text(out / "fit.md", self.to_markdown())
        if self.fitted_case:
            atomic.write_text(out / "fitted-case.toml", self.fitted_case)


def _finite(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _finite(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_finite(v) for v in node]
    if isinstance(node, float) and not math.isfinite(node):
        return None
    return node
