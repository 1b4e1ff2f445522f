"""Functionals of a discrete state: rate integrals, consistent fluxes, wall data,
the cell Péclet number and P1 fields for output.

Each reads the model's Functions as they are (load a solution into the model
first: :meth:`confine.fem.model.Model.load`); none changes them. Fluxes through
boundaries come from the assembled residual (consistent flux), not from
−D∇c·n of a P1 field.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import ufl

from confine.env import import_dolfinx
from confine.fem import jit
from confine.fem.bcs import bath_facets
from confine.fem.parameters import Parameters
from confine.fem.residual import Residual
from confine.fem.spaces import Spaces, part, shape
from confine.geometry.groups import tag
from confine.physics import transport
from confine.units import FARADAY

import_dolfinx()
from dolfinx import fem  # noqa: E402
from mpi4py import MPI  # noqa: E402


def rate_integral(spaces: Spaces, residual: Residual, name: str) -> float:
    """∫ r dV (or dA) over where the reaction happens, mol/s per cell (not × multiplicity)."""
    r = spaces.case.reaction_named(name)
    meas = spaces.measure_of(r.where)
    if meas is None:
        return 0.0
    dim = spaces.d - 1 if r.where == "surface" else spaces.d
    return spaces.integrate(residual.rates[name] * spaces.w * meas) * spaces.L**dim


def _face_nodes(spaces: Spaces, group: str | None) -> np.ndarray:
    """The blocked space's nodes on one facet group's faces, or on every bath face
    (:func:`confine.fem.bcs.bath_facets`): owned and ghost, wherever found. Component
    c of node b is dof bs·b + c, so one locate serves every species (a locate on each
    component's sub-space is collective, and a collapsed copy builds an index map)."""
    if group is None:
        facets = bath_facets(spaces.case, spaces.meshdata)
    else:
        ft = spaces.meshdata.facet_tags
        facets = ft.indices[ft.values == tag(group)]
    return fem.locate_dofs_topological(spaces.V, spaces.tdim - 1, facets)


def _flux_test(
    spaces: Spaces,
    residual: Residual,
    tests: dict[tuple[str, str | None], fem.Function],
    name: str,
    group: str | None,
) -> fem.Function:
    """The P1 function that is 1 on the faces' nodes of a species' component, 0 elsewhere."""
    key = (name, group)
    g = tests.get(key)
    if g is None:  # one test function per species and faces: its functional compiles once
        g = fem.Function(spaces.V)
        bs = spaces.V.dofmap.index_map_bs
        g.x.array[bs * _face_nodes(spaces, group) + residual.eq_test[name]] = 1.0
        g.x.scatter_forward()
        tests[key] = g
    return g


def outward_flux(
    spaces: Spaces,
    residual: Residual,
    tests: dict[tuple[str, str | None], fem.Function],
    name: str,
    group: str | None = None,
) -> float:
    """Outward flux (mol/s per cell) through the bath faces from the assembled residual.

    The residual of the species balance tested with the P1 function that is
    1 on the faces' nodes and 0 elsewhere (the consistent flux), so it
    is exact to the solver tolerance, unlike −D∇c·n of the P1 field.

    Args:
        spaces: the model's spaces.
        residual: its forms.
        tests: the model's cache of test functions (one per species and faces).
        name: a solution species.
        group: one facet group (e.g. ``end_a``); default every bath face
            (:func:`confine.fem.bcs.bath_facets`).
    """
    g = _flux_test(spaces, residual, tests, name, group)
    functional = ufl.replace(residual.eq_forms[name], {spaces.v: g})
    return -spaces.integrate(functional) * residual.eq_scale[name]


def outward_fluxes(
    spaces: Spaces,
    residual: Residual,
    tests: dict[tuple[str, str | None], fem.Function],
    names: Sequence[str],
    group: str | None = None,
) -> dict[str, float]:
    """:func:`outward_flux` of several species from one compiled form.

    Their balances are tested with different components of ``v``, so the
    vector of their summed residual holds each one's rows: one assembly
    (one form for all species instead of one per species) summed over each
    species' face dofs (the face indicator's dot product). The faces' nodes
    are located once on the blocked space (component c of node b is dof
    bs·b + c): no Function per species (each builds a scatterer, collective;
    with a locate each, 12 species cost 0.66 s of a 2-rank sector run).
    Species sharing a component fall back to :func:`outward_flux`.
    """
    comps = [residual.eq_test[n] for n in names]
    if not names or len(set(comps)) < len(comps):
        return {n: outward_flux(spaces, residual, tests, n, group) for n in names}
    form = sum((residual.eq_forms[n] for n in names[1:]), residual.eq_forms[names[0]])
    vec = fem.assemble_vector(spaces.form(form)).array
    # owned and ghost face nodes: each rank's unscattered vector holds its own cells'
    # contributions, so the sum over ranks counts each once
    nodes = _face_nodes(spaces, group)
    bs = spaces.V.dofmap.index_map_bs
    local = np.array([vec[bs * nodes + c].sum() for c in comps])
    total = spaces.comm.allreduce(local, op=MPI.SUM)
    return {n: -float(total[k]) * residual.eq_scale[n] for k, n in enumerate(names)}


def cell_peclet(spaces: Spaces, cache: dict[str, Any]) -> float:
    """Largest cell Péclet number of migration, max |z| · max over edges |Δφ̂|.

    Galerkin ion fluxes need it below about 2 (a larger value calls for
    ``solver.stabilization = "eafe"``); 0 without φ or ions.
    """
    charges = [abs(z) for z in spaces.charges.values() if z != 0]
    if not spaces.has_phi or not charges:
        return 0.0
    Q = fem.functionspace(spaces.mesh, ("DG", 0))
    jump = fem.Function(Q)
    if "_peclet" not in cache:  # compiled once per model
        phi_hat = part(spaces.u, spaces.unknowns.index("phi"))
        expr = transport.edge_peclet(phi_hat, spaces.mesh)
        cache["_peclet"] = jit.expression(expr, Q.element.interpolation_points, spaces.comm)
    jump.interpolate(cache["_peclet"])
    local = jump.x.array.max(initial=0.0)
    return max(charges) * float(spaces.comm.allreduce(local, op=MPI.MAX))


def wall_indicator(spaces: Spaces, name: str) -> fem.Function:
    """Function in V whose φ component is 1 on the wall's nodes, 0 elsewhere."""
    g = fem.Function(spaces.V)
    bs = spaces.V.dofmap.index_map_bs
    g.x.array[bs * _face_nodes(spaces, name) + spaces.unknowns.index("phi")] = 1.0
    g.x.scatter_forward()
    return g


def wall_area_hat(spaces: Spaces, name: str) -> float:
    """A wall's (r-weighted) area in mesh units."""
    return spaces.integrate(spaces.w * spaces.ds(tag(name)))


def wall_potential(spaces: Spaces, name: str) -> float:
    """Area mean of φ over a wall (V, relative to the bath)."""
    if not spaces.poisson:
        raise ValueError("wall potentials need a poisson potential model")
    phi_hat = part(spaces.u, spaces.unknowns.index("phi"))
    return (
        spaces.vt
        * spaces.integrate(phi_hat * spaces.w * spaces.ds(tag(name)))
        / (wall_area_hat(spaces, name))
    )


def wall_charge(spaces: Spaces, params: Parameters, residual: Residual, name: str) -> float:
    """Area mean surface charge density of a wall (C/m²).

    A wall of given charge returns it; otherwise (given potential, Stern
    layer, or an uncharged wall) the consistent flux: Poisson's residual tested with the
    function that is 1 on the wall's nodes, which is ∮ ε ∂φ/∂n = the wall's
    charge to solver tolerance (Gauss's law for the discrete solution).
    """
    if not spaces.poisson:
        raise ValueError("wall charges need a poisson potential model")
    wall = params.case.wall_named(name)
    if wall is not None and wall.condition == "charge":
        return float(params.wall_value[name].value) * params.charge_scale
    g = wall_indicator(spaces, name)
    q = spaces.integrate(ufl.replace(residual.poisson_interior, {spaces.v: g}))
    return q / wall_area_hat(spaces, name) * params.charge_scale


def physical_functions(
    spaces: Spaces, residual: Residual, cache: dict[str, Any]
) -> dict[str, fem.Function]:
    """P1 Functions on the whole mesh in mol/m³ (species), V (phi) and coverage
    (adsorbates on a layer, 0 elsewhere); higher degrees are interpolated to P1.

    ``cache``: the model's compiled expressions (metrics of every sweep point call this).
    """
    P1 = fem.functionspace(spaces.mesh, ("Lagrange", 1))
    exprs = {name: residual.conc[name] for name in spaces.c_ref}
    if spaces.has_phi:
        exprs["phi"] = residual.phi
    if spaces.poisson:  # ρ = F Σ z c (C/m³)
        exprs["space_charge"] = FARADAY * residual.strength * residual.rho_hat
    # one compiled expression for every field (not one each): interpolated into a
    # blocked P1 space, whose node k holds component j at k·n + j, then split
    n = len(exprs)
    Pn = fem.functionspace(spaces.mesh, ("Lagrange", 1, shape(n)))
    if "_p1" not in cache:
        vec = ufl.as_vector(list(exprs.values())) if n > 1 else next(iter(exprs.values()))
        cache["_p1"] = jit.expression(vec, Pn.element.interpolation_points, spaces.comm)
    together = fem.Function(Pn)
    together.interpolate(cache["_p1"])
    values = together.x.array.reshape(-1, n)
    out: dict[str, fem.Function] = {}
    for j, name in enumerate(exprs):
        f = fem.Function(P1, name=name)
        f.x.array[:] = values[:, j]
        out[name] = f
    if spaces.theta is not None and spaces.catalyst == "layer":
        tdim = spaces.tdim
        submesh = spaces.submesh
        assert submesh is not None
        imap = submesh.topology.index_map(tdim)
        sub_cells = np.arange(imap.size_local + imap.num_ghosts, dtype=np.int32)
        cells = spaces.entity_maps[0].sub_topology_to_topology(sub_cells, inverse=False)
        Wp = fem.functionspace(submesh, ("Lagrange", 1))
        na = len(spaces.adsorbed)
        Wn = fem.functionspace(submesh, ("Lagrange", 1, shape(na)))
        if "_theta" not in cache:  # one expression for every coverage, split like the fields
            points = Wn.element.interpolation_points
            cache["_theta"] = jit.expression(spaces.theta, points, spaces.comm)
        thetas = fem.Function(Wn)
        thetas.interpolate(cache["_theta"])
        coverage = thetas.x.array.reshape(-1, na)
        for j, a in enumerate(spaces.adsorbed):
            th = fem.Function(Wp)
            th.x.array[:] = coverage[:, j]
            f = fem.Function(P1, name=a)
            f.interpolate(th, cells0=sub_cells, cells1=np.asarray(cells, dtype=np.int32))
            f.x.scatter_forward()
            out[a] = f
    return out
