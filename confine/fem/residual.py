"""The weak forms of one case: species balances, potential, site balances.

Assembled from :mod:`confine.physics` on the spaces of :mod:`confine.fem.spaces`
with the Constants of :mod:`confine.fem.parameters`. Each species balance is
divided by D_i c_ref,i L^(d−2) so its diffusion term is O(1); each adsorbate
balance by a scale of its own (:func:`confine.fem.fields.site_balance_scales`).

Ion fluxes are Galerkin by default; with ``solver.stabilization = "eafe"``
they are edge-averaged finite elements (Scharfetter–Gummel on every edge, see
:func:`confine.physics.transport.edge_averaged_flux_form`) for every charged
species under a potential model with φ (every species when steric), and the
poisson models' space charge (and a transient run's accumulation of those
species) is lumped at the vertices: stable, positive concentrations at any
cell Péclet number |z ∇φ̂| h (P1 simplices only). The unknowns stay the
concentrations, so everything that reads them is unchanged.

Sources of the method of manufactured solutions enter through one optional
hook (:class:`Sources`, built by ``confine.verification``); production runs
pass none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import ufl

from confine.fem import fields
from confine.fem.parameters import Parameters
from confine.fem.spaces import Spaces, part
from confine.geometry.groups import tag
from confine.physics import boundary, hindrance, kinetics, potential, transport

from confine.env import import_dolfinx  # isort: skip

import_dolfinx()
from dolfinx import fem  # noqa: E402
from dolfinx import mesh as dmesh  # noqa: E402

Expr = Any


class Sources(Protocol):
    """Manufactured-solution sources (verification only): what makes given fields exact."""

    def species(self, name: str) -> Expr:
        """f = ∇·N − R of the exact fields for a species (mol/(m³ s))."""

    def secondary(self) -> Expr:
        """The secondary model's source over κ (V/m²)."""

    def poisson(self) -> Expr:
        """The scaled Poisson equation's source."""

    def adsorbate(self, name: str) -> Expr:
        """The source of an adsorbate's site balance (mol/(m³ s) or mol/(m² s))."""

    def dirichlet(self, name: str) -> Expr:
        """The unknown's exact value (deviation, or φ̂) on the bath faces."""


class SourceHook(Protocol):
    """What ``solve(manufactured=...)`` takes: it builds the sources on a model's spaces."""

    def sources(self, spaces: Spaces, params: Parameters) -> Sources:
        """The sources for these spaces and Constants."""


@dataclass(frozen=True)
class Residual:
    """The residual forms and the UFL expressions built with them.

    Attributes:
        F: the residual, one form per block (u; θ with adsorbates).
        conc, cov, phi: concentrations (mol/m³), coverages and φ (V) as UFL.
        rates: every reaction's physical rate (catalytic ones × s).
        backward_rates: the backward rate alone of every reversible step (metrics).
        eq_forms: each species balance's interior part (tested with ``v``).
        eq_scale: scaled → physical factor of each balance (mol/s per L-power).
        eq_test: the component of ``v`` each balance is tested with.
        poisson_interior: Poisson's interior part (None without a poisson model).
        strength, debye, debye_ratio, rho_hat: Σ z² c_bulk, λ_D (m), L/λ_D and the
            scaled space charge (poisson models; 0/None otherwise).
        u_old, theta_old, conc_old, cov_old: the previous time step (transient).
    """

    F: list[Any]
    conc: dict[str, Expr]
    cov: dict[str, Expr]
    phi: Expr
    rates: dict[str, Expr]
    backward_rates: dict[str, Expr]
    eq_forms: dict[str, Any]
    eq_scale: dict[str, float]
    eq_test: dict[str, int]
    poisson_interior: Any = None
    strength: float = 0.0
    debye: float = 0.0
    debye_ratio: float = 0.0
    rho_hat: Expr = None
    u_old: Any = None
    theta_old: Any = None
    conc_old: dict[str, Expr] | None = None
    cov_old: dict[str, Expr] | None = None


# ------------------------------------------------------------------ material laws
def geo_factor(where: str, L: float) -> float:
    """L-power turning a scaled integral of a rate into a physical one (per L^(d−2))."""
    return L ** (1 if where == "surface" else 2)


def diffusivity_hat(spaces: Spaces, name: str) -> Expr:
    """D_eff / D in each region: hindrance in pores, ε/τ in the catalytic layer."""
    case = spaces.case
    sp = case.species_named(name)
    h = hindrance.hindrance_factor(
        case.electrolyte.hindrance, sp.radius, case.geometry.pore_diameter / 2
    )
    out: Expr = 1.0
    if h != 1.0:  # a Constant: one compiled form for every pore size (its cold start)
        out = 1.0 + fem.Constant(spaces.mesh, h - 1.0) * spaces.chi_pore
    eps_tau = layer_factor(spaces)
    return out if isinstance(eps_tau, float) else out * eps_tau


def layer_factor(spaces: Spaces) -> Expr:
    """ε/τ in the catalytic layer, 1 elsewhere: what the layer's porosity and
    tortuosity do to every transport coefficient (diffusivities and the secondary
    model's conductivity κ ε/τ; Bruggeman is τ = ε^−1/2). The number 1.0 when ε/τ = 1."""
    cat = spaces.case.catalyst
    eps_tau = cat.layer_porosity / cat.layer_tortuosity
    if eps_tau == 1.0:
        return 1.0
    return 1.0 + (eps_tau - 1.0) * spaces.chi_layer


def steric_on(spaces: Spaces) -> bool:
    """Steric (Bikerman) terms: ``electrolyte.steric`` or the ``poisson-steric`` model."""
    return bool(spaces.case.electrolyte.steric or spaces.model == "poisson-steric")


def steric_potential(spaces: Spaces, conc_hat: Mapping[str, Expr]) -> Expr | None:
    """S = −ln(1 − Σ v_j c_j), or None.

    On with ``electrolyte.steric`` or the ``poisson-steric`` model; the
    lattice spacing is ``electrolyte.ion_size`` for every ion, else twice
    each ion's ``radius`` (sizes per ion).
    """
    e = spaces.case.electrolyte
    if not steric_on(spaces):
        return None
    ions = [s for s in spaces.case.species if s.phase == "solution" and s.charge != 0]
    vols, cs = [], []
    for s in ions:
        size = e.ion_size if e.ion_size is not None else 2.0 * float(s.radius or 0.0)
        vols.append(transport.lattice_volume(size))
        cs.append(spaces.c_scale[s.name] * conc_hat[s.name])
    return transport.steric_potential(cs, vols)


def steric_gradient(spaces: Spaces, conc_hat: Mapping[str, Expr]) -> Expr | None:
    """Gradient of S (:func:`steric_potential`) in mesh units, or None."""
    steric = steric_potential(spaces, conc_hat)
    return None if steric is None else ufl.grad(steric)


def dx_lumped(spaces: Spaces) -> Any:
    """Vertex-rule cell measure for the space charge (and the accumulation of
    fitted species in transient runs) under EAFE (None: Galerkin).

    The fitted fluxes hold c at vertices (nodal Boltzmann at equilibrium);
    the lumped charge keeps Poisson's Jacobian an M-matrix with it, so φ
    is monotone through a layer that cells of the Debye length's size
    resolve only coarsely (the box method of drift–diffusion solvers).
    """
    if spaces.case.solver.stabilization != "eafe":
        return None
    return ufl.Measure(
        "dx",
        domain=spaces.mesh,
        subdomain_data=spaces.meshdata.cell_tags,
        metadata={"quadrature_rule": "vertex", "quadrature_degree": 1},
    )


def fitted(spaces: Spaces, name: str) -> bool:
    """Whether a species' flux is the EAFE one (``solver.stabilization = "eafe"``):
    ions under a potential model with φ, and every species when steric."""
    if spaces.case.solver.stabilization != "eafe":
        return False
    return (spaces.charges[name] != 0 and spaces.has_phi) or steric_on(spaces)


def fitted_flux_form(
    spaces: Spaces,
    name: str,
    conc_hat: Mapping[str, Expr],
    phi_hat: Expr | None,
    test: Expr,
    dhat: Expr,
) -> Any:
    """∫ −N̂·∇v w of one species by edge-averaged exponential fitting
    (:func:`confine.physics.transport.edge_averaged_flux_form`): the drift
    potential ψ = z φ̂ + S and ĉ taken at the vertices of each cell.

    Raises:
        ValueError: not P1 on affine simplices (EAFE works on edges of simplices).
    """
    msh = spaces.mesh
    if spaces.case.solver.degree != 1 or msh.geometry.cmaps[0].degree != 1:
        raise ValueError("solver.stabilization = 'eafe' needs P1 on an affine mesh")
    if msh.topology.cell_type not in (
        dmesh.CellType.interval,
        dmesh.CellType.triangle,
        dmesh.CellType.tetrahedron,
    ):
        raise ValueError("solver.stabilization = 'eafe' needs a simplex mesh")
    z = spaces.charges[name]
    c_v, psi = [], []
    for k in range(spaces.tdim + 1):
        # S is a nonlinear function of the ions: from their vertex values
        conc_k = {s: transport.vertex_value(conc_hat[s], msh, k) for s in conc_hat}
        value: Expr = 0.0
        if z != 0 and phi_hat is not None:
            value = z * transport.vertex_value(phi_hat, msh, k)
        steric = steric_potential(spaces, conc_k)
        if steric is not None:
            value = value + steric
        c_v.append(conc_k[name])
        psi.append(value)
    # The integrand is constant per cell (times 2πr), so a one-point rule would
    # do; but FFCx 0.11 miscompiles a kernel that mixes a one-point rule with
    # the vertex rule of the lumped charge (wrong rows in 1D and 2D; guarded by
    # tests/test_pnp.py), hence the solver's usual measure.
    return transport.edge_averaged_flux_form(c_v, psi, test, dhat, msh, spaces.w, spaces.dx)


def far_field_radius(spaces: Spaces) -> float:
    """The far-field sphere's radius (mesh units) of a spherical particle's bath."""
    g = spaces.case.geometry
    if g.kind not in ("hollow-sphere", "solid-sphere"):
        raise ValueError("bath_boundary = 'far-field' needs a spherical particle")
    return (g.outer_diameter / 2 + g.bath_thickness) / spaces.L  # mesh units


# ------------------------------------------------------------------ the forms
class _Builder:
    """Holds what every term needs while :func:`build_residual` assembles them."""

    def __init__(self, spaces: Spaces, params: Parameters, src: Sources | None):
        self.sp, self.pa, self.src = spaces, params, src
        case = spaces.case
        self.transient = case.solver.transient
        self.old: tuple[Any, Any, Any, Any] = (None, None, None, None)
        if self.transient:
            u_old = fem.Function(spaces.V, name="u_old")
            theta_old = fem.Function(spaces.W) if spaces.theta is not None else None
            c_old, cov_old, _ = fields.physical_fields(spaces, params, u_old, theta_old)
            self.old = (u_old, theta_old, c_old, cov_old)
        self.conc, self.cov, self.phi = fields.physical_fields(
            spaces, params, spaces.u, spaces.theta
        )
        self.rates = fields.rates(spaces, params, self.conc, self.cov, self.phi)
        #: The backward rates of the reversible steps alone (metrics: gross turnover).
        self.backward_rates = fields.rates(
            spaces, params, self.conc, self.cov, self.phi, backward=True
        )
        self.conc_hat = {s: self.conc[s] / spaces.c_scale[s] for s in self.conc}
        self.phi_hat: Expr = (
            part(spaces.u, spaces.unknowns.index("phi")) if spaces.has_phi else None
        )
        self.nu = {r.name: kinetics.stoichiometry(r) for r in case.reactions}

    def species(self, name: str, grad_steric: Expr | None) -> Any:
        """One species balance, interior part: −∫ N̂·∇v w − Σ ν r v w (+ ∂c/∂t)."""
        sp, case = self.sp, self.sp.case
        vi = part(sp.v, sp.unknowns.index("phi" if name == sp.eliminated else name))
        D = sp.diffusivity[name]
        Dhat = diffusivity_hat(sp, name)
        if fitted(sp, name):
            form = fitted_flux_form(sp, name, self.conc_hat, self.phi_hat, vi, Dhat)
        else:
            flux = transport.nernst_planck_flux(
                self.conc_hat[name],
                ufl.grad(self.conc_hat[name]),
                Dhat,
                sp.charges[name],
                ufl.grad(self.phi_hat) if self.phi_hat is not None else None,
                grad_steric,
            )
            form = -ufl.inner(flux, ufl.grad(vi)) * sp.w * sp.dx
        scale = D * sp.c_scale[name]
        for r in case.reactions:
            coef = self.nu[r.name].get(name, 0.0)
            meas = sp.measure_of(r.where)
            if coef == 0.0 or meas is None:
                continue
            form -= (
                (geo_factor(r.where, sp.L) / scale) * coef * self.rates[r.name] * vi * sp.w * meas
            )
        if self.src is not None:
            form -= (sp.L**2 / scale) * self.src.species(name) * vi * sp.w * sp.dx
        if self.transient:  # backward Euler accumulation ∂c/∂t
            rate = (self.conc[name] - self.old[2][name]) / self.pa.dt
            # lumped with fitted fluxes: a diagonal mass keeps the M-matrix
            dx_acc = dx_lumped(sp) if fitted(sp, name) else sp.dx
            form += (sp.L**2 / scale) * rate * vi * sp.w * dx_acc
        return form

    def secondary(self) -> Any:
        """The secondary model: ∇̂·(κ̂∇̂φ̂) = (F/κRT) Σ n r L² (Ohm's law with sources),
        κ̂ = ε/τ in the catalytic layer (:func:`layer_factor`), 1 elsewhere."""
        sp, case = self.sp, self.sp.case
        wphi = part(sp.v, sp.unknowns.index("phi"))
        grad_phi = ufl.grad(self.phi_hat)
        if not isinstance(eps_tau := layer_factor(sp), float):
            grad_phi = eps_tau * grad_phi
        form = ufl.inner(grad_phi, ufl.grad(wphi)) * sp.w * sp.dx
        fac = self.pa.ohm  # F/(κ v_T): a Constant, as κ follows the bath's ions
        for r in case.reactions:
            meas = sp.measure_of(r.where)
            if r.type != "electrochemical" or meas is None:
                continue
            geo = geo_factor(r.where, sp.L)
            form += fac * geo * r.electrons * self.rates[r.name] * wphi * sp.w * meas
        if self.src is not None:
            form -= fac * sp.L**2 * self.src.secondary() * wphi * sp.w * sp.dx
        if case.geometry.bath_boundary == "far-field":
            ds_outer = sp.ds(tag("outer_boundary"))
            form += self.phi_hat / far_field_radius(sp) * wphi * sp.w * ds_outer
        return form

    def poisson(self) -> tuple[Any, Any, dict[str, Any]]:
        """Scaled Poisson equation (see :mod:`confine.physics.potential`), tested with
        the φ component: (whole form, interior part for the consistent wall charge,
        the scales), charged walls added."""
        sp, pa, case = self.sp, self.pa, self.sp.case
        wphi = part(sp.v, sp.unknowns.index("phi"))
        #: Σ z² c_bulk (mol/m³) and the Debye length (m).
        strength = potential.ionic_strength_sum(case)
        debye = potential.debye_length(case)
        debye_ratio = sp.L / debye
        rho_hat = potential.space_charge_hat(sp.charges, self.conc, strength)
        form = potential.poisson_form(
            self.phi_hat, wphi, rho_hat, debye_ratio, sp.w, sp.dx, dx_lumped(sp)
        )
        if self.src is not None:
            form -= self.src.poisson() * wphi * sp.w * sp.dx
        interior = form
        for wall in case.walls:
            ds = sp.ds(tag(wall.name))
            if wall.condition == "charge":
                form += potential.wall_charge_form(pa.wall_value[wall.name], wphi, sp.w, ds)
            elif wall.condition == "stern":
                k = pa.stern_conductance(wall)
                form += potential.stern_form(
                    k, pa.wall_value[wall.name], self.phi_hat, wphi, sp.w, ds
                )
        scales = {
            "strength": strength,
            "debye": debye,
            "debye_ratio": debye_ratio,
            "rho_hat": rho_hat,
        }
        return form, interior, scales

    def adsorbates(self) -> Any:
        """Site balances: Γ D_s ∇²θ + Σ ν r = 0, rates not ramped (homogeneous in s)."""
        sp, pa, case = self.sp, self.pa, self.sp.case
        assert sp.theta is not None
        meas = sp.dx_layer if sp.catalyst == "layer" else sp.ds_surface
        # the rates where the species' balances (and the metrics) take them: the vertex
        # rule with solver.lumped_reactions, else meas itself (an O(h²) gap between the
        # two rules was the adsorbates' mass-balance error in a film)
        meas_rates = sp.measure_of("layer") if sp.catalyst == "layer" else meas
        rates1 = fields.rates(sp, pa, self.conc, self.cov, self.phi, ramp=False)
        scales = fields.site_balance_scales(sp, case)
        form = 0
        for j, a in enumerate(sp.adsorbed):
            qa = part(sp.q, j)
            # a Constant: the scale follows the sites of the geometry, the forms do not
            Rs = fem.Constant(sp.mesh, scales[a])
            prod = 0
            for r in case.reactions:
                c = self.nu[r.name].get(a, 0.0)
                if c:
                    prod = prod + c * rates1[r.name]
            if self.src is not None:
                prod = prod + self.src.adsorbate(a)
            term = -(prod / Rs) * qa * sp.w * meas_rates
            if self.transient:  # Γ ∂θ/∂t
                dtheta = (self.cov[a] - self.old[3][a]) / pa.dt
                term += (sp.gamma / Rs) * dtheta * qa * sp.w * meas
            ds_ = case.species_named(a).surface_diffusivity
            if ds_ > 0.0:
                if sp.catalyst != "layer":
                    raise NotImplementedError("surface diffusion on an areal catalyst")
                # Γ D_s ∇θ·∇q / (L² R_s), not ramped either: the site balance does not
                # depend on s, so the uniform start still solves s → 0, and a
                # diffusion term over s would swamp the kinetics 1/s to one at the
                # first steps (Newton then stalls: tests/test_surface_diffusion.py)
                th = part(sp.theta, j)
                term += (
                    (sp.gamma * ds_ / (sp.L**2 * Rs))
                    * ufl.inner(ufl.grad(th), ufl.grad(qa))
                    * sp.w
                    * meas
                )
            form += term
        return form


def build_residual(spaces: Spaces, params: Parameters, sources: Sources | None = None) -> Residual:
    """The residual of a case on its spaces (forms compile when the solver first needs them)."""
    b = _Builder(spaces, params, sources)
    case = spaces.case
    grad_steric = steric_gradient(spaces, b.conc_hat)
    robin = boundary.exchange_coefficients(case)  # far-field and exchange faces (m/s)
    ds_bath = spaces.ds(tuple(tag(n) for n in boundary.BATH_FACES))
    eq_forms: dict[str, Any] = {}
    eq_scale: dict[str, float] = {}
    eq_test: dict[str, int] = {}
    F0 = 0
    for name in spaces.c_ref:
        form = b.species(name, grad_steric)
        scale = spaces.diffusivity[name] * spaces.c_ref[name]
        eq_forms[name] = form
        eq_scale[name] = scale * spaces.L ** (spaces.d - 2)
        eq_test[name] = spaces.unknowns.index("phi" if name == spaces.eliminated else name)
        F0 += form
        if name in robin:  # outflow k (c − c_bulk); not in eq_forms: outward_flux sees it
            k_hat = robin[name] * spaces.L / spaces.diffusivity[name]
            vi = part(spaces.v, eq_test[name])
            F0 += boundary.exchange_form(
                b.conc_hat[name], params.bulk_hat[name], k_hat, vi, spaces.w, ds_bath
            )
    if spaces.model == "secondary":
        F0 += b.secondary()
    extra: dict[str, Any] = {}
    if spaces.poisson:
        form, interior, extra = b.poisson()
        F0 += form
        extra["poisson_interior"] = interior
    forms = [F0]
    if spaces.adsorbed:
        forms.append(b.adsorbates())
    u_old, theta_old, conc_old, cov_old = b.old
    return Residual(
        F=forms,
        conc=b.conc,
        cov=b.cov,
        phi=b.phi,
        rates=b.rates,
        backward_rates=b.backward_rates,
        eq_forms=eq_forms,
        eq_scale=eq_scale,
        eq_test=eq_test,
        u_old=u_old,
        theta_old=theta_old,
        conc_old=conc_old,
        cov_old=cov_old,
        **extra,
    )
