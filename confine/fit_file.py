"""Fit files: TOML data and a CSV of measurements -> a validated :class:`FitSpec`.

A fit file (TOML, data only) names a base case, a CSV of measurements with
uncertainties, which CSV quantities are which metrics, the conditions each
row was measured at, and the parameters to fit with their start values,
bounds and scale. :func:`load_fit` reads and checks all of it (every problem
at once, as ``error: FILE: key: rule``) and checks the cases it implies;
:mod:`confine.calibrate` fits it, :mod:`confine.fit_report` reports.

Schema (see docs/sweeps.md)::

    [fit]
    name = "mchs7-kinetics"
    case = "../cases/mchs-7nm.toml"            # relative to this file
    data = "../data/du2025-mchs7.csv"          # quantity, <condition columns>, value,
                                               # uncertainty, unit[, source][, upper]
                                               # upper: the row is a range [value, upper]
                                               # (met anywhere inside it; outside, σ as usual)
    method = "trf"                             # trf | dogbox
    max_evaluations = 200                      # residual evaluations, Jacobian's included
                                               # (each: one run per condition)
    step = 1e-3                                # finite-difference step (fit coordinates)
    jacobian = "2-point"                       # 2-point | 3-point
    warm_start = true                          # each run from the last evaluation's state
                                               # at its condition; false: from the bulk, as
                                               # `confine run` (one steady state per point
                                               # where the kinetics have several)
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
    "faradaic_efficiency.NH4+" = { metric = ["products.NH4+.faradaic_efficiency",
                                             "products.NH3.faradaic_efficiency"] }
                                               # a list: the sum of its metrics (one unit),
                                               # e.g. total ammonia, as the study measures it
"""

from __future__ import annotations

import csv
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from confine.case import Case, CaseError, load_case
from confine.findings import Finding
from confine.names import did_you_mean
from confine.units import UnitError, parse_unit, read_quantity, registry

FIT_KEYS = (
    "name",
    "description",
    "case",
    "data",
    "method",
    "max_evaluations",
    "step",
    "jacobian",
    "warm_start",
    "default_relative_uncertainty",
    "correlation_threshold",
    "sensitivity_threshold",
)
PARAM_KEYS = ("start", "bounds", "scale")
TARGET_KEYS = ("metric", "unit", "relative_uncertainty", "fit")


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
        parts: the metric paths summed when the fit file gives a list (``metric``
            is then their names joined by " + "); empty: ``metric`` alone.
        upper: the upper end of a range target (``value`` its lower end): the data
            say only that the quantity lies in [value, upper] at these conditions
            (e.g. a range the paper gives over a potential window); None: a value.
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
    parts: tuple[str, ...] = ()
    upper: float | None = None

    def residual(self, model: float) -> float:
        """(model − data)/σ; for a range, the distance outside it over σ (0 inside)."""
        if self.upper is None:
            return (model - self.value) / self.uncertainty
        if model > self.upper:
            return (model - self.upper) / self.uncertainty
        return min(model - self.value, 0.0) / self.uncertainty

    def paths(self) -> tuple[str, ...]:
        """The metric paths whose values add up to the model value."""
        return self.parts or (self.metric,)

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
    warm_start: bool = True
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


def is_number(x: Any) -> bool:
    """Whether ``x`` is a finite int or float (not a bool)."""
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
            raise CaseError([Finding(file, "toml", f"malformed TOML: {exc}")]) from None
        except RecursionError:
            raise CaseError([Finding(file, "toml", "malformed TOML: nested too deeply")]) from None
    problems: list[Finding] = []

    def err(key: str, msg: str) -> None:
        problems.append(Finding(file, key, msg))

    sections = ("fit", "set", "parameters", "conditions", "targets")
    for sec in raw:
        if sec not in sections:
            err(sec, f"unknown section{did_you_mean(sec, sections)}")
    head = raw.get("fit", {}) if isinstance(raw.get("fit", {}), dict) else {}
    for k in head:
        if k not in FIT_KEYS:
            err(f"fit.{k}", f"unknown key{did_you_mean(k, FIT_KEYS)}")

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
        warm_start=opts["warm_start"],
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
        "warm_start": head.get("warm_start", True),
        "default_relative_uncertainty": head.get("default_relative_uncertainty"),
        "correlation_threshold": head.get("correlation_threshold", 0.95),
        "sensitivity_threshold": head.get("sensitivity_threshold", 1e-3),
    }
    if opts["method"] not in ("trf", "dogbox"):
        err("fit.method", f"'{opts['method']}' is not one of trf, dogbox (bounded methods)")
    if opts["jacobian"] not in ("2-point", "3-point"):
        err("fit.jacobian", f"'{opts['jacobian']}' is not one of 2-point, 3-point")
    if not isinstance(opts["warm_start"], bool):
        err("fit.warm_start", f"expected true or false, got {opts['warm_start']!r}")
    m = opts["max_evaluations"]
    if isinstance(m, bool) or not isinstance(m, int) or m < 1:
        err("fit.max_evaluations", f"expected a positive integer, got {m!r}")
    for k in ("step", "sensitivity_threshold"):
        if not is_number(opts[k]) or opts[k] <= 0:
            err(f"fit.{k}", f"expected a positive number, got {opts[k]!r}")
    c = opts["correlation_threshold"]
    if not is_number(c) or not 0 < c < 1:
        err("fit.correlation_threshold", f"expected a number in (0, 1), got {c!r}")
    d = opts["default_relative_uncertainty"]
    if d is not None and (not is_number(d) or d <= 0):
        err("fit.default_relative_uncertainty", f"expected a positive number, got {d!r}")
    return opts


def _value_in(v: Any, where: str, err: Any) -> tuple[float, str] | None:
    """A number, or a quantity string -> (magnitude, unit as written)."""
    if is_number(v):
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
                err(f"{where}.{k}", f"unknown key{did_you_mean(k, PARAM_KEYS)}")
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
            err(
                f"conditions.{col}",
                f"no column '{col}' in {data}{did_you_mean(col, sorted(fields))}",
            )
    rows = list(reader)
    out: list[Target] = []
    for quantity, spec in targets_raw.items():
        where = f"targets.{quantity}"
        if isinstance(spec, str):
            spec = {"metric": spec}
        if not isinstance(spec, dict) or not _metric_paths(spec.get("metric")):
            err(
                where,
                "expected a metric path, or a table with metric (a path or a list of paths "
                "to add up; unit, relative_uncertainty)",
            )
            continue
        for k in spec:
            if k not in TARGET_KEYS:
                err(f"{where}.{k}", f"unknown key{did_you_mean(k, TARGET_KEYS)}")
        mine = [(i, r) for i, r in enumerate(rows) if r["quantity"] == quantity]
        if not mine:
            names = sorted({r["quantity"] for r in rows})
            err(
                where,
                f"no rows with quantity '{quantity}' in {data}{did_you_mean(quantity, names)}",
            )
            continue
        rel = spec.get("relative_uncertainty", opts.get("default_relative_uncertainty"))
        fitted = spec.get("fit", True)
        if not isinstance(fitted, bool):
            err(f"{where}.fit", f"expected true or false, got {fitted!r}")
            continue
        for i, r in mine:
            line = numbered[i + 1][0]  # the file's line number (header is numbered[0])
            t = _target(r, f"{data} line {line}", quantity, spec, rel, conditions, where, err)
            if t is not None:
                out.append(replace(t, row=line, fitted=fitted))
    return out


def _target(
    r: Mapping[str, str],
    at: str,
    quantity: str,
    spec: Mapping[str, Any],
    rel: Any,
    conditions: Mapping[str, tuple[str, str]],
    where: str,
    err: Any,
) -> Target | None:
    """The target of one CSV row (``at``: "FILE line N"), or None after reporting why not."""
    try:
        value = float(r["value"])
    except ValueError:
        err(where, f"{at}: value {r['value']!r} is not a number")
        return None
    unc_text = (r.get("uncertainty") or "").strip()
    if unc_text:
        unc = float(unc_text)
    elif rel is not None and is_number(rel):
        unc = abs(value) * float(rel)
    else:
        err(
            where,
            f'{at}: no uncertainty; give targets."{quantity}".'
            "relative_uncertainty or fit.default_relative_uncertainty",
        )
        return None
    if not unc > 0:
        err(where, f"{at}: the uncertainty must be positive")
        return None
    upper = None
    upper_text = (r.get("upper") or "").strip()
    if upper_text:
        try:
            upper = float(upper_text)
        except ValueError:
            err(where, f"{at}: upper {upper_text!r} is not a number")
            return None
        if not upper > value:
            err(where, f"{at}: a range needs upper > value (got {value:g} .. {upper:g})")
            return None
    unit = str(spec.get("unit", r.get("unit", "")))
    try:
        conversion_factor(unit, unit)
    except ValueError as e:
        err(where, f"{at}: {e}")
        return None
    cond = {}
    for col, (key, cu) in conditions.items():
        cell = (r.get(col) or "").strip()
        if cell:
            cond[key] = f"{cell} {cu}" if cu else cell
    paths = _metric_paths(spec["metric"])
    t = Target(
        quantity, " + ".join(paths), cond, value, unc, unit, r.get("source", ""), upper=upper
    )
    return replace(t, parts=paths) if len(paths) > 1 else t


def _metric_paths(metric: Any) -> tuple[str, ...]:
    """A target's metric paths: one path, or a non-empty list of them (summed); () if neither."""
    if isinstance(metric, str):
        return (metric,)
    if isinstance(metric, list) and metric and all(isinstance(m, str) for m in metric):
        return tuple(metric)
    return ()


def _check_cases(spec: FitSpec) -> None:
    """The base case, and it at every condition with the start and both bounds, are valid."""
    problems: list[Finding] = []
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
                    problems.append(Finding(spec.source, prob.key, f"{prob.message} ({trial})"))
    if problems:
        raise CaseError(list(dict.fromkeys(problems)))
