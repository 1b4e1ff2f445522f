"""Hollow mesoporous sphere (MCHS) at the three fidelity levels.

Fluid regions (nm): cavity r < R_c − t, cavity layer R_c − t < r < R_c,
radial pores of radius a through the shell R_c < r < R_o (core of radius
a − t and a layer of thickness t lining the wall, or all layer when
:func:`confine.geometry.derived.pore_is_filled`), bath R_o < r < R_b. Carbon is not
meshed. Construction (DESIGN.md section 4): pore cylinders intersected with
the shell, then one fragment with the cavity and bath balls.

* ``axisymmetric-cell``: 2D r–z cone of half-angle acos(1 − 2/N), pore on the axis;
* ``sector-3d``: the hexagonal-pyramid tile of the pore lattice (one pore, or
  ``sector_rings`` rings of neighbours), side faces are symmetry planes, its
  solid angle is (pores in it) × 4π/N;
* ``full-3d``: the whole particle, pores along the lattice directions of
  :func:`confine.geometry.lattice.pore_directions` (same as validation).
"""

from __future__ import annotations

import math
import time

import gmsh
import numpy as np
from scipy.optimize import brentq

from confine.case import Case
from confine.geometry import occ
from confine.geometry.derived import NM, Sizes, lattice_of, pore_is_filled
from confine.geometry.info import GeometryInfo
from confine.geometry.lattice import (
    cone_half_angle,
    pore_directions,
    pore_volume,
    pore_wall_area,
)


def cap_area(radius: float, a: float) -> float:
    """Area of the sphere of ``radius`` inside a cylinder of radius ``a`` through its centre
    (one end: the pore mouth)."""
    return 2.0 * math.pi * radius * (radius - math.sqrt(radius * radius - a * a))


def ball_volume(radius: float) -> float:
    """Volume of a ball."""
    return 4.0 / 3.0 * math.pi * radius**3


def _solid_angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
    """Solid angle of the triangle abc seen from the origin (Van Oosterom–Strackee)."""
    la, lb, lc = (float(np.linalg.norm(v)) for v in (a, b, c))
    num = abs(float(np.dot(a, np.cross(b, c))))
    den = la * lb * lc + np.dot(a, b) * lc + np.dot(a, c) * lb + np.dot(b, c) * la
    return 2.0 * math.atan2(num, float(den))


def hex_patch(rings: int) -> list[tuple[int, int]]:
    """Axial coordinates of a hexagon and ``rings`` rings of neighbours."""
    return [
        (q, r)
        for q in range(-rings, rings + 1)
        for r in range(-rings, rings + 1)
        if abs(q + r) <= rings
    ]


def _hexagons(apothem: float, rings: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(centre, corners) of each hexagon of the patch in the plane z = 1."""
    out = []
    circ = apothem / math.cos(math.pi / 6)
    for q, r in hex_patch(rings):
        c = 2.0 * apothem * np.array([q + r / 2.0, r * math.sqrt(3.0) / 2.0])
        ang = math.pi / 6 + np.arange(6) * math.pi / 3
        corners = c + circ * np.column_stack([np.cos(ang), np.sin(ang)])
        out.append((c, corners))
    return out


def patch_solid_angle(apothem: float, rings: int) -> float:
    """Solid angle of the hexagonal-pyramid patch (hexagons in the plane z = 1)."""
    total = 0.0
    for c, corners in _hexagons(apothem, rings):
        c3 = np.array([c[0], c[1], 1.0])
        for i in range(6):
            p = np.array([*corners[i], 1.0])
            q = np.array([*corners[(i + 1) % 6], 1.0])
            total += _solid_angle(c3, p, q)
    return total


def sector_apothem(pores: int, rings: int) -> float:
    """Apothem (at z = 1) making the patch's solid angle (its pores) × 4π / N."""
    n_patch = len(hex_patch(rings))
    target = n_patch * 4.0 * math.pi / pores
    return float(brentq(lambda s: patch_solid_angle(s, rings) - target, 1e-6, 10.0))


def closed_forms(
    r_out: float, r_cav: float, r_bath: float, a: float, t: float, n: int, layer: bool, filled: bool
) -> tuple[dict[str, float], dict[str, float]]:
    """Whole-particle volumes and areas of every group (nm³, nm²)."""
    vol: dict[str, float] = {"bath": ball_volume(r_bath) - ball_volume(r_out)}
    if layer:
        vol["cavity"] = ball_volume(r_cav - t)
        vol["cavity_layer"] = ball_volume(r_cav) - ball_volume(r_cav - t)
        if filled:
            vol["pore_layer"] = n * pore_volume(a, r_cav, r_out)
        else:
            vol["pore"] = n * pore_volume(a - t, r_cav, r_out)
            vol["pore_layer"] = n * (
                pore_volume(a, r_cav, r_out) - pore_volume(a - t, r_cav, r_out)
            )
    else:
        vol["cavity"] = ball_volume(r_cav)
        vol["pore"] = n * pore_volume(a, r_cav, r_out)
    area = {
        "pore_wall": n * pore_wall_area(a, r_cav, r_out),
        "cavity_wall": 4 * math.pi * r_cav**2 - n * cap_area(r_cav, a),
        "outer_surface": 4 * math.pi * r_out**2 - n * cap_area(r_out, a),
        "mouth_outer": n * cap_area(r_out, a),
        "mouth_inner": n * cap_area(r_cav, a),
        "outer_boundary": 4 * math.pi * r_bath**2,
    }
    return vol, area


def ball(dim: int, radius: float) -> tuple[int, int]:
    o = gmsh.model.occ
    if dim == 2:
        return (2, o.addDisk(0, 0, 0, radius, radius))
    return (3, o.addSphere(0, 0, 0, radius))


def _pores(
    dim: int,
    dirs: np.ndarray,
    radius: float,
    r_cav: float,
    r_out: float,
    shell: tuple[int, int],
    keep_shell: bool,
) -> list[tuple[int, int]]:
    """Pore cylinders of ``radius`` cut to the shell (OCC intersect)."""
    o = gmsh.model.occ
    lo = math.sqrt(r_cav**2 - radius**2) - 1.0
    hi = r_out + 1.0
    if dim == 2:
        tools = [(2, o.addRectangle(0.0, lo, 0.0, radius, hi - lo))]
    else:
        tools = [(3, occ.cylinder(u, lo, hi, radius)) for u in dirs]
    out, _ = o.intersect(tools, [shell], removeObject=True, removeTool=not keep_shell)
    return [e for e in out if e[0] == dim]


Ingredients = list[tuple[str, list[tuple[int, int]]]]


def _cell(
    level: str, n: int, a: float, r_cav: float, rings: int
) -> tuple[float | None, np.ndarray, list[np.ndarray], float, int]:
    """The meshed cell of a fidelity level.

    Returns:
        The cone half-angle (axisymmetric cell), the pore directions in the
        cell, the sector's hexagon outlines (sector-3d), the multiplicity and
        the pores in the cell.
    """
    half = None
    clip_outline: list[np.ndarray] = []
    if level == "axisymmetric-cell":
        half = cone_half_angle(n) if n > 1 else math.pi
        if n > 1 and a >= r_cav * math.sin(half):
            raise ValueError(
                f"the pore (radius {a:g} nm) does not fit in the cone cell "
                f"(radius {r_cav * math.sin(half):.3g} nm at the cavity)"
            )
        dirs = np.array([[0.0, 1.0, 0.0]])
        multiplicity, in_cell = float(n), 1
    elif level == "sector-3d":
        s = sector_apothem(n, rings)
        hexes = _hexagons(s, rings)
        dirs = np.array([[c[0], c[1], 1.0] for c, _ in hexes])
        dirs /= np.linalg.norm(dirs, axis=1)[:, None]
        clip_outline = [corners for _, corners in hexes]
        _check_fits(hexes, a, r_cav)
        in_cell = len(hexes)
        multiplicity = n / in_cell
    elif level == "full-3d":
        dirs = pore_directions(n)
        multiplicity, in_cell = 1.0, n
    else:
        raise ValueError(f"hollow-sphere has no model {level!r}")
    return half, dirs, clip_outline, multiplicity, in_cell


def cell_axes(case: Case) -> np.ndarray:
    """Unit vectors of the pore axes in the case's meshed cell, shape (pores, 3): the
    y axis on the axisymmetric cell, the hexagons' centres on sector-3d, the lattice
    directions on full-3d (as :func:`build` meshes them)."""
    g = case.geometry
    lat = lattice_of(case)
    if lat is None:
        raise ValueError(f"geometry kind {g.kind!r} has no pore lattice")
    r_cav = (g.outer_diameter / 2 - g.shell_thickness) / NM
    return _cell(g.model, lat.count, g.pore_diameter / 2 / NM, r_cav, g.sector_rings)[1]


def _ingredients(
    dim: int, dirs: np.ndarray, radii: tuple[float, float, float, float, float], filled: bool
) -> Ingredients:
    """The named OCC shapes of the particle: shell pores (and their cores), cavity, bath.

    ``radii`` are the pore radius, the layer thickness (0: no layer), and the
    cavity, outer and bath radii.
    """
    a, t, r_cav, r_out, r_bath = radii
    layer = t > 0
    o = gmsh.model.occ
    shell_out = ball(dim, r_out)
    shell_in = ball(dim, r_cav)
    shell, _ = o.cut([shell_out], [shell_in])
    cores: list[tuple[int, int]] = []
    if layer and not filled:
        cores = _pores(dim, dirs, a - t, r_cav, r_out, shell[0], keep_shell=True)
    pores = _pores(dim, dirs, a, r_cav, r_out, shell[0], keep_shell=False)
    cav = [ball(dim, r_cav)]
    inner = [ball(dim, r_cav - t)] if layer else []
    bath_out = ball(dim, r_bath)
    bath_in = ball(dim, r_out)
    bath, _ = o.cut([bath_out], [bath_in])
    ingredients = [
        ("cavity", cav),
        ("inner", inner),
        ("pore", pores),
        ("core", cores),
        ("bath", bath),
    ]
    return [(k, v) for k, v in ingredients if v]


def _clip_to_cell(
    ingredients: Ingredients,
    level: str,
    half: float | None,
    clip_outline: list[np.ndarray],
    r_bath: float,
) -> Ingredients:
    """The ingredients inside the meshed cell (the cone or the sector; all of full-3d)."""
    if level == "axisymmetric-cell":
        assert half is not None
        clip = (2, occ.cone_polygon(half, r_bath))
        return clip_to(ingredients, clip)
    if level == "sector-3d":
        o = gmsh.model.occ
        vols = [(3, occ.pyramid([tuple(p) for p in c], 1.05 * r_bath)) for c in clip_outline]
        if len(vols) > 1:
            vols, _ = o.fuse(vols[:1], vols[1:])
        return clip_to(ingredients, vols[0])
    return ingredients


def _rules(layer: bool, dim: int, r_bath: float) -> tuple[occ.PieceRule, occ.FacetRules]:
    """Which piece is which cell group, and how its boundaries are named."""

    def rule(names: frozenset[str]) -> str | None:
        if "core" in names:
            return "pore"
        if "pore" in names:
            return "pore_layer" if layer else "pore"
        if "inner" in names:
            return "cavity"
        if "cavity" in names:
            return "cavity_layer" if layer else "cavity"
        if "bath" in names:
            return "bath"
        return None

    rules = occ.FacetRules(
        named=[("outer_boundary", occ.on_sphere(r_bath))],
        interface=[
            (occ.PORE_GROUPS, frozenset({"bath"}), "mouth_outer", None),
            (occ.PORE_GROUPS, occ.CAVITY_GROUPS, "mouth_inner", None),
        ],
        wall={
            "pore": "pore_wall",
            "pore_layer": "pore_wall",
            "cavity": "cavity_wall",
            "cavity_layer": "cavity_wall",
            "bath": "outer_surface",
        },
    )
    if dim == 2:
        rules.named.insert(0, ("axis", lambda p: bool(np.all(np.abs(p[:, 0]) < 1e-6 * r_bath))))
        rules.named.insert(1, ("symmetry", through_origin(1, r_bath)))
    else:
        rules.named.insert(0, ("symmetry", through_origin(2, r_bath)))
    return rule, rules


def build(case: Case, sizes: Sizes) -> GeometryInfo:
    """Build a hollow-sphere model at the case's fidelity level (see module doc)."""
    g = case.geometry
    lat = lattice_of(case)
    assert lat is not None
    n = lat.count
    r_out = g.outer_diameter / 2 / NM
    r_cav = r_out - g.shell_thickness / NM
    r_bath = r_out + g.bath_thickness / NM
    a = g.pore_diameter / 2 / NM
    layer = g.catalyst == "layer"
    filled = pore_is_filled(case)
    t = g.catalyst_layer / NM if layer else 0.0
    level = g.model
    dim = 2 if level == "axisymmetric-cell" else 3
    if a >= r_cav:
        raise ValueError(f"pore radius {a:g} nm is not smaller than the cavity radius {r_cav:g} nm")
    half, dirs, clip_outline, multiplicity, in_cell = _cell(level, n, a, r_cav, g.sector_rings)

    t0 = time.perf_counter()
    ingredients = _ingredients(dim, dirs, (a, t, r_cav, r_out, r_bath), filled)
    ingredients = _clip_to_cell(ingredients, level, half, clip_outline, r_bath)
    rule, rules = _rules(layer, dim, r_bath)
    t1 = time.perf_counter()
    asm = occ.assemble(dim, ingredients, rule)
    t2 = time.perf_counter()
    facets = occ.tag_boundaries(asm, rules)
    _set_sizes(asm, facets, sizes, r_cav - t, r_out, dim)

    t3 = time.perf_counter()
    vol, area = closed_forms(r_out, r_cav, r_bath, a, t, n, layer, filled)
    return GeometryInfo(
        kind=g.kind,
        model=level,
        dimension=dim,
        axisymmetric=dim == 2,
        multiplicity=multiplicity,
        pore_count=n,
        pores_in_cell=in_cell,
        min_wall=lat.min_wall,
        mean_wall=lat.mean_wall,
        porosity=lat.porosity,
        pore_filled=filled,
        cone_half_angle=half,
        catalytic=(("pore_layer", "cavity_layer") if layer else ("pore_wall", "cavity_wall")),
        volumes=vol,
        areas=area,
        cell_groups=tuple(sorted(asm.cells)),
        facet_groups=tuple(sorted(facets)),
        timings={"occ_shapes_s": t1 - t0, "occ_fragment_s": t2 - t1, "tag_and_size_s": t3 - t2},
    )


def through_origin(rank: int, scale: float) -> occ.PointTest:
    """Points on a line (rank 1) or plane (rank 2) through the origin."""

    def test(p: np.ndarray) -> bool:
        sv = np.linalg.svd(p, compute_uv=False)
        return bool(sv[rank] < 1e-7 * max(scale, float(sv[0])))

    return test


def clip_to(
    ingredients: list[tuple[str, list[tuple[int, int]]]], clip: tuple[int, int]
) -> list[tuple[str, list[tuple[int, int]]]]:
    """Intersect every ingredient with the cell (the clip shape is consumed)."""
    o = gmsh.model.occ
    out = []
    for name, ents in ingredients:
        copy = o.copy([clip])
        cut, _ = o.intersect(ents, copy, removeObject=True, removeTool=True)
        out.append((name, [e for e in cut if e[0] == clip[0]]))
    o.remove([clip], recursive=True)
    return [(k, v) for k, v in out if v]


def _check_fits(hexes: list[tuple[np.ndarray, np.ndarray]], a: float, r_cav: float) -> None:
    """Every pore cylinder stays inside its hexagonal tile down to the cavity radius."""
    for c, corners in hexes:
        u = np.array([c[0], c[1], 1.0])
        u /= np.linalg.norm(u)
        for i in range(6):
            p = np.array([*corners[i], 1.0])
            q = np.array([*corners[(i + 1) % 6], 1.0])
            nrm = np.cross(p, q)
            nrm /= np.linalg.norm(nrm)
            cos_dist = abs(float(nrm @ u))
            if r_cav * cos_dist < a * math.sqrt(1.0 - cos_dist**2) + 1e-9:
                raise ValueError("a pore does not fit in its sector tile at the cavity radius")


def _set_sizes(
    asm: occ.Assembly,
    facets: dict[str, list[int]],
    sizes: Sizes,
    r_in: float,
    r_out: float,
    dim: int,
) -> None:
    fields = occ.radial_grading(sizes, r_in, r_out, sizes.wall, sizes.pore, dim)
    pores = asm.cells.get("pore", []) + asm.cells.get("pore_layer", [])
    if asm.cells.get("pore"):
        fields.append(occ.restricted(sizes.pore, dim, asm.cells["pore"]))
    if asm.cells.get("cavity_layer"):
        fields.append(occ.restricted(sizes.wall, dim, asm.cells["cavity_layer"]))
    if asm.cells.get("pore_layer"):
        fields.append(occ.restricted(sizes.layer, dim, asm.cells["pore_layer"]))
    elif pores:
        fields.append(occ.restricted(sizes.pore, dim, pores))
    walls = [f for k in ("pore_wall", "cavity_wall", "outer_surface") for f in facets.get(k, [])]
    bl = occ.boundary_layer(sizes, dim, walls)
    if bl is not None:
        fields.append(bl)
    occ.set_background(fields, sizes)
