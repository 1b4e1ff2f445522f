"""A sweep's table: the point directories merged into ``results.csv`` (and ``bands.csv``).

Reads only what the scheduler wrote (markers and metrics, see
:mod:`confine.sweep_files`), so it is safe at any time, from any process.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from confine import atomic, document
from confine.sampling import load_sweep
from confine.sweep_files import (
    DONE,
    FAILED,
    STATUS_DONE,
    point_dir,
    point_status,
    read_json,
)
from confine.sweep_spec import SAMPLE_AXIS, Point, SweepSpec


def metric_columns(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Metric columns: ``"path [unit]"`` -> value for every ``{"value", "unit"}`` leaf.

    Scalar leaves without a unit (strings, booleans, counts) keep their bare path;
    lists are left out.
    """
    out: dict[str, Any] = {}
    for path, (val, unit) in document.flatten(metrics).items():
        if isinstance(val, list | dict):
            continue
        out[path if unit is None else f"{path} [{unit or '1'}]"] = val
    return out


def merge(
    path_or_spec: str | Path | Mapping[str, Any] | SweepSpec,
    out: str | Path,
    points: Sequence[Point] | None = None,
    write: bool = True,
) -> pd.DataFrame:
    """Merge the point directories into one table (and ``DIR/results.csv``).

    Safe to call at any time, from any task (e.g. a final job after a SLURM
    array): it only reads markers and metrics, and replaces ``results.csv``
    atomically.

    Returns:
        One row per point, in sweep order: ``point``, the swept values (units in
        the headers), ``sample`` for sampled sweeps, ``status``, ``error``,
        ``wall_time_s``, ``warm_started``, ``hash``, then every metric as
        ``path [unit]``. ``df.attrs["units"]`` maps columns to units.
    """
    spec = path_or_spec if isinstance(path_or_spec, SweepSpec) else load_sweep(path_or_spec)
    out = Path(out)
    points = list(points) if points is not None else spec.points()
    by_hash: dict[str, Point] = {}
    rows = []
    units: dict[str, str] = {}
    for p in points:
        first = by_hash.setdefault(p.hash, p)
        d = point_dir(out, first)
        row: dict[str, Any] = {"point": p.index}
        for par in spec.parameters:
            i = p.coords[par.axis]
            num = par.numbers[i] if par.numbers else None
            row[par.column] = num if num is not None else par.values[i]
            if par.unit is not None:
                units[par.column] = par.unit or "1"
        if SAMPLE_AXIS in p.coords:
            row["sample"] = p.coords[SAMPLE_AXIS]
        status = point_status(d)
        marker = read_json(d / (DONE if status == STATUS_DONE else FAILED)) or {}
        row["status"] = status
        row["error"] = marker.get("error", "")
        row["wall_time_s"] = marker.get("wall_time_s", math.nan)
        row["warm_started"] = marker.get("warm_started")
        row["hash"] = p.hash[:16]
        if status == STATUS_DONE:
            metrics = read_json(d / "metrics.json") or {}
            flat = metric_columns(metrics)
            row.update(flat)
        rows.append(row)
    df = pd.DataFrame(rows)
    for col in df.columns:
        if col.endswith("]") and " [" in col:
            units.setdefault(col, col.rsplit(" [", 1)[1][:-1])
    df.attrs["units"] = units
    if write:
        out.mkdir(parents=True, exist_ok=True)
        atomic.write_text(out / "results.csv", df.to_csv(index=False))
        if any(p.sampled for p in spec.parameters):
            b = bands(df, spec)
            atomic.write_text(out / "bands.csv", b.to_csv(index=False))
    return df


def bands(df: pd.DataFrame, spec: SweepSpec) -> pd.DataFrame:
    """Spread of every numeric metric over the samples of a sampled sweep.

    Rows are grouped by the non-sampled swept values; for each group and metric:
    ``n`` (finished samples), ``mean``, ``std``, ``p05``, ``p50``, ``p95``.
    """
    fixed_cols = [p.column for p in spec.parameters if not p.sampled]
    skip = {"point", "sample", "status", "error", "wall_time_s", "warm_started", "hash"}
    sampled_cols = {p.column for p in spec.parameters if p.sampled}
    done = df[df["status"] == STATUS_DONE]
    metric_cols = [
        c
        for c in df.columns
        if c not in skip
        and c not in fixed_cols
        and pd.api.types.is_numeric_dtype(df[c])
        and not pd.api.types.is_bool_dtype(df[c])
    ]
    rows = []
    groups = done.groupby(fixed_cols, sort=False) if fixed_cols else [((), done)]
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        for c in metric_cols:
            vals = pd.to_numeric(g[c], errors="coerce").dropna()
            row: dict[str, Any] = dict(zip(fixed_cols, key, strict=True))
            row.update(
                quantity=c,
                kind="parameter" if c in sampled_cols else "metric",
                n=len(vals),
                mean=vals.mean() if len(vals) else math.nan,
                std=vals.std(ddof=1) if len(vals) > 1 else math.nan,
                p05=vals.quantile(0.05) if len(vals) else math.nan,
                p50=vals.quantile(0.50) if len(vals) else math.nan,
                p95=vals.quantile(0.95) if len(vals) else math.nan,
            )
            rows.append(row)
    return pd.DataFrame(rows)


def find_column(df: pd.DataFrame, name: str) -> str:
    """The column for a metric or parameter path, with or without its ``[unit]``."""
    if name in df.columns:
        return name
    hits = [c for c in df.columns if c.split(" [", 1)[0] == name]
    if len(hits) != 1:
        raise KeyError(f"no column {name!r} in the table" if not hits else f"{name!r}: {hits}")
    return hits[0]
