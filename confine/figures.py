"""Maps of fields on a cut through a pore: axes in nm, a scale bar, regions outlined and named.

The section is cut with pyvista and drawn with matplotlib (both optional,
imported lazily). Axisymmetric (r, z) fields are mirrored about the axis to
show a full cross-section through the pore; 3D fields are cut by the plane
through the particle centre that contains the pore axis given.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# Off-screen rendering without an X server: VTK's default window on Linux is the X one,
# which warns "bad X server connection" before falling back to EGL. Without a display,
# ask for the EGL window straight away (read when a render window is made, so this
# works even if pyvista was imported first).
if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

from confine.geometry.groups import CELL_GROUPS, UNIONS
from confine.plot_style import ColourScale, colour_scale, nice_length, tick_labels

#: Region names drawn on the maps, by cell tag.
REGION_NAMES: dict[int, str] = {
    CELL_GROUPS["cavity"]: "cavity",
    CELL_GROUPS["pore"]: "pore",
    CELL_GROUPS["pore_layer"]: "layer",
    CELL_GROUPS["cavity_layer"]: "layer",
    CELL_GROUPS["bath"]: "bath",
    CELL_GROUPS["outer_layer"]: "layer",
}

#: Tags of the cells where adsorbed species (coverages) live.
CATALYST_TAGS: frozenset[int] = frozenset(CELL_GROUPS[n] for n in UNIONS["catalyst_layer"])


def _mirror(grid: Any) -> Any:
    """Append the mirror image of an (r, z) grid about r = 0."""
    mirrored = grid.copy()
    mirrored.points[:, 0] *= -1.0
    return grid.merge(mirrored, merge_points=False)


def section(grid: Any, axisymmetric: bool, axis: Sequence[float] = (0.0, 0.0, 1.0)) -> Any:
    """The 2D section that figures show: mirrored (r, z), or a slice containing ``axis``."""
    if axisymmetric:
        return _mirror(grid)
    return grid.slice(normal=_view_normal(axis), origin=(0.0, 0.0, 0.0))


def _view_normal(axis: Sequence[float]) -> list[float]:
    a = np.asarray(axis, dtype=float)
    a = a / np.linalg.norm(a)
    trial = np.array([1.0, 0.0, 0.0]) if abs(a[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    n = np.cross(a, trial)
    return list(n / np.linalg.norm(n))


@dataclass(frozen=True)
class Plane:
    """A section flattened for matplotlib: in-plane coordinates (nm) and triangles.

    Attributes:
        x: horizontal coordinate of each point (nm).
        y: coordinate along the pore axis of each point (nm).
        triangles: (n, 3) point indices.
        tags: subdomain tag of each triangle (0 when unknown).
        data: point fields by name.
    """

    x: np.ndarray
    y: np.ndarray
    triangles: np.ndarray
    tags: np.ndarray
    data: Mapping[str, np.ndarray]


def flatten(
    grid: Any,
    axisymmetric: bool,
    axis: Sequence[float] = (0.0, 0.0, 1.0),
    radial_window: tuple[float, float] | None = None,
) -> Plane:
    """The section of ``grid`` as triangles in the plane, optionally clipped to a shell."""
    cut = section(grid, axisymmetric, axis)
    if radial_window is not None:
        cut.point_data["_radius"] = np.linalg.norm(cut.points, axis=1)
        cut = cut.clip_scalar(scalars="_radius", value=radial_window[1], invert=True)
        cut = cut.clip_scalar(scalars="_radius", value=radial_window[0], invert=False)
    surf = cut.extract_surface(algorithm="dataset_surface").triangulate()
    faces = np.asarray(surf.faces).reshape(-1, 4)[:, 1:]
    pts = np.asarray(surf.points, dtype=float)
    if axisymmetric:
        x, y = pts[:, 0], pts[:, 1]
    else:
        a = np.asarray(axis, dtype=float)
        a = a / np.linalg.norm(a)
        e1 = np.cross(np.asarray(_view_normal(axis)), a)
        x, y = pts @ e1, pts @ a
    tags = (
        np.asarray(surf.cell_data["subdomain"], dtype=int)
        if "subdomain" in surf.cell_data
        else np.zeros(len(faces), dtype=int)
    )
    data = {n: np.asarray(surf.point_data[n], dtype=float) for n in surf.point_data}
    return Plane(x, y, faces, tags, data)


def render_field(
    plane: Plane,
    name: str,
    path: Path,
    *,
    unit: str = "mol/L",
    quantity: str | None = None,
    log_scale: bool = False,
    reference: float | None = None,
    live_tags: Collection[int] | None = None,
    subtitle: str = "",
) -> float:
    """Draw one point field on the flattened section to a PNG.

    Args:
        plane: the section (:func:`flatten`).
        quantity: the symbol on the colour bar (default ``c(name)``).
        log_scale: a log colour scale when the values span over a factor 100.
        reference: the bulk value a near-constant field is shown relative to.
        live_tags: draw only the cells with these subdomain tags (e.g. coverages
            on the catalyst layer); the others are left blank, outlined.
        subtitle: a second title line (case, potential).

    Returns:
        The pixel standard deviation of the image (0 means blank).
    """
    # lazy: matplotlib is optional (the viz extra) and slow to import; no pyplot: no global state
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure
    from matplotlib.tri import Triangulation

    mask = hidden(plane, live_tags)
    shown = shown_points(plane, mask)
    values = plane.data[name]
    scale = colour_scale(
        values[shown], quantity or f"c({name})", unit, reference=reference, log=log_scale
    )
    colours = np.full(len(values), np.nan)
    colours[shown] = scale.values
    colours[~np.isfinite(colours)] = np.nanmin(scale.values) if shown.size else 0.0
    fig = Figure(figsize=_figsize(plane), dpi=130, layout="constrained")
    ax = fig.add_subplot()
    tri = Triangulation(plane.x, plane.y, plane.triangles, mask=mask)
    norm = LogNorm() if scale.log else None
    mesh = ax.tripcolor(tri, colours, shading="gouraud", cmap="viridis", norm=norm)
    if mask.any():  # where the field does not live: grey, said so
        ax.tripcolor(
            Triangulation(plane.x, plane.y, plane.triangles, mask=~mask),
            facecolors=np.zeros(len(plane.triangles)),
            cmap="Greys",
            vmin=-1.0,
            vmax=8.0,
        )
        ax.text(
            0.98, 0.01, "grey: not defined here", transform=ax.transAxes, ha="right", fontsize=7
        )
    _colour_bar(fig, ax, mesh, scale)
    _outline_regions(ax, plane)
    _axes_in_nm(ax, plane)
    ax.set_title(scale.title + (f"\n{subtitle}" if subtitle else ""), fontsize=10)
    canvas = FigureCanvasAgg(fig)
    fig.savefig(path)
    img = np.asarray(canvas.buffer_rgba(), dtype=float)
    return float(img[..., :3].std())


def hidden(plane: Plane, live_tags: Collection[int] | None) -> np.ndarray:
    """Per triangle: True where the field does not live (outside ``live_tags``)."""
    if live_tags is None:
        return np.zeros(len(plane.triangles), dtype=bool)
    return ~np.isin(plane.tags, list(live_tags))


def shown_points(plane: Plane, mask: np.ndarray) -> np.ndarray:
    """The points of the drawn triangles (whose values set the colour scale)."""
    if mask.all():
        return np.arange(len(plane.x))
    return np.unique(plane.triangles[~mask])


def _figsize(plane: Plane) -> tuple[float, float]:
    w = float(np.ptp(plane.x)) or 1.0
    h = float(np.ptp(plane.y)) or 1.0
    height = 6.0
    return (min(max(height * w / h + 2.2, 4.6), 11.0), height)


def _colour_bar(fig: Any, ax: Any, mesh: Any, scale: ColourScale) -> None:
    """A colour bar whose tick labels are all distinct."""
    from matplotlib.ticker import MaxNLocator  # lazy: see render_field

    bar = fig.colorbar(mesh, ax=ax, shrink=0.85)
    bar.set_label(scale.label)
    if not scale.log:
        lo, hi = mesh.get_clim()
        ticks = [t for t in MaxNLocator(nbins=6).tick_values(lo, hi) if lo <= t <= hi]
        if len(ticks) >= 2:
            bar.set_ticks(ticks, labels=tick_labels(ticks))


def _outline_regions(ax: Any, plane: Plane) -> None:
    """Draw the borders between subdomains and the domain's edge, and name each region."""
    from matplotlib.collections import LineCollection  # lazy: see render_field

    tris, tags = plane.triangles, plane.tags
    edges = np.sort(np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]]), axis=1)
    owner = np.concatenate([tags, tags, tags])
    xy = np.column_stack([np.round(plane.x, 9), np.round(plane.y, 9)])
    # points of the mirrored half are duplicated: identify edges by coordinates
    ends = np.concatenate([xy[edges[:, 0]], xy[edges[:, 1]]], axis=1)
    ends = np.where(_swap(ends), _flip(ends), ends)
    _, inverse, counts = np.unique(ends, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    low = np.full(counts.size, np.iinfo(int).max)
    high = np.full(counts.size, np.iinfo(int).min)
    np.minimum.at(low, inverse, owner)
    np.maximum.at(high, inverse, owner)
    mixed = low != high
    border = mixed[inverse] | (counts[inverse] == 1)
    segs = ends[border].reshape(-1, 2, 2)
    ax.add_collection(LineCollection(segs, colors="white", linewidths=0.6, alpha=0.9))
    placed: list[tuple[float, float]] = []
    order = sorted(
        np.unique(tags), key=lambda t: REGION_NAMES.get(int(t), "") in ("cavity", "bath")
    )
    for tag in order:  # thin regions (layers, pore) first: broad ones have room to move
        name = REGION_NAMES.get(int(tag))
        if name is None:
            continue
        cx = plane.x[tris[tags == tag]].mean(axis=1)
        cy = plane.y[tris[tags == tag]].mean(axis=1)
        ax.annotate(
            name,
            _free_spot(cx, cy, placed, plane),
            ha="center",
            va="center",
            fontsize=8,
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.75},
        )


def _free_spot(
    cx: np.ndarray, cy: np.ndarray, placed: list[tuple[float, float]], plane: Plane
) -> tuple[float, float]:
    """The cell centre of a region nearest its median that no earlier label covers."""
    dy = 0.04 * float(np.ptp(plane.y))
    dx = 0.3 * float(np.ptp(plane.x))
    order = np.argsort((cx - np.median(cx)) ** 2 + (cy - np.median(cy)) ** 2)
    spot = (float(cx[order[0]]), float(cy[order[0]]))
    for k in order:
        if all(abs(cx[k] - px) >= dx or abs(cy[k] - py) >= dy for px, py in placed):
            spot = (float(cx[k]), float(cy[k]))
            break
    placed.append(spot)
    return spot


def _swap(ends: np.ndarray) -> np.ndarray:
    """True where the edge's first end sorts after its second (lexicographically)."""
    first_after = (ends[:, 0] > ends[:, 2]) | (
        (ends[:, 0] == ends[:, 2]) & (ends[:, 1] > ends[:, 3])
    )
    return first_after[:, None]


def _flip(ends: np.ndarray) -> np.ndarray:
    return np.concatenate([ends[:, 2:], ends[:, :2]], axis=1)


def _axes_in_nm(ax: Any, plane: Plane) -> None:
    """Equal axes labelled in nm, and a scale bar."""
    from matplotlib.patches import Rectangle  # lazy: see render_field

    ax.set_aspect("equal")
    ax.set_xlabel("across the pore [nm]")
    ax.set_ylabel("distance from the particle centre along the pore axis [nm]")
    x0, x1 = float(plane.x.min()), float(plane.x.max())
    y0, y1 = float(plane.y.min()), float(plane.y.max())
    pad = 0.04 * max(x1 - x0, y1 - y0)
    ax.set_xlim(x0 - pad, x1 + pad)
    ax.set_ylim(y0 - pad, y1 + pad)
    length = nice_length(max(x1 - x0, 0.3 * (y1 - y0)))
    bx, by = x0, y0 - 0.6 * pad
    ax.add_patch(Rectangle((bx, by), length, 0.25 * pad, color="black", clip_on=False))
    ax.annotate(
        f"{length:g} nm", (bx + length / 2, by + 0.3 * pad), ha="center", va="bottom", fontsize=8
    )


def render_fields(
    plane: Plane,
    names: Sequence[str],
    out_dir: Path,
    *,
    units: Mapping[str, str] | None = None,
    quantities: Mapping[str, str] | None = None,
    references: Mapping[str, float] | None = None,
    live: Mapping[str, Collection[int]] | None = None,
    subtitle: str = "",
) -> dict[str, Path]:
    """One PNG per field into ``out_dir``; blank renders raise.

    Args:
        plane: the section (:func:`flatten`), cut once for every field (under MPI,
            once on rank 0 and shared: each rank draws some of the fields).
        units: the unit of each field's colour bar (default mol/L).
        quantities: the symbol of each field (default ``c(name)``).
        references: bulk values, for fields shown relative to them (< 1 % variation).
        live: the subdomain tags where a field is drawn (others left blank).

    Raises:
        RuntimeError: a rendered image has no contrast (blank).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name in names:
        path = out_dir / f"{safe_name(name)}.png"
        spread = render_field(
            plane,
            name,
            path,
            unit=(units or {}).get(name, "mol/L"),
            quantity=(quantities or {}).get(name),
            log_scale=True,
            reference=(references or {}).get(name),
            live_tags=(live or {}).get(name),
            subtitle=subtitle,
        )
        if spread == 0.0:
            raise RuntimeError(f"figure of {name} is blank")
        written[name] = path
    return written


def safe_name(name: str) -> str:
    """A file-name-safe form of a species name (*H -> ads_H, NO3- -> NO3m)."""
    return (
        name.replace("*", "ads_")
        .replace("+", "p")
        .replace("-", "m")
        .replace("^", "")
        .replace("/", "_")
    )
