"""Shared OpenCASCADE machinery of the builders: assemble, tag, size, mesh.

Every builder describes its fluid as named input shapes ("ingredients") whose
overlaps decide the physical group of each piece: e.g. the pieces that lie in
both the cavity ball and the inner ball are ``cavity``, those in the cavity
ball only are ``cavity_layer``. :func:`assemble` fragments all ingredients in
one OCC call (conformal interfaces), keeps the pieces a rule names and deletes
the rest (carbon). :func:`tag_boundaries` then names every boundary entity
from the groups on either side and from geometric predicates (axis, symmetry
planes, outer sphere). Lengths are in nm. No dolfinx here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import gmsh
import numpy as np

from confine.geometry.derived import Sizes
from confine.geometry.groups import CELL_GROUPS, FACET_GROUPS

DimTag = tuple[int, int]
#: A rule: set of ingredient names a piece lies in -> cell group name (None: not fluid).
PieceRule = Callable[[frozenset[str]], str | None]
#: A predicate on sampled points of an entity, shape (k, 3).
PointTest = Callable[[np.ndarray], bool]

PORE_GROUPS = frozenset({"pore", "pore_layer"})
CAVITY_GROUPS = frozenset({"cavity", "cavity_layer"})
OUTSIDE_GROUPS = frozenset({"bath", "outer_layer"})


@dataclass
class Assembly:
    """The fluid pieces of a model: cell group name -> entity tags (dimension ``dim``)."""

    dim: int
    cells: dict[str, list[int]] = field(default_factory=dict)

    def group_of(self) -> dict[int, str]:
        """Entity tag -> cell group name."""
        return {t: name for name, tags in self.cells.items() for t in tags}


def assemble(
    dim: int, ingredients: Sequence[tuple[str, Sequence[DimTag]]], rule: PieceRule
) -> Assembly:
    """Fragment all ingredients together and keep the fluid pieces.

    Args:
        dim: dimension of the ingredients (2 or 3).
        ingredients: (name, entities) pairs; a name may appear once.
        rule: maps the set of ingredient names a piece lies in to its cell
            group, or None for pieces to delete (carbon, outside the cell).

    Returns:
        The kept pieces by cell group (model synchronized).
    """
    owners: list[str] = []
    flat: list[DimTag] = []
    for name, ents in ingredients:
        for e in ents:
            owners.append(name)
            flat.append(e)
    if len(flat) == 1:
        out_map = [[flat[0]]]
    else:
        _, out_map = gmsh.model.occ.fragment(flat[:1], flat[1:])
    piece_owners: dict[int, set[str]] = {}
    for name, children in zip(owners, out_map, strict=True):
        for d, t in children:
            if d == dim:
                piece_owners.setdefault(t, set()).add(name)
    asm = Assembly(dim=dim)
    drop: list[DimTag] = []
    for t, names in sorted(piece_owners.items()):
        group = rule(frozenset(names))
        if group is None:
            drop.append((dim, t))
        else:
            asm.cells.setdefault(group, []).append(t)
    if drop:
        gmsh.model.occ.remove(drop, recursive=True)
    gmsh.model.occ.synchronize()
    return asm


def sample_points(dim: int, tag: int, n: int = 5) -> np.ndarray:
    """Points of the (untrimmed) curve or surface under an entity, shape (k, 3).

    For a trimmed plane these still lie on the plane, for a trimmed sphere
    patch on the sphere: enough for the predicates used here.
    """
    lo, hi = gmsh.model.getParametrizationBounds(dim, tag)
    if dim == 1:
        u = np.linspace(lo[0], hi[0], n)
        params = u
    else:
        uu, vv = np.meshgrid(np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n))
        params = np.column_stack([uu.ravel(), vv.ravel()]).ravel()
    return np.asarray(gmsh.model.getValue(dim, tag, list(params))).reshape(-1, 3)


def on_sphere(radius: float, tol: float = 1e-6) -> PointTest:
    """Points on the sphere (circle in 2D) of ``radius`` about the origin."""
    return lambda p: bool(np.all(np.abs(np.linalg.norm(p, axis=1) - radius) < tol * radius))


def on_plane(normal: Sequence[float], offset: float = 0.0, tol: float = 1e-6) -> PointTest:
    """Points on the plane n·x = offset (n normalised here)."""
    n = np.asarray(normal, dtype=float)
    n = n / np.linalg.norm(n)
    return lambda p: bool(np.all(np.abs(p @ n - offset) < tol * max(1.0, abs(offset))))


@dataclass
class FacetRules:
    """How boundary entities are named.

    Attributes:
        named: geometric predicates tried first, in order (name, test), for
            entities on one side only (axis, symmetry planes, outer sphere...).
        interface: (group set a, group set b, name, test or None) for interior
            entities between a piece of a group in a and one in b (pore mouths).
        wall: cell group -> facet name for the remaining one-sided entities.
    """

    named: list[tuple[str, PointTest]] = field(default_factory=list)
    interface: list[tuple[frozenset[str], frozenset[str], str, PointTest | None]] = field(
        default_factory=list
    )
    wall: dict[str, str] = field(default_factory=dict)


def tag_boundaries(asm: Assembly, rules: FacetRules) -> dict[str, list[int]]:
    """Name every (dim−1) entity of the fluid and create all physical groups.

    Returns:
        Facet group name -> entity tags (physical groups created for cells and facets).
    """
    dim = asm.dim
    group_of = asm.group_of()
    facets: dict[str, list[int]] = {}
    seen: set[int] = set()
    for vol in group_of:
        _, down = gmsh.model.getAdjacencies(dim, vol)
        seen.update(int(f) for f in down)
    for f in sorted(seen):
        up, _ = gmsh.model.getAdjacencies(dim - 1, f)
        sides = [group_of[int(v)] for v in up if int(v) in group_of]
        name: str | None = None
        if len(sides) == 1:
            pts = sample_points(dim - 1, f)
            for candidate, test in rules.named:
                if test(pts):
                    name = candidate
                    break
            if name is None:
                name = rules.wall.get(sides[0])
        elif len(sides) == 2:
            a, b = sides
            for ga, gb, candidate, where in rules.interface:
                if ((a in ga and b in gb) or (a in gb and b in ga)) and (
                    where is None or where(sample_points(dim - 1, f))
                ):
                    name = candidate
                    break
        if name is not None:
            facets.setdefault(name, []).append(f)
    for name, tags in asm.cells.items():
        gmsh.model.addPhysicalGroup(dim, sorted(tags), CELL_GROUPS[name], name)
    for name, tags in facets.items():
        gmsh.model.addPhysicalGroup(dim - 1, sorted(tags), FACET_GROUPS[name], name)
    return facets


# --------------------------------------------------------------------------- sizes
def radial_grading(
    sizes: Sizes, r_inner: float, r_outer: float, h_inner: float, h_outer: float, dims: int
) -> list[int]:
    """Two MathEval fields growing linearly away from the spheres r_inner and r_outer.

    Returns:
        Field tags (to be combined with Min).
    """
    f = gmsh.model.mesh.field
    r = "Sqrt(x*x+y*y)" if dims == 2 else "Sqrt(x*x+y*y+z*z)"
    g = sizes.growth - 1.0
    out = []
    for r0, h0 in ((r_inner, h_inner), (r_outer, h_outer)):
        fid = f.add("MathEval")
        f.setString(fid, "F", f"{h0:.12g} + {g:.12g}*Fabs({r} - {r0:.12g})")
        out.append(fid)
    return out


def relu(expr: str) -> str:
    """max(expr, 0) in gmsh's MathEval syntax."""
    return f"(({expr}) + Fabs({expr}))/2"


def graded(h0: float, growth: float, distance: str) -> int:
    """A MathEval size h0 + (growth − 1)·distance (distance: a MathEval expression ≥ 0)."""
    f = gmsh.model.mesh.field
    fid = f.add("MathEval")
    f.setString(fid, "F", f"{h0:.12g} + {growth - 1.0:.12g}*({distance})")
    return fid


def restricted(value: float, dim: int, entities: Iterable[int]) -> int:
    """A constant size restricted to the given entities (and their boundaries)."""
    f = gmsh.model.mesh.field
    const = f.add("MathEval")
    f.setString(const, "F", f"{value:.12g}")
    fid = f.add("Restrict")
    f.setNumber(fid, "InField", const)
    key = {1: "CurvesList", 2: "SurfacesList", 3: "VolumesList"}[dim]
    f.setNumbers(fid, key, sorted(entities))
    f.setNumber(fid, "IncludeBoundary", 1)
    return fid


def boundary_layer(sizes: Sizes, dim: int, walls: Iterable[int]) -> int | None:
    """Distance-based refinement toward walls (double-layer runs)."""
    walls = sorted(walls)
    if sizes.boundary_first is None or not walls:
        return None
    f = gmsh.model.mesh.field
    dist = f.add("Distance")
    f.setNumbers(dist, {1: "PointsList", 2: "CurvesList", 3: "SurfacesList"}[dim], walls)
    f.setNumber(dist, "Sampling", 50)
    thr = f.add("Threshold")
    f.setNumber(thr, "InField", dist)
    f.setNumber(thr, "SizeMin", sizes.boundary_first)
    f.setNumber(thr, "SizeMax", sizes.max)
    f.setNumber(thr, "DistMin", 0.0)
    f.setNumber(thr, "DistMax", (sizes.max - sizes.boundary_first) / (sizes.growth - 1.0))
    return thr


def set_background(fields: Sequence[int], sizes: Sizes) -> None:
    """Min of the fields as background size; no size from points or curvature."""
    f = gmsh.model.mesh.field
    fmin = f.add("Min")
    f.setNumbers(fmin, "FieldsList", list(fields))
    f.setAsBackgroundMesh(fmin)
    gmsh.option.setNumber("Mesh.MeshSizeMax", sizes.max)
    gmsh.option.setNumber("Mesh.MeshSizeMin", 0.0)
    gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 0)
    gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)
    gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", 0)


def cylinder(direction: Sequence[float], r_from: float, r_to: float, radius: float) -> int:
    """An OCC cylinder of ``radius`` along the unit ``direction``, from r_from to r_to."""
    u = np.asarray(direction, dtype=float)
    p = u * r_from
    v = u * (r_to - r_from)
    return int(gmsh.model.occ.addCylinder(*p, *v, radius))


def polygon_surface(points: Sequence[Sequence[float]]) -> int:
    """A plane OCC surface through the given corner points (closed polygon)."""
    occ = gmsh.model.occ
    ptags = [occ.addPoint(*p) for p in points]
    lines = [occ.addLine(ptags[i], ptags[(i + 1) % len(ptags)]) for i in range(len(ptags))]
    return int(occ.addPlaneSurface([occ.addCurveLoop(lines)]))


def cone_polygon(half_angle: float, reach: float) -> int:
    """2D r–z cell: the wedge 0 ≤ polar angle ≤ half_angle (from +z), r ≥ 0, out to
    beyond ``reach`` (a polygon whose chords stay outside the disc of radius reach)."""
    k = max(2, math.ceil(half_angle / (math.pi / 8)))
    big = 1.2 * reach / math.cos(half_angle / (2 * k))
    pts = [(0.0, 0.0, 0.0)]
    for i in range(k + 1):
        phi = half_angle * i / k
        pts.append((big * math.sin(phi), big * math.cos(phi), 0.0))
    return polygon_surface(pts)


def pyramid(outline: Sequence[Sequence[float]], height: float) -> int:
    """A polyhedron with apex at the origin over the polygon ``outline`` (x, y at z = 1),
    scaled to z = ``height``: its side faces are planes through the origin."""
    occ = gmsh.model.occ
    apex = occ.addPoint(0.0, 0.0, 0.0)
    base = [occ.addPoint(x * height, y * height, height) for x, y in outline]
    n = len(base)
    base_lines = [occ.addLine(base[i], base[(i + 1) % n]) for i in range(n)]
    rays = [occ.addLine(apex, b) for b in base]
    faces = [occ.addPlaneSurface([occ.addCurveLoop(base_lines)])]
    for i in range(n):
        loop = occ.addCurveLoop([rays[i], base_lines[i], rays[(i + 1) % n]])
        faces.append(occ.addPlaneSurface([loop]))
    return int(occ.addVolume([occ.addSurfaceLoop(faces)]))
