"""Pictures of a meshed gmsh model: a slice through a pore, coloured by group.

matplotlib draws (axes in nm, scale bar, legend of the groups); pyvista cuts the
3D cells. Both are optional and imported lazily.
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
from confine.plot_style import nice_length

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


def _group_polygons(
    dim: int, normal: np.ndarray | None, basis: np.ndarray
) -> list[tuple[str, np.ndarray]]:
    """Per cell group, the triangles of the picture, (n, 3, 2) in picture coordinates (nm)."""
    origin = np.zeros(3)
    xyz, conns, names = _cells_near_plane(dim, normal, origin)
    out = []
    for conn, name in zip(conns, names, strict=True):
        if dim == 2:
            pts, tris = xyz, conn
        else:
            import pyvista as pv  # optional (the viz extra), slow to import: only to cut 3D cells

            cells = np.hstack([np.full((len(conn), 1), 4), conn]).ravel()
            types = np.full(len(conn), pv.CellType.TETRA, dtype=np.uint8)
            grid = pv.UnstructuredGrid(cells, types, xyz).extract_cells(np.arange(len(conn)))
            cut = grid.slice(normal=normal, origin=origin).triangulate()
            if cut.n_cells == 0:
                continue
            pts, tris = np.asarray(cut.points), np.asarray(cut.faces).reshape(-1, 4)[:, 1:]
        flat = (pts @ basis.T)[:, :2]
        out.append((name, flat[tris]))
    return out


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

    Axes in nm, a scale bar, a colour per cell group with its name in the legend.

    Args:
        info: what the builder made (level, pore count).
        path: PNG file to write.
        window: (xmin, xmax, ymin, ymax) in the picture plane (nm), or None for all.
        title: the figure's title.
        edges: draw cell edges.
        size: image size in pixels (at 100 dpi).

    Returns:
        The PNG path.
    """
    # lazy: matplotlib is optional (the viz extra); no pyplot: no global state
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch, Rectangle

    normal, basis = _slice_plane(info)
    blocks = _group_polygons(info.dimension, normal, basis)
    every = np.concatenate([p.reshape(-1, 2) for _, p in blocks]) if blocks else np.zeros((1, 2))
    x0, x1, y0, y1 = (
        window
        if window is not None
        else (every[:, 0].min(), every[:, 0].max(), every[:, 1].min(), every[:, 1].max())
    )
    height = size[1] / 100  # the width follows the window's shape, at most size[0]
    width = min(size[0] / 100, height * (x1 - x0) / max(y1 - y0, 1e-9) + 3.5)
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    for name, polys in blocks:
        ax.add_collection(
            PolyCollection(
                list(polys),
                facecolors=COLOURS.get(name, "grey"),
                edgecolors="#333333" if edges else "face",
                linewidths=0.3,
            )
        )
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    radial = info.dimension == 2 and info.model == "axisymmetric-cell"
    ax.set_xlabel("r, distance from the pore axis [nm]" if radial else "across the pore [nm]")
    ax.set_ylabel("along the pore axis, from the particle centre [nm]")
    length = nice_length(min(x1 - x0, y1 - y0))
    bx, by = x0 + 0.03 * (x1 - x0), y0 + 0.03 * (y1 - y0)
    ax.add_patch(Rectangle((bx, by), length, 0.008 * (y1 - y0), color="black"))
    ax.text(bx + length / 2, by + 0.015 * (y1 - y0), f"{length:g} nm", ha="center", fontsize=9)
    names = list(dict.fromkeys(n for n, _ in blocks))
    handles = [Patch(facecolor=COLOURS.get(n, "grey"), label=n.replace("_", " ")) for n in names]
    handles.append(Patch(facecolor="white", edgecolor="0.5", label="carbon (not meshed)"))
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=10)
    if title:
        ax.set_title(title, fontsize=11)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
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
