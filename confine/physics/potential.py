"""Potential models: none, secondary, electroneutral, poisson (+ steric).

* ``none``: supporting electrolyte, φ = 0.
* ``secondary``: −∇·(κ∇φ) = −F Σ_k n_k r_k. Cathodic steps take positive charge
  out of the electrolyte (Σ_i z_i ν_ik = −n_k), so the ionic current i = −κ∇φ
  ends at the catalyst (∇·i = −F Σ n_k r_k) and φ drops there.
* ``electroneutral``: Σ z_i c_i = 0 with one ion eliminated,
  c_e = −Σ_{j≠e} z_j c_j / z_e; its own mass balance (with c_e substituted)
  becomes the equation for φ, which with the others is charge conservation.
* ``poisson`` (and ``poisson-steric``, whose steric flux term lives in
  :mod:`confine.physics.transport`): −∇·(ε∇φ) = F Σ z_i c_i, resolving the
  double layer. Scaled with φ̂ = Fφ/RT, lengths in the mesh unit L and
  concentrations by the bulk ionic strength I₂ = Σ z_j² c_j,bulk:
  −∇̂²φ̂ = (L/λ_D)² ρ̂,  ρ̂ = Σ z_i c_i / I₂,  λ_D² = ε RT/(F² I₂);
  on a wall with given surface charge σ: ∂φ̂/∂n̂ = σ̂ = σ L/(ε RT/F), n out of
  the electrolyte (Gauss: the wall carries σ, the diffuse layer −σ); behind a
  Stern layer σ = C_S (E − E_pzc − φ_wall). With exponentially fitted ion
  fluxes (``solver.stabilization = "eafe"``) the space-charge term is lumped
  at the vertices (``dx_source`` of :func:`poisson_form`), which keeps the
  discrete Poisson–Boltzmann operator monotone on coarse cells.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import ufl

from confine.case import Case, Species
from confine.units import FARADAY, GAS_CONSTANT

#: Vacuum permittivity (F/m), CODATA 2018.
EPSILON_0 = 8.8541878128e-12

Expr = Any


def conductivity_from_ions(ions: Sequence[Species], temperature: float) -> float:
    """Bulk conductivity κ = F²/(RT) Σ z² D c (S/m), dilute-solution limit."""
    total = sum(s.charge**2 * (s.diffusivity or 0.0) * s.bulk for s in ions)
    return FARADAY**2 / (GAS_CONSTANT * temperature) * total


def conductivity(case: Case) -> float:
    """κ of the case: given (electrolyte.conductivity) or computed from the bulk ions."""
    if case.electrolyte.conductivity is not None:
        return case.electrolyte.conductivity
    ions = [s for s in case.species if s.phase == "solution" and s.charge != 0]
    kappa = conductivity_from_ions(ions, case.electrolyte.temperature)
    if kappa <= 0.0:
        raise ValueError(
            "secondary potential model: no ions to conduct (give electrolyte.conductivity)"
        )
    return kappa


def charge_source(currents: Mapping[str, Expr]) -> Expr:
    """Σ_k n_k F r_k (A/m³ or A/m²) from reaction name -> n_k r_k."""
    total: Expr = 0.0
    for value in currents.values():
        total = total + FARADAY * value
    return total


def eliminated_ion(case: Case) -> Species:
    """The ion the electroneutral model eliminates.

    The ion with the largest bulk concentration among those that react in no
    step (a spectator such as K+); failing that, the largest bulk ion.

    Raises:
        ValueError: fewer than two ions.
    """
    ions = [s for s in case.species if s.phase == "solution" and s.charge != 0]
    if len(ions) < 2:
        raise ValueError("electroneutral model needs at least two ions")
    reacting = {n for r in case.reactions for n in (*r.reactants, *r.products)}
    spectators = [s for s in ions if s.name not in reacting]
    pool = spectators or ions
    return max(pool, key=lambda s: (s.bulk, -abs(s.charge)))


def eliminated_concentration(
    charges: Mapping[str, int], conc: Mapping[str, Expr], eliminated: str, z_eliminated: int
) -> Expr:
    """c_e = −Σ_{j≠e} z_j c_j / z_e."""
    total: Expr = 0.0
    for name, z in charges.items():
        if name != eliminated and z != 0:
            total = total + z * conc[name]
    return -total / z_eliminated


def permittivity(case: Case) -> float:
    """ε = ε_r ε_0 of the electrolyte (F/m)."""
    return case.electrolyte.relative_permittivity * EPSILON_0


def ionic_strength_sum(case: Case) -> float:
    """I₂ = Σ z_j² c_j of the bulk (mol/m³; twice the ionic strength)."""
    return sum(s.charge**2 * s.bulk for s in case.species if s.phase == "solution")


def debye_length(case: Case) -> float:
    """λ_D = sqrt(ε RT / (F² Σ z² c_bulk)) (m).

    Raises:
        ValueError: no ions in the bulk.
    """
    strength = ionic_strength_sum(case)
    if strength <= 0.0:
        raise ValueError("poisson models need ions in the bulk (no Debye length)")
    rt = GAS_CONSTANT * case.electrolyte.temperature
    return math.sqrt(permittivity(case) * rt / (FARADAY**2 * strength))


def space_charge_hat(charges: Mapping[str, int], conc: Mapping[str, Expr], strength: float) -> Expr:
    """ρ̂ = Σ z_i c_i / I₂ (dimensionless; ρ = F I₂ ρ̂ in C/m³)."""
    total: Expr = 0.0
    for name, z in charges.items():
        if z != 0:
            total = total + z * conc[name]
    return total / strength


def poisson_form(
    phi_hat: Expr,
    test: Expr,
    rho_hat: Expr,
    debye_ratio: float,
    weight: Expr,
    dx: Any,
    dx_source: Any = None,
) -> Any:
    """Weak scaled Poisson: ∫ ∇φ̂·∇w − (L/λ_D)² ρ̂ w (weight: 1, or 2πr axisymmetric).

    The natural boundary term is ∮ ∂φ̂/∂n̂ w: zero on uncharged walls and
    symmetry planes; charged walls add :func:`wall_charge_form`.

    Args:
        dx_source: measure of the space-charge term (default ``dx``). The
            vertex rule lumps it, so the Jacobian of a Boltzmann-like charge
            (∂ρ̂/∂φ̂ < 0) is the stiffness matrix plus a positive diagonal: an
            M-matrix, no undershoot of φ next to a coarsely resolved layer.
    """
    if dx_source is None:  # one integrand
        return (
            (ufl.inner(ufl.grad(phi_hat), ufl.grad(test)) - debye_ratio**2 * rho_hat * test)
            * weight
            * dx
        )
    field = ufl.inner(ufl.grad(phi_hat), ufl.grad(test)) * weight * dx
    return field - debye_ratio**2 * rho_hat * test * weight * dx_source


def wall_charge_form(sigma_hat: Expr, test: Expr, weight: Expr, ds: Any) -> Any:
    """−∮ σ̂ w on a wall of given charge (σ̂ = σ L F/(ε RT), ε ∂φ/∂n = σ)."""
    return -sigma_hat * test * weight * ds


def stern_form(
    conductance: float, metal_hat: Expr, phi_hat: Expr, test: Expr, weight: Expr, ds: Any
) -> Any:
    """−∮ k (ψ̂_M − φ̂) w on a wall behind a Stern layer, k = C_S L / ε.

    σ = C_S (E − E_pzc − φ_wall) with ε ∂φ/∂n = σ, scaled: ∂φ̂/∂n̂ = k (ψ̂_M − φ̂),
    ψ̂_M = F (E − E_pzc)/RT.
    """
    return -conductance * (metal_hat - phi_hat) * test * weight * ds


def charge_scale(case: Case, length: float) -> float:
    """σ per σ̂ (C/m²): ε (RT/F) / L."""
    vt = GAS_CONSTANT * case.electrolyte.temperature / FARADAY
    return permittivity(case) * vt / length
