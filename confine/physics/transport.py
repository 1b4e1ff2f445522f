"""Fluxes: Fick, Nernst–Planck, and the mean-field (Bikerman) steric term.

N_i = −D_i (∇c_i + z_i c_i ∇φ̂ + c_i ∇S),  φ̂ = Fφ/RT,  S = −ln(1 − Σ_j ν_j),

where ν_j = N_A a_j³ c_j is the volume fraction of ion j on a lattice of
spacing a_j (Kilic, Bazant & Ajdari 2007): the chemical potential
μ_i = ln c_i + z_i φ̂ + S. Written for any consistent units: the solver passes
scaled concentrations and gradients in mesh units (nm).

Galerkin P1 for this flux oscillates (and gives negative concentrations) once
the cell Péclet number of the drift |∇ψ| h, ψ = z φ̂ + S, exceeds about 2,
as in a double layer resolved by cells of the Debye length's size.
:func:`edge_averaged_flux_form` is the exponentially fitted alternative: the
edge-averaged finite elements (EAFE) of Xu & Zikatanov (Math. Comp. 68, 1429,
1999), which on P1 simplices replace each edge's term of the stiffness matrix
by the Scharfetter–Gummel flux along that edge. Its matrix in c is an
M-matrix (on meshes whose stiffness matrix is one: non-obtuse triangles,
Delaunay in 2D) at every Péclet number, so concentrations stay non-negative
and free of oscillations; at Boltzmann equilibrium (zero flux) it holds
c_k e^{ψ_k} equal at all vertices, the nodal Boltzmann distribution.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ufl
from ufl.geometry import CellVertices

from confine.units import AVOGADRO

Expr = Any

#: Below this |x| the Bernoulli function is its Taylor series (error < 1e-16);
#: x/(eˣ − 1) itself loses about 1e-16/|x| to cancellation there.
BERNOULLI_SERIES = 1e-2


def nernst_planck_flux(
    c: Expr,
    grad_c: Expr,
    diffusivity: Expr,
    charge: float = 0.0,
    grad_phi_hat: Expr | None = None,
    grad_steric: Expr | None = None,
) -> Expr:
    """N = −D (∇c + z c ∇φ̂ + c ∇S); Fick's law when z = 0 and no steric term.

    Args:
        c: concentration.
        grad_c: its gradient.
        diffusivity: D (hindered where it applies).
        charge: z.
        grad_phi_hat: gradient of the dimensionless potential Fφ/RT (None: no field).
        grad_steric: gradient of S = −ln(1 − Σν) (None: point ions).
    """
    drive = grad_c
    if charge != 0.0 and grad_phi_hat is not None:
        drive = drive + charge * c * grad_phi_hat
    if grad_steric is not None:
        drive = drive + c * grad_steric
    return -diffusivity * drive


def lattice_volume(size: float) -> float:
    """Molar volume N_A a³ (m³/mol) of an ion on a lattice of spacing ``size`` (m)."""
    return AVOGADRO * size**3


def steric_potential(concentrations: Sequence[Expr], molar_volumes: Sequence[float]) -> Expr:
    """S = −ln(1 − Σ_j v_j c_j): the Bikerman excess chemical potential (in units of RT).

    Args:
        concentrations: ion concentrations (mol/m³).
        molar_volumes: N_A a_j³ of each ion (m³/mol).
    """
    packing: Expr = 0.0
    for c, v in zip(concentrations, molar_volumes, strict=True):
        packing = packing + v * c
    return -ufl.ln(1.0 - packing)


def divergence(flux: Expr, x: Expr, axisymmetric: bool) -> Expr:
    """∇·N in Cartesian coordinates, or (1/r) ∂_r(r N_r) + ∂_z N_z with x[0] = r."""
    if not axisymmetric:
        return ufl.div(flux)
    return flux[0].dx(0) + flux[0] / x[0] + flux[1].dx(1)


def bernoulli(x: Expr) -> Expr:
    """B(x) = x / (eˣ − 1), with B(0) = 1 (a series near 0: no 0/0, no cancellation).

    B(x) → −x for x → −∞ and → 0 for x → +∞ without overflow trouble, and
    B(−x) = B(x) + x.
    """
    series = 1.0 - x / 2.0 + x**2 / 12.0 - x**4 / 720.0
    return ufl.conditional(ufl.lt(abs(x), BERNOULLI_SERIES), series, x / (ufl.exp(x) - 1.0))


def vertex_value(f: Expr, mesh: Any, k: int) -> Expr:
    """The value of a cellwise affine field (P1) at the cell's vertex k, as UFL.

    f(x_k) = f(x) + ∇f·(x_k − x): exact for P1 on affine simplices, at any
    quadrature point (so forms built from it see nodal values).
    """
    x = ufl.SpatialCoordinate(mesh)
    return f + ufl.dot(ufl.grad(f), CellVertices(mesh)[k, :] - x)


def barycentric_gradients(mesh: Any) -> list[Expr]:
    """∇λ_k of the barycentric coordinates of an affine simplex (constant per cell).

    λ_k = X_{k−1} (k ≥ 1) and λ_0 = 1 − Σ X in reference coordinates, so
    ∇λ_k is row k−1 of K = ∂X/∂x and ∇λ_0 = −Σ_k ∇λ_k.
    """
    K = ufl.JacobianInverse(mesh)
    tdim = mesh.topology.dim
    rows = [K[k, :] for k in range(tdim)]
    first: Expr = -rows[0]
    for r in rows[1:]:
        first = first - r
    return [first, *rows]


def edge_averaged_flux_form(
    c_vertex: Sequence[Expr],
    psi_vertex: Sequence[Expr],
    test: Expr,
    coefficient: Expr,
    mesh: Any,
    weight: Expr,
    dx: Any,
) -> Any:
    """EAFE form of ∫ −N·∇v w with N = −a (∇c + c ∇ψ), on affine P1 simplices.

    The P1 stiffness form splits into edges, ∫_T a ∇c·∇v w =
    Σ_{k<l} ω_kl a (c_k − c_l)(v_k − v_l) with ω_kl = −∫_T w ∇λ_k·∇λ_l.
    EAFE keeps the weights and puts the Scharfetter–Gummel flux in place of
    a (c_k − c_l): a [B(Δ) c_k − B(−Δ) c_l], Δ = ψ_l − ψ_k, B the Bernoulli
    function (:func:`bernoulli`) — the exact flux of the 1D problem along the
    edge with ψ linear and N constant. Δ = 0 gives the Galerkin form back.

    Args:
        c_vertex: c at the cell's vertices (:func:`vertex_value`).
        psi_vertex: the drift potential ψ = z φ̂ (+ S) at the vertices.
        test: the P1 test function (its vertex differences are ∇v·(x_k − x_l)).
        coefficient: a, constant on each cell (D, or D_eff/D).
        mesh: the mesh (affine simplices).
        weight: 1, or 2πr axisymmetric (integrated by ``dx``: degree ≥ 1 then).
        dx: the cell measure.
    """
    grads = barycentric_gradients(mesh)
    xv = CellVertices(mesh)
    n = len(grads)
    total: Expr = 0.0
    for k in range(n):
        for m in range(k + 1, n):
            omega = -ufl.dot(grads[k], grads[m])
            delta = psi_vertex[m] - psi_vertex[k]
            flux = bernoulli(delta) * c_vertex[k] - bernoulli(-delta) * c_vertex[m]
            dv = ufl.dot(ufl.grad(test), xv[k, :] - xv[m, :])
            total = total + omega * flux * dv
    return coefficient * total * weight * dx


def edge_peclet(psi: Expr, mesh: Any) -> Expr:
    """max over a cell's edges of |Δψ|: the cell Péclet number of the drift ψ = z φ̂ (+ S).

    Galerkin P1 oscillates above about 2 (in 1D the zero-flux nodal ratio
    c_{k+1}/c_k = (1 − Δ/2)/(1 + Δ/2) turns negative); EAFE is exact there
    for piecewise-constant flux. Constant per cell for P1 ψ (interpolate into DG0).
    """
    xv = CellVertices(mesh)
    n = mesh.topology.dim + 1
    jumps = [
        abs(ufl.dot(ufl.grad(psi), xv[k, :] - xv[m, :])) for k in range(n) for m in range(k + 1, n)
    ]
    out = jumps[0]
    for j in jumps[1:]:
        out = ufl.max_value(out, j)
    return out
