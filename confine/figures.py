"""PNG figures of fields, rendered off-screen with pyvista (imported lazily).

Axisymmetric (r, z) fields are mirrored about the axis to show a full
cross-section through the pore; 3D fields are cut by the plane through the
particle centre that contains the pore axis given.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


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
    window: tuple[int, int] = (900, 900),
) -> float:
    """Render one point field on the section to a PNG.

    Returns:
        The pixel standard deviation of the image (0 means blank).
    """
    import pyvista as pv

    pv.OFF_SCREEN = True
    cut = section(grid, axisymmetric, axis)
    data = np.asarray(cut.point_data[name], dtype=float)
    positive = data[data > 0]
    use_log = log_scale and positive.size > 0 and positive.max() / positive.min() > 100
    if use_log:
        cut.point_data[name] = np.clip(data, positive.min(), None)
    plotter = pv.Plotter(off_screen=True, window_size=list(window))
    plotter.set_background("white")
    plotter.add_mesh(
        cut,
        scalars=name,
        cmap="viridis",
        log_scale=use_log,
        scalar_bar_args={"title": f"{name} [{unit}]", "color": "black", "vertical": True},
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
) -> dict[str, Path]:
    """One PNG per field into ``out_dir``; blank renders raise.

    Raises:
        RuntimeError: a rendered image has no contrast (blank).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name in names:
        path = out_dir / f"{_safe(name)}.png"
        spread = render_field(
            grid, name, path, axisymmetric=axisymmetric, axis=axis, log_scale=True
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
