"""A sweep's plots: metrics against a swept parameter, and the default set a sweep draws.

matplotlib is imported only when a plot is drawn (an optional dependency: the
table is what matters).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from confine.plot_style import series_style
from confine.sweep_files import STATUS_DONE
from confine.sweep_spec import SweepSpec
from confine.sweep_table import find_column


def plot(
    df: pd.DataFrame,
    metric: str | Sequence[str],
    parameter: str,
    path: str | Path | None = None,
    spec: SweepSpec | None = None,
    logy: bool = False,
    title: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> Any:
    """Plot metrics against a swept parameter; a line per value of the other swept keys.

    Rows of a sampled sweep are drawn as a median line and a 5-95 % band.

    Args:
        df: the merged table.
        metric: one or several metric paths (e.g. ``"species.urea.ratio_interior_exterior"``).
        parameter: the swept key on the x axis (e.g. ``"geometry.pore_diameter"``).
        path: write a PNG there (and close the figure); otherwise return the figure.
        spec: the sweep (to know which columns are swept); default: guessed.
        logy: logarithmic y axis.
        title: figure title.
        labels: legend names of the metrics (default: their paths).
    """
    # lazy: matplotlib is optional (the table is what matters); no pyplot: no global state
    from matplotlib.figure import Figure

    metrics = [metric] if isinstance(metric, str) else list(metric)
    xcol = find_column(df, parameter)
    swept = [p.column for p in spec.parameters if not p.sampled] if spec else _swept_columns(df)
    others = [c for c in swept if c != xcol and df[c].nunique() > 1]
    banded = "sample" in df.columns and xcol in swept
    done = df[df["status"] == STATUS_DONE]
    combos = list(done.groupby(others, sort=False)) if others else [((), done)]
    facets = len(metrics) > 1 and len(combos) > 1  # a panel per value of the other keys
    if facets and len(combos) > MAX_PANELS:
        pick = np.linspace(0, len(combos) - 1, MAX_PANELS).round().astype(int)
        combos = [combos[i] for i in sorted(set(pick))]
    panels = len(combos) if facets else 1
    ncols = min(3, panels)
    nrows = -(-panels // ncols)
    fig = Figure(figsize=(4.2 * ncols + 1.8, 3.3 * nrows + 0.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False))
    axes = axes.ravel()

    def describe(key: Any) -> str:
        return _describe(others, key)

    for k, (key, g) in enumerate(combos):
        ax = axes[k if facets else 0]
        if facets:
            ax.set_title(describe(key), fontsize=9)
        for i, m in enumerate(metrics):
            ycol = find_column(df, m)
            name = (labels or {}).get(m, m.split(" [")[0])
            label: str | None = name if len(metrics) > 1 else describe(key)
            if label is not None and not facets and len(metrics) > 1 and others:
                label += f" ({describe(key)})"
            # a colour and marker per metric, or per value of the other keys (e.g. pore size)
            style = series_style(i if len(metrics) > 1 else k)
            if k and facets:
                label = None  # one legend entry per metric
            kind = "band" if banded else "scatter" if "sample" in df.columns else "line"
            _draw(ax, g, xcol, ycol, kind, label or None, style)
    ylabel = (
        axis_label(find_column(df, metrics[0])) if len(metrics) == 1 else _common_unit(df, metrics)
    )
    _finish(fig, axes, panels, xcol, ylabel, logy, title)
    if path is None:
        return fig
    fig.savefig(path, dpi=120)
    return Path(path)


def _describe(others: Sequence[str], key: Any) -> str:
    """``name = value unit`` of the other swept columns for one group of rows."""
    key = key if isinstance(key, tuple) else (key,)
    return ", ".join(
        f"{axis_label(c, unit=False)} = {v:g}{_unit_suffix(c)}"
        if isinstance(v, float)
        else f"{axis_label(c, unit=False)} = {v}"
        for c, v in zip(others, key, strict=True)
    )


def _unit_suffix(column: str) -> str:
    unit = column.rsplit(" [", 1)[1].rstrip("]") if " [" in column else ""
    return f" {unit}" if unit and unit != "1" else ""


def axis_label(column: str, unit: bool = True) -> str:
    """A table column as an axis label: ``geometry.pore_diameter [nm]`` -> ``pore diameter [nm]``.

    A dimensionless unit ``[1]`` reads ``[-]``; metric paths keep their species
    (``species.urea.ratio_interior_exterior [1]`` -> ``urea C_I/C_E [-]``).
    """
    path, _, rest = column.partition(" [")
    parts = path.split(".")
    leaf = READABLE.get(parts[-1], parts[-1].replace("_", " "))
    if parts[0] in ("species", "products", "reactions") and len(parts) > 2:
        leaf = f"{'.'.join(parts[1:-1])} {leaf}"
    u = rest.rstrip("]")
    if not unit or not rest:
        return leaf
    return f"{leaf} [{'-' if u == '1' else u}]"


#: Readable names of metric leaves and parameters.
READABLE: dict[str, str] = {
    "ratio_interior_exterior": "C_I/C_E",
    "faradaic_efficiency": "faradaic efficiency",
    "production_mol_s": "production rate",
    "partial_current_density": "partial current density",
    "partial_current_density_A_per_m2": "partial current density",
    "potential": "electrode potential vs RHE",
}


def _draw(
    ax: Any, g: pd.DataFrame, xcol: str, ycol: str, kind: str, label: str | None, style: Any
) -> None:
    """One metric of one group: a ``line``, a ``scatter`` or a median and 5-95 % ``band``."""
    if kind == "band":  # a sampled sweep: median and 5-95 % band over the samples
        q = g.groupby(xcol)[ycol].quantile([0.05, 0.5, 0.95]).unstack()
        ax.fill_between(q.index, q[0.05], q[0.95], alpha=0.25, color=style["color"], lw=0)
        ax.plot(q.index, q[0.5], ms=4, label=label, **style)
    elif kind == "scatter":  # x is itself sampled
        ax.scatter(g[xcol], g[ycol], s=10, label=label, c=style["color"], marker=style["marker"])
    else:
        srt = g.sort_values(xcol)
        ax.plot(srt[xcol], srt[ycol], ms=4, label=label, **style)


def _finish(
    fig: Any, axes: Any, panels: int, xcol: str, ylabel: str, logy: bool, title: str | None
) -> None:
    """Axis labels and scale, unused panels hidden, one legend, the title."""
    for ax in axes[:panels]:
        ax.set_xlabel(axis_label(xcol), fontsize=9)
        ax.set_ylabel(ylabel, fontsize=8)
        if logy:
            ax.set_yscale("log")
    for ax in axes[panels:]:
        ax.set_visible(False)
    handles, names = axes[0].get_legend_handles_labels()
    if handles and panels == 1:
        axes[0].legend(fontsize=7, loc="best", framealpha=0.85)
    elif handles:
        fig.legend(handles, names, loc="outside right upper", fontsize=7)
    if title:
        fig.suptitle(title)


def _swept_columns(df: pd.DataFrame) -> list[str]:
    """Columns between ``point`` and ``status`` (the swept values), without ``sample``."""
    cols = list(df.columns)
    end = cols.index("status") if "status" in cols else 0
    return [c for c in cols[1:end] if c != "sample"]


def _common_unit(df: pd.DataFrame, metrics: Sequence[str]) -> str:
    """The y label several metrics share: their common quantity and unit (``[-]`` for 1)."""
    columns = [find_column(df, m) for m in metrics]
    units = {c.rsplit(" [", 1)[-1].rstrip("]") for c in columns if " [" in c}
    leaves = {c.split(" [")[0].split(".")[-1] for c in columns}
    name = READABLE.get(leaves.pop(), "") if len(leaves) == 1 else ""
    if len(units) != 1:
        return name
    unit = units.pop()
    return f"{name} [{'-' if unit == '1' else unit}]".strip()


MAX_PANELS = 6

DEFAULT_PLOTS: tuple[tuple[str, str, str, bool], ...] = (
    # file stem, x parameter, metric pattern (prefix.*.suffix), log y
    ("ratio-vs-pore-diameter", "geometry.pore_diameter", "species.*.ratio_interior_exterior", True),
    ("production-vs-pore-diameter", "geometry.pore_diameter", "products.*.production_mol_s", True),
    ("fe-vs-potential", "electrode.potential", "products.*.faradaic_efficiency", False),
)


def default_plots(df: pd.DataFrame, spec: SweepSpec, out: str | Path) -> list[Path]:
    """The plots users want first, for the parameters this sweep varies.

    C_I/C_E per species and production rates versus pore size; faradaic
    efficiency of every product, and the partial current density of the first
    declared product, versus potential. Nothing for what was not swept.
    """
    out = Path(out)
    swept = {p.key for p in spec.parameters if not p.sampled}
    written = []
    for stem, x, pattern, logy in DEFAULT_PLOTS:
        if x not in swept:
            continue
        head, tail = pattern.split("*")
        cols = [
            c
            for c in df.columns
            if c.startswith(head)
            and c.split(" [")[0].endswith(tail.rstrip("."))
            and pd.api.types.is_numeric_dtype(df[c])
        ]
        if not cols:
            continue
        out.mkdir(parents=True, exist_ok=True)
        positive = all((df[c].dropna() > 0).all() for c in cols)
        names = {c: c.split(" [")[0][len(head) :].removesuffix(tail) for c in cols}
        ylabel = _common_unit(df, cols)
        path = out / f"{stem}.png"
        plot(df, cols, x, path, spec=spec, logy=logy and positive, title=ylabel, labels=names)
        written.append(path)
    if "electrode.potential" in swept:
        partial = partial_current_plot(df, spec, out)
        if partial is not None:
            written.append(partial)
    return written


def partial_current_plot(df: pd.DataFrame, spec: SweepSpec, out: str | Path) -> Path | None:
    """Partial current density of the first declared product against potential.

    ``products.<first>.partial_current_density_A_per_m2`` (the product's current
    per electrode area), drawn in mA/cm^2 as measurements are reported, one line
    per value of the other swept keys (e.g. per pore size).

    Returns:
        ``partial-current-density-vs-potential.png``, or None when the table has
        no partial current density (no product, or no electrode loading).
    """
    suffix = ".partial_current_density_A_per_m2"
    cols = [
        c for c in df.columns if c.startswith("products.") and c.split(" [")[0].endswith(suffix)
    ]
    if not cols:
        return None
    name = cols[0].split(" [")[0].removeprefix("products.").removesuffix(suffix)
    column = f"products.{name}.partial_current_density [mA/cm^2]"
    j = pd.to_numeric(df[cols[0]], errors="coerce")
    table = df.assign(**{column: j * 0.1})  # 1 A/m^2 = 0.1 mA/cm^2
    if not table.loc[table["status"] == STATUS_DONE, column].notna().any():
        return None
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "partial-current-density-vs-potential.png"
    plot(
        table,
        column,
        "electrode.potential",
        path,
        spec=spec,
        title=f"{name} partial current density [mA/cm²]",
    )
    return path
