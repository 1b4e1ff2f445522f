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

from confine.case import Case, Reaction
from confine.catalyst import reference_site_density
from confine.fem.parameters import Parameters
from confine.fem.spaces import Spaces, part
from confine.physics import kinetics, potential, site_balance

Expr = Any


def physical_fields(
    spaces: Spaces, params: Parameters, u: Any, theta: Any
) -> tuple[dict[str, Expr], dict[str, Expr], Expr]:
    """Concentrations (mol/m³), coverages and φ (V) as UFL from the unknowns."""
    conc: dict[str, Expr] = {}
    for i, name in enumerate(spaces.unknowns):
        if name != "phi":  # the unknown is the deviation from the bulk (see module doc)
            conc[name] = spaces.c_scale[name] * (params.bulk_hat[name] + part(u, i))
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
    backward: bool = False,
) -> dict[str, Expr]:
    """Physical rate of every reaction (catalytic ones × the continuation multiplier);
    with ``backward``, the backward rate of every reversible one alone."""
    case = spaces.case
    values = {**conc, **cov}
    # Resolved double layers: the local φ is the reaction-plane potential φ₂, which
    # the Tafel law sees only with the Frumkin correction; otherwise the whole
    # metal–bath difference drives it (φ = 0, the bath). Concentrations stay local.
    if spaces.poisson and not case.electrode.frumkin:
        phi = 0.0
    out = {}
    fluid = fluid_fraction(spaces)
    for r in case.reactions:
        if backward and (r.name not in params.kb or r.type == "electrochemical"):
            continue
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
            backward_only=backward,
        )
        if r.where == "electrolyte" and fluid is not None:
            out[r.name] = fluid * out[r.name]  # per volume of the whole: its electrolyte reacts
    return out


def fluid_fraction(spaces: Spaces) -> Expr | None:
    """Where homogeneous reactions run, per volume: 1, and ``catalyst.layer_fluid_fraction``
    (default ``layer_porosity``) in the catalytic layer; None where that is 1 everywhere."""
    cat = spaces.case.catalyst
    frac = cat.layer_porosity if cat.layer_fluid_fraction is None else cat.layer_fluid_fraction
    if frac == 1.0:
        return None
    return 1.0 + (frac - 1.0) * spaces.chi_layer


def mean_rate_constant(spaces: Spaces, r: Reaction) -> float:
    """A catalytic rate constant at the mean site density (for float estimates only)."""
    return r.rate_constant * (spaces.site_scale if r.where != "electrolyte" else 1.0)


def adsorbate_rate_scales(spaces: Spaces, case: Case) -> dict[str, float]:
    """Magnitude of each adsorbate's rate terms at bulk, θ = 0.1, φ = 0 (float)."""
    vals = {s: max(case.species_named(s).bulk, spaces.c_ref[s]) for s in spaces.c_ref}
    return site_balance.rate_scales(case, vals, lambda r: mean_rate_constant(spaces, r))


def site_balance_scales(spaces: Spaces, case: Case) -> dict[str, float]:
    """What each adsorbate's site balance is divided by (float): its rate scale
    (:func:`adsorbate_rate_scales`) plus, with surface diffusion, the stiffness of
    that diffusion on the finest coverage cell, Γ D_s / (L h_min)².

    Each balance is then O(1) in its largest terms, so its round-off floor is
    ~1e-16 whatever D_s is. Divided by the rates alone, a fast surface diffusion
    (Γ D_s / (L h)² ~ 1e6 of the rates for *H at 5.5e-12 m²/s on 1 nm cells) held a
    floor of ~1e-9 that hid the species' residuals (~1e-7 at the first continuation
    step) from the line search: it failed there, with the species one Newton step
    short. A scale only: the discrete solution does not change.
    """
    scales = adsorbate_rate_scales(spaces, case)
    h = spaces.coverage_cell_min * spaces.L
    if spaces.catalyst != "layer" or not math.isfinite(h) or h <= 0.0:
        return scales
    gamma = reference_site_density(case) * spaces.site_scale  # mean mol/m³ of layer
    for a in scales:
        d_s = case.species_named(a).surface_diffusivity
        scales[a] += gamma * d_s / h**2
    return scales


def initial_coverages(spaces: Spaces, case: Case) -> dict[str, float]:
    """Coverages that balance the site kinetics at bulk concentrations and φ = 0.

    With every catalytic rate scaled by s, the site balances do not depend
    on s, so bulk concentrations with these coverages solve s → 0 exactly;
    starting from θ = 0 instead would make the Jacobian singular (every
    rate then sees only Σθ through θ_free). Starts from ``species.initial``.
    """
    vals = {s: case.species_named(s).bulk for s in spaces.c_ref}
    return site_balance.steady_coverages(
        case,
        vals,
        lambda r: mean_rate_constant(spaces, r),
        scales=adsorbate_rate_scales(spaces, case),
    )


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
