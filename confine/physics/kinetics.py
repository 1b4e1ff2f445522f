"""Rate laws: Tafel steps, mass action on sites, homogeneous reactions (reversible or not).

Every function accepts UFL expressions or plain floats (floats give floats),
so the solver's forms, the metrics and the closed-form tests use one law.
Concentrations are in mol/m³, coverages θ are fractions of the site density,
potentials in V. The solvent (H2O) has activity 1 and never appears in a rate.

Free sites: a step that puts net adsorbates on the catalyst needs that many
free sites, so its rate carries θ_free^s with s = (adsorbates produced −
adsorbates consumed) when positive (Langmuir–Hinshelwood); the backward
direction of a reversible step likewise. θ_free = 1 − Σθ.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

import ufl

from confine.case import SOLVENT, Reaction, backward_orders, forward_orders
from confine.units import FARADAY, GAS_CONSTANT

Expr = Any  # a UFL expression or a float


def _is_ufl(*xs: Any) -> bool:
    return any(isinstance(x, ufl.core.expr.Expr) for x in xs)


def exp(x: Expr) -> Expr:
    """exp for floats and UFL alike."""
    return ufl.exp(x) if _is_ufl(x) else math.exp(x)


def power(x: Expr, m: float) -> Expr:
    """x^m; non-integer orders see max(x, 0) so a Newton iterate with x < 0 gives no NaN."""
    if float(m).is_integer():
        n = int(m)
        return 1.0 if n == 0 else (x if n == 1 else x**n)
    if _is_ufl(x):
        return ufl.max_value(x, 0.0) ** m
    return max(float(x), 0.0) ** m


def mass_action(k: Expr, values: Mapping[str, Expr], orders: Mapping[str, float]) -> Expr:
    """k Π_j x_j^{m_j} over the declared orders (the solvent skipped).

    Args:
        k: rate constant (units per the orders and where the step happens).
        values: species name -> concentration (mol/m³) or coverage.
        orders: species name -> reaction order.
    """
    out = k
    for name, m in orders.items():
        if name == SOLVENT:
            continue
        out = out * power(values[name], m)
    return out


def free_sites(coverages: Mapping[str, Expr]) -> Expr:
    """θ_free = 1 − Σθ."""
    total: Expr = 0.0
    for theta in coverages.values():
        total = total + theta
    return 1.0 - total


def site_demand(r: Reaction, adsorbed: Collection[str]) -> tuple[float, float]:
    """Free sites needed by the forward and backward steps (net adsorbates created)."""
    made = sum(nu for s, nu in r.products.items() if s in adsorbed)
    used = sum(nu for s, nu in r.reactants.items() if s in adsorbed)
    return max(made - used, 0.0), max(used - made, 0.0)


def thermal_voltage(temperature: Expr) -> Expr:
    """RT/F in V."""
    return GAS_CONSTANT * temperature / FARADAY


def tafel_factor(
    alpha: Expr, potential: Expr, phi: Expr, reference: Expr, temperature: Expr
) -> Expr:
    """exp(−α_c F (E − φ − E_ref) / RT): cathodic Tafel factor at the local overpotential.

    Args:
        alpha: IUPAC cathodic transfer coefficient α_c.
        potential: electrode potential E (V vs RHE).
        phi: local electrolyte potential φ (V; 0 at the bath boundary).
        reference: E_ref, the potential at which the rate constant holds (V vs RHE).
        temperature: K.
    """
    return exp(-alpha * (potential - phi - reference) / thermal_voltage(temperature))


def reaction_rate(
    r: Reaction,
    values: Mapping[str, Expr],
    coverages: Mapping[str, Expr],
    *,
    k: Expr,
    kb: Expr | None = None,
    potential: Expr = 0.0,
    phi: Expr = 0.0,
    temperature: Expr = 298.15,
    alpha: Expr | None = None,
    reference: Expr | None = None,
    backward_only: bool = False,
) -> Expr:
    """Rate of one step (mol/(m³ s) in a layer or the electrolyte, mol/(m² s) on a surface).

    * electrochemical: k Π x^m θ_free^s exp(−α_c F (E − φ − E_ref)/RT);
    * chemical: k Π x^m θ_free^s [− kb Π x^m' θ_free^s' if reversible];
    * homogeneous: kf Π c^m [− kb Π c^m' if reversible].

    Args:
        r: the reaction (orders, coefficients, type).
        values: name -> concentration (mol/m³) or coverage, for every species it uses.
        coverages: adsorbed name -> coverage (for θ_free; empty without adsorbates).
        k: forward rate constant (a Constant in the solver so sweeps do not recompile).
        kb: backward rate constant (None: irreversible).
        potential: electrode potential (V vs RHE).
        phi: electrolyte potential (V).
        temperature: K.
        alpha: transfer coefficient (default r.transfer_coefficient).
        reference: reference potential (default r.reference_potential).
        backward_only: the backward rate alone (0 for an irreversible step), so that a
            fast equilibrium's turnover is its forward plus backward rate, not the net.
    """
    s_fwd, s_bwd = site_demand(r, coverages.keys())
    theta_free = free_sites(coverages) if coverages else 1.0
    reversible = kb is not None and r.type != "electrochemical"
    back: Expr = 0.0
    if reversible:
        back = mass_action(kb, values, backward_orders(r))
        if s_bwd:
            back = back * power(theta_free, s_bwd)
    if backward_only:
        return back
    rate = mass_action(k, values, forward_orders(r))
    if s_fwd:
        rate = rate * power(theta_free, s_fwd)
    if r.type == "electrochemical":
        a = r.transfer_coefficient if alpha is None else alpha
        e_ref = r.reference_potential if reference is None else reference
        return rate * tafel_factor(a, potential, phi, e_ref, temperature)
    return rate - back if reversible else rate


def stoichiometry(r: Reaction) -> dict[str, float]:
    """Net stoichiometric coefficients ν (products +, reactants −), solvent dropped."""
    nu: dict[str, float] = {}
    for s, c in r.reactants.items():
        if s != SOLVENT:
            nu[s] = nu.get(s, 0.0) - c
    for s, c in r.products.items():
        if s != SOLVENT:
            nu[s] = nu.get(s, 0.0) + c
    return {s: v for s, v in nu.items() if v != 0.0}
