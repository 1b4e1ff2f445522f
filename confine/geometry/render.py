"""Pictures of a meshed gmsh model: a slice through a pore, coloured by group.

pyvista is imported lazily (optional dependency, off-screen rendering).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gmsh
import numpy as np

from confine.geometry.groups import CELL_GROUPS
from confine.geometry.info import GeometryInfo
from confine.geometry.lattice import pore_directions
from confine.geometry.model import build_model, generate_mesh, gmsh_session

#: One colour per cell group (colour-blind friendly, Okabe–Ito).
COLOURS = {
    "cavity": "#56B4E9",
    "pore": "#009E73",
    "pore_layer": "#D55E00",
    "cavity_layer": "#E69F00",
    "bath": "#0072B2",
    "outer_layer": "#CC79A7",
}


def _cells_near_plane(
    dim: int, normal: np.ndarray | None, origin: np.ndarray
) -> tuple[np.ndarray, list[np.ndarray], list[str]]:
    """Mesh nodes, per-group connectivity of the cells (only those the plane cuts in 3D)."""
    tags, coords, _ = gmsh.model.mesh.getNodes()
    xyz = np.zeros((int(tags.max()) + 1, 3))
    xyz[tags.astype(int)] = np.asarray(coords).reshape(-1, 3)
    conns, names = [], []
    for d, ptag in gmsh.model.getPhysicalGroups(dim):
        name = gmsh.model.getPhysicalName(d, ptag)
        if name not in CELL_GROUPS:
            continue
        for ent in gmsh.model.getEntitiesForPhysicalGroup(d, ptag):
            _, _, enodes = gmsh.model.mesh.getElements(d, int(ent))
            for c in enodes:
                conn = np.asarray(c, dtype=np.int64).reshape(-1, d + 1)
                if normal is not None:
                    side = (xyz[conn] - origin) @ normal
                    conn = conn[(side.min(axis=1) <= 0) & (side.max(axis=1) >= 0)]
                if len(conn):
                    conns.append(conn)
                    names.append(name)
    return xyz, conns, names


def _slice_plane(info: GeometryInfo) -> tuple[np.ndarray | None, np.ndarray]:
    """The plane a 3D model is cut along (through a pore's axis) and the picture basis.

    Returns:
        The plane's normal (None in 2D: no cut) and the rows picture x,
        picture y, view direction.
    """
    if info.dimension != 3:
        return None, np.eye(3)
    if info.model == "full-3d" and info.pore_count:
        dirs = pore_directions(info.pore_count)
        axis = dirs[int(np.argmax(dirs[:, 2]))]
    else:
        axis = np.array([0.0, 0.0, 1.0])
    helper = np.array([1.0, 0.0, 0.0]) if abs(axis[0]) < 0.9 else np.array([0, 1.0, 0])
    normal = np.cross(axis, helper)
    normal /= np.linalg.norm(normal)
    e1 = np.cross(normal, axis)
    return normal, np.vstack([e1, axis, normal])


def render_slice(
    info: GeometryInfo,
    path: Path,
    *,
    window: Sequence[float] | None = None,
    title: str | None = None,
    edges: bool = True,
    size: tuple[int, int] = (1400, 1000),
) -> Path:
    """Write a PNG of the current meshed model: the 2D cell, or a slice through a pore.

    Args:
        info: what the builder made (level, pore count).
        path: PNG file to write.
        window: (xmin, xmax, ymin, ymax) in the picture plane (nm), or None for all.
        title: text in the corner.
        edges: draw cell edges.
        size: image size in pixels.

    Returns:
        The PNG path.
    """
    import pyvista as pv  # optional (the viz extra), and slow to import

    dim = info.dimension
    origin = np.zeros(3)
    normal, basis = _slice_plane(info)
    xyz, conns, names = _cells_near_plane(dim, normal, origin)
    cell_type = pv.CellType.TRIANGLE if dim == 2 else pv.CellType.TETRA
    blocks = []
    for conn, name in zip(conns, names, strict=True):
        cells = np.hstack([np.full((len(conn), 1), dim + 1), conn]).ravel()
        grid = pv.UnstructuredGrid(cells, np.full(len(conn), cell_type, dtype=np.uint8), xyz)
        grid = grid.extract_cells(np.arange(grid.n_cells))
        grid.cell_data["group"] = np.full(grid.n_cells, CELL_GROUPS[name])
        if dim == 3:
            grid = grid.slice(normal=normal, origin=origin)
        pts = np.asarray(grid.points) @ basis.T
        pts[:, 2] = 0.0
        grid.points = pts
        blocks.append((name, grid))
    pv.OFF_SCREEN = True
    plotter = pv.Plotter(off_screen=True, window_size=list(size))
    plotter.set_background("white")
    labelled: set[str] = set()
    for name, grid in blocks:
        if window is not None:
            x0, x1, y0, y1 = window
            grid = grid.clip_box([x0, x1, y0, y1, -1.0, 1.0], invert=False)
        if grid.n_cells == 0:
            continue
        plotter.add_mesh(
            grid,
            color=COLOURS.get(name, "grey"),
            show_edges=edges,
            edge_color="#333333",
            line_width=0.4,
            label=None if name in labelled else name,
        )
        labelled.add(name)
    plotter.add_legend(bcolor="white", face="rectangle", size=(0.16, 0.2))
    if title:
        plotter.add_text(title, position="upper_left", font_size=11, color="black")
    plotter.view_xy()
    if window is not None:
        plotter.reset_camera(bounds=[window[0], window[1], window[2], window[3], 0, 0])
        plotter.camera.zoom(1.0)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plotter.screenshot(str(path))
    plotter.close()
    return path


def render_case(
    case: Any,
    path: Path,
    *,
    window: Sequence[float] | None = None,
    title: str | None = None,
    edges: bool = True,
) -> GeometryInfo:
    """Build, mesh and render a case (gmsh only, no dolfinx)."""
    with gmsh_session():
        info = build_model(case)
        generate_mesh(info, case.mesh.threads)
        render_slice(info, path, window=window, title=title, edges=edges)
    return info
