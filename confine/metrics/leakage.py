"""Leakage of the intermediates: what leaves the particle through its outer pore mouths,
and what it costs in the first declared product (metrics.json ``species.<X>.leakage_*``).

An *intermediate* is an adsorbed species, or a solution species with no bulk
concentration that some step makes and another consumes and that is not a
declared product (``output.products``): *H and *NO in every representation.
Its leakage is the net flux out through the outer pore mouths, by the
species' balance over the particle's inside (cavity, pores and their layers,
the ``particle`` union): its net production there minus what accumulates
there (transient runs). What each representation makes of it:

* **mobile** (a solution species): the flux through the pore mouths into
  the bath. Where no bath step changes the species it equals the consistent
  ``outward_flux_mol_s`` through the bath's outer face (tests/test_leakage.py).
* **surface diffusion** (an adsorbate with a surface diffusivity): the surface
  flux along the layer past its edge at the outer mouths. The coverage lives on
  the layer alone, whose edge there is a natural no-flux boundary of the weak
  form, so it is zero to the solver tolerance unless a layer continues on the
  outer surface (``outer_layer``, solid spheres).
* **immobile** (an adsorbate without one): no transport term at all; its
  leakage is zero by construction (reported as 0).

Its cost: the product (``output.products[0]``) the leaked amount would have
made at the network's stoichiometry, leakage × ν_P/|ν_X| of the steps that
consume X and make P (weighted by X's consumption in each when several do;
0 when no step makes P from X directly).
"""

from __future__ import annotations

from typing import Any

from confine.case import Case
from confine.geometry.groups import tags
from confine.metrics.rates import Rates
from confine.steady_state import makers_and_users

UNITS = {
    "leakage_mol_s": "mol/s",
    "leakage_fraction_of_production": "1",
    "leakage_product_cost_mol_s": "mol/s",
}

#: What the keys are (``definitions.leakage`` adds each intermediate's representation).
DEFINITION = (
    "per intermediate (adsorbates; solution species without bulk that steps make and "
    "consume, not declared products): leakage = its net production inside the outer pore "
    "mouths (cavity, pores and their layers) minus its accumulation there = its flux out "
    "through the outer mouths (mobile: into the bath; surface diffusion: along the layer "
    "past its edge at the mouths, a no-flux edge unless an outer layer continues it, so zero "
    "to solver tolerance; immobile coverage: zero by construction); "
    "leakage_fraction_of_production = leakage / what the steps make of it (sum of "
    "max(nu r, 0)); leakage_product_cost = the first declared product (output.products[0]) "
    "that the leaked amount would have made at the network's stoichiometry, leakage * "
    "nu_P/|nu_X| of the steps consuming X and making P (weighted by their consumption of X; "
    "0 if no step makes P from X)"
)


def definitions(case: Case) -> dict[str, str]:
    """``definitions.leakage``: the keys, the product and each intermediate's representation."""
    product = case.output.products[0] if case.output.products else "none declared"
    kinds = ", ".join(f"{n} {representation(case, n)}" for n in intermediates(case))
    return {"leakage": f"{DEFINITION}. Here: product {product}; {kinds}"}


def intermediates(case: Case) -> list[str]:
    """The case's intermediates (see the module doc), in the case's order."""
    out = []
    for s in case.species:
        if s.phase == "adsorbed":
            out.append(s.name)
        elif s.bulk == 0.0 and s.name not in case.output.products:
            makers, users = makers_and_users(case, s.name)
            if makers and users:
                out.append(s.name)
    return out


def representation(case: Case, name: str) -> str:
    """``mobile``, ``surface diffusion`` or ``immobile``."""
    s = case.species_named(name)
    if s.phase == "solution":
        return "mobile"
    return "surface diffusion" if s.surface_diffusivity > 0.0 else "immobile"


def product_per_intermediate(case: Case, rates: Rates, name: str, product: str) -> float:
    """Molecules of ``product`` one molecule of ``name`` makes in the steps that consume it
    and make the product: Σ ν_P |ν_X r| / |ν_X| over Σ |ν_X r| (the first such step's
    ν_P/|ν_X| when none runs; 0 without one)."""
    ratios, weights = [], []
    for r in case.reactions:
        nu = rates.stoichiometry[r.name]
        x, made = nu.get(name, 0.0), nu.get(product, 0.0)
        if x < 0.0 < made:
            ratios.append(made / -x)
            weights.append(abs(x * rates.total[r.name]))
    if not ratios:
        return 0.0
    if sum(weights) == 0.0:
        return ratios[0]
    return sum(q * w for q, w in zip(ratios, weights, strict=True)) / sum(weights)


def _accumulation(p: Any, name: str, multiplicity: float) -> float:
    """d/dt of the amount inside the outer mouths (mol/s; 0 for a steady run)."""
    if not p.transient:
        return 0.0
    inside = tuple(t for t in tags("particle") if t in p.cell_groups)
    if name in p.conc:
        rate = (p.conc[name] - p.conc_old[name]) / p.dt
    else:  # Γ ∂θ/∂t over the layers inside
        rate = p.gamma * (p.cov[name] - p.cov_old[name]) / p.dt
    return p.integrate(rate * p.w * p.dx(inside)) * p.L**p.d * multiplicity


def leakage_entries(
    case: Case, p: Any, rates: Rates, multiplicity: float
) -> dict[str, dict[str, Any]]:
    """Every intermediate's leakage entry (collective; empty without a particle inside).

    Args:
        case: the case solved (its products name the cost's product).
        p: the solved model.
        rates: the reaction rates (with their part inside the outer mouths).
        multiplicity: cells per particle.
    """
    if not any(t in p.cell_groups for t in tags("particle")):
        return {}
    product = case.output.products[0] if case.output.products else None
    out: dict[str, dict[str, Any]] = {}
    for name in intermediates(case):
        if representation(case, name) == "immobile":
            flux = 0.0  # nothing carries a coverage: zero by construction
        else:
            flux = rates.particle_production(name) - _accumulation(p, name, multiplicity)
        made = rates.made(name)
        out[name] = {
            "leakage_mol_s": flux,
            "leakage_fraction_of_production": flux / made if made > 0.0 else None,
            "leakage_product_cost_mol_s": (
                flux * product_per_intermediate(case, rates, name, product)
                if product is not None
                else None
            ),
        }
    return out
