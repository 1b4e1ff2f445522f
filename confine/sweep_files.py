"""The on-disk layout of a sweep: one directory per point, its completion marker written last.

Layout of an output directory::

    DIR/sweep.json              what was swept (name, base case, parameters, points)
    DIR/points/<hash16>/        one directory per point, named by the hash of its
        case.toml               fully resolved case
        point.json              its index and overrides
        metrics.json            written by the runner (or from Result.metrics)
        DONE | FAILED           completion marker, written last (atomic rename)
    DIR/results.csv             one row per point: swept values, status, metrics
    DIR/bands.csv               sampled sweeps: spread of every metric
    DIR/plots/*.png             default plots

The scheduler (:mod:`confine.sweeps`) writes point directories; the table
(:mod:`confine.sweep_table`) only reads them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from confine.sweep_spec import Point

DONE, FAILED = "DONE", "FAILED"
STATUS_DONE, STATUS_FAILED, STATUS_PENDING = "done", "failed", "pending"


def point_dir(out: Path, point: Point) -> Path:
    """Directory of a point: ``DIR/points/<first 16 hex digits of the case hash>``."""
    return Path(out) / "points" / point.hash[:16]


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from a file, or None when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def point_status(d: Path) -> str:
    """``done``, ``failed`` or ``pending`` from a point directory's marker."""
    if (d / DONE).exists():
        return STATUS_DONE
    if (d / FAILED).exists():
        return STATUS_FAILED
    return STATUS_PENDING
