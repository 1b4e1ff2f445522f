"""Small tagged meshes built directly with dolfinx, so solver tests need no gmsh.

Coordinates are in nm (MeshData.length_scale = 1e-9). Every builder tags
cells and facets with the shared physical-group tags.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from confine.env import import_dolfinx
from confine.geometry.groups import tag
from confine.mesh import MeshData

import_dolfinx()
import basix.ufl  # noqa: E402
import ufl  # noqa: E402
from dolfinx import mesh as dmesh  # noqa: E402
from mpi4py import MPI  # noqa: E402

Marker = Callable[[np.ndarray], np.ndarray]


def tag_cells(msh: dmesh.Mesh, rules: list[tuple[str, Marker]], default: str) -> dmesh.MeshTags:
    """Cell tags by midpoint: the first rule whose marker holds, else ``default``."""
    tdim = msh.topology.dim
    n = msh.topology.index_map(tdim).size_local + msh.topology.index_map(tdim).num_ghosts
    cells = np.arange(n, dtype=np.int32)
    mid = dmesh.compute_midpoints(msh, tdim, cells).T
    values = np.full(n, tag(default), dtype=np.int32)
    done = np.zeros(n, dtype=bool)
    for name, marker in rules:
        hit = marker(mid) & ~done
        values[hit] = tag(name)
        done |= hit
    return dmesh.meshtags(msh, tdim, cells, values)


def tag_facets(msh: dmesh.Mesh, rules: list[tuple[str, Marker, bool]]) -> dmesh.MeshTags:
    """Facet tags: (name, marker, boundary_only); later rules do not overwrite earlier ones."""
    fdim = msh.topology.dim - 1
    msh.topology.create_connectivity(fdim, msh.topology.dim)
    idx, val = [], []
    seen: set[int] = set()
    for name, marker, boundary in rules:
        if boundary:
            facets = dmesh.locate_entities_boundary(msh, fdim, marker)
        else:
            facets = dmesh.locate_entities(msh, fdim, marker)
        new = np.array([f for f in facets if f not in seen], dtype=np.int32)
        seen.update(new.tolist())
        idx.append(new)
        val.append(np.full(len(new), tag(name), dtype=np.int32))
    indices = np.concatenate(idx) if idx else np.zeros(0, dtype=np.int32)
    values = np.concatenate(val) if val else np.zeros(0, dtype=np.int32)
    order = np.argsort(indices)
    return dmesh.meshtags(msh, fdim, indices[order], values[order])


def box(
    comm: MPI.Comm,
    dim: int,
    n: int,
    size: float = 10.0,
    layer_from: float = 0.5,
    axisymmetric: bool = False,
    surface_left: bool = False,
) -> MeshData:
    """[0, size]^dim; cells with x[0] >= layer_from·size are catalytic layer, the rest cavity.

    Every exterior facet is outer_boundary, except x[0] = 0 when axisymmetric
    (the axis, where nothing is imposed).
    """
    if dim == 2:
        msh = dmesh.create_rectangle(comm, [[0.0, 0.0], [size, size]], [n, n])
    else:
        msh = dmesh.create_box(comm, [[0.0] * 3, [size] * 3], [n, n, n])
    eps = 1e-9 * size
    ct = tag_cells(msh, [("cavity_layer", lambda x: x[0] > layer_from * size)], "cavity")
    rules: list[tuple[str, Marker, bool]] = []
    if surface_left:  # x = 0 is a reacting surface, x = size the bath face, the rest walls
        rules += [
            ("catalyst_surface", lambda x: np.isclose(x[0], 0.0, atol=eps), True),
            ("outer_boundary", lambda x: np.isclose(x[0], size, atol=eps), True),
        ]
        ft = tag_facets(msh, rules)
        return MeshData(
            mesh=msh, cell_tags=ct, facet_tags=ft, axisymmetric=axisymmetric, multiplicity=1.0
        )
    if axisymmetric:
        rules.append(("axis", lambda x: np.isclose(x[0], 0.0, atol=eps), True))
    rules.append(("outer_boundary", lambda x: np.full(x.shape[1], True), True))
    ft = tag_facets(msh, rules)
    return MeshData(
        mesh=msh, cell_tags=ct, facet_tags=ft, axisymmetric=axisymmetric, multiplicity=1.0
    )


def shell(
    comm: MPI.Comm,
    r_in: float,
    r_out: float,
    n_rho: int,
    n_theta: int,
    grading: float = 1.0,
    bath_from: float | None = None,
) -> MeshData:
    """Axisymmetric spherical shell r_in < ρ < r_out (nm), catalytic layer.

    A (ρ, ϑ) rectangle mapped to r = ρ sin ϑ, z = ρ cos ϑ. ``grading`` > 1
    packs cells toward the outer face (ρ = r_out − (r_out − r_in)(1 − t)^grading).
    Cells beyond ρ = ``bath_from`` (if given) are bath.
    """
    msh = dmesh.create_rectangle(comm, [[0.0, 0.0], [1.0, np.pi]], [n_rho, n_theta])
    x = msh.geometry.x
    t, th = x[:, 0].copy(), x[:, 1].copy()
    rho = r_out - (r_out - r_in) * (1.0 - t) ** grading
    x[:, 0] = rho * np.sin(th)
    x[:, 1] = rho * np.cos(th)
    x[np.abs(x[:, 0]) < 1e-12, 0] = 0.0
    rules: list[tuple[str, Marker]] = []
    if bath_from is not None:
        rules.append(("bath", lambda p: np.hypot(p[0], p[1]) > bath_from))
    ct = tag_cells(msh, rules, "cavity_layer")
    eps = 1e-6 * r_out
    ft = tag_facets(
        msh,
        [
            ("axis", lambda p: np.isclose(p[0], 0.0, atol=eps), True),
            ("outer_boundary", lambda p: np.isclose(np.hypot(p[0], p[1]), r_out, atol=eps), True),
            ("cavity_wall", lambda p: np.isclose(np.hypot(p[0], p[1]), r_in, atol=eps), True),
        ],
    )
    return MeshData(mesh=msh, cell_tags=ct, facet_tags=ft, axisymmetric=True, multiplicity=1.0)


def interval(
    comm: MPI.Comm,
    n: int,
    length: float,
    regions: list[tuple[str, float, float]] | None = None,
    surface_at_zero: bool = True,
) -> MeshData:
    """[0, length] nm in 1D: x = length is outer_boundary, x = 0 catalyst_surface.

    ``regions`` tags cells whose midpoint lies in (a, b) with a group name;
    the rest is bath.
    """
    msh = dmesh.create_interval(comm, n, [0.0, length])
    rules: list[tuple[str, Marker]] = [
        (name, lambda p, a=a, b=b: (p[0] > a) & (p[0] < b)) for name, a, b in (regions or [])
    ]
    ct = tag_cells(msh, rules, "bath")
    e = 1e-9 * length
    frules: list[tuple[str, Marker, bool]] = [
        ("outer_boundary", lambda p: np.isclose(p[0], length, atol=e), True)
    ]
    if surface_at_zero:
        frules.append(("catalyst_surface", lambda p: np.isclose(p[0], 0.0, atol=e), True))
    ft = tag_facets(msh, frules)
    return MeshData(mesh=msh, cell_tags=ct, facet_tags=ft, axisymmetric=False, multiplicity=1.0)


def pore_cell(
    comm: MPI.Comm,
    h: float = 1.0,
    r_pore: float = 3.5,
    r_cell: float = 6.0,
    layer: float = 1.0,
    z_cavity: float = 20.0,
    shell: float = 10.0,
    bath: float = 20.0,
    multiplicity: float = 100.0,
) -> MeshData:
    """A mini axisymmetric pore cell (r, z): cavity below, one pore on the axis, bath above.

    Carbon (r > r_pore, z_cavity < z < z_cavity + shell) is not meshed. The
    catalytic layer (``layer`` thick) lines the pore wall and the cavity wall.
    Tags: cavity, cavity_layer, pore, pore_layer, bath; outer_boundary (top),
    symmetry (r = r_cell), axis, pore_wall, cavity_wall, outer_surface,
    mouth_inner, mouth_outer (interior facets).
    """
    z_out = z_cavity + shell
    z_top = z_out + bath

    def ticks(stops: list[float]) -> np.ndarray:
        pts = [stops[0]]
        for a, b in itertools.pairwise(stops):
            m = max(1, round((b - a) / h))
            pts += list(np.linspace(a, b, m + 1)[1:])
        return np.array(pts)

    rs = ticks([0.0, r_pore - layer, r_pore, r_cell])
    zs = ticks([0.0, z_cavity - layer, z_cavity, z_out, z_top])
    tdim_cells: list[list[int]] = []
    nr = len(rs)
    if comm.rank == 0:
        for j in range(len(zs) - 1):
            for i in range(nr - 1):
                rc, zc = 0.5 * (rs[i] + rs[i + 1]), 0.5 * (zs[j] + zs[j + 1])
                if rc > r_pore and z_cavity < zc < z_out:
                    continue  # carbon
                a, b = j * nr + i, j * nr + i + 1
                c, d = (j + 1) * nr + i, (j + 1) * nr + i + 1
                tdim_cells += [[a, b, d], [a, d, c]]
        rr, zz = np.meshgrid(rs, zs)
        x = np.column_stack([rr.ravel(), zz.ravel()])
        used = np.unique(np.array(tdim_cells))
        renum = -np.ones(len(x), dtype=np.int64)
        renum[used] = np.arange(len(used))
        cells = renum[np.array(tdim_cells, dtype=np.int64)]
        x = x[used]
    else:
        cells = np.zeros((0, 3), dtype=np.int64)
        x = np.zeros((0, 2))
    domain = ufl.Mesh(basix.ufl.element("Lagrange", "triangle", 1, shape=(2,)))
    part = dmesh.create_cell_partitioner(dmesh.GhostMode.shared_facet, 2)
    msh = dmesh.create_mesh(comm, cells, domain, x, partitioner=part)
    in_shell = lambda p: (p[1] > z_cavity) & (p[1] < z_out)  # noqa: E731
    ct = tag_cells(
        msh,
        [
            ("pore", lambda p: in_shell(p) & (p[0] < r_pore - layer)),
            ("pore_layer", lambda p: in_shell(p)),
            (
                "cavity_layer",
                lambda p: (p[1] < z_cavity) & (p[1] > z_cavity - layer) & (p[0] > r_pore),
            ),
            ("bath", lambda p: p[1] > z_out),
        ],
        "cavity",
    )
    e = 1e-6
    ft = tag_facets(
        msh,
        [
            ("axis", lambda p: np.isclose(p[0], 0.0, atol=e), True),
            ("outer_boundary", lambda p: np.isclose(p[1], z_top, atol=e), True),
            ("symmetry", lambda p: np.isclose(p[0], r_cell, atol=e), True),
            ("pore_wall", lambda p: np.isclose(p[0], r_pore, atol=e) & in_shell(p), True),
            ("cavity_wall", lambda p: np.isclose(p[1], z_cavity, atol=e), True),
            ("outer_surface", lambda p: np.isclose(p[1], z_out, atol=e), True),
            (
                "mouth_inner",
                lambda p: np.isclose(p[1], z_cavity, atol=e) & (p[0] < r_pore + e),
                False,
            ),
            ("mouth_outer", lambda p: np.isclose(p[1], z_out, atol=e) & (p[0] < r_pore + e), False),
        ],
    )
    return MeshData(
        mesh=msh, cell_tags=ct, facet_tags=ft, axisymmetric=True, multiplicity=multiplicity
    )


def _graded_ticks(length: float, n: int, first: float) -> np.ndarray:
    """n + 1 ticks on [0, length], spacing first · q^k from 0 (q from the total)."""
    from scipy.optimize import brentq

    if abs(first * n - length) < 1e-12 * length:
        return np.linspace(0.0, length, n + 1)
    q = brentq(lambda q: first * (q**n - 1) / (q - 1) - length, 1e-6, 10.0)
    ticks = np.concatenate([[0.0], np.cumsum(first * q ** np.arange(n))])
    ticks[-1] = length
    return ticks


def pore_rz(
    comm: MPI.Comm,
    radius: float,
    length: float,
    n_r: int,
    n_z: int,
    first: float | None = None,
    ends: tuple[float, int, float] | None = None,
) -> MeshData:
    """A structured axisymmetric pore (r, z) ∈ [0, radius] × [0, length], all ``pore``.

    Node rows are straight (z = const), so a solution that does not vary
    with z is represented exactly as such. With ``first``, the radial spacing
    grows geometrically from ``first`` at the wall toward the axis. With
    ``ends = (depth, n, first_z)``, the first ``depth`` at each end has n
    rows growing geometrically from ``first_z``; the middle has n_z uniform
    rows (translation-invariant in z). Facets: axis (r = 0), pore_wall
    (r = radius), end_a (z = 0), end_b (z = length).
    """
    if ends is None:
        zt = np.linspace(0.0, length, n_z + 1)
    else:
        depth, n_end, first_z = ends
        end = _graded_ticks(depth, n_end, first_z)
        mid = np.linspace(depth, length - depth, n_z + 1)[1:-1]
        zt = np.concatenate([end, mid, length - end[::-1]])
    rt = (
        radius - _graded_ticks(radius, n_r, first)[::-1]
        if first
        else np.linspace(0, radius, n_r + 1)
    )
    rt[0] = 0.0
    msh = dmesh.create_rectangle(
        comm, [[0.0, 0.0], [1.0, 1.0]], [n_r, len(zt) - 1], dmesh.CellType.triangle
    )
    x = msh.geometry.x
    i = np.rint(x[:, 0] * n_r).astype(int)
    k = np.rint(x[:, 1] * (len(zt) - 1)).astype(int)
    x[:, 0] = rt[i]
    x[:, 1] = zt[k]
    ct = tag_cells(msh, [], "pore")
    e = 1e-9 * max(radius, length)
    ft = tag_facets(
        msh,
        [
            ("axis", lambda p: np.isclose(p[0], 0.0, atol=e), True),
            ("pore_wall", lambda p: np.isclose(p[0], radius, atol=e), True),
            ("end_a", lambda p: np.isclose(p[1], 0.0, atol=e), True),
            ("end_b", lambda p: np.isclose(p[1], length, atol=e), True),
        ],
    )
    return MeshData(mesh=msh, cell_tags=ct, facet_tags=ft, axisymmetric=True, multiplicity=1.0)
