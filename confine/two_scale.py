"""The particle as the film's sub-grid model: effectiveness factors of every catalytic step.

The film sees each particle as a volumetric source. With the particle cell
solved in a bath of composition c and at potential E, each catalytic step j
runs at R_j (mol/s per particle); had every site seen c itself (no
transport inside the particle), it would run at its kinetic limit
R_j* = N_p r_j(c, θ*(c), E) / ρ_ref (N_p the particle's sites as its cell
counts them, r_j the rate per volume at the reference site density ρ_ref,
θ* the coverages that balance the sites at c:
:func:`confine.physics.site_balance.kinetic_limit`). The effectiveness factor
η_j = R_j / R_j* is what transport and confinement inside the particle do to
step j. The film's rate of step j at its local state is then
n_V η_j N_p r_j(c_film, θ_film, E − φ_film) / ρ_ref with n_V particles per
volume: the particle cell enters through η_j, computed at the composition
and potential the particle is solved at (the bulk). Where η_j hardly depends
on the local state — a particle whose Damköhler numbers are small — that is
exact to that order; how far η moves across the film's states is not checked
yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from confine.case_data import CaseData
from confine.catalyst import reference_site_density
from confine.document import value
from confine.physics.site_balance import kinetic_limit


@dataclass(frozen=True)
class Effectiveness:
    """Effectiveness factors of a particle at one composition and potential.

    Attributes:
        factors: η_j of every catalytic step.
        particle_rates: R_j, mol/s per particle, from its cell.
        limit_rates: R_j*, mol/s per particle, every site at the bath's state.
        sites: N_p, catalytic sites of one particle (mol), as its cell counts them.
        reference_density: ρ_ref, the site density the rate constants hold at
            (mol/m³ in a layer, mol/m² on a surface).
        potential: E (V vs RHE) the particle was solved at.
        composition: the bath's concentrations (mol/m³).
    """

    factors: dict[str, float]
    particle_rates: dict[str, float]
    limit_rates: dict[str, float]
    sites: float
    reference_density: float
    potential: float
    composition: dict[str, float] = field(default_factory=dict)


def effectiveness(case: CaseData, metrics: Mapping[str, Any]) -> Effectiveness:
    """η of every catalytic step of a particle case from its run's metrics (see module doc).

    Args:
        case: the particle case that was run (its bulk and potential are the state).
        metrics: that run's metrics document (``reactions``, ``catalyst.sites_mol``).
    """
    conc = {s.name: s.bulk for s in case.species if s.phase == "solution"}
    e = case.electrode.potential
    limit = kinetic_limit(case, conc, e)
    sites = float(value(metrics, "catalyst.sites_mol"))  # the whole particle's
    rho_ref = reference_site_density(case)
    factors, particle, lim = {}, {}, {}
    for name, r_site in limit.items():
        r_p = float(value(metrics, f"reactions.{name}.rate_mol_s"))
        r_lim = sites * r_site / rho_ref
        particle[name], lim[name] = r_p, r_lim
        factors[name] = r_p / r_lim if r_lim != 0.0 else 1.0
    return Effectiveness(
        factors=factors,
        particle_rates=particle,
        limit_rates=lim,
        sites=sites,
        reference_density=rho_ref,
        potential=e,
        composition=conc,
    )
