"""Dirichlet conditions: the bath (bulk values, φ = 0 or ±V/2 at a pore's ends)
and walls of given potential.

The bath holds the bulk: with deviations as unknowns (:mod:`confine.fem.fields`)
that is zero on the bath facets (:func:`bath_facets`). A manufactured solution
imposes its exact values there instead (verification hook).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from confine.case import Case
from confine.env import import_dolfinx
from confine.fem import jit
from confine.fem.parameters import Parameters
from confine.fem.spaces import Spaces, sub
from confine.geometry.groups import tag
from confine.mesh import MeshData

import_dolfinx()
from dolfinx import fem  # noqa: E402


@dataclass(frozen=True)
class Boundary:
    """The Dirichlet conditions of a model.

    Attributes:
        bcs: the dolfinx conditions (on the u block).
        bc_dofs: (component, dofs, wall name or None for the bath) of every condition
            but a manufactured one: the rows a tangent solve constrains too.
    """

    bcs: list[Any]
    bc_dofs: list[tuple[int, np.ndarray, str | None]]


def bath_facets(case: Case, meshdata: MeshData) -> np.ndarray:
    """Facets holding the bath condition: outer_boundary, and a cylinder-pore's ends."""
    ft = meshdata.facet_tags
    names = ["outer_boundary"]
    if case.geometry.kind == "cylinder-pore":
        names += ["end_a", "end_b"]
    return np.sort(ft.indices[np.isin(ft.values, [tag(n) for n in names])])


def build_bcs(
    spaces: Spaces, params: Parameters, exact: Callable[[str], Any] | None = None
) -> Boundary:
    """The conditions of the case (``exact``: a manufactured solution's bath values,
    scaled, per unknown)."""
    bcs: list[Any] = []
    bc_dofs: list[tuple[int, np.ndarray, str | None]] = []
    case = spaces.case
    fdim = spaces.tdim - 1
    ft = spaces.meshdata.facet_tags
    if spaces.poisson:
        iphi = spaces.unknowns.index("phi")
        Vphi = sub(spaces.V, iphi)
        for wall in case.walls:
            if wall.condition != "potential":
                continue
            wf = ft.indices[ft.values == tag(wall.name)]
            dofs = fem.locate_dofs_topological(Vphi, fdim, wf)
            bcs.append(fem.dirichletbc(params.wall_value[wall.name], dofs, Vphi))
            bc_dofs.append((iphi, dofs, wall.name))
    if case.geometry.bath_boundary != "bulk":
        return Boundary(bcs, bc_dofs)
    facets = bath_facets(case, spaces.meshdata)
    voltage = case.geometry.end_voltage is not None
    for i, name in enumerate(spaces.unknowns):
        Vi_sub = sub(spaces.V, i)
        if exact is not None:
            Vi, _ = Vi_sub.collapse()
            g = fem.Function(Vi)
            g.interpolate(jit.expression(exact(name), Vi.element.interpolation_points, spaces.comm))
            dofs = fem.locate_dofs_topological((Vi_sub, Vi), fdim, facets)
            bcs.append(fem.dirichletbc(g, dofs, Vi_sub))
            continue
        if name == "phi" and voltage:  # ±V/2 at the two ends of a cylinder pore
            for end, end_phi in params.end_value.items():
                ef = ft.indices[ft.values == tag(end)]
                edofs = fem.locate_dofs_topological(Vi_sub, fdim, ef)
                bc_dofs.append((i, edofs, None))
                bcs.append(fem.dirichletbc(end_phi, edofs, Vi_sub))
            continue
        dofs = fem.locate_dofs_topological(Vi_sub, fdim, facets)
        bc_dofs.append((i, dofs, None))
        # the bath holds the bulk: zero deviation (φ = 0)
        bcs.append(fem.dirichletbc(0.0, dofs, Vi_sub))
    return Boundary(bcs, bc_dofs)
