"""Cross-sections of a pore in an axisymmetric (r, z) cell: section means and end values.

:func:`section_of_pore` integrates fields over the line z = const of an
(r, z) mesh (exact for P1 and P2 fields); :func:`pore_middle` applies it to
the middle of the pore for metrics.json (species section means, φ at the wall
and on the axis, the space charge).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from confine.case import Case
from confine.metrics.means import MOL_L

#: Gauss–Legendre points and weights on [0, 1] (3 points: exact for P2 × r).
_GL_X = 0.5 + 0.5 * np.array([-math.sqrt(0.6), 0.0, math.sqrt(0.6)])
_GL_W = np.array([5.0, 8.0, 5.0]) / 18.0

#: side ("axis", "wall") -> (|r − target|, cell, r) of the section's nearest end
Ends = dict[str, tuple[float, int, float]]


def _crossings(corners: np.ndarray, z: float) -> list[float]:
    """The r where the line z = const meets the edges of one triangle ((3, 2+) corners)."""
    rs = []
    for i, j in ((0, 1), (1, 2), (2, 0)):
        (ra, za), (rb, zb) = corners[i, :2], corners[j, :2]
        if za == zb:
            if za == z:
                rs += [ra, rb]
            continue
        t = (z - za) / (zb - za)
        if 0.0 <= t <= 1.0:
            rs.append(ra + t * (rb - ra))
    return rs


def _cut(
    cells_x: np.ndarray, z: float, radius: float
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], Ends]:
    """Quadrature of the line z = const over the cells that it crosses.

    Returns:
        Per piece: the r of its Gauss points, their weights (× r), their cell;
        and for "axis" and "wall": (|r − target|, cell, r) of the nearest end.
    """
    cz = cells_x[:, :, 1]
    hit = np.flatnonzero((cz.min(axis=1) <= z) & (cz.max(axis=1) > z))
    pts, wts, owners = [], [], []
    ends: Ends = {}
    for c in hit:
        rs = _crossings(cells_x[c], z)
        if not rs:
            continue
        r0, r1 = max(min(rs), 0.0), min(max(rs), radius)
        for side, target, r in (("axis", 0.0, r0), ("wall", radius, r1)):
            if side not in ends or abs(r - target) < ends[side][0]:
                ends[side] = (abs(r - target), int(c), r)
        if r1 <= r0:
            continue
        rq = r0 + (r1 - r0) * _GL_X
        pts.append(rq)
        wts.append((r1 - r0) * _GL_W * rq)
        owners.append(np.full(3, c, dtype=np.int32))
    return pts, wts, owners, ends


def section_of_pore(
    fields: Mapping[str, Any], mesh: Any, comm: Any, z: float, radius: float
) -> dict[str, Any]:
    """Cross-section of an axisymmetric (r, z) mesh at height z, 0 ≤ r ≤ radius.

    The line z = const is cut by every owned cell it crosses (a cell counts
    when min z ≤ z < max z, so a line along a row of edges is counted once);
    on each piece Gauss–Legendre points integrate f·r exactly for P1 and P2
    fields. Collective.

    Args:
        fields: name -> Function (P1 or P2 Lagrange on the mesh).
        mesh: the (r, z) mesh (coordinates in mesh units).
        comm: its communicator.
        z: height of the section (mesh units).
        radius: outer radius of the section (mesh units).

    Returns:
        ``mean``: name -> (2/a²) ∫ f r dr; ``wall`` and ``axis``: name -> f at
        (radius, z) and (0, z).
    """
    tdim = mesh.topology.dim
    n = mesh.topology.index_map(tdim).size_local
    x = mesh.geometry.x
    cells_x = x[mesh.geometry.dofmaps[0][:n]]  # (n, 3, 3)
    pts, wts, owners, ends = _cut(cells_x, z, radius)
    names = list(fields)
    local = np.zeros(len(names))
    if pts:
        r = np.concatenate(pts)
        w = np.concatenate(wts)
        cells = np.concatenate(owners)
        p3 = np.column_stack([r, np.full_like(r, z), np.zeros_like(r)])
        for k, name in enumerate(names):
            local[k] = float(np.dot(fields[name].eval(p3, cells).ravel(), w))
    total = np.zeros_like(local)
    comm.Allreduce(local, total)
    out: dict[str, Any] = {"mean": {nm: 2.0 * total[k] / radius**2 for k, nm in enumerate(names)}}
    for side in ("axis", "wall"):
        if side in ends:
            _, cell, r_end = ends[side]
            at = np.array([[r_end, z, 0.0]])
            vals = [float(fields[nm].eval(at, [cell])[0]) for nm in names]
            mine = (ends[side][0], vals)
        else:
            mine = (math.inf, [0.0] * len(names))
        best = min(comm.allgather(mine), key=lambda t: t[0])
        out[side] = dict(zip(names, best[1], strict=True))
    return out


def pore_middle(case: Case, meshdata: Any, p: Any) -> dict[str, Any] | None:
    """Cross-section through the middle of the pore on the axis of an axisymmetric cell
    (a cylinder-pore at z = length/2; a hollow sphere's pore at mid-shell): section
    means of every species (and the space charge), φ at the wall and on the axis.

    Args:
        case: the case solved.
        meshdata: its mesh.
        p: the solved model (``physical_functions``, ``c_ref``, ``L``, ``comm``).

    Returns:
        The ``pore_middle`` entry, or None (not axisymmetric, or no such pore).
    """
    g = case.geometry
    if not p.axisymmetric:
        return None
    if g.kind == "cylinder-pore" and g.pore_length is not None:
        z = g.pore_length / 2
    elif g.kind == "hollow-sphere":
        z = g.outer_diameter / 2 - g.shell_thickness / 2
    else:
        return None
    funcs = p.physical_functions()
    names = [n for n in (*p.c_ref, "phi", "space_charge") if n in funcs]
    sec = section_of_pore(
        {n: funcs[n] for n in names}, meshdata.mesh, p.comm, z / p.L, g.pore_diameter / 2 / p.L
    )
    out: dict[str, Any] = {"z_nm": z / 1e-9}
    if "phi" in funcs:
        out["phi_wall_V"] = sec["wall"]["phi"]
        out["phi_axis_V"] = sec["axis"]["phi"]
    if "space_charge" in funcs:
        out["space_charge_section_mean_C_per_m3"] = sec["mean"]["space_charge"]
    out["species"] = {n: {"section_mean_mol_L": sec["mean"][n] / MOL_L} for n in p.c_ref}
    return out
