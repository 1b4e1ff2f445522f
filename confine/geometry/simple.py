"""Verification geometries: ``planar`` (an electrode facing a bath) and
``cylinder-pore`` (one cylindrical pore, optionally between reservoirs).

planar (``model`` 1d, 2d or 3d): the slab 0 < x < L (× [0, W]^(d−1)); the
electrode face x = 0 is ``electrode``, the bath end x = L ``outer_boundary``,
lateral faces ``symmetry``; with a catalytic layer, 0 < x < t is
``outer_layer`` (the layer on the electrode) and the rest ``bath``. In 1D this
is the electrode film: current collector, catalyst film (uniform cells of
layer / cells_across_layer) and Nernst diffusion layer graded from the film's face
(growth) up to max_cell_size, the bulk at x = L.

cylinder-pore (``axisymmetric-cell`` in r–z, or ``3d``): the pore 0 < z < L
of radius a (core ``pore``, wall layer ``pore_layer``, wall ``pore_wall``);
with reservoirs of length R: cylinders of radius a + R and length R at both
ends (``bath``), their far faces ``end_a`` (z = −R) and ``end_b``
(z = L + R), side walls ``symmetry``, carbon faces beside the pore
``outer_surface``, and the mouths ``mouth_inner`` (z = 0) and
``mouth_outer`` (z = L). Without reservoirs the pore's end faces are
``end_a`` and ``end_b``. z is x[1] in 2D, x[2] in 3D. The boundary layer
(``mesh.boundary_layer``) refines toward the walls and toward the ends (or
mouths), where the bath meets the charged pore.
"""

from __future__ import annotations

import math

import gmsh
import numpy as np

from confine.case import Case
from confine.geometry import occ
from confine.geometry.derived import NM, Sizes
from confine.geometry.info import GeometryInfo


def build_planar(case: Case, sizes: Sizes) -> GeometryInfo:
    """Build the planar slab (see module doc)."""
    g = case.geometry
    assert g.length is not None
    length, width = g.length / NM, g.width / NM
    layer = g.catalyst == "layer"
    t = g.catalyst_layer / NM if layer else 0.0
    if layer and t >= length:
        raise ValueError("planar: the catalytic layer must be thinner than the slab")
    dim = {"1d": 1, "2d": 2, "3d": 3}[g.model]
    o = gmsh.model.occ
    if dim == 1:
        pts = [o.addPoint(x, 0, 0) for x in ([0.0, t, length] if layer else [0.0, length])]
        lines = [o.addLine(pts[i], pts[i + 1]) for i in range(len(pts) - 1)]
        o.synchronize()
        cells = {"outer_layer": [lines[0]], "bath": [lines[1]]} if layer else {"bath": lines}
        for name, tags in cells.items():
            gmsh.model.addPhysicalGroup(1, tags, occ.CELL_GROUPS[name], name)
        gmsh.model.addPhysicalGroup(0, [pts[0]], occ.FACET_GROUPS["electrode"], "electrode")
        gmsh.model.addPhysicalGroup(
            0, [pts[-1]], occ.FACET_GROUPS["outer_boundary"], "outer_boundary"
        )
        facets = {"electrode": [pts[0]], "outer_boundary": [pts[-1]]}
        asm = occ.Assembly(dim=1, cells=cells)
    else:

        def box(x1: float) -> tuple[int, int]:
            if dim == 2:
                return (2, o.addRectangle(0, 0, 0, x1, width))
            return (3, o.addBox(0, 0, 0, x1, width, width))

        ingredients = [("slab", [box(length)])]
        if layer:
            ingredients.append(("lay", [box(t)]))
        asm = occ.assemble(
            dim, ingredients, lambda names: "outer_layer" if "lay" in names else "bath"
        )
        rules = occ.FacetRules(
            named=[
                ("electrode", occ.on_plane((1, 0, 0), 0.0)),
                ("outer_boundary", occ.on_plane((1, 0, 0), length)),
            ],
            wall={"bath": "symmetry", "outer_layer": "symmetry"},
        )
        facets = occ.tag_boundaries(asm, rules)
    h0 = sizes.layer if layer else sizes.pore
    fields = [occ.graded(h0, sizes.growth, occ.relu(f"x - {t:.12g}"))]
    if layer and dim > 1:
        fields.append(occ.restricted(sizes.layer, dim, asm.cells["outer_layer"]))
    bl = occ.boundary_layer(sizes, dim, facets.get("electrode", []))
    if bl is not None:
        fields.append(bl)
    occ.set_background(fields, sizes)
    cross = width ** (dim - 1)
    vol = {"bath": (length - t) * cross}
    if layer:
        vol["outer_layer"] = t * cross
    return GeometryInfo(
        kind=g.kind,
        model=g.model,
        dimension=dim,
        axisymmetric=False,
        multiplicity=1.0,
        catalytic=("outer_layer",) if layer else ("electrode",),
        volumes=vol,
        areas={"electrode": cross, "outer_boundary": cross},
        cell_groups=tuple(sorted(asm.cells)),
        facet_groups=tuple(sorted(facets)),
    )


def _pore_rules(dim: int, a: float, res: float, length: float) -> occ.FacetRules:
    """How the boundaries of a cylinder pore (and its reservoirs) are named."""
    zaxis = (0.0, 1.0, 0.0) if dim == 2 else (0.0, 0.0, 1.0)
    side = (
        (lambda p: bool(np.all(np.abs(p[:, 0] - (a + res)) < 1e-7 * (a + res))))
        if dim == 2
        else (
            lambda p: bool(
                np.all(np.abs(np.hypot(p[:, 0], p[:, 1]) - (a + res)) < 1e-7 * (a + res))
            )
        )
    )
    rules = occ.FacetRules(
        named=[("end_a", occ.on_plane(zaxis, -res)), ("end_b", occ.on_plane(zaxis, length + res))],
        interface=[
            (occ.PORE_GROUPS, frozenset({"bath"}), "mouth_inner", occ.on_plane(zaxis, 0.0)),
            (occ.PORE_GROUPS, frozenset({"bath"}), "mouth_outer", occ.on_plane(zaxis, length)),
        ],
        wall={"pore": "pore_wall", "pore_layer": "pore_wall", "bath": "outer_surface"},
    )
    if dim == 2:
        rules.named.insert(0, ("axis", lambda p: bool(np.all(np.abs(p[:, 0]) < 1e-9 * a))))
    if res > 0:
        rules.named.insert(0, ("symmetry", side))
    return rules


def _pore_sizes(
    asm: occ.Assembly,
    facets: dict[str, list[int]],
    sizes: Sizes,
    dim: int,
    geometry: tuple[float, float, float],
) -> None:
    """The size field of a cylinder pore (``geometry``: radius, reservoir, length)."""
    a, res, length = geometry
    z = "y" if dim == 2 else "z"
    rr = "x" if dim == 2 else "Sqrt(x*x+y*y)"
    half = length / 2
    away = occ.relu(f"Fabs({z} - {half:.12g}) - {half:.12g}") + " + " + occ.relu(f"{rr} - {a:.12g}")
    fields = [occ.graded(sizes.pore, sizes.growth, away)]
    if asm.cells.get("pore"):
        fields.append(occ.restricted(sizes.pore, dim, asm.cells["pore"]))
    if asm.cells.get("pore_layer"):
        fields.append(occ.restricted(sizes.layer, dim, asm.cells["pore_layer"]))
    # double layers: at the walls, and where the pore meets the bath (its ends, or
    # its mouths between reservoirs: the Donnan transition)
    ends = ("mouth_inner", "mouth_outer") if res > 0 else ("end_a", "end_b")
    walls = [f for k in ("pore_wall", "outer_surface", *ends) for f in facets.get(k, [])]
    bl = occ.boundary_layer(sizes, dim, walls)
    if bl is not None:
        fields.append(bl)
    occ.set_background(fields, sizes)


def _pore_closed_forms(
    a: float, t: float, res: float, length: float, filled: bool
) -> tuple[dict[str, float], dict[str, float]]:
    """Volumes and areas of a cylinder pore and its reservoirs (``t`` 0: no layer)."""
    layer = t > 0
    disc = math.pi * a * a
    vol: dict[str, float] = {}
    if layer and not filled:
        vol["pore"] = math.pi * (a - t) ** 2 * length
        vol["pore_layer"] = disc * length - vol["pore"]
    else:
        vol["pore_layer" if layer else "pore"] = disc * length
    area = {"pore_wall": 2 * math.pi * a * length}
    if res > 0:
        big = math.pi * (a + res) ** 2
        vol["bath"] = 2 * big * res
        area.update(
            {
                "end_a": big,
                "end_b": big,
                "mouth_inner": disc,
                "mouth_outer": disc,
                "outer_surface": 2 * (big - disc),
                "symmetry": 2 * 2 * math.pi * (a + res) * res,
            }
        )
    else:
        area.update({"end_a": disc, "end_b": disc})
    return vol, area


def build_cylinder_pore(case: Case, sizes: Sizes) -> GeometryInfo:
    """Build one cylindrical pore, optionally between reservoirs (see module doc)."""
    g = case.geometry
    assert g.pore_length is not None
    length = g.pore_length / NM
    a = g.pore_diameter / 2 / NM
    res = g.reservoir_length / NM
    layer = g.catalyst == "layer"
    t = g.catalyst_layer / NM if layer else 0.0
    filled = layer and a - t < g.layer_fill_core / NM
    dim = 2 if g.model == "axisymmetric-cell" else 3
    o = gmsh.model.occ

    def cyl(radius: float, z0: float, z1: float) -> tuple[int, int]:
        if dim == 2:
            return (2, o.addRectangle(0.0, z0, 0.0, radius, z1 - z0))
        return (3, o.addCylinder(0.0, 0.0, z0, 0.0, 0.0, z1 - z0, radius))

    ingredients = [("pore", [cyl(a, 0.0, length)])]
    if layer and not filled:
        ingredients.append(("core", [cyl(a - t, 0.0, length)]))
    if res > 0:
        ingredients.append(("res", [cyl(a + res, -res, 0.0), cyl(a + res, length, length + res)]))

    def rule(names: frozenset[str]) -> str | None:
        if "core" in names:
            return "pore"
        if "pore" in names:
            return "pore_layer" if layer else "pore"
        return "bath" if "res" in names else None

    asm = occ.assemble(dim, ingredients, rule)
    facets = occ.tag_boundaries(asm, _pore_rules(dim, a, res, length))
    _pore_sizes(asm, facets, sizes, dim, (a, res, length))
    vol, area = _pore_closed_forms(a, t, res, length, filled)
    return GeometryInfo(
        kind=g.kind,
        model=g.model,
        dimension=dim,
        axisymmetric=dim == 2,
        multiplicity=1.0,
        pore_count=1,
        pores_in_cell=1,
        pore_filled=filled,
        catalytic=("pore_layer",) if layer else ("pore_wall",),
        volumes=vol,
        areas=area,
        cell_groups=tuple(sorted(asm.cells)),
        facet_groups=tuple(sorted(facets)),
    )
