"""The on-disk layout of a sweep: one directory per point, its completion marker written last.

Layout of an output directory::

    DIR/sweep.json              what was swept (name, base case, parameters, points)
    DIR/points/<label>_<hash16>/  one directory per point, named by its overrides
        case.toml               (readable) and the hash of its fully resolved case
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
import re
from pathlib import Path
from typing import Any

from confine.sweep_spec import Point

DONE, FAILED = "DONE", "FAILED"
STATUS_DONE, STATUS_FAILED, STATUS_PENDING = "done", "failed", "pending"


#: Longest readable part of a point directory's name (the hash follows it).
LABEL_CHARS = 80


def _value_text(value: Any) -> str:
    """``"7.55 nm"`` -> ``7.55nm``, ``"1000.0 1/s"`` -> ``1000_per_s``: short, file-system safe."""
    number, _, unit = str(value).strip().partition(" ")
    try:
        number = format(float(number), ".4g")
    except ValueError:
        number, unit = str(value), ""
    unit = re.sub(r"^1/", "/", unit.replace(" ", "").replace("^", "").replace("*", "."))
    unit = unit.replace("/", "_per_")
    text = number + ("_" if unit[:1].isdigit() else "") + unit
    return re.sub(r"[^A-Za-z0-9.+_-]", "_", text)


def point_label(point: Point) -> str:
    """The readable part of a point's directory name: ``pore_diameter=7.55nm,potential=-0.9V``.

    Each override by its last key (the full dotted key where two share one), values
    rounded to 4 digits; at most :data:`LABEL_CHARS` characters.
    """
    last = [k.rsplit(".", 1)[-1] for k in point.overrides]
    names = [k if last.count(s) > 1 else s for k, s in zip(point.overrides, last, strict=True)]
    pairs = [f"{n}={_value_text(v)}" for n, v in zip(names, point.overrides.values(), strict=True)]
    return re.sub(r"[^A-Za-z0-9.,=+_-]", "_", ",".join(pairs))[:LABEL_CHARS]


def point_dir(out: Path, point: Point) -> Path:
    """Directory of a point: ``DIR/points/<label>_<first 16 hex digits of the case hash>``.

    The hash is the point's identity (a sweep resumed finds its points by it); the
    label (:func:`point_label`) is for people. A sweep begun by an earlier version,
    whose directories hold only the hash, goes on in those.
    """
    root, key = Path(out) / "points", point.hash[:16]
    label = point_label(point)
    if not label or (root / key).is_dir():
        return root / key
    return root / f"{label}_{key}"


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
