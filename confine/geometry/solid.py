"""Solid carbon sphere (the non-confined CS control): catalyst outside only.

Fluid: an optional catalytic layer R_o < r < R_o + t (``outer_layer``) and
the bath out to R_b. With ``catalyst = "surface"`` the outer carbon face is
the reacting surface (facet group ``catalyst_surface``). Levels:
``axisymmetric-cell`` (the half-disc r ≥ 0: the solid sphere is fully
axisymmetric, so multiplicity 1) and ``full-3d``.
"""

from __future__ import annotations

import math

import gmsh
import numpy as np

from confine.case import Case
from confine.geometry import occ
from confine.geometry.derived import NM, Sizes
from confine.geometry.hollow import ball, ball_volume, clip_to
from confine.geometry.info import GeometryInfo


def build(case: Case, sizes: Sizes) -> GeometryInfo:
    """Build a solid-sphere model (see module doc).

    Raises:
        ValueError: ``sector-3d`` (no pore lattice to tile: use the axisymmetric cell).
    """
    g = case.geometry
    if g.model not in ("axisymmetric-cell", "full-3d"):
        raise ValueError(
            "solid-sphere is built at axisymmetric-cell or full-3d "
            f"(not {g.model!r}): it has no pore lattice to tile"
        )
    r_out = g.outer_diameter / 2 / NM
    r_bath = r_out + g.bath_thickness / NM
    layer = g.catalyst == "layer"
    t = g.catalyst_layer / NM if layer else 0.0
    dim = 2 if g.model == "axisymmetric-cell" else 3
    o = gmsh.model.occ
    bath, _ = o.cut([ball(dim, r_bath)], [ball(dim, r_out)])
    ingredients = [("bath", bath)]
    if layer:
        ingredients.append(("lay", [ball(dim, r_out + t)]))
    if dim == 2:
        ingredients = clip_to(ingredients, (2, occ.cone_polygon(math.pi, r_bath)))

    def rule(names: frozenset[str]) -> str | None:
        if "bath" not in names:
            return None
        return "outer_layer" if "lay" in names else "bath"

    asm = occ.assemble(dim, ingredients, rule)
    surface = "outer_surface" if layer else "catalyst_surface"
    rules = occ.FacetRules(
        named=[("outer_boundary", occ.on_sphere(r_bath))],
        wall={"bath": surface, "outer_layer": surface},
    )
    if dim == 2:
        rules.named.insert(0, ("axis", lambda p: bool(np.all(np.abs(p[:, 0]) < 1e-6 * r_bath))))
    facets = occ.tag_boundaries(asm, rules)

    fields = occ.radial_grading(sizes, r_out, r_out + t, sizes.wall, sizes.wall, dim)
    if layer:
        fields.append(occ.restricted(sizes.layer, dim, asm.cells["outer_layer"]))
    bl = occ.boundary_layer(sizes, dim, facets.get(surface, []))
    if bl is not None:
        fields.append(bl)
    occ.set_background(fields, sizes)

    vol = {"bath": ball_volume(r_bath) - ball_volume(r_out + t)}
    if layer:
        vol["outer_layer"] = ball_volume(r_out + t) - ball_volume(r_out)
    area = {surface: 4 * math.pi * r_out**2, "outer_boundary": 4 * math.pi * r_bath**2}
    return GeometryInfo(
        kind=g.kind,
        model=g.model,
        dimension=dim,
        axisymmetric=dim == 2,
        multiplicity=1.0,
        catalytic=("outer_layer",) if layer else ("catalyst_surface",),
        volumes=vol,
        areas=area,
        cell_groups=tuple(sorted(asm.cells)),
        facet_groups=tuple(sorted(facets)),
    )
