"""The method of manufactured solutions: exact fields and the sources that make them exact.

Verification only: the tests and benchmarks pass a :class:`Manufactured` to
``confine.solver.continuation.solve(manufactured=...)``; production code never
imports this module, and the solver sees it only through the
:class:`confine.fem.residual.SourceHook` protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ufl

from confine.fem import fields
from confine.fem.parameters import Parameters
from confine.fem.residual import diffusivity_hat, layer_factor, steric_gradient
from confine.fem.spaces import Spaces
from confine.physics import kinetics, potential, transport
from confine.units import FARADAY

Expr = Any
FieldFn = Callable[[Any], Any]  # x (mesh coordinates, nm) -> UFL expression


@dataclass
class Manufactured:
    """Exact fields for the method of manufactured solutions (verification only).

    Each callable maps the mesh coordinates (UFL, nm) to a UFL expression in
    physical units: concentrations in mol/m³, coverages as fractions, φ in V.
    The solver adds the sources that make them exact and imposes them on the
    outer boundary (Dirichlet) instead of the bulk values.
    """

    concentration: dict[str, FieldFn]
    coverage: dict[str, FieldFn] = field(default_factory=dict)
    potential: FieldFn | None = None

    def sources(self, spaces: Spaces, params: Parameters) -> ManufacturedSources:
        """The sources of these fields on a model's spaces (the solver's hook)."""
        return ManufacturedSources(self, spaces, params)


class ManufacturedSources:
    """The sources and bath values of a :class:`Manufactured` on one model."""

    def __init__(self, m: Manufactured, spaces: Spaces, params: Parameters):
        self.sp, self.pa = spaces, params
        x = spaces.x
        conc = {s: m.concentration[s](x) for s in m.concentration}
        if spaces.eliminated is not None and spaces.eliminated not in conc:
            conc[spaces.eliminated] = potential.eliminated_concentration(
                spaces.charges, conc, spaces.eliminated, spaces.charges[spaces.eliminated]
            )
        self.conc = conc
        self.cov = {a: m.coverage[a](x) for a in m.coverage}
        self.phi: Expr = m.potential(x) if m.potential is not None else 0.0
        self.rates = fields.rates(spaces, params, self.conc, self.cov, self.phi)
        self.nu = {r.name: kinetics.stoichiometry(r) for r in spaces.case.reactions}

    def species(self, name: str) -> Expr:
        """f = ∇·N(exact) − R(exact), physical (mol/(m³ s)), with ∇ in mesh units / L."""
        sp = self.sp
        c = self.conc[name]
        phi_hat = self.phi / sp.vt
        grad_steric = steric_gradient(sp, {s: self.conc[s] / sp.c_ref[s] for s in self.conc})
        flux = transport.nernst_planck_flux(
            c,
            ufl.grad(c),
            sp.diffusivity[name] * diffusivity_hat(sp, name),
            sp.charges[name],
            ufl.grad(phi_hat) if sp.has_phi else None,
            None if grad_steric is None else grad_steric,
        )
        div = transport.divergence(flux, sp.x, sp.axisymmetric) / sp.L**2
        react: Expr = 0.0
        for r in sp.case.reactions:
            coef = self.nu[r.name].get(name, 0.0)
            if coef and r.where != "surface":
                chi = 1.0 if r.where == "electrolyte" else sp.chi_layer
                react = react + coef * chi * self.rates[r.name]
        return div - react

    def secondary(self) -> Expr:
        """g = −∇·(κ_eff∇φ) + F Σ n r (exact), divided by κ (V/m²); κ_eff = κ ε/τ in the layer."""
        sp = self.sp
        kappa = potential.conductivity(sp.case)
        grad_phi = ufl.grad(self.phi)
        if not isinstance(eps_tau := layer_factor(sp), float):
            grad_phi = eps_tau * grad_phi
        lap = transport.divergence(grad_phi, sp.x, sp.axisymmetric) / sp.L**2
        src: Expr = 0.0
        for r in sp.case.reactions:
            if r.type == "electrochemical" and r.where == "layer":
                src = src + r.electrons * sp.chi_layer * self.rates[r.name]
        return -kappa * lap / FARADAY + src

    def poisson(self) -> Expr:
        """g = −∇̂²φ̂ − (L/λ_D)² ρ̂ of the exact fields (scaled)."""
        sp = self.sp
        strength = potential.ionic_strength_sum(sp.case)
        debye_ratio = sp.L / potential.debye_length(sp.case)
        phi_hat = self.phi / sp.vt
        lap = transport.divergence(ufl.grad(phi_hat), sp.x, sp.axisymmetric)
        rho = potential.space_charge_hat(sp.charges, self.conc, strength)
        return -lap - debye_ratio**2 * rho

    def adsorbate(self, a: str) -> Expr:
        """h = −Σ ν r(exact) − Γ D_s ∇²θ(exact) (unramped rates)."""
        sp = self.sp
        rates = fields.rates(sp, self.pa, self.conc, self.cov, self.phi, ramp=False)
        total: Expr = 0.0
        for r in sp.case.reactions:
            c = self.nu[r.name].get(a, 0.0)
            if c:
                total = total + c * rates[r.name]
        species = sp.case.species_named(a)
        if species.surface_diffusivity > 0.0:
            th = self.cov[a]
            lap = transport.divergence(ufl.grad(th), sp.x, sp.axisymmetric) / sp.L**2
            total = total + sp.gamma * species.surface_diffusivity * lap
        return -total

    def dirichlet(self, name: str) -> Expr:
        """The exact unknown on the bath: φ̂, or the deviation ĉ − ĉ_bulk."""
        if name == "phi":
            return self.phi / self.sp.vt
        return self.conc[name] / self.sp.c_ref[name] - self.pa.bulk_hat[name]
