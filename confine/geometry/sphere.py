"""A ball of electrolyte: the cavity alone (no shell, pores or bath).

The classic closed-sphere checks (a droplet, a vesicle, a hollow particle's
cavity on its own): the fluid r < R, R = ``outer_diameter`` / 2, is
``cavity``; with ``catalyst = "layer"`` the shell R − t < r < R lining the
wall is ``cavity_layer``. The sphere's surface is ``outer_boundary`` and
carries ``geometry.bath_boundary`` (bulk, closed or exchange); with
``catalyst = "surface"`` it is also the reacting surface. Levels:
``axisymmetric-cell`` (the half-disc r ≥ 0, multiplicity 1) and ``full-3d``.
"""

from __future__ import annotations

import math

import numpy as np

from confine.case import Case
from confine.geometry import occ
from confine.geometry.derived import NM, Sizes
from confine.geometry.hollow import ball, ball_volume, clip_to
from confine.geometry.info import GeometryInfo


def build(case: Case, sizes: Sizes) -> GeometryInfo:
    """Build the ball of electrolyte (see module doc).

    Raises:
        ValueError: a level other than axisymmetric-cell or full-3d.
    """
    g = case.geometry
    if g.model not in ("axisymmetric-cell", "full-3d"):
        raise ValueError(f"a sphere is built at axisymmetric-cell or full-3d, not {g.model!r}")
    radius = g.outer_diameter / 2 / NM
    layer = g.catalyst == "layer"
    t = g.catalyst_layer / NM if layer else 0.0
    dim = 2 if g.model == "axisymmetric-cell" else 3
    ingredients = [("cavity", [ball(dim, radius)])]
    if layer:
        ingredients.append(("inner", [ball(dim, radius - t)]))
    if dim == 2:
        ingredients = clip_to(ingredients, (2, occ.cone_polygon(math.pi, radius)))

    def rule(names: frozenset[str]) -> str | None:
        if "cavity" not in names:
            return None
        return "cavity_layer" if layer and "inner" not in names else "cavity"

    asm = occ.assemble(dim, ingredients, rule)
    rules = occ.FacetRules(
        named=[("outer_boundary", occ.on_sphere(radius))], wall={"cavity": "outer_boundary"}
    )
    if dim == 2:
        rules.named.insert(0, ("axis", lambda p: bool(np.all(np.abs(p[:, 0]) < 1e-6 * radius))))
    facets = occ.tag_boundaries(asm, rules)

    # finest at the wall (the layer's resolution, or the surface catalyst's), graded inward
    fields = occ.radial_grading(sizes, radius - t, radius, sizes.wall, sizes.wall, dim)
    if layer:
        fields.append(occ.restricted(sizes.wall, dim, asm.cells["cavity_layer"]))
    bl = occ.boundary_layer(sizes, dim, facets.get("outer_boundary", []))
    if bl is not None:
        fields.append(bl)
    occ.set_background(fields, sizes)

    vol = {"cavity": ball_volume(radius - t)}
    if layer:
        vol["cavity_layer"] = ball_volume(radius) - ball_volume(radius - t)
    return GeometryInfo(
        kind=g.kind,
        model=g.model,
        dimension=dim,
        axisymmetric=dim == 2,
        multiplicity=1.0,
        catalytic=("cavity_layer",) if layer else ("outer_boundary",),
        volumes=vol,
        areas={"outer_boundary": 4 * math.pi * radius**2},
        cell_groups=tuple(sorted(asm.cells)),
        facet_groups=tuple(sorted(facets)),
    )
