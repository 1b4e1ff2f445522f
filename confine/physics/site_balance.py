"""The catalytic sites in a well-mixed state: coverages that balance, and the rates they give.

At a given composition and potential (no gradients), each adsorbate's
production Σ_r ν_ar r_r vanishes at steady state; the coverages that make it
so, and the rates of every catalytic step at them, are the kinetic limit of a
catalyst — the rate it would have if every site saw that composition. The
solver starts from these coverages, and the film's effectiveness factors
(:mod:`confine.two_scale`) compare a particle's rates with this limit. Floats
only: the same laws as the forms (:func:`confine.physics.kinetics.reaction_rate`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

from confine.case_data import CaseData
from confine.entries import Reaction
from confine.physics import kinetics


def adsorbed_names(case: CaseData) -> list[str]:
    """The adsorbed species, in case order."""
    return [s.name for s in case.species if s.phase == "adsorbed"]


def rate_scales(
    case: CaseData, conc: Mapping[str, float], k_of: Callable[[Reaction], float]
) -> dict[str, float]:
    """Magnitude of each adsorbate's rate terms at ``conc``, θ = 0.1 each, φ = 0.

    Args:
        case: the case (network, potential, temperature).
        conc: concentration (mol/m³) of every solution species.
        k_of: the rate constant to use for a reaction.
    """
    adsorbed = adsorbed_names(case)
    cov = dict.fromkeys(adsorbed, 0.1)
    out = {}
    for a in adsorbed:
        total = 0.0
        for r in case.reactions:
            c = kinetics.stoichiometry(r).get(a, 0.0)
            if not c:
                continue
            rate = kinetics.reaction_rate(
                r,
                {**conc, **cov},
                cov,
                k=k_of(r),
                kb=None,
                potential=case.electrode.potential,
                phi=0.0,
                temperature=case.electrolyte.temperature,
            )
            total += abs(c * rate)
        out[a] = total if total > 0 and math.isfinite(total) else 1.0
    return out


def steady_coverages(
    case: CaseData,
    conc: Mapping[str, float],
    k_of: Callable[[Reaction], float],
    potential: float | None = None,
    scales: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Coverages that balance the site kinetics at ``conc`` and φ = 0 (least squares in [0, 1]).

    Starts from each adsorbate's ``initial``. With every catalytic rate
    scaled alike the balances do not depend on the scale, so ``k_of`` may
    hold any common site factor.

    Args:
        case: the case.
        conc: concentration (mol/m³) of every solution species.
        k_of: the rate constant to use for a reaction.
        potential: electrode potential (V vs RHE; default the case's).
        scales: each adsorbate's rate scale (default :func:`rate_scales` at ``conc``).
    """
    # scipy.optimize is slow to import and only needed with adsorbates
    from scipy.optimize import least_squares

    adsorbed = adsorbed_names(case)
    if not adsorbed:
        return {}
    e = case.electrode.potential if potential is None else potential
    sc = dict(rate_scales(case, conc, k_of) if scales is None else scales)
    nus = {r.name: kinetics.stoichiometry(r) for r in case.reactions}

    def residual(th: np.ndarray) -> np.ndarray:
        cov = dict(zip(adsorbed, th.tolist(), strict=True))
        out = np.zeros(len(adsorbed))
        for r in case.reactions:
            if not any(a in nus[r.name] for a in adsorbed):
                continue
            rate = kinetics.reaction_rate(
                r,
                {**conc, **cov},
                cov,
                k=k_of(r),
                kb=r.backward_rate_constant,
                potential=e,
                phi=0.0,
                temperature=case.electrolyte.temperature,
            )
            for j, a in enumerate(adsorbed):
                out[j] += nus[r.name].get(a, 0.0) * rate / sc[a]
        return out

    start = np.array([case.species_named(a).initial for a in adsorbed], dtype=float)
    start = np.clip(start, 1e-6, 1.0 - 1e-6) / max(1.0, start.sum() + 1e-3)
    fit = least_squares(residual, start, bounds=(0.0, 1.0), xtol=1e-15, ftol=1e-15, gtol=1e-15)
    return dict(zip(adsorbed, fit.x.tolist(), strict=True))


def kinetic_limit(case: CaseData, conc: Mapping[str, float], potential: float) -> dict[str, float]:
    """Rate of every catalytic step (per volume at the reference site density, mol/(m³ s),
    or per area on a surface) with every site at ``conc`` and ``potential`` and the
    coverages of :func:`steady_coverages` there."""
    catalytic = [r for r in case.reactions if r.where != "electrolyte"]
    cov = steady_coverages(case, conc, lambda r: r.rate_constant, potential)
    return {
        r.name: kinetics.reaction_rate(
            r,
            {**conc, **cov},
            cov,
            k=r.rate_constant,
            kb=r.backward_rate_constant,
            potential=potential,
            phi=0.0,
            temperature=case.electrolyte.temperature,
        )
        for r in catalytic
    }
