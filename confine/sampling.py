"""Sweep files: TOML data -> a validated SweepSpec (lists, ranges, grids, zips, samples).

The result is a :class:`confine.sweep_spec.SweepSpec`; samples of parameters
with a distribution are drawn here (:func:`draw`), reproducibly for a seed.

A sweep file is data only: it is parsed with :mod:`tomllib`; quantity strings
are read by the grammar of :mod:`confine.units`; nothing is evaluated. Every
problem is reported at once as ``error: FILE: key: rule``
(:class:`confine.case.CaseError`), and every resolved point case is validated
before anything runs.

Schema (see docs/sweeps.md)::

    [sweep]
    name = "pore-size"                  # default: the file's stem
    case = "../cases/mchs-7nm.toml"     # base case, relative to this file
    warm_start = "electrode.potential"  # axis run in order with warm starts; "auto" | "none"
    ranks_per_point = 1                 # MPI ranks per point under mpiexec
    max_points = 100000                 # refused above (counted before expansion)

    [set]                               # fixed overrides of the base case
    "geometry.model" = "axisymmetric-cell"

    [parameters]                        # one entry per swept case key (dotted)
    "geometry.pore_diameter" = ["4.18 nm", "7.55 nm", "11.12 nm"]
    "electrode.potential" = { linspace = [-0.7, -1.1, 5], unit = "V" }
    "reactions.volmer.rate_constant" = { logspace = [1e-4, 1e-2, 3], unit = "mol/(m^3*s)" }
    "species.CO2.bulk" = { values = ["0.02 M", "0.034 M"], zip = "feed" }
    "catalyst.site_density" = { distribution = "normal", mean = 3e-5, std = 3e-6,
                                unit = "mol/m^2" }

    [sampling]                          # needed when a parameter has a distribution
    n = 64
    seed = 1
    method = "random"                   # random | lhs

Parameters combine as a grid (Cartesian product) in the order written, the
last varying fastest; parameters with the same ``zip`` label are zipped (same
length) and act as one axis; all sampled parameters form one more axis of
``n`` joint samples.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from confine.case import CaseError, parse_override_value
from confine.fem.swept import is_warm_axis
from confine.findings import Finding
from confine.names import did_you_mean
from confine.sweep_spec import SAMPLE_AXIS, Parameter, SweepSpec
from confine.units import UnitError, parse_unit, read_quantity

SWEEP_KEYS = ("name", "description", "case", "warm_start", "ranks_per_point", "max_points")
#: Default limit on the points of a sweep (``sweep.max_points``): counted from the
#: file before anything is expanded; validating a point takes ~20-50 ms.
MAX_POINTS = 100_000
SPEC_KEYS = (
    "values",
    "linspace",
    "logspace",
    "distribution",
    "unit",
    "zip",
    "mean",
    "std",
    "low",
    "high",
    "median",
    "sigma",
)
SAMPLING_KEYS = ("n", "seed", "method")
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "normal": ("mean", "std"),
    "uniform": ("low", "high"),
    "lognormal": ("median", "sigma"),
    "loguniform": ("low", "high"),
}


#: Swept keys ending so are warm-start axes by default (see :func:`warm_start_by_default`).
# --------------------------------------------------------------------------- parsing
def load_sweep(source: str | Path | Mapping[str, Any]) -> SweepSpec:
    """Read and validate a sweep file (or the same data as a dict).

    Args:
        source: a TOML path, or a mapping with the file's structure (its ``case``
            path relative to the working directory, or absolute).

    Raises:
        CaseError: every problem found, as ``error: FILE: key: rule``.
        FileNotFoundError: no such sweep file.
    """
    if isinstance(source, Mapping):
        raw, file, here = dict(source), "<dict>", Path.cwd()
    else:
        path = Path(source)
        text = path.read_text(encoding="utf-8")
        file, here = str(path), path.parent
        try:
            raw = tomllib.loads(text)
        except ValueError as err:  # TOMLDecodeError, or an integer of over 4300 digits
            raise CaseError([Finding(file, "toml", f"malformed TOML: {err}")]) from None
        except RecursionError:
            raise CaseError([Finding(file, "toml", "malformed TOML: nested too deeply")]) from None
    return _parse(raw, file, here)


def _parse(raw: dict[str, Any], file: str, here: Path) -> SweepSpec:
    problems: list[Finding] = []

    def err(key: str, msg: str) -> None:
        problems.append(Finding(file, key, msg))

    for sec in raw:
        if sec not in ("sweep", "set", "parameters", "sampling"):
            err(
                sec,
                f"unknown section{did_you_mean(sec, ['sweep', 'set', 'parameters', 'sampling'])}",
            )
    head = raw.get("sweep", {})
    if not isinstance(head, dict):
        err("sweep", "expected a table [sweep]")
        head = {}
    name, case_path, ranks, limit = _parse_head(head, file, here, err)
    fixed = raw.get("set", {})
    if not isinstance(fixed, dict):
        err("set", "expected a table of dotted case key = value")
        fixed = {}
    sampling = _parse_sampling(raw.get("sampling"), err, limit)

    params_raw = raw.get("parameters", {})
    if not isinstance(params_raw, dict) or not params_raw:
        err("parameters", "expected a table of dotted case key = values (at least one)")
        params_raw = {}
    params: list[Parameter] = []
    for key, spec in params_raw.items():
        if key in fixed:
            err(f"parameters.{key}", "also fixed in [set]: sweep it or fix it, not both")
        p = _parse_parameter(key, spec, limit, err)
        if p is not None:
            params.append(p)
    if any(p.sampled for p in params):
        if not sampling:
            if raw.get("sampling") is None:  # else its own keys say what is wrong
                err(
                    "sampling",
                    "required: parameters with a distribution need [sampling] n and seed",
                )
        else:
            params = draw(params, sampling["n"], sampling["seed"], sampling["method"])

    axes = _axes(params, limit, err)
    warm = _warm_axis(head.get("warm_start", "auto"), params, err)
    if problems:
        raise CaseError(problems)
    assert case_path is not None
    desc = head.get("description", "")
    return SweepSpec(
        name=str(name),
        source=file,
        case_path=case_path,
        fixed=dict(fixed),
        parameters=tuple(params),
        axes=tuple(axes),
        warm_axis=warm,
        ranks_per_point=int(ranks),
        sampling=sampling,
        description=str(desc),
    )


def _parse_head(
    head: Mapping[str, Any], file: str, here: Path, err: Any
) -> tuple[Any, Path | None, int, int]:
    """Name, base case path, ranks per point and point limit from ``[sweep]``."""
    for k in head:
        if k not in SWEEP_KEYS:
            err(f"sweep.{k}", f"unknown key{did_you_mean(k, SWEEP_KEYS)}")
    case_path: Path | None = None
    case_raw = head.get("case")
    if not isinstance(case_raw, str):
        err("sweep.case", "required: the base case file (a path relative to the sweep file)")
    else:
        case_path = (here / case_raw) if not Path(case_raw).is_absolute() else Path(case_raw)
        if not case_path.is_file():
            err("sweep.case", f"no such case file: {case_path}")
    name = head.get("name", Path(file).name.split(".")[0] if file != "<dict>" else "sweep")
    if not isinstance(name, str) or not name:
        err("sweep.name", "expected a non-empty string")
    ranks = head.get("ranks_per_point", 1)
    if isinstance(ranks, bool) or not isinstance(ranks, int) or not 1 <= ranks <= 2**31 - 1:
        err("sweep.ranks_per_point", f"expected a positive integer, got {ranks!r}")
        ranks = 1
    limit = head.get("max_points", MAX_POINTS)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 2**63 - 1:
        err("sweep.max_points", f"expected a positive integer, got {limit!r}")
        limit = MAX_POINTS
    return name, case_path, ranks, limit


def _axes(params: Sequence[Parameter], limit: int, err: Any) -> list[str]:
    """Axis names in product order; zip groups of unequal length and too many points are errors.

    The number of points is counted exactly before any point is made.
    """
    axes: list[str] = []
    for p in params:
        if p.axis not in axes:
            axes.append(p.axis)
    axis_lengths = []
    for a in axes:
        lengths = {p.key: len(p.values) for p in params if p.axis == a}
        axis_lengths.append(max(lengths.values()))
        if len(set(lengths.values())) > 1:
            what = ", ".join(f"{k}: {n}" for k, n in lengths.items())
            label = "the sampled parameters" if a == SAMPLE_AXIS else f"zip group '{a}'"
            err("parameters", f"{label} must have equal lengths ({what})")
    total = math.prod(axis_lengths)
    if total > limit:
        err(
            "parameters",
            f"{total} points ({' x '.join(map(str, axis_lengths))}): above the limit of "
            f"{limit} (sweep.max_points)",
        )
    return axes


def _parse_sampling(raw: Any, err: Any, limit: int) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        err("sampling", "expected a table [sampling] with n and seed")
        return {}
    for k in raw:
        if k not in SAMPLING_KEYS:
            err(f"sampling.{k}", f"unknown key{did_you_mean(k, SAMPLING_KEYS)}")
    n, seed, method = raw.get("n"), raw.get("seed"), raw.get("method", "random")
    ok = True
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        err("sampling.n", f"expected a positive integer number of samples, got {n!r}")
        ok = False
    elif n > limit:
        err("sampling.n", f"{n} samples: above the limit of {limit} points (sweep.max_points)")
        ok = False
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**128:
        err(
            "sampling.seed",
            f"required for reproducible bands: a non-negative integer, got {seed!r}",
        )
        ok = False
    if method not in ("random", "lhs"):
        err("sampling.method", f"'{method}' is not one of random, lhs")
        ok = False
    return {"n": n, "seed": seed, "method": method} if ok else {}


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _check_unit(unit: Any, where: str, err: Any) -> str | None:
    if unit is None:
        return ""
    if not isinstance(unit, str):
        err(where, f"expected a unit string, got {unit!r}")
        return None
    try:
        parse_unit(unit)
    except UnitError as why:
        err(where, f"cannot parse unit {unit!r}: {why}")
        return None
    return unit


def _with_unit(x: float, unit: str) -> Any:
    """The override value for a number in a unit: a quantity string, or the plain number."""
    return f"{x!r} {unit}" if unit else x


def _column_of_values(values: Sequence[Any]) -> tuple[tuple[float | None, ...], str | None]:
    """Numbers and a common unit for given values ("4 nm", 3.5, "sector-3d")."""
    if all(_number(v) for v in values):
        return tuple(float(v) for v in values), ""
    quantities = []
    for v in values:
        pv = parse_override_value(v) if isinstance(v, str) else v
        if _number(pv):
            return tuple(None for _ in values), None
        if not isinstance(v, str):
            return tuple(None for _ in values), None
        try:
            q = read_quantity(v)
        except UnitError:
            return tuple(None for _ in values), None
        if q.dimensionless:
            return tuple(None for _ in values), None
        quantities.append(q)
    unit = quantities[0].units
    try:
        nums = tuple(float(q.to(unit).magnitude) for q in quantities)
    except Exception:
        return tuple(None for _ in values), None
    return nums, f"{unit:~C}".replace("**", "^")


def _parse_parameter(key: str, spec: Any, limit: int, err: Any) -> Parameter | None:
    where = f"parameters.{key}"
    if "." not in key:
        err(where, "expected a dotted case key such as geometry.pore_diameter")
        return None
    if isinstance(spec, list):
        spec = {"values": spec}
    if not isinstance(spec, dict):
        err(
            where, "expected a list of values or a table (values, linspace, logspace, distribution)"
        )
        return None
    for k in spec:
        if k not in SPEC_KEYS:
            err(f"{where}.{k}", f"unknown key{did_you_mean(k, SPEC_KEYS)}")
    kinds = [k for k in ("values", "linspace", "logspace", "distribution") if k in spec]
    if len(kinds) != 1:
        err(where, "give exactly one of values, linspace, logspace, distribution")
        return None
    kind = kinds[0]
    unit = _check_unit(spec.get("unit"), f"{where}.unit", err)
    zip_label = spec.get("zip")
    if zip_label is not None and (not isinstance(zip_label, str) or not zip_label):
        err(f"{where}.zip", f"expected a group name, got {zip_label!r}")
        return None
    if unit is None:
        return None
    axis = zip_label or key
    if kind == "values":
        return _listed(key, spec["values"], unit, axis, limit, err)
    if kind in ("linspace", "logspace"):
        return _spaced(key, kind, spec[kind], unit, axis, limit, err)
    return _distribution(key, spec, unit, zip_label, err)


def _listed(key: str, vals: Any, unit: str, axis: str, limit: int, err: Any) -> Parameter | None:
    """A parameter given as a list of values."""
    where = f"parameters.{key}"
    if not isinstance(vals, list) or not vals:
        err(f"{where}.values", "expected a non-empty list")
        return None
    if len(vals) > limit:
        err(f"{where}.values", f"{len(vals)} values: above the limit of {limit} points")
        return None
    if any(isinstance(v, dict | list) for v in vals):
        err(f"{where}.values", "expected scalar values (numbers, strings with units)")
        return None
    if unit:
        if not all(_number(v) for v in vals):
            err(f"{where}.values", "with a unit, the values must be plain numbers")
            return None
        nums = tuple(float(v) for v in vals)
        return Parameter(key, tuple(_with_unit(x, unit) for x in nums), nums, unit, axis)
    nums_or_none, col_unit = _column_of_values(vals)
    return Parameter(key, tuple(vals), nums_or_none, col_unit, axis)


def _spaced(
    key: str, kind: str, r: Any, unit: str, axis: str, limit: int, err: Any
) -> Parameter | None:
    """A parameter given as ``linspace`` or ``logspace = [start, stop, count]``."""
    where = f"parameters.{key}"
    if (
        not isinstance(r, list)
        or len(r) != 3
        or not all(_number(x) for x in r[:2])
        or isinstance(r[2], bool)
        or not isinstance(r[2], int)
        or r[2] < 1
    ):
        err(f"{where}.{kind}", "expected [start, stop, count] with a positive integer count")
        return None
    start, stop, num = float(r[0]), float(r[1]), int(r[2])
    if num > limit:
        err(
            f"{where}.{kind}",
            f"{num} points: above the limit of {limit} (sweep.max_points)",
        )
        return None
    if kind == "logspace":
        if start <= 0 or stop <= 0:
            err(f"{where}.logspace", "start and stop must be positive (values, not exponents)")
            return None
        nums = tuple(float(x) for x in np.geomspace(start, stop, num))
    else:
        nums = tuple(float(x) for x in np.linspace(start, stop, num))
    return Parameter(key, tuple(_with_unit(x, unit) for x in nums), nums, unit, axis)


def _distribution(
    key: str, spec: Mapping[str, Any], unit: str, zip_label: Any, err: Any
) -> Parameter | None:
    """A sampled parameter: its distribution and arguments (drawn later, jointly)."""
    where = f"parameters.{key}"
    dist = spec["distribution"]
    if dist not in DISTRIBUTIONS:
        err(f"{where}.distribution", f"'{dist}' is not one of {', '.join(DISTRIBUTIONS)}")
        return None
    if zip_label is not None:
        err(f"{where}.zip", "sampled parameters are drawn jointly: no zip group")
        return None
    args = {}
    for a in DISTRIBUTIONS[str(dist)]:
        if not _number(spec.get(a)):
            err(f"{where}.{a}", f"required for a {dist} distribution: a number (in `unit`)")
            return None
        args[a] = float(spec[a])
    bad = {
        "normal": args.get("std", 1) <= 0,
        "uniform": args.get("high", 1) <= args.get("low", 0),
        "lognormal": args.get("median", 1) <= 0 or args.get("sigma", 1) <= 0,
        "loguniform": not 0 < args.get("low", 1) < args.get("high", 2),
    }[str(dist)]
    if bad:
        err(where, f"invalid {dist} parameters {args}")
        return None
    return Parameter(
        key, (), (), unit, SAMPLE_AXIS, sampled=True, distribution=str(dist), dist_args=args
    )


def draw(params: Sequence[Parameter], n: int, seed: int, method: str) -> list[Parameter]:
    """Draw ``n`` joint samples of the sampled parameters (reproducible for a seed).

    Uniform numbers in (0, 1) -- independent (``random``) or a Latin hypercube
    (``lhs``) -- are mapped through each distribution's inverse CDF.
    """
    from scipy import stats  # lazy: scipy.stats is slow to import, and only samples need it

    sampled = [p for p in params if p.sampled]
    if not sampled:
        return list(params)
    rng = np.random.default_rng(seed)
    if method == "lhs":
        u = stats.qmc.LatinHypercube(d=len(sampled), rng=rng).random(n)
    else:
        u = rng.random((n, len(sampled)))
    out = []
    for p in params:
        if not p.sampled:
            out.append(p)
            continue
        col = u[:, sampled.index(p)]
        a = p.dist_args
        if p.distribution == "normal":
            x = a["mean"] + a["std"] * stats.norm.ppf(col)
        elif p.distribution == "uniform":
            x = a["low"] + (a["high"] - a["low"]) * col
        elif p.distribution == "lognormal":
            x = a["median"] * np.exp(a["sigma"] * stats.norm.ppf(col))
        else:
            x = np.exp(np.log(a["low"]) + (np.log(a["high"]) - np.log(a["low"])) * col)
        nums = tuple(float(v) for v in x)
        unit = p.unit or ""
        out.append(
            dataclasses.replace(p, values=tuple(_with_unit(v, unit) for v in nums), numbers=nums)
        )
    return out


def warm_start_by_default(key: str) -> bool:
    """Whether a swept case key is the warm-start axis of ``warm_start = "auto"``.

    Potentials and rate constants (``electrode.potential``,
    ``reactions.NAME.rate_constant``, ...): values the solver holds as Constants,
    so a chain along them reuses one compiled problem and each point starts from
    its neighbour: the entries of :data:`confine.fem.swept.SWEPT` marked
    ``warm_axis`` (the one list of what may change without recompiling).
    """
    return is_warm_axis(key)


def _warm_axis(raw: Any, params: Sequence[Parameter], err: Any) -> str | None:
    if raw in ("none", False):
        return None
    if raw in ("auto", None, True):
        for p in params:
            if not p.sampled and warm_start_by_default(p.key):
                return p.axis
        return None
    if not isinstance(raw, str):
        err("sweep.warm_start", f"expected a swept key, 'auto' or 'none', got {raw!r}")
        return None
    for p in params:
        if p.key == raw or p.axis == raw:
            if p.sampled:
                err("sweep.warm_start", "a sampled parameter is not an ordered axis")
                return None
            return p.axis
    keys = [p.key for p in params]
    err("sweep.warm_start", f"'{raw}' is not a swept parameter{did_you_mean(raw, keys)}")
    return None
