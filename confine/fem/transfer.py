"""The axisymmetric cell's solution mapped onto a 3D model of the same particle.

A start for Newton on the sector or the whole particle (``solver.start =
"axisymmetric-cell"``), not a result. A point x of the 3D mesh is taken to the
cell's r–z plane by its distance from the nearest pore axis d and its height
along it: (r, z) = (|x − (x·d) d|, x·d). The cell is a cone with the solid
angle of one pore's tile, not its shape: points of the tile outside the cone
(the hexagon's corners, in the cavity and the bath) are turned onto the cone's
side at the same radius. The cell's nodal values are gathered on every rank
(the cell is small) and interpolated linearly over a Delaunay triangulation of
its nodes, the nearest node's value outside it. Both models scale their
unknowns the same way (the same case: deviations from the same bulk, φ̂), so
values are copied as they are.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.spatial import Delaunay, cKDTree

from confine.geometry.derived import lattice_of
from confine.geometry.hollow import cell_axes
from confine.geometry.lattice import cone_half_angle

#: Points per chunk of the mapping (bounded temporaries on large meshes).
_CHUNK = 1 << 18


def cell_coordinates(points: np.ndarray, axes: np.ndarray, half_angle: float) -> np.ndarray:
    """The cell's (r, z) of 3D points (nm), shape (n, 2).

    Args:
        points: coordinates, shape (n, 3).
        axes: unit vectors of the pore axes, shape (pores, 3).
        half_angle: the cone cell's half-angle (rad): points further from their
            axis are turned onto the cone at the same radius.
    """
    out = np.empty((len(points), 2))
    for p0 in range(0, len(points), _CHUNK):
        x = points[p0 : p0 + _CHUNK]
        along = x @ axes.T
        nearest = np.argmax(along, axis=1)
        z = along[np.arange(len(x)), nearest]
        radius = np.linalg.norm(x, axis=1)
        r = np.sqrt(np.maximum(radius**2 - z**2, 0.0))
        outside = np.arctan2(r, z) > half_angle
        r[outside] = radius[outside] * math.sin(half_angle)
        z[outside] = radius[outside] * math.cos(half_angle)
        out[p0 : p0 + _CHUNK, 0], out[p0 : p0 + _CHUNK, 1] = r, z
    return out


class _Interpolant:
    """Piecewise-linear interpolation of nodal values over the Delaunay triangulation
    of their (r, z) points; the nearest node's value outside its hull."""

    def __init__(self, points: np.ndarray, values: np.ndarray):
        self.tri = Delaunay(points)
        self.tree = cKDTree(points)
        self.values = values

    def __call__(self, at: np.ndarray) -> np.ndarray:
        out = np.empty((len(at), self.values.shape[1]))
        for p0 in range(0, len(at), _CHUNK):
            q = at[p0 : p0 + _CHUNK]
            simplex = self.tri.find_simplex(q)
            inside = simplex >= 0
            t = self.tri.transform[simplex[inside]]
            b = np.einsum("nij,nj->ni", t[:, :2], q[inside] - t[:, 2])
            weights = np.column_stack([b, 1.0 - b.sum(axis=1)])
            corners = self.tri.simplices[simplex[inside]]
            block = np.empty((len(q), self.values.shape[1]))
            block[inside] = np.einsum("ni,nik->nk", weights, self.values[corners])
            if not inside.all():
                block[~inside] = self.values[self.tree.query(q[~inside])[1]]
            out[p0 : p0 + _CHUNK] = block
        return out


def _gathered(function_space: Any, values: np.ndarray, comm: Any) -> tuple[np.ndarray, np.ndarray]:
    """Every rank's owned nodes of a (blocked) space: their (r, z) and values."""
    imap, bs = function_space.dofmap.index_map, function_space.dofmap.index_map_bs
    n = imap.size_local
    xy = function_space.tabulate_dof_coordinates()[:n, :2]
    own = values[: n * bs].reshape(n, bs)
    parts = comm.allgather((xy, own))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _map(target: Any, source: Any, source_values: np.ndarray, comm: Any, axes: Any) -> np.ndarray:
    """Values of the target space's nodes from the source's (the cell's) nodal values."""
    points, values = _gathered(source, source_values, comm)
    rz = cell_coordinates(target.tabulate_dof_coordinates(), *axes)
    return _Interpolant(points, values)(rz).ravel()


def map_cell_state(model: Any, cell: Any) -> None:
    """Set a 3D model's unknowns from a solution of its axisymmetric cell.

    Args:
        model: the target :class:`~confine.fem.model.Model` (sector-3d or full-3d of a
            hollow sphere).
        cell: a :class:`~confine.solution.Solution` of the same case on its
            axisymmetric cell (same unknowns and adsorbates).

    Raises:
        ValueError: the unknowns differ, or the cell is not axisymmetric.
    """
    other = cell.model
    if other.unknowns != model.unknowns or other.adsorbed != model.adsorbed:
        raise ValueError("cannot start from a cell with other unknowns")
    if not cell.meshdata.axisymmetric or model.axisymmetric:
        raise ValueError("the start is an axisymmetric cell, mapped onto a 3D model")
    lattice = lattice_of(model.case)
    if lattice is None:
        raise ValueError("a start from the cell needs a pore lattice")
    axes = (cell_axes(model.case), cone_half_angle(lattice.count))
    model.u.x.array[:] = _map(model.V, other.V, cell.state[0], model.comm, axes)
    model.u.x.scatter_forward()
    if model.theta is not None:
        model.theta.x.array[:] = _map(model.W, other.W, cell.state[1], model.comm, axes)
        model.theta.x.scatter_forward()
