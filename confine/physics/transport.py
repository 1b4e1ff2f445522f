"""Fluxes: Fick, Nernst–Planck, and the mean-field (Bikerman) steric term.

N_i = −D_i (∇c_i + z_i c_i ∇φ̂ + c_i ∇S),  φ̂ = Fφ/RT,  S = −ln(1 − Σ_j ν_j),

where ν_j = N_A a_j³ c_j is the volume fraction of ion j on a lattice of
spacing a_j (Kilic, Bazant & Ajdari 2007): the chemical potential
μ_i = ln c_i + z_i φ̂ + S. Written for any consistent units: the solver passes
scaled concentrations and gradients in mesh units (nm).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ufl

from confine.units import AVOGADRO

Expr = Any


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
