"""The end-of-run summary: what ``confine run`` prints, as text or as one JSON object.

Reads only the metrics document (through :mod:`confine.document`), so it
applies to a run just made as well as to a ``metrics.json`` read back.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from confine import document

#: The species whose C_I/C_E the summary shows when the case has it.
RATIO_SPECIES = "urea"


def _value(metrics: Mapping[str, Any], dotted: str) -> Any:
    """A metric's value, or None when the document has no such metric."""
    try:
        return document.value(metrics, dotted)
    except KeyError:
        return None


def _ratio_species(metrics: Mapping[str, Any]) -> str | None:
    """Urea if the case has it, else the first declared product, else the first species."""
    species = metrics.get("species") or {}
    if RATIO_SPECIES in species:
        return RATIO_SPECIES
    for name in metrics.get("products") or {}:
        if name in species:
            return str(name)
    return next(iter(species), None)


def _ratio_definition(metrics: Mapping[str, Any]) -> str:
    """``C_I: ...; C_E: ...`` from the document's definitions."""
    defs = metrics.get("definitions") or {}
    parts = [
        f"{sym}: {defs[key]}"
        for sym, key in (("C_I", "interior"), ("C_E", "exterior"))
        if key in defs
    ]
    return "; ".join(parts)


def summarize(
    metrics: Mapping[str, Any], results: Path | str | None = None, wall_time_s: float | None = None
) -> dict[str, Any]:
    """The summary of a run as plain data (what ``--json`` prints).

    Args:
        metrics: the metrics document (``result.metrics`` or ``metrics.json``).
        results: where the results are (the output directory).
        wall_time_s: the run's wall time in seconds.

    Returns:
        ``case``, ``converged``, ``newton_iterations``, ``mass_balance_relative_error``
        (the worst species'), ``current_A`` (per particle), ``current_density_A_per_m2``
        and ``current_density_mA_per_cm2`` (per electrode area; None where the case
        defines no loading), ``faradaic_efficiency`` (product -> fraction),
        ``faradaic_efficiency_sum``, ``ratio`` (``species``, ``value``, ``definition``
        of C_I/C_E), ``local_pH`` (``cavity``, ``pore_mouth``), ``wall_time_s``, ``results``.
    """
    density = _value(metrics, "current_density_A_per_m2")
    species = _ratio_species(metrics)
    return {
        "case": metrics.get("case"),
        "converged": _value(metrics, "solver.converged"),
        "newton_iterations": _value(metrics, "solver.newton_iterations"),
        "mass_balance_relative_error": _value(metrics, "mass_balance_relative_error"),
        "current_A": _value(metrics, "current_A"),
        "current_density_A_per_m2": density,
        "current_density_mA_per_cm2": density / 10.0 if density is not None else None,
        "faradaic_efficiency": {
            name: _value(entry, "faradaic_efficiency")
            for name, entry in (metrics.get("products") or {}).items()
        },
        "faradaic_efficiency_sum": _value(metrics, "faradaic_efficiency_sum"),
        "ratio": {
            "species": species,
            "value": _value(metrics, f"species.{species}.ratio_interior_exterior")
            if species
            else None,
            "definition": _ratio_definition(metrics),
        },
        "local_pH": {
            "cavity": _value(metrics, "local_pH.cavity"),
            "pore_mouth": _value(metrics, "local_pH.mouth_outer"),
            **{
                side: _value(metrics, f"local_pH.{side}")
                for side in ("film_face", "collector")
                if _value(metrics, f"local_pH.{side}") is not None
            },
        },
        "wall_time_s": wall_time_s,
        "results": str(results) if results is not None else None,
    }


def _num(x: Any, fmt: str = ".4g") -> str:
    """A number for people (``n/a`` for a missing or non-finite one)."""
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        return "n/a"
    return format(x, fmt)


def _pct(x: Any) -> str:
    return "n/a" if _num(x) == "n/a" else f"{100 * x:.3g} %"


def text(summary: Mapping[str, Any]) -> str:
    """The summary as a short block of lines (what ``confine run`` prints)."""
    its = summary["newton_iterations"]
    state = "converged" if summary["converged"] else "did NOT converge"
    lines = [f"{summary['case']}: {state} ({its} Newton iterations)"]
    lines.append(
        f"  quality        checks passed; worst mass balance error "
        f"{_num(summary['mass_balance_relative_error'], '.2g')}"
    )
    currents = []
    if summary["current_density_A_per_m2"] is not None:
        currents.append(
            f"{_num(summary['current_density_mA_per_cm2'])} mA/cm^2 per electrode area "
            f"({_num(summary['current_density_A_per_m2'])} A/m^2)"
        )
    if summary["current_A"] is not None:
        currents.append(f"{_num(summary['current_A'], '.4g')} A per particle")
    current = "; ".join(currents) or "n/a"
    lines.append(f"  current        {current}")
    fe = summary["faradaic_efficiency"]
    if fe:
        parts = ", ".join(f"{name} {_pct(v)}" for name, v in fe.items())
        lines.append(f"  FE             {parts} (sum {_pct(summary['faradaic_efficiency_sum'])})")
    ratio = summary["ratio"]
    if ratio["species"] is not None:
        lines.append(f"  {ratio['species']} C_I/C_E".ljust(17) + _num(ratio["value"]))
        if ratio["definition"]:
            brief = re.sub(r"\s*\([^()]*\)", "", ratio["definition"])  # without the asides
            lines.append(f"                 ({brief})")
    ph = summary["local_pH"]
    if "film_face" in ph:
        lines.append(
            f"  local pH       film face {_num(ph['film_face'], '.3f')}, "
            f"collector {_num(ph.get('collector'), '.3f')}"
        )
    elif ph["cavity"] is not None or ph["pore_mouth"] is not None:
        lines.append(
            f"  local pH       cavity {_num(ph['cavity'], '.3f')}, "
            f"pore mouth {_num(ph['pore_mouth'], '.3f')}"
        )
    if summary["wall_time_s"] is not None:
        lines.append(f"  wall time      {summary['wall_time_s']:.1f} s")
    if summary["results"] is not None:
        lines.append(f"  results        {summary['results']}")
    return "\n".join(lines)


def as_json(summary: Mapping[str, Any]) -> str:
    """The summary as one JSON object on one line (NaN and infinities as null)."""

    def clean(x: Any) -> Any:
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, Mapping):
            return {k: clean(v) for k, v in x.items()}
        return x

    return json.dumps(clean(summary))


#: Key metrics of a sweep's end table: (column path or prefix/suffix, header).
SWEEP_METRICS = (
    ("current_density_A_per_m2", "j [A/m^2]"),
    ("products.*.faradaic_efficiency", "FE {}"),
    ("species.*.ratio_interior_exterior", "{} C_I/C_E"),
    ("local_pH.cavity", "pH cavity"),
    ("solver.newton_iterations", "Newton"),
)


def _sweep_column(columns: list[str], pattern: str, prefer: str) -> tuple[str, str] | None:
    """The table column for a metric pattern (``*``: urea if there, else the first), and
    the name the ``*`` stood for."""
    paths = {c.split(" [", 1)[0]: c for c in columns}
    if "*" not in pattern:
        return (paths[pattern], "") if pattern in paths else None
    head, tail = pattern.split("*")
    hits = [p[len(head) : -len(tail)] for p in paths if p.startswith(head) and p.endswith(tail)]
    hits = [h for h in hits if "." not in h or h in paths]
    if not hits:
        return None
    name = next((n for n in (RATIO_SPECIES, prefer) if n in hits), hits[0])
    return paths[head + name + tail], name


def sweep_text(table: Any, max_rows: int = 40) -> str:
    """A sweep's end table: the swept values, the status and a few key metrics per point.

    Args:
        table: the merged table (:func:`confine.sweep_table.merge`: a pandas DataFrame).
        max_rows: longer tables show their first and last rows.
    """
    cols = list(table.columns)
    swept = cols[cols.index("point") + 1 : cols.index("status")] if "status" in cols else []
    keep = {
        c: c.split(" [", 1)[0].rsplit(".", 1)[-1]
        + (f" [{c.split(' [', 1)[1]}" if " [" in c else "")
        for c in swept
    }
    keep["status"] = "status"
    product = ""  # the product shown first also names the species shown
    for pattern, header in SWEEP_METRICS:
        hit = _sweep_column(cols, pattern, product)
        if hit is not None:
            keep[hit[0]] = header.format(hit[1])
            product = product or hit[1]
    shown = table[list(keep)].rename(columns=keep).dropna(axis=1, how="all")
    return str(shown.to_string(index=False, max_rows=max_rows, float_format=lambda v: f"{v:.4g}"))
