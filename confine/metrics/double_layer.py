"""Double-layer and electrokinetic metrics: walls, capacitance, pore conduction, cell Péclet.

For the poisson models: the Debye length and each [[walls]] entry's area-mean
charge, potential and differential capacitance — the capacitance from one
linear solve with the Newton Jacobian at the solution (the tangent, exact
for the discrete solution: no finite differences). Under
``geometry.end_voltage``: the ionic current through the pore, its
conductance and the transference numbers. With a potential unknown: the
largest cell Péclet number of migration (a warning above 2 with Galerkin ion
fluxes).
"""

from __future__ import annotations

import logging
from typing import Any, cast

import ufl

from confine.case import Case, Wall
from confine.env import import_dolfinx
from confine.fem.spaces import part, sub
from confine.geometry.groups import tag
from confine.physics import potential
from confine.solver.continuation import jacobian_at
from confine.units import FARADAY

log = logging.getLogger("confine")

import_dolfinx()
from dolfinx import fem  # noqa: E402
from dolfinx.fem import petsc as fem_petsc  # noqa: E402
from petsc4py import PETSc  # noqa: E402


def _owned_u(p: Any) -> int:
    """Owned entries of the u block (every unknown on the whole mesh)."""
    return int(p.V.dofmap.index_map.size_local * len(p.unknowns))


def _tangent_load(p: Any, wall: Wall) -> tuple[Any, list[Any]]:
    """−∂F/∂p for the wall's data p, as a form, and the tangent's Dirichlet conditions
    (1 on a given-potential wall's nodes, 0 on every other Dirichlet node)."""
    wphi = part(p.v, p.unknowns.index("phi"))
    if wall.condition == "charge":  # ∂F/∂σ̂ = −∮ w: J δu = ∮ w
        rhs = wphi * p.w * p.ds(tag(wall.name))
    elif wall.condition == "stern":  # ∂F/∂ψ̂_M = −∮ k w
        rhs = p.stern_conductance(wall) * wphi * p.w * p.ds(tag(wall.name))
    else:
        rhs = fem.Constant(p.V.mesh, 0.0) * wphi * p.w * p.dx
    bcs = []
    for comp, dofs, owner in p.bc_dofs:
        value = 1.0 if (owner == wall.name and wall.condition == "potential") else 0.0
        bcs.append(fem.dirichletbc(value, dofs, sub(p.V, comp)))
    return rhs, bcs


def _tangent_system(p: Any, wall: Wall) -> tuple[Any, Any]:
    """The tangent's matrix and right-hand side: the u-block Jacobian with the
    Dirichlet conditions lifted, or (with adsorbates) the two-block Newton Jacobian
    with the right-hand side in its u block (θ rows zero)."""
    rhs, bcs = _tangent_load(p, wall)
    b = fem_petsc.assemble_vector(p.form(rhs))
    if p.theta is None:
        a = p.form(ufl.derivative(p.F[0], p.u, ufl.TrialFunction(p.V)))
        A = fem_petsc.assemble_matrix(a, bcs=bcs)
        A.assemble()
        fem_petsc.apply_lifting(b, [a], bcs=[bcs])
    cast(Any, b).ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    fem_petsc.set_bc(b, bcs)
    if p.theta is None:
        return A, b
    A = jacobian_at(p, p.state())
    full = A.createVecRight()
    n0 = _owned_u(p)
    full.array[:] = 0.0
    full.array[:n0] = b.array_r[:n0]
    b.destroy()
    return A, full


def _tangent(p: Any, wall: Wall) -> fem.Function:
    """δu = du/dp of the wall's data p: J δu = −∂F/∂p by MUMPS LU."""
    A, b = _tangent_system(p, wall)
    ksp: Any = PETSc.KSP().create(cast(Any, p.comm))
    ksp.setOperators(A)
    ksp.setType("preonly")
    ksp.getPC().setType("lu")
    ksp.getPC().setFactorSolverType("mumps")
    x = b.duplicate()
    ksp.solve(b, x)
    du = fem.Function(p.V)
    n0 = _owned_u(p)
    du.x.array[:n0] = x.array_r[:n0]
    du.x.scatter_forward()
    for obj in (ksp, A, b, x):
        obj.destroy()
    return du


def wall_capacitance(p: Any, case: Case, name: str) -> float | None:
    """Differential capacitance dσ/dψ of a [[walls]] entry (F/m²), from the tangent.

    The linearised problem J δu = −∂F/∂p is solved for the wall's data p
    (σ̂, ψ̂, or the Stern wall's ψ̂_M = F(E − E_pzc)/RT), then
    C = (ε/L) dσ̂/dψ̂: exact for the discrete solution, no finite
    differences. ψ is the wall potential (charge, potential: the diffuse
    layer's capacitance) or the electrode potential (stern: Stern and
    diffuse layers in series, dσ/dE). With adsorbed species the whole
    two-block Jacobian at the solution is used (charge and Stern walls; None
    for a given-potential wall there). None for a wall not in [[walls]].

    Args:
        p: the solved model, at its solution.
        case: the case it solved.
        name: the wall's name.
    """
    wall = case.wall_named(name)
    if not p.poisson or wall is None:
        return None
    if p.theta is not None and wall.condition == "potential":
        return None
    du = _tangent(p, wall)
    area = p.wall_area_hat(name)
    if wall.condition == "charge":
        dsigma = 1.0
        dphi = part(du, p.unknowns.index("phi"))
        dpsi = p.integrate(dphi * p.w * p.ds(tag(name))) / area
    else:
        g = p.wall_indicator(name)
        functional = ufl.replace(p.poisson_interior, {p.v: g})
        dsigma = p.integrate(ufl.derivative(functional, p.u, du)) / area
        dpsi = 1.0
    return potential.permittivity(case) / p.L * dsigma / dpsi


def double_layer_metrics(case: Case, p: Any) -> dict[str, Any]:
    """Poisson models: the Debye length, each [[walls]] entry's charge, potential and
    differential capacitance."""
    out: dict[str, Any] = {"debye_length_nm": p.debye / 1e-9}
    out["walls"] = {
        w.name: {
            "surface_charge_C_per_m2": p.wall_charge(w.name),
            "potential_V": p.wall_potential(w.name),
            "differential_capacitance_F_per_m2": wall_capacitance(p, case, w.name),
        }
        for w in case.walls
    }
    return out


def pore_conduction(case: Case, p: Any) -> dict[str, Any]:
    """A cylinder pore under geometry.end_voltage V: the ionic current
    I = F Σ z_i N_i with N_i the consistent outflow through end_a (positive for
    V > 0: cations leave at the low-potential end), conductance I/V and
    transference numbers F z_i N_i / I (per pore)."""
    volts = float(case.geometry.end_voltage or 0.0)
    flux = p.outward_fluxes(list(p.c_ref), "end_a")
    current = FARADAY * sum(p.charges[n] * f for n, f in flux.items())
    return {
        "end_voltage_V": volts,
        "current_A": current,
        "conductance_S": current / volts if volts != 0.0 else None,
        "species": {
            n: {
                "flux_out_of_end_a_mol_s": f,
                "transference_number": (
                    FARADAY * p.charges[n] * f / current if current != 0.0 else None
                ),
            }
            for n, f in flux.items()
        },
    }


def max_cell_peclet(case: Case, p: Any) -> float | None:
    """The largest cell Péclet number of migration (None without φ); warns above 2
    with Galerkin ion fluxes."""
    peclet: float | None = p.cell_peclet() if p.has_phi else None
    if peclet is not None and peclet > 2.0 and case.solver.stabilization == "none":
        log.warning(
            "cell Péclet number of migration %.3g > 2 with Galerkin ion fluxes: refine the "
            "mesh at the walls or set solver.stabilization = 'eafe'",
            peclet,
        )
    return peclet
