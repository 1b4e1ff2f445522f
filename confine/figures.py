"""PNG figures of fields, rendered off-screen with pyvista (imported lazily).

Axisymmetric (r, z) fields are mirrored about the axis to show a full
cross-section through the pore; 3D fields are cut by the plane through the
particle centre that contains the pore axis given.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

# Off-screen rendering without an X server: VTK's default window on Linux is the X one,
# which warns "bad X server connection" before falling back to EGL. Without a display,
# ask for the EGL window straight away (read when a render window is made, so this
# works even if pyvista was imported first).
if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")


def _mirror(grid: Any) -> Any:
    """Append the mirror image of an (r, z) grid about r = 0."""
    mirrored = grid.copy()
    mirrored.points[:, 0] *= -1.0
    return grid.merge(mirrored, merge_points=False)


def section(grid: Any, axisymmetric: bool, axis: Sequence[float] = (0.0, 0.0, 1.0)) -> Any:
    """The 2D section that figures show: mirrored (r, z), or a slice containing ``axis``."""
    if axisymmetric:
        return _mirror(grid)
    a = np.asarray(axis, dtype=float)
    a /= np.linalg.norm(a)
    trial = np.array([1.0, 0.0, 0.0]) if abs(a[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    normal = np.cross(a, trial)
    normal /= np.linalg.norm(normal)
    return grid.slice(normal=normal, origin=(0.0, 0.0, 0.0))


def render_field(
    grid: Any,
    name: str,
    path: Path,
    *,
    axisymmetric: bool,
    axis: Sequence[float] = (0.0, 0.0, 1.0),
    unit: str = "mol/L",
    log_scale: bool = False,
    radial_window: tuple[float, float] | None = None,
    window: tuple[int, int] = (1000, 800),
) -> float:
    """Render one point field on the section to a PNG.

    Args:
        radial_window: show only points whose distance from the particle
            centre lies in (r_min, r_max) (mesh units): a zoom on the shell.

    Returns:
        The pixel standard deviation of the image (0 means blank).
    """
    import pyvista as pv  # optional (the viz extra), and slow to import

    pv.OFF_SCREEN = True
    cut = section(grid, axisymmetric, axis)
    if radial_window is not None:
        cut.point_data["_radius"] = np.linalg.norm(cut.points, axis=1)
        cut = cut.clip_scalar(scalars="_radius", value=radial_window[1], invert=True)
        cut = cut.clip_scalar(scalars="_radius", value=radial_window[0], invert=False)
    data = np.asarray(cut.point_data[name], dtype=float)
    positive = data[data > 0]
    use_log = bool(log_scale and positive.size > 0 and positive.max() / positive.min() > 100)
    if use_log:
        cut.point_data[name] = np.clip(data, positive.min(), None)
    plotter = pv.Plotter(off_screen=True, window_size=list(window))
    plotter.set_background("white")
    plotter.add_mesh(
        cut,
        scalars=name,
        cmap="viridis",
        log_scale=use_log,
        scalar_bar_args={
            "title": f"{name} [{unit}]",
            "color": "black",
            "vertical": True,
            "position_x": 0.82,
            "position_y": 0.1,
            "width": 0.08,
            "height": 0.8,
            "fmt": "%.3g",
        },
    )
    if axisymmetric:
        plotter.view_xy()
    else:
        plotter.view_vector(_view_normal(axis))
    plotter.add_text(name, color="black", font_size=12)
    img = plotter.screenshot(str(path), return_img=True)
    plotter.close()
    return float(np.asarray(img, dtype=float).std())


def _view_normal(axis: Sequence[float]) -> list[float]:
    a = np.asarray(axis, dtype=float)
    trial = np.array([1.0, 0.0, 0.0]) if abs(a[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    n = np.cross(a, trial)
    return list(n / np.linalg.norm(n))


def render_fields(
    grid: Any,
    names: Sequence[str],
    out_dir: Path,
    *,
    axisymmetric: bool,
    axis: Sequence[float] = (0.0, 0.0, 1.0),
    units: Mapping[str, str] | None = None,
    radial_window: tuple[float, float] | None = None,
) -> dict[str, Path]:
    """One PNG per field into ``out_dir``; blank renders raise.

    ``units`` labels each colour bar (default mol/L).

    Raises:
        RuntimeError: a rendered image has no contrast (blank).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name in names:
        path = out_dir / f"{_safe(name)}.png"
        spread = render_field(
            grid,
            name,
            path,
            axisymmetric=axisymmetric,
            axis=axis,
            unit=(units or {}).get(name, "mol/L"),
            log_scale=True,
            radial_window=radial_window,
        )
        if spread == 0.0:
            raise RuntimeError(f"figure of {name} is blank")
        written[name] = path
    return written


def _safe(name: str) -> str:
    """A file-name-safe form of a species name (*H -> ads_H, NO3- -> NO3m)."""
    return (
        name.replace("*", "ads_")
        .replace("+", "p")
        .replace("-", "m")
        .replace("^", "")
        .replace("/", "_")
    )


def render_profiles(
    grid: Any,
    names: Sequence[str],
    path: Path,
    *,
    axisymmetric: bool,
    r_range: tuple[float, float],
    axis: Sequence[float] = (0.0, 0.0, 1.0),
    marks: Mapping[str, float] | None = None,
    n: int = 400,
) -> dict[str, np.ndarray]:
    """Concentration profiles along the pore axis, from the bath to the cavity centre.

    Args:
        r_range: (r_min, r_max) distances from the centre along the axis (mesh units).
        marks: labelled radii drawn as vertical lines (e.g. pore mouths).

    Returns:
        The sampled profiles, ``{"r": radii, name: values, ...}``.
    """
    import matplotlib  # slow to import (~0.3 s): only when a figure is drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    ax.set_prop_cycle(color=[plt.get_cmap("tab20")(i) for i in range(20)])
    for name in names:
        values = np.asarray(line.point_data[name], dtype=float)[valid]
        out[name] = values
        if np.any(values > 0):
            ax.plot(out["r"], np.where(values > 0, values, np.nan), label=name)
    for label, r in (marks or {}).items():
        ax.axvline(r, color="0.5", lw=0.8, ls="--")
        ax.text(
            r,
            1.0,
            f" {label}",
            rotation=90,
            va="top",
            fontsize=8,
            transform=ax.get_xaxis_transform(),
        )
    ax.set_yscale("log")
    ax.set_xlabel("distance from the particle centre along the pore axis [nm]")
    ax.set_ylabel("concentration [mol/L]")
    ax.legend(fontsize=7, ncol=2, loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return out
