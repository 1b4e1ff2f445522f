"""The one reader of the metrics document (what ``metrics.json`` holds).

The document is nested dicts; a measured value is a leaf ``{"value": v,
"unit": u}``. A metric is named by its dotted path, e.g.
``"species.urea.ratio_interior_exterior"``. Species, product and reaction
names may themselves hold dots (e.g. ``"CO.ads"``), so a path is resolved
greedily against the keys present: at each level the longest run of parts
that is a key wins (``"species.CO.ads.bulk"`` reads ``["species"]["CO.ads"]
["bulk"]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def split(dotted: str, metrics: Mapping[str, Any]) -> list[str]:
    """The keys a dotted path walks through, resolved against ``metrics``.

    Raises:
        KeyError: no such metric (the message names where the path got stuck).
    """
    parts = dotted.split(".")
    out: list[str] = []
    node: Any = metrics
    i = 0
    while i < len(parts):
        for j in range(len(parts), i, -1):  # greedy: the longest prefix that is a key
            cand = ".".join(parts[i:j])
            if isinstance(node, Mapping) and cand in node:
                out.append(cand)
                node = node[cand]
                i = j
                break
        else:
            raise KeyError(f"no metric {dotted!r} (stuck at {parts[i]!r})")
    return out


def get(metrics: Mapping[str, Any], dotted: str) -> Any:
    """The node at a dotted path: a ``{"value", "unit"}`` leaf, a section or a bare value.

    Raises:
        KeyError: no such metric.
    """
    node: Any = metrics
    for part in split(dotted, metrics):
        node = node[part]
    return node


def value(metrics: Mapping[str, Any], dotted: str) -> Any:
    """The value at a dotted path (``{"value": v, "unit": u}`` gives ``v``).

    Raises:
        KeyError: no such metric.
    """
    node = get(metrics, dotted)
    if isinstance(node, Mapping) and "value" in node:
        return node["value"]
    return node


def flatten(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, tuple[Any, str | None]]:
    """Every leaf as ``{"a.b.c": (value, unit)}``, in document order.

    Leaves are ``{"value", "unit"}`` mappings (their value may be a list) and bare
    scalars (strings, numbers, booleans, None); the unit is None for bare scalars and
    for value leaves without one. Lists outside a value leaf are left out.
    """
    out: dict[str, tuple[Any, str | None]] = {}
    for k, v in metrics.items():
        path = f"{prefix}{k}"
        if isinstance(v, Mapping) and "value" in v:
            out[path] = (v["value"], v.get("unit"))
        elif isinstance(v, Mapping):
            out.update(flatten(v, path + "."))
        elif isinstance(v, int | float | str | bool) or v is None:
            out[path] = (v, None)
    return out
