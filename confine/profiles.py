"""Profiles along the pore axis, and the one-page overview of a run (profiles + key metrics).

matplotlib is imported only when a figure is drawn (optional, slow to import).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from confine import document
from confine.figures import REGION_NAMES
from confine.plot_style import series_style

#: Background of each region along the axis (light, so the curves stay readable).
REGION_SHADES: dict[str, str] = {
    "cavity": "#DCEFFA",
    "layer": "#FBE3CC",
    "pore": "#D5EFE6",
    "bath": "#E8E8F4",
}


def sample_axis(
    grid: Any,
    names: Sequence[str],
    *,
    axisymmetric: bool,
    r_range: tuple[float, float],
    axis: Sequence[float] = (0.0, 0.0, 1.0),
    n: int = 400,
) -> dict[str, np.ndarray]:
    """Fields and subdomain tags sampled along the pore axis, ``{"r": radii (nm), ...}``."""
    a = np.asarray(axis, dtype=float)
    a /= np.linalg.norm(a)
    if axisymmetric:
        a = np.array([0.0, 1.0, 0.0])  # the (r, z) cell: z is the pore axis
    eps = 1e-6 * r_range[1]  # stay inside the domain on r = 0
    off = np.array([eps, 0.0, 0.0]) if axisymmetric else np.zeros(3)
    line = grid.sample_over_line(a * r_range[0] + off, a * r_range[1] + off, resolution=n - 1)
    radius = np.linalg.norm(line.points - off, axis=1)
    valid = np.asarray(line.point_data.get("vtkValidPointMask", np.ones(len(radius))), bool)
    out: dict[str, np.ndarray] = {"r": radius[valid]}
    for name in [*names, "subdomain"]:
        if name in line.point_data:
            out[name] = np.asarray(line.point_data[name], dtype=float)[valid]
    return out


#: What a region is called along a film (x from the current collector).
FILM_REGIONS = {"layer": "film", "bath": "Nernst layer"}


def _shade_regions(
    ax: Any, profiles: Mapping[str, np.ndarray], labels: Mapping[str, str] | None = None
) -> None:
    """Shade and name the stretches of the axis that lie in each region."""
    if "subdomain" not in profiles or profiles["r"].size < 2:
        return
    r = profiles["r"]
    names = [REGION_NAMES.get(round(t), "") for t in profiles["subdomain"]]
    start = 0
    for i in range(1, len(r) + 1):
        if i < len(r) and names[i] == names[start]:
            continue
        name = names[start]
        lo, hi = r[start], r[min(i, len(r) - 1)]
        if name:
            ax.axvspan(lo, hi, color=REGION_SHADES.get(name, "0.92"), lw=0, zorder=0)
            ax.text(
                (lo + hi) / 2 if labels is None or lo <= 0 else np.sqrt(lo * hi),
                0.01,
                name if labels is None else labels.get(name, name),
                ha="center",
                va="bottom",
                fontsize=8,
                color="0.3",
                transform=ax.get_xaxis_transform(),
            )
        start = i


def draw_profiles(
    ax: Any,
    profiles: Mapping[str, np.ndarray],
    names: Sequence[str],
    ylabel: str,
    xlabel: str = "distance from the particle centre along the pore axis [nm]",
    regions: Mapping[str, str] | None = None,
) -> None:
    """Curves of ``names`` over shaded regions (named by ``regions``), log y.

    Each species keeps one colour and marker in every figure of a run: its
    place among all the sampled species picks them.
    """
    r = profiles["r"]
    every = max(len(r) // 12, 1)
    everyone = [n for n in profiles if n not in ("r", "subdomain")]
    for i, name in enumerate(names):
        values = profiles[name]
        if np.any(values > 0):
            style = series_style(everyone.index(name) if name in everyone else i)
            ax.plot(
                r,
                np.where(values > 0, values, np.nan),
                label=name,
                markevery=(i * every // max(len(names), 1), every),  # markers staggered
                ms=4,
                lw=1.3,
                **style,
            )
    _shade_regions(ax, profiles, regions)
    ax.set_yscale("log")
    ax.set_xlim(float(r.min()), float(r.max()))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


def render_profiles(
    grid: Any,
    names: Sequence[str],
    path: Path,
    *,
    axisymmetric: bool,
    r_range: tuple[float, float],
    axis: Sequence[float] = (0.0, 0.0, 1.0),
    subtitle: str = "",
    n: int = 400,
) -> dict[str, np.ndarray]:
    """Concentration profiles along the pore axis, from the bath to the cavity centre.

    Args:
        r_range: (r_min, r_max) distances from the centre along the axis (nm).
        subtitle: the title (case, potential).

    Returns:
        The sampled profiles, ``{"r": radii, name: values, "subdomain": tags}``.
    """
    # lazy: matplotlib is optional (the viz extra) and slow to import; no pyplot: no global state
    from matplotlib.figure import Figure

    out = sample_axis(grid, names, axisymmetric=axisymmetric, r_range=r_range, axis=axis, n=n)
    fig = Figure(figsize=(9, 5), dpi=130, layout="constrained")
    ax = fig.add_subplot()
    draw_profiles(ax, out, names, "concentration [mol/L]")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    if subtitle:
        ax.set_title(subtitle, fontsize=10)
    fig.savefig(path)
    return out


def render_film_profiles(
    grid: Any, names: Sequence[str], path: Path, *, subtitle: str = "", n: int = 600
) -> dict[str, np.ndarray]:
    """Profiles through a 1D film, from the current collector across the film and the
    Nernst layer to the bulk: concentrations (log) above, pH and φ below. x is linear
    across the film and logarithmic beyond it (symlog), so a µm film under a 100 µm
    layer stays readable.

    Returns:
        The sampled profiles, ``{"r": x (µm), name: values, "subdomain": tags}``.
    """
    from matplotlib.figure import Figure  # lazy: see render_profiles

    length = float(grid.bounds[1])  # nm
    out = sample_axis(
        grid, [*names, "phi"], axisymmetric=False, r_range=(0.0, length), axis=(1, 0, 0), n=n
    )
    out["r"] = out["r"] * 1e-3  # nm -> µm
    tags = out.get("subdomain", np.zeros(0))
    in_film = out["r"][np.array([REGION_NAMES.get(round(t)) == "layer" for t in tags], bool)]
    film = float(in_film.max()) if in_film.size else float(out["r"].max()) / 100
    fig = Figure(figsize=(9, 7.5), dpi=130, layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    draw_profiles(top, out, names, "concentration [mol/L]", "", FILM_REGIONS)
    top.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    if "H+" in out:
        with np.errstate(divide="ignore", invalid="ignore"):
            bottom.plot(out["r"], -np.log10(out["H+"]), color="k", lw=1.4, label="pH")
        bottom.set_ylabel("pH")
    if "phi" in out:
        twin = bottom.twinx()
        twin.plot(out["r"], out["phi"] * 1e3, color="tab:red", lw=1.2, ls="--")
        twin.set_ylabel("φ (solution) [mV]", color="tab:red")
    _shade_regions(bottom, out, FILM_REGIONS)
    for ax in (top, bottom):
        ax.set_xscale("symlog", linthresh=film)
        ax.set_xlim(0.0, float(out["r"].max()))
    bottom.set_xlabel("distance from the current collector [µm] (linear in the film, log beyond)")
    if subtitle:
        top.set_title(subtitle, fontsize=10)
    fig.savefig(path)
    return out


#: Readable names of the places metrics are taken at.
PLACES: dict[str, str] = {
    "mouth_outer": "outer pore mouth",
    "mouth_inner": "inner pore mouth",
    "cavity": "cavity",
    "bath": "bath",
}


def key_metrics(metrics: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The rows of the overview's table: current, FE per product, C_I/C_E, pH, mass balance."""
    rows: list[tuple[str, str]] = []

    def add(label: str, path: str, scale: float = 1.0, fmt: str = "{:.3g}") -> None:
        try:
            v = document.value(metrics, path)
        except KeyError:
            return
        if isinstance(v, int | float) and not isinstance(v, bool):
            rows.append((label, fmt.format(v * scale)))

    add("current density [mA/cm²]", "current_density_A_per_m2", 0.1)
    add("current [A]", "current_A")
    for product in metrics.get("products", {}):
        add(f"FE {product} [%]", f"products.{product}.faradaic_efficiency", 100.0, "{:.2f}")
    for product in metrics.get("products", {}):
        add(f"C_I/C_E {product} [-]", f"species.{product}.ratio_interior_exterior")
    for where in metrics.get("local_pH", {}):
        place = PLACES.get(where, where.replace("_", " "))
        add(f"pH ({place})", f"local_pH.{where}", fmt="{:.2f}")
    add("mass balance error [-]", "mass_balance_relative_error", fmt="{:.1e}")
    return rows


def render_overview(
    profiles: Mapping[str, np.ndarray],
    names: Sequence[str],
    metrics: Mapping[str, Any],
    path: Path,
    *,
    subtitle: str = "",
) -> Path:
    """One figure per run: profiles of the main species and a table of key metrics.

    C_I/C_E is the mean concentration in the cavity over that at the pores'
    outer mouths (the metrics document's ``definitions`` say so in full).
    """
    from matplotlib.figure import Figure  # lazy: see render_profiles

    fig = Figure(figsize=(12, 5.2), dpi=130, layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[2.2, 1])
    draw_profiles(left, profiles, names, "concentration [mol/L]")
    left.legend(fontsize=8, loc="upper left", ncol=2, framealpha=0.85)
    left.set_title("along the pore axis", fontsize=10)
    right.axis("off")
    rows = key_metrics(metrics)
    if rows:
        table = right.table(cellText=rows, colLabels=["metric", "value"], loc="upper center")
        table.auto_set_font_size(False)
        table.set_fontsize(8.5)
        table.scale(1.0, 1.25)
    right.set_title("key metrics (C_I/C_E: cavity / outer pore mouth)", fontsize=10)
    fig.suptitle(subtitle or "overview", fontsize=11)
    fig.savefig(path)
    return path


def main_species(
    profiles: Mapping[str, np.ndarray], products: Sequence[str], limit: int = 8
) -> list[str]:
    """Products first, then the species that vary most along the axis (by max/min)."""
    chosen = [p for p in products if p in profiles][:limit]
    spread = {
        n: float(np.nanmax(v) / np.nanmin(v))
        for n, v in profiles.items()
        if n not in ("r", "subdomain") and n not in chosen and np.nanmin(v) > 0
    }
    ranked = sorted((s for s in spread if spread[s] > 1.01), key=lambda s: -spread[s])
    return chosen + ranked[: max(limit - len(chosen), 0)]
