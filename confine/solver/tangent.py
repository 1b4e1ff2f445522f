"""The differential capacitance of a charged wall, from the tangent of the solution.

The linearised problem J δu = −∂F/∂p is solved for the wall's data p with
MUMPS; with adsorbed species J is the solver's own two-block Newton Jacobian
(:func:`confine.solver.continuation.jacobian_at`).
"""

from __future__ import annotations

from typing import Any, cast

import ufl

from confine.env import import_dolfinx
from confine.fem.model import Model
from confine.fem.spaces import part, sub
from confine.geometry.groups import tag
from confine.physics import potential
from confine.solver.continuation import jacobian_at

import_dolfinx()
from dolfinx import fem  # noqa: E402
from dolfinx.fem import petsc as fem_petsc  # noqa: E402
from petsc4py import PETSc  # noqa: E402


def wall_capacitance(p: Model, name: str) -> float | None:
    """Differential capacitance dσ/dψ of a [[walls]] entry (F/m²), from the tangent.

    The linearised problem J δu = −∂F/∂p is solved for the wall's data p
    (σ̂, ψ̂, or the Stern wall's ψ̂_M = F(E − E_pzc)/RT), then
    C = (ε/L) dσ̂/dψ̂: exact for the discrete solution, no finite
    differences. ψ is the wall potential (charge, potential: the diffuse
    layer's capacitance) or the electrode potential (stern: Stern and
    diffuse layers in series, dσ/dE). With adsorbed species the whole
    two-block Jacobian at the solution is used (charge and Stern walls; None
    for a given-potential wall there). None for a wall not in [[walls]].
    ``p``: the model, the solution loaded (:meth:`Model.load`).
    """
    wall = p.case.wall_named(name)
    if not p.poisson or wall is None:
        return None
    if p.theta is not None and wall.condition == "potential":
        return None
    du = fem.Function(p.V)
    iphi = p.unknowns.index("phi")
    wphi = part(p.v, iphi)
    zero = fem.Constant(p.mesh, 0.0)
    if wall.condition == "charge":  # ∂F/∂σ̂ = −∮ w: J δu = ∮ w
        rhs = wphi * p.w * p.ds(tag(name))
    elif wall.condition == "stern":  # ∂F/∂ψ̂_M = −∮ k w
        rhs = p.stern_conductance(wall) * wphi * p.w * p.ds(tag(name))
    else:
        rhs = zero * wphi * p.w * p.dx
    tbcs = []
    for comp, dofs, owner in p.bc_dofs:
        value = 1.0 if (owner == name and wall.condition == "potential") else 0.0
        tbcs.append(fem.dirichletbc(value, dofs, sub(p.V, comp)))
    b = fem_petsc.assemble_vector(p.form(rhs))
    if p.theta is None:
        a = p.form(ufl.derivative(p.F[0], p.u, ufl.TrialFunction(p.V)))
        A = fem_petsc.assemble_matrix(a, bcs=tbcs)
        A.assemble()
        fem_petsc.apply_lifting(b, [a], bcs=[tbcs])
    cast(Any, b).ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    fem_petsc.set_bc(b, tbcs)
    if p.theta is not None:
        # the Newton Jacobian of both blocks (u, θ) at the solution, Dirichlet rows
        # the identity; the right-hand side lives in the u block (θ rows zero)
        b0 = b
        A, b = _two_block_tangent(p, b0)
        b0.destroy()
    ksp: Any = PETSc.KSP().create(cast(Any, p.comm))
    ksp.setOperators(A)
    ksp.setType("preonly")
    ksp.getPC().setType("lu")
    ksp.getPC().setFactorSolverType("mumps")
    x = b.duplicate()
    ksp.solve(b, x)
    n0 = p.V.dofmap.index_map.size_local * len(p.unknowns)
    du.x.array[:n0] = x.array_r[:n0]
    du.x.scatter_forward()
    for obj in (ksp, A, b, x):
        obj.destroy()
    area = p.wall_area_hat(name)
    dphi = part(du, iphi)
    if wall.condition == "charge":
        dsigma = 1.0
        dpsi = p.integrate(dphi * p.w * p.ds(tag(name))) / area
    else:
        g = p.wall_indicator(name)
        functional = ufl.replace(p.poisson_interior, {p.v: g})
        dsigma = p.integrate(ufl.derivative(functional, p.u, du)) / area
        dpsi = 1.0
    return potential.permittivity(p.case) / p.L * dsigma / dpsi


def _two_block_tangent(p: Model, b0: Any) -> tuple[Any, Any]:
    """The assembled two-block Jacobian at the current state, and ``b0`` (a vector
    of V) placed in the u block of a vector of its layout."""
    A = jacobian_at(p, p.state())
    b = A.createVecRight()
    n0 = p.V.dofmap.index_map.size_local * len(p.unknowns)
    b.array[:] = 0.0
    b.array[:n0] = b0.array_r[:n0]
    return A, b
