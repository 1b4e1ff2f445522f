"""The unknowns as physical fields, and the reaction rates, in UFL (and in floats).

Concentrations are bulk + deviation: the unknown of a species is the
deviation ĉ_i − ĉ_i,bulk of ĉ_i = c_i / c_ref,i from its bulk value, not ĉ
itself: a reactant that a fast diffusion keeps within 1e-20 of its bulk
still carries its consumption in full precision (ĉ = 1 + 1e-20 is 1 in
floating point, and a flux computed from it would be zero), and the
residual's round-off floor is that of the actual fluxes, not of the bulk's.
The rates come from :mod:`confine.physics.kinetics`; catalytic ones carry the
per-site factor and (``ramp``) the continuation multiplier.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from confine.case import Case, Reaction
from confine.fem.parameters import Parameters
from confine.fem.spaces import Spaces, part
from confine.physics import kinetics, potential

Expr = Any


def physical_fields(
    spaces: Spaces, params: Parameters, u: Any, theta: Any
) -> tuple[dict[str, Expr], dict[str, Expr], Expr]:
    """Concentrations (mol/m³), coverages and φ (V) as UFL from the unknowns."""
    conc: dict[str, Expr] = {}
    for i, name in enumerate(spaces.unknowns):
        if name != "phi":  # the unknown is the deviation from the bulk (see module doc)
            conc[name] = spaces.c_ref[name] * (params.bulk_hat[name] + part(u, i))
    phi_hat = part(u, spaces.unknowns.index("phi")) if spaces.has_phi else None
    if spaces.eliminated is not None:
        z_e = spaces.charges[spaces.eliminated]
        conc[spaces.eliminated] = potential.eliminated_concentration(
            spaces.charges, conc, spaces.eliminated, z_e
        )
        conc = {s: conc[s] for s in spaces.c_ref}  # case order
    cov = {a: part(theta, j) for j, a in enumerate(spaces.adsorbed)} if theta is not None else {}
    phi = spaces.vt * phi_hat if phi_hat is not None else 0.0
    return conc, cov, phi


def rates(
    spaces: Spaces,
    params: Parameters,
    conc: Mapping[str, Expr],
    cov: Mapping[str, Expr],
    phi: Expr,
    ramp: bool = True,
) -> dict[str, Expr]:
    """Physical rate of every reaction (catalytic ones × the continuation multiplier)."""
    case = spaces.case
    values = {**conc, **cov}
    # Resolved double layers: the local φ is the reaction-plane potential φ₂, which
    # the Tafel law sees only with the Frumkin correction; otherwise the whole
    # metal–bath difference drives it (φ = 0, the bath). Concentrations stay local.
    if spaces.poisson and not case.electrode.frumkin:
        phi = 0.0
    out = {}
    for r in case.reactions:
        k: Expr = params.k[r.name]
        if r.where != "electrolyte":
            k = k * spaces.site_factor  # per-site kinetics: × local Γ / Γ_ref
        if r.type != "homogeneous" and ramp:
            k = params.s * k
        out[r.name] = kinetics.reaction_rate(
            r,
            values,
            cov,
            k=k,
            kb=params.kb.get(r.name),
            potential=params.E,
            phi=phi,
            temperature=spaces.temperature,
            alpha=params.alpha.get(r.name),
            reference=params.e_ref.get(r.name),
        )
    return out


def mean_rate_constant(spaces: Spaces, r: Reaction) -> float:
    """A catalytic rate constant at the mean site density (for float estimates only)."""
    return r.rate_constant * (spaces.site_scale if r.where != "electrolyte" else 1.0)


def adsorbate_rate_scales(spaces: Spaces, case: Case) -> dict[str, float]:
    """Magnitude of each adsorbate's rate terms at bulk, θ = 0.1, φ = 0 (float)."""
    vals: dict[str, float] = {
        s: max(case.species_named(s).bulk, spaces.c_ref[s]) for s in spaces.c_ref
    }
    cov = dict.fromkeys(spaces.adsorbed, 0.1)
    out = {}
    for a in spaces.adsorbed:
        total = 0.0
        for r in case.reactions:
            c = kinetics.stoichiometry(r).get(a, 0.0)
            if not c:
                continue
            rate = kinetics.reaction_rate(
                r,
                {**vals, **cov},
                cov,
                k=mean_rate_constant(spaces, r),
                kb=None,
                potential=case.electrode.potential,
                phi=0.0,
                temperature=spaces.temperature,
            )
            total += abs(c * rate)
        out[a] = total if total > 0 and math.isfinite(total) else 1.0
    return out


def initial_coverages(spaces: Spaces, case: Case) -> dict[str, float]:
    """Coverages that balance the site kinetics at bulk concentrations and φ = 0.

    With every catalytic rate scaled by s, the site balances do not depend
    on s, so bulk concentrations with these coverages solve s → 0 exactly;
    starting from θ = 0 instead would make the Jacobian singular (every
    rate then sees only Σθ through θ_free). Starts from ``species.initial``.
    """
    # scipy.optimize is slow to import and only needed with adsorbates
    from scipy.optimize import least_squares

    adsorbed = spaces.adsorbed
    vals = {s: case.species_named(s).bulk for s in spaces.c_ref}
    scales = adsorbate_rate_scales(spaces, case)
    nus = {r.name: kinetics.stoichiometry(r) for r in case.reactions}

    def residual(th: np.ndarray) -> np.ndarray:
        cov = dict(zip(adsorbed, th.tolist(), strict=True))
        out = np.zeros(len(adsorbed))
        for r in case.reactions:
            if not any(a in nus[r.name] for a in adsorbed):
                continue
            rate = kinetics.reaction_rate(
                r,
                {**vals, **cov},
                cov,
                k=mean_rate_constant(spaces, r),
                kb=r.backward_rate_constant,
                potential=case.electrode.potential,
                phi=0.0,
                temperature=spaces.temperature,
            )
            for j, a in enumerate(adsorbed):
                out[j] += nus[r.name].get(a, 0.0) * rate / scales[a]
        return out

    start = np.array([case.species_named(a).initial for a in adsorbed], dtype=float)
    start = np.clip(start, 1e-6, 1.0 - 1e-6) / max(1.0, start.sum() + 1e-3)
    fit = least_squares(residual, start, bounds=(0.0, 1.0), xtol=1e-15, ftol=1e-15, gtol=1e-15)
    return dict(zip(adsorbed, fit.x.tolist(), strict=True))


def set_bulk_state(spaces: Spaces, case: Case) -> None:
    """Bulk concentrations everywhere, φ = 0, coverages at their initial values
    (:func:`initial_coverages` for ``case``'s values)."""
    bs = len(spaces.unknowns)
    arr = spaces.u.x.array.reshape(-1, bs)
    arr[:] = 0.0  # no deviation from the bulk, φ = 0
    if spaces.theta is not None:
        tarr = spaces.theta.x.array.reshape(-1, len(spaces.adsorbed))
        theta0 = initial_coverages(spaces, case)
        for j, a in enumerate(spaces.adsorbed):
            tarr[:, j] = theta0[a]
