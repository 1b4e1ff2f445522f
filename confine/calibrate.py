"""Calibration: fit named case parameters to measured metrics, with honest uncertainties.

A fit file (TOML, data only) names a base case, a CSV of measurements with
uncertainties, which CSV quantities are which metrics, the conditions each
row was measured at, and the parameters to fit with their start values,
bounds and scale. :func:`fit` minimises the uncertainty-weighted residuals
with :func:`scipy.optimize.least_squares` (finite-difference Jacobian, every
run on the same mesh) and reports fitted values with 95 % confidence
intervals from the Jacobian, the residual of each target, the sensitivities
∂ln(metric)/∂ln(parameter), the parameter correlations, and warnings when
parameters are not identifiable.

Schema (see docs/sweeps.md)::

    [fit]
    name = "mchs7-kinetics"
    case = "../cases/mchs-7nm.toml"            # relative to this file
    data = "../data/du2025-mchs7.csv"          # quantity, <condition columns>, value,
                                               # uncertainty, unit[, source]
    method = "trf"                             # trf | dogbox
    max_evaluations = 200                      # residual evaluations, Jacobian's included
                                               # (each: one run per condition)
    step = 1e-3                                # finite-difference step (fit coordinates)
    jacobian = "2-point"                       # 2-point | 3-point
    default_relative_uncertainty = 0.1         # rows with no uncertainty (else an error)
    correlation_threshold = 0.95
    sensitivity_threshold = 1e-3

    [set]                                      # fixed for every run (e.g. the mesh)
    "mesh.cells_per_pore_diameter" = 4

    [parameters."reactions.volmer.rate_constant"]
    start = "1e-3 mol/(m^3*s)"
    bounds = ["1e-6 mol/(m^3*s)", "1e2 mol/(m^3*s)"]
    scale = "log"                              # default: log for rate constants, else linear

    [parameters."reactions.volmer.transfer_coefficient"]
    start = 0.5
    bounds = [0.1, 1.0]

    [conditions]                               # CSV column -> case key (empty cell: base value)
    potential_V = { key = "electrode.potential", unit = "V" }

    [targets]                                  # CSV quantity -> metric path
    "faradaic_efficiency.urea" = "products.urea.faradaic_efficiency"
    "yield.urea" = { metric = "yield_g_per_h_per_g_cat", relative_uncertainty = 0.1 }
    "selectivity.N" = { metric = "selectivity.N.urea", fit = false }  # a check: compared
                                               # and reported at the fit, not weighted
"""

from __future__ import annotations

import csv
import difflib
import json
import logging
import math
import re
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from confine.case import Case, CaseError, Problem, load_case
from confine.units import UnitError, parse_unit, read_quantity, registry

log = logging.getLogger("confine")

Runner = Callable[..., Any]

FIT_KEYS = (
    "name",
    "description",
    "case",
    "data",
    "method",
    "max_evaluations",
    "step",
    "jacobian",
    "default_relative_uncertainty",
    "correlation_threshold",
    "sensitivity_threshold",
)
PARAM_KEYS = ("start", "bounds", "scale")
TARGET_KEYS = ("metric", "unit", "relative_uncertainty", "fit")
Z95 = 1.959963984540054  # two-sided 95 % normal quantile


class FitError(RuntimeError):
    """A fit that cannot go on (a failed run, a missing metric, incompatible units)."""


# --------------------------------------------------------------------------- units
def normalize_unit(text: str) -> str:
    """Make a unit string from a CSV or a metrics file readable by pint.

    ``cm2`` -> ``cm^2``; spaces between factors -> ``*``; ``g_cat`` (grams of
    catalyst) -> ``g``; empty -> dimensionless.
    """
    t = (text or "").strip()
    if not t:
        return ""
    t = t.replace("g_cat", "g")
    t = re.sub(r"(?<=[A-Za-z])(\d+)", r"^\1", t)
    t = re.sub(r"(?<=[\w\)])\s+(?=[\w\(])", "*", t)
    return t


def conversion_factor(from_unit: str, to_unit: str) -> float:
    """Factor taking a value in ``from_unit`` to ``to_unit`` (pint; dimension-checked).

    Raises:
        ValueError: unparsable units or different dimensions.
    """
    ureg = registry()
    a, b = normalize_unit(from_unit), normalize_unit(to_unit)
    try:
        qa = ureg.Quantity(1.0, parse_unit(a))
        qb = ureg.Quantity(1.0, parse_unit(b))
        return float(qa.to(qb.units).magnitude)
    except Exception as err:
        raise ValueError(f"cannot convert {from_unit!r} to {to_unit!r}: {err}") from None


# --------------------------------------------------------------------------- the fit file
@dataclass(frozen=True)
class FitParameter:
    """A fitted case key.

    Attributes:
        key: dotted case key.
        scale: ``log`` (fit ln p) or ``linear`` (fit p / |start|).
        unit: the unit of ``start`` as written ("" for plain numbers).
        start: start value in ``unit``.
        lower: lower bound in ``unit``.
        upper: upper bound in ``unit``.
    """

    key: str
    scale: str
    unit: str
    start: float
    lower: float
    upper: float

    @property
    def ref(self) -> float:
        """Scale of a linear parameter's fit coordinate."""
        return abs(self.start) or 1.0

    def to_x(self, p: float) -> float:
        """Fit coordinate of a value (in ``unit``)."""
        return math.log(p) if self.scale == "log" else p / self.ref

    def from_x(self, x: float) -> float:
        """Value (in ``unit``) of a fit coordinate."""
        return float(math.exp(x) if self.scale == "log" else x * self.ref)

    def override(self, p: float) -> Any:
        """The value as a case override."""
        p = float(p)
        return f"{p!r} {self.unit}" if self.unit else p


@dataclass(frozen=True)
class Target:
    """One measured value to match.

    Attributes:
        quantity: the CSV quantity.
        metric: the metric path it is compared with.
        conditions: case overrides of the row's conditions.
        value: measured value in ``unit``.
        uncertainty: its standard uncertainty in ``unit``.
        unit: the CSV unit (normalized for pint).
        source: where the value comes from.
        row: CSV line number.
        fitted: False for a check (compared at the fit, not in the objective).
    """

    quantity: str
    metric: str
    conditions: dict[str, Any]
    value: float
    uncertainty: float
    unit: str
    source: str = ""
    row: int = 0
    fitted: bool = True

    def label(self) -> str:
        """``quantity @ key=value`` for reports."""
        cond = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in self.conditions.items())
        return f"{self.quantity}" + (f" @ {cond}" if cond else "")


@dataclass(frozen=True)
class FitSpec:
    """A parsed fit file (see the module docstring for the schema)."""

    name: str
    source: str
    case_path: Path
    fixed: dict[str, Any]
    parameters: tuple[FitParameter, ...]
    targets: tuple[Target, ...]
    method: str = "trf"
    max_evaluations: int = 200
    step: float = 1e-3
    jacobian: str = "2-point"
    correlation_threshold: float = 0.95
    sensitivity_threshold: float = 1e-3
    description: str = ""

    def base_case(self) -> Case:
        """The base case with the fixed overrides."""
        return load_case(self.case_path, set=self.fixed)

    def conditions(self) -> list[dict[str, Any]]:
        """The distinct measurement conditions (one run each per evaluation)."""
        out: list[dict[str, Any]] = []
        for t in self.targets:
            if t.conditions not in out:
                out.append(t.conditions)
        return out


def _nearest(name: str, valid: Sequence[str]) -> str:
    match = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.5)
    return f" (did you mean '{match[0]}'?)" if match else ""


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def load_fit(source: str | Path | Mapping[str, Any]) -> FitSpec:
    """Read and validate a fit file and its data; check the base and condition cases.

    Raises:
        CaseError: every problem found (``error: FILE: key: rule``).
    """
    if isinstance(source, Mapping):
        raw, file, here = dict(source), "<dict>", Path.cwd()
    else:
        path = Path(source)
        file, here = str(path), path.parent
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:  # TOMLDecodeError, or an integer of over 4300 digits
            raise CaseError([Problem(file, "toml", f"malformed TOML: {exc}")]) from None
        except RecursionError:
            raise CaseError([Problem(file, "toml", "malformed TOML: nested too deeply")]) from None
    problems: list[Problem] = []

    def err(key: str, msg: str) -> None:
        problems.append(Problem(file, key, msg))

    sections = ("fit", "set", "parameters", "conditions", "targets")
    for sec in raw:
        if sec not in sections:
            err(sec, f"unknown section{_nearest(sec, sections)}")
    head = raw.get("fit", {}) if isinstance(raw.get("fit", {}), dict) else {}
    for k in head:
        if k not in FIT_KEYS:
            err(f"fit.{k}", f"unknown key{_nearest(k, FIT_KEYS)}")

    def path_of(key: str) -> Path | None:
        v = head.get(key)
        if not isinstance(v, str):
            err(f"fit.{key}", "required: a path relative to the fit file")
            return None
        p = Path(v) if Path(v).is_absolute() else here / v
        if not p.is_file():
            err(f"fit.{key}", f"no such file: {p}")
            return None
        return p

    case_path, data_path = path_of("case"), path_of("data")
    opts = _options(head, err)
    fixed = raw.get("set", {})
    if not isinstance(fixed, dict):
        err("set", "expected a table of dotted case key = value")
        fixed = {}
    params = _parse_parameters(raw.get("parameters"), err)
    conditions = _parse_conditions(raw.get("conditions", {}), err)
    targets_raw = raw.get("targets")
    if not isinstance(targets_raw, dict) or not targets_raw:
        err("targets", "expected a table of CSV quantity = metric path (at least one)")
        targets_raw = {}
    targets: list[Target] = []
    if data_path is not None and not problems:
        targets = _read_targets(data_path, targets_raw, conditions, opts, err)
    if problems:
        raise CaseError(problems)
    assert case_path is not None
    spec = FitSpec(
        name=str(head.get("name", Path(file).name.split(".")[0])),
        source=file,
        case_path=case_path,
        fixed=dict(fixed),
        parameters=tuple(params),
        targets=tuple(targets),
        method=opts["method"],
        max_evaluations=opts["max_evaluations"],
        step=opts["step"],
        jacobian=opts["jacobian"],
        correlation_threshold=opts["correlation_threshold"],
        sensitivity_threshold=opts["sensitivity_threshold"],
        description=str(head.get("description", "")),
    )
    _check_cases(spec)
    return spec


def _options(head: Mapping[str, Any], err: Any) -> dict[str, Any]:
    opts: dict[str, Any] = {
        "method": head.get("method", "trf"),
        "max_evaluations": head.get("max_evaluations", 200),
        "step": head.get("step", 1e-3),
        "jacobian": head.get("jacobian", "2-point"),
        "default_relative_uncertainty": head.get("default_relative_uncertainty"),
        "correlation_threshold": head.get("correlation_threshold", 0.95),
        "sensitivity_threshold": head.get("sensitivity_threshold", 1e-3),
    }
    if opts["method"] not in ("trf", "dogbox"):
        err("fit.method", f"'{opts['method']}' is not one of trf, dogbox (bounded methods)")
    if opts["jacobian"] not in ("2-point", "3-point"):
        err("fit.jacobian", f"'{opts['jacobian']}' is not one of 2-point, 3-point")
    m = opts["max_evaluations"]
    if isinstance(m, bool) or not isinstance(m, int) or m < 1:
        err("fit.max_evaluations", f"expected a positive integer, got {m!r}")
    for k in ("step", "sensitivity_threshold"):
        if not _number(opts[k]) or opts[k] <= 0:
            err(f"fit.{k}", f"expected a positive number, got {opts[k]!r}")
    c = opts["correlation_threshold"]
    if not _number(c) or not 0 < c < 1:
        err("fit.correlation_threshold", f"expected a number in (0, 1), got {c!r}")
    d = opts["default_relative_uncertainty"]
    if d is not None and (not _number(d) or d <= 0):
        err("fit.default_relative_uncertainty", f"expected a positive number, got {d!r}")
    return opts


def _value_in(v: Any, where: str, err: Any) -> tuple[float, str] | None:
    """A number, or a quantity string -> (magnitude, unit as written)."""
    if _number(v):
        return float(v), ""
    if isinstance(v, str):
        try:
            q = read_quantity(v)
        except UnitError as why:
            err(where, str(why))
            return None
        return float(q.magnitude), f"{q.units:~C}".replace("**", "^")
    err(where, f"expected a number or a quantity string, got {v!r}")
    return None


def _parse_parameters(raw: Any, err: Any) -> list[FitParameter]:
    if not isinstance(raw, dict) or not raw:
        err("parameters", 'expected at least one [parameters."dotted.key"] table')
        return []
    out = []
    for key, spec in raw.items():
        where = f"parameters.{key}"
        if not isinstance(spec, dict):
            err(where, "expected a table with start and bounds")
            continue
        for k in spec:
            if k not in PARAM_KEYS:
                err(f"{where}.{k}", f"unknown key{_nearest(k, PARAM_KEYS)}")
        if key.split(".")[0] in ("geometry", "mesh"):
            err(
                where,
                "fits run on a fixed mesh: geometry and mesh keys cannot be fitted "
                "(sweep them, or make them conditions)",
            )
            continue
        scale = spec.get("scale", "log" if key.endswith("rate_constant") else "linear")
        if scale not in ("log", "linear"):
            err(f"{where}.scale", f"'{scale}' is not one of log, linear")
            continue
        start = _value_in(spec.get("start"), f"{where}.start", err)
        bounds = spec.get("bounds")
        if not isinstance(bounds, list) or len(bounds) != 2:
            err(f"{where}.bounds", "required: [lower, upper] in the unit of start")
            continue
        lo = _value_in(bounds[0], f"{where}.bounds", err)
        hi = _value_in(bounds[1], f"{where}.bounds", err)
        if start is None or lo is None or hi is None:
            continue
        unit = start[1]
        try:
            lo_v = lo[0] * conversion_factor(lo[1], unit)
            hi_v = hi[0] * conversion_factor(hi[1], unit)
        except ValueError as e:
            err(f"{where}.bounds", str(e))
            continue
        if not lo_v < start[0] < hi_v:
            err(
                where,
                f"start {start[0]:g} must lie strictly inside the bounds [{lo_v:g}, {hi_v:g}]",
            )
            continue
        if scale == "log" and lo_v <= 0:
            err(f"{where}.bounds", "a log-scale parameter needs a positive lower bound")
            continue
        out.append(FitParameter(key, scale, unit, start[0], lo_v, hi_v))
    return out


def _parse_conditions(raw: Any, err: Any) -> dict[str, tuple[str, str]]:
    if not isinstance(raw, dict):
        err("conditions", "expected a table of CSV column = { key, unit }")
        return {}
    out = {}
    for col, spec in raw.items():
        if isinstance(spec, str):
            spec = {"key": spec}
        if not isinstance(spec, dict) or not isinstance(spec.get("key"), str):
            err(f"conditions.{col}", 'expected { key = "dotted.case.key", unit = "V" }')
            continue
        unit = spec.get("unit", "")
        if not isinstance(unit, str):
            err(f"conditions.{col}.unit", f"expected a unit string, got {unit!r}")
            continue
        out[col] = (spec["key"], unit)
    return out


def _read_targets(
    data: Path,
    targets_raw: Mapping[str, Any],
    conditions: Mapping[str, tuple[str, str]],
    opts: Mapping[str, Any],
    err: Any,
) -> list[Target]:
    text = data.read_text(encoding="utf-8")
    numbered = [
        (n, ln)
        for n, ln in enumerate(text.splitlines(), start=1)
        if ln.strip() and not ln.lstrip().startswith("#")
    ]
    lines = [ln for _, ln in numbered]
    reader = csv.DictReader(lines)
    need = {"quantity", "value", "uncertainty", "unit"}
    fields = set(reader.fieldnames or [])
    if not need <= fields:
        err("fit.data", f"{data}: needs columns {', '.join(sorted(need - fields))}")
        return []
    for col in conditions:
        if col not in fields:
            err(f"conditions.{col}", f"no column '{col}' in {data}{_nearest(col, sorted(fields))}")
    rows = list(reader)
    out: list[Target] = []
    for quantity, spec in targets_raw.items():
        where = f"targets.{quantity}"
        if isinstance(spec, str):
            spec = {"metric": spec}
        if not isinstance(spec, dict) or not isinstance(spec.get("metric"), str):
            err(
                where, "expected a metric path, or a table with metric (unit, relative_uncertainty)"
            )
            continue
        for k in spec:
            if k not in TARGET_KEYS:
                err(f"{where}.{k}", f"unknown key{_nearest(k, TARGET_KEYS)}")
        mine = [(i, r) for i, r in enumerate(rows) if r["quantity"] == quantity]
        if not mine:
            names = sorted({r["quantity"] for r in rows})
            err(where, f"no rows with quantity '{quantity}' in {data}{_nearest(quantity, names)}")
            continue
        rel = spec.get("relative_uncertainty", opts.get("default_relative_uncertainty"))
        fitted = spec.get("fit", True)
        if not isinstance(fitted, bool):
            err(f"{where}.fit", f"expected true or false, got {fitted!r}")
            continue
        for i, r in mine:
            line = numbered[i + 1][0]  # the file's line number (header is numbered[0])
            try:
                value = float(r["value"])
            except ValueError:
                err(where, f"{data} line {line}: value {r['value']!r} is not a number")
                continue
            unc_text = (r.get("uncertainty") or "").strip()
            if unc_text:
                unc = float(unc_text)
            elif rel is not None and _number(rel):
                unc = abs(value) * float(rel)
            else:
                err(
                    where,
                    f'{data} line {line}: no uncertainty; give targets."{quantity}".'
                    "relative_uncertainty or fit.default_relative_uncertainty",
                )
                continue
            if not unc > 0:
                err(where, f"{data} line {line}: the uncertainty must be positive")
                continue
            unit = str(spec.get("unit", r.get("unit", "")))
            try:
                conversion_factor(unit, unit)
            except ValueError as e:
                err(where, f"{data} line {line}: {e}")
                continue
            cond = {}
            for col, (key, cu) in conditions.items():
                cell = (r.get(col) or "").strip()
                if cell:
                    cond[key] = f"{cell} {cu}" if cu else cell
            out.append(
                Target(
                    quantity,
                    spec["metric"],
                    cond,
                    value,
                    unc,
                    unit,
                    r.get("source", ""),
                    line,
                    fitted,
                )
            )
    return out


def _check_cases(spec: FitSpec) -> None:
    """The base case, and it at every condition with the start and both bounds, are valid."""
    problems: list[Problem] = []
    base = spec.base_case()
    trials = [{p.key: p.override(p.start) for p in spec.parameters}]
    trials += [{p.key: p.override(p.lower)} for p in spec.parameters]
    trials += [{p.key: p.override(p.upper)} for p in spec.parameters]
    for cond in spec.conditions():
        for trial in trials:
            try:
                base.replace(**trial, **cond)
            except CaseError as e:
                for prob in e.problems:
                    problems.append(Problem(spec.source, prob.key, f"{prob.message} ({trial})"))
    if problems:
        raise CaseError(list(dict.fromkeys(problems)))


# --------------------------------------------------------------------------- the report
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
            "Checks (not fitted: compared at the fit only) are marked *check*.",
            "",
            "| target | metric | data ± σ | model | (model − data)/σ | unit | source |",
            "|---|---|---|---|---|---|---|",
        ]
        for t in self.targets:
            mark = "" if t.fitted else " *check*"
            lines.append(
                f"| {t.label}{mark} | `{t.metric}` | {t.data:.4g} ± {t.uncertainty:.2g} | "
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

    def write(self, out: str | Path) -> None:
        """Write ``fit.json``, ``fit.md`` and ``fitted-case.toml`` into ``out``."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "fit.json").write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")
        (out / "fit.md").write_text(self.to_markdown(), encoding="utf-8")
        if self.fitted_case:
            (out / "fitted-case.toml").write_text(self.fitted_case, encoding="utf-8")


def _finite(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _finite(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_finite(v) for v in node]
    if isinstance(node, float) and not math.isfinite(node):
        return None
    return node


# --------------------------------------------------------------------------- fitting
class _Model:
    """Residuals of a parameter vector: one run per condition, warm-started, cached."""

    def __init__(self, spec: FitSpec, runner: Runner, comm: Any, log_path: Path | None):
        self.spec, self.runner, self.comm = spec, runner, comm
        self.base = spec.base_case()
        self.conds = spec.conditions()
        self.warm: dict[int, Any] = {}
        self.cache: dict[tuple[float, ...], np.ndarray] = {}
        self.factors: dict[int, float] = {}
        self.evaluations = 0
        self.runs = 0
        self.log_path = log_path
        self.last_case: Case | None = None
        self.warm_broken = False
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
        for ci, cond in enumerate(self.conds):
            case = self.base.replace(**sets, **cond)
            try:
                result = self._run(case, self.warm.get(ci))
            except Exception as e:
                raise FitError(f"the run at {sets} {cond} failed: {type(e).__name__}: {e}") from e
            self.runs += 1
            if getattr(result, "solution", None) is not None:
                self.warm[ci] = result.solution
            for ti, t in enumerate(self.spec.targets):
                if t.conditions == cond:
                    out[ti] = self._metric(result, ti, t)
            self.last_case = case
        self.cache[key] = out
        return out

    def _run(self, case: Case, initial: Any) -> Any:
        """One run, warm-started when possible (a failed warm start is retried cold)."""
        if initial is not None and not self.warm_broken:
            try:
                return self.runner(case, out=None, comm=self.comm, initial=initial)
            except Exception as e:
                self.warm_broken = True
                log.warning("fit: warm start failed (%s); cold starts from now on", e)
        return self.runner(case, out=None, comm=self.comm, initial=None)

    def _metric(self, result: Any, ti: int, t: Target) -> float:
        node: Any = result.metrics
        try:
            v = result.metric(t.metric)
            node = _node(result.metrics, t.metric)
        except KeyError as e:
            raise FitError(f"target {t.label()}: no metric '{t.metric}' ({e})") from None
        if v is None or not _number(v):
            raise FitError(f"target {t.label()}: metric '{t.metric}' is {v!r}")
        if ti not in self.factors:
            unit = node.get("unit", "") if isinstance(node, dict) else ""
            try:
                self.factors[ti] = conversion_factor(unit or "", t.unit)
            except ValueError as e:
                raise FitError(f"target {t.label()}: metric unit vs data unit: {e}") from None
        return float(v) * self.factors[ti]

    def normalized(self, x: np.ndarray) -> np.ndarray:
        """(model − data)/σ of every target, checks included."""
        data = np.array([t.value for t in self.spec.targets])
        sigma = np.array([t.uncertainty for t in self.spec.targets])
        return (self.model(x) - data) / sigma

    def residuals(self, x: np.ndarray) -> np.ndarray:
        """The objective's residuals: fitted targets only."""
        r = self.normalized(x)[[t.fitted for t in self.spec.targets]]
        self.evaluations += 1
        if self.log_path is not None:
            row = [str(self.evaluations), *[repr(v) for v in self.values(x)], repr(float(r @ r))]
            with open(self.log_path, "a", encoding="utf-8") as fh:
                fh.write(",".join(row) + "\n")
        log.debug("fit evaluation %d: chi2 = %.6g", self.evaluations, float(r @ r))
        return r


def _node(metrics: Mapping[str, Any], dotted: str) -> Any:
    from confine.result import _split

    node: Any = metrics
    for part in _split(dotted, node):
        node = node[part]
    return node


def fit(
    path_or_spec: str | Path | Mapping[str, Any] | FitSpec,
    out: str | Path | None = None,
    runner: Runner | None = None,
    comm: Any = None,
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

    Returns:
        The report: fitted values with 95 % intervals, residuals, sensitivities,
        correlations and identifiability warnings.

    Raises:
        CaseError: a problem in the fit file, its data or the cases it implies.
        FitError: a run failed or a metric is missing.
    """
    from scipy.optimize import least_squares

    spec = path_or_spec if isinstance(path_or_spec, FitSpec) else load_fit(path_or_spec)
    if runner is None:
        from confine.pipeline import run

        runner = run
    root = comm is None or getattr(comm, "rank", 0) == 0  # files from one rank only
    if out is not None and root:
        Path(out).mkdir(parents=True, exist_ok=True)
    evaluations = Path(out) / "evaluations.csv" if out is not None and root else None
    model = _Model(spec, runner, comm, evaluations)
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
    report = _report(spec, model, res, time.perf_counter() - t0)
    if out is not None and root:
        report.write(out)
        log.info("fit %s: chi2 = %.4g -> %s", spec.name, report.chi2, Path(out) / "fit.md")
    for w in report.warnings:
        log.warning("fit %s: %s", spec.name, w)
    return report


def _report(spec: FitSpec, model: _Model, res: Any, wall: float) -> FitReport:
    ps = spec.parameters
    n, m = len(ps), sum(t.fitted for t in spec.targets)
    x = np.asarray(res.x, dtype=float)
    jac = np.asarray(res.jac, dtype=float)
    r = np.asarray(res.fun, dtype=float)
    warnings: list[str] = []
    cov, undetermined = _covariance(jac)
    std = np.sqrt(np.clip(np.diag(cov), 0, None))
    std[list(undetermined)] = math.inf
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(np.sqrt(np.diag(cov)), np.sqrt(np.diag(cov)))
    corr = np.where(np.isfinite(corr), corr, 0.0)
    np.fill_diagonal(corr, 1.0)

    fitted = []
    active = getattr(res, "active_mask", np.zeros(n))
    for j, p in enumerate(ps):
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
            )
        )
        if not t.fitted:
            continue
        row = {}
        for j, p in enumerate(ps):
            dm_dx = t.uncertainty * jac[rows[i], j]  # ∂m/∂x
            dx_dlnp = 1.0 if p.scale == "log" else x[j]  # ln p = x (log), p = x·ref (linear)
            row[p.key] = float(dm_dx * dx_dlnp / values[i]) if values[i] != 0 else math.nan
        label = t.label()
        while label in sens:
            label += "'"
        sens[label] = row

    # identifiability
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
