"""Potential models: none, secondary (ohmic), electroneutral (one ion eliminated).

* ``none``: supporting electrolyte, φ = 0.
* ``secondary``: −∇·(κ∇φ) = −F Σ_k n_k r_k. Cathodic steps take positive charge
  out of the electrolyte (Σ_i z_i ν_ik = −n_k), so the ionic current i = −κ∇φ
  ends at the catalyst (∇·i = −F Σ n_k r_k) and φ drops there.
* ``electroneutral``: Σ z_i c_i = 0 with one ion eliminated,
  c_e = −Σ_{j≠e} z_j c_j / z_e; its own mass balance (with c_e substituted)
  becomes the equation for φ, which with the others is charge conservation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from confine.case import Case, Species
from confine.units import FARADAY, GAS_CONSTANT

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
