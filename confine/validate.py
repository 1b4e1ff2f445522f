"""Cross-key rules of a case, checked before any meshing.

Each rule returns problems naming the file, the key and the rule broken. Single
values (units, signs, choices) are checked while reading (:mod:`confine.case_reader`);
what needs several keys at once is here: geometry consistency and the pore
lattice at the cavity radius, the species and reaction network (names, charge
and element balance, electrons, declared orders), and whether a steady state
can exist. The rules read the case as read (:class:`~confine.case_data.CaseData`);
:func:`confine.case.case_from_dict` applies them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from confine.budget import check_budget, fits_budget
from confine.case_data import CaseData
from confine.chemistry import charge_balance, element_imbalance, elements
from confine.entries import SOLVENT, Reaction
from confine.findings import Finding
from confine.geometry.derived import NM, lattice_of
from confine.names import did_you_mean
from confine.sections import PARTICLE_MODELS
from confine.steady_state import check_site_balances, check_steady_state
from confine.validate_bath import check_bath
from confine.validate_film import check_film


def check_case(case: CaseData) -> list[Finding]:
    """All cross-key problems of a case (empty when it is valid)."""
    rules: list[Callable[[CaseData], list[Finding]]] = [
        check_budget,  # pores, cells and memory, estimated before anything heavy
        _check_geometry,
        _check_species,
        _check_reactions,
        _check_potential_model,
        _check_walls,
        _check_steady_state,
        _check_stabilization,
        _check_start,
        _check_output,
        _check_catalyst,
        check_bath,
        check_film,
    ]
    problems: list[Finding] = []
    for rule in rules:
        problems += rule(case)
    if not case.species:  # say that first, without the unknown species that follow from it
        problems = [p for p in problems if p.key == "species"] + [
            p for p in problems if p.key != "species" and "unknown species" not in p.message
        ]
    return problems


# --------------------------------------------------------------------------- geometry
def _check_geometry(case: CaseData) -> list[Finding]:
    g, f = case.geometry, case.source
    out: list[Finding] = []

    def err(key: str, msg: str) -> None:
        out.append(Finding(f, f"geometry.{key}", msg))

    particle = g.kind in ("hollow-sphere", "solid-sphere")
    if particle and g.model not in PARTICLE_MODELS:
        err(
            "model",
            f"'{g.model}' is not a fidelity level of a particle ({', '.join(PARTICLE_MODELS)})",
        )
    if g.kind == "solid-sphere" and g.model == "sector-3d":
        err(
            "model",
            "a solid sphere has no pore lattice to tile: use axisymmetric-cell "
            "(exact for a sphere) or full-3d",
        )
    if g.kind == "planar":
        if g.model not in ("1d", "2d", "3d"):
            err("model", f"'{g.model}' is not a planar dimension (1d, 2d, 3d)")
        if g.length is None:
            err("length", "required for kind 'planar'")
    if g.kind == "cylinder-pore":
        if g.model not in ("axisymmetric-cell", "3d"):
            err("model", f"'{g.model}' is not a cylinder-pore model (axisymmetric-cell, 3d)")
        if g.pore_length is None:
            err("pore_length", "required for kind 'cylinder-pore'")
    if g.kind == "hollow-sphere":
        _check_hollow(case, err)
    if g.kind == "solid-sphere" and g.catalyst == "layer" and g.catalyst_layer >= g.bath_thickness:
        err("catalyst_layer", "layer must be thinner than the bath")
    if (
        g.kind == "cylinder-pore"
        and g.catalyst == "layer"
        and (g.catalyst_layer > g.pore_diameter / 2)
    ):
        err("catalyst_layer", "layer is thicker than the pore radius")
    return out


def _check_hollow(case: CaseData, err: Callable[[str, str], None]) -> None:
    """A hollow sphere: shell, pores and layer fit, and the pore lattice leaves walls."""
    g = case.geometry
    radius = g.outer_diameter / 2
    if g.shell_thickness >= radius:
        err(
            "shell_thickness",
            f"shell of {g.shell_thickness / NM:g} nm is not thinner than "
            f"the particle radius {radius / NM:g} nm",
        )
        return
    if g.pore_diameter >= g.shell_thickness:
        err("pore_diameter", "pore diameter must be smaller than the shell thickness")
    given = [k for k in ("wall_thickness", "porosity", "pore_count") if getattr(g, k) is not None]
    if len(given) != 1:
        err(
            "wall_thickness",
            "give exactly one of wall_thickness, porosity, pore_count "
            f"to set the pore lattice (got {', '.join(given) or 'none'})",
        )
    elif fits_budget(case):  # else check_budget says why (the lattice would not finish)
        lat = lattice_of(case)
        assert lat is not None
        if lat.min_wall < g.min_wall / NM:
            what = (
                "the pore is wider than its pitch: pores overlap"
                if lat.min_wall <= 0
                else "pores too close"
            )
            err(
                given[0],
                f"{what} at the cavity radius (smallest wall "
                f"{lat.min_wall:.3g} nm with {lat.count} pores of "
                f"{g.pore_diameter / NM:g} nm; geometry.min_wall = {g.min_wall / NM:g} nm)",
            )
    if g.catalyst == "layer":
        if g.catalyst_layer > g.pore_diameter / 2:
            err(
                "catalyst_layer",
                f"layer of {g.catalyst_layer / NM:g} nm is thicker than "
                f"the pore radius {g.pore_diameter / 2 / NM:g} nm",
            )
        if g.catalyst_layer >= radius - g.shell_thickness:
            err("catalyst_layer", "layer is thicker than the cavity radius")


# --------------------------------------------------------------------------- species
def _check_species(case: CaseData) -> list[Finding]:
    f, out = case.source, []
    names = [s.name for s in case.species]
    for name, n in Counter(names).items():
        if n > 1:
            out.append(Finding(f, f"species.{name}", f"duplicate species name ({n} entries)"))
    if not case.species:
        out.append(Finding(f, "species", "at least one species is needed"))
    needs_radius = case.electrolyte.hindrance != "none" and case.geometry.kind in (
        "hollow-sphere",
        "cylinder-pore",
    )
    for s in case.species:
        k = f"species.{s.name}"
        if s.name == SOLVENT:
            out.append(Finding(f, f"{k}.name", "H2O is the solvent: it is not a species"))
        if s.formula is None and elements(s.name) is None:
            out.append(
                Finding(
                    f,
                    f"{k}.formula",
                    f"'{s.name}' is not a formula: give formula "
                    '(e.g. formula = "CH4N2O") for element balances',
                )
            )
        if s.formula is not None and elements(s.formula) is None:
            out.append(Finding(f, f"{k}.formula", f"'{s.formula}' is not a plain formula"))
        if s.phase == "solution":
            if s.diffusivity is None:
                out.append(Finding(f, f"{k}.diffusivity", "required for a solution species"))
            if needs_radius and s.radius is None:
                out.append(
                    Finding(
                        f,
                        f"{k}.radius",
                        "required for hindered diffusion "
                        f"(electrolyte.hindrance = '{case.electrolyte.hindrance}')",
                    )
                )
        else:
            if s.charge != 0:
                out.append(
                    Finding(
                        f,
                        f"{k}.charge",
                        "an adsorbed species carries no charge (its charge went to the electrode)",
                    )
                )
            if s.bulk != 0:
                out.append(
                    Finding(
                        f,
                        f"{k}.bulk",
                        "an adsorbed species has no bulk "
                        "concentration (use initial for a coverage)",
                    )
                )
        if s.radius is not None and (s.radius_kind is None or not s.radius_source):
            out.append(
                Finding(
                    f,
                    f"{k}.radius_kind",
                    "a radius must say which it is "
                    "(radius_kind) and where it comes from (radius_source)",
                )
            )
    return out


# --------------------------------------------------------------------------- reactions
def _check_reactions(case: CaseData) -> list[Finding]:
    f, out = case.source, []
    known = {s.name for s in case.species}
    phases = {s.name: s.phase for s in case.species}
    for name, n in Counter(r.name for r in case.reactions).items():
        if n > 1:
            out.append(Finding(f, f"reactions.{name}", f"duplicate reaction name ({n} entries)"))
    for r in case.reactions:
        k = f"reactions.{r.name}"
        bad_species = False
        for part in ("reactants", "products", "orders", "backward_orders"):
            for sp in getattr(r, part):
                if sp != SOLVENT and sp not in known:
                    near = did_you_mean(sp, sorted(known))
                    out.append(Finding(f, f"{k}.{part}", f"unknown species '{sp}'{near}"))
                    bad_species = True
        if not r.reactants and not r.products:
            out.append(Finding(f, k, "a reaction needs reactants or products"))
        if r.type == "electrochemical" and r.electrons <= 0:
            out.append(
                Finding(
                    f,
                    f"{k}.electrons",
                    "an electrochemical step must transfer electrons (electrons > 0)",
                )
            )
        if r.type != "electrochemical" and r.electrons != 0:
            out.append(Finding(f, f"{k}.electrons", f"a {r.type} step transfers no electrons"))
        if r.type == "homogeneous" and r.where != "electrolyte":
            out.append(
                Finding(
                    f,
                    f"{k}.where",
                    'a homogeneous reaction happens in the electrolyte (where = "electrolyte")',
                )
            )
        if r.type != "homogeneous" and r.where == "electrolyte":
            out.append(
                Finding(
                    f,
                    f"{k}.where",
                    f'a {r.type} step needs the catalyst (where = "layer" or "surface")',
                )
            )
        if r.where in ("layer", "surface") and r.where != case.geometry.catalyst:
            out.append(
                Finding(
                    f,
                    f"{k}.where",
                    f"the catalyst is a {case.geometry.catalyst} "
                    f"(geometry.catalyst) but this step is on a {r.where}",
                )
            )
        if r.lumped and not r.orders:
            out.append(Finding(f, f"{k}.orders", "a lumped step must declare its orders"))
        if r.backward_rate_constant is not None and r.type == "electrochemical":
            out.append(
                Finding(
                    f,
                    f"{k}.backward_rate_constant",
                    "electrochemical steps are cathodic Tafel steps: no backward constant",
                )
            )
        if r.type == "homogeneous" and any(
            phases.get(sp) == "adsorbed" for sp in (*r.reactants, *r.products)
        ):
            out.append(Finding(f, k, "adsorbed species cannot react in the electrolyte"))
        for part, side in (("orders", r.reactants), ("backward_orders", r.products)):
            extra = [sp for sp in getattr(r, part) if sp not in side]
            if extra and not bad_species:
                out.append(
                    Finding(
                        f,
                        f"{k}.{part}",
                        f"orders given for {', '.join(extra)}, not on that side of the reaction",
                    )
                )
        if not bad_species:
            out += _balance(case, r)
    return out


def _balance(case: CaseData, r: Reaction) -> list[Finding]:
    f, k, out = case.source, f"reactions.{r.name}", []
    q_in, q_out = charge_balance(case, r)
    if abs(q_in - q_out) > 1e-9:
        out.append(
            Finding(
                f,
                k,
                f"charge does not balance: reactants {q_in:+g} "
                f"(with {r.electrons:g} e-) vs products {q_out:+g}",
            )
        )
    diff = element_imbalance(case, r)
    if diff:
        text = ", ".join(f"{el} {d:+g}" for el, d in sorted(diff.items()))
        out.append(Finding(f, k, f"elements do not balance (products − reactants: {text})"))
    return out


# --------------------------------------------------------------------------- models
def _check_potential_model(case: CaseData) -> list[Finding]:
    e, f, out = case.electrolyte, case.source, []
    ions = [s for s in case.species if s.phase == "solution" and s.charge != 0]
    if e.potential_model in ("electroneutral", "poisson", "poisson-steric") and len(ions) < 2:
        out.append(
            Finding(
                f, "electrolyte.potential_model", f"'{e.potential_model}' needs at least two ions"
            )
        )
    if e.potential_model != "none" and ions:
        pos = sum(s.charge * s.bulk for s in ions if s.charge > 0)
        neg = -sum(s.charge * s.bulk for s in ions if s.charge < 0)
        if abs(pos - neg) > 1e-6 * max(pos, neg):
            out.append(
                Finding(
                    f,
                    "species",
                    f"bulk is not electroneutral: Σ z c = "
                    f"{(pos - neg) / 1e3:.4g} mol/L (cations {pos / 1e3:.4g}, anions "
                    f"{neg / 1e3:.4g})",
                )
            )
    if (
        (e.steric or e.potential_model == "poisson-steric")
        and e.ion_size is None
        and any(s.radius is None for s in ions)
    ):
        out.append(
            Finding(
                f,
                "electrolyte.ion_size",
                "the steric term needs ion_size or a radius for every ion",
            )
        )
    return out


#: Walls each geometry kind has (what a [[walls]] entry may name).
KIND_WALLS = {
    "planar": ("electrode",),
    "cylinder-pore": ("pore_wall", "outer_surface"),
    "hollow-sphere": ("pore_wall", "cavity_wall", "outer_surface"),
    "solid-sphere": ("outer_surface",),
}


def wall_groups(case: CaseData) -> tuple[str, ...]:
    """The walls the case's mesh has: a solid sphere's outer face is ``catalyst_surface``
    under an areal catalyst (a charged, reacting electrode surface), and a cylinder pore
    has an ``outer_surface`` only between reservoirs."""
    g = case.geometry
    if g.kind == "solid-sphere" and g.catalyst == "surface":
        return ("catalyst_surface",)
    if g.kind == "cylinder-pore" and g.reservoir_length <= 0:
        return ("pore_wall",)
    return KIND_WALLS.get(g.kind, ())


#: Keys each wall condition needs (the others must be absent).
WALL_KEYS = {
    "charge": ("surface_charge",),
    "potential": ("potential",),
    "stern": ("stern_capacitance", "zero_charge_potential"),
}


def _check_walls(case: CaseData) -> list[Finding]:
    """[[walls]]: poisson models only, walls the geometry has, once each, with the value
    their condition needs; the poisson models need the bath held at bulk and φ = 0."""
    f, out = case.source, []
    model = case.electrolyte.potential_model
    poisson = model in ("poisson", "poisson-steric")
    if poisson and case.geometry.bath_boundary != "bulk":
        out.append(
            Finding(
                f,
                "geometry.bath_boundary",
                f"'{model}' needs the bath held at bulk and φ = 0 (bath_boundary = 'bulk'), "
                f"not '{case.geometry.bath_boundary}'",
            )
        )
    if case.electrode.frumkin and not poisson:
        out.append(
            Finding(
                f,
                "electrode.frumkin",
                "the Frumkin correction needs the reaction-plane potential, which only the "
                f"'poisson' and 'poisson-steric' models resolve (potential_model is '{model}')",
            )
        )
    if case.geometry.end_voltage is not None:
        if case.geometry.kind != "cylinder-pore":
            out.append(
                Finding(
                    f,
                    "geometry.end_voltage",
                    f"applies to a cylinder-pore, not to '{case.geometry.kind}'",
                )
            )
        if model == "none":
            out.append(
                Finding(f, "geometry.end_voltage", "needs a potential model with φ (not 'none')")
            )
    seen: set[str] = set()
    has = wall_groups(case)
    for w in case.walls:
        where = f"walls.{w.name}"
        if not poisson:
            out.append(
                Finding(
                    f,
                    where,
                    "wall charges and potentials need potential_model 'poisson' or "
                    f"'poisson-steric', not '{model}'",
                )
            )
        if w.name in seen:
            out.append(Finding(f, where, "duplicate wall entry"))
        seen.add(w.name)
        if w.name not in has:
            out.append(
                Finding(
                    f,
                    f"{where}.name",
                    f"geometry kind '{case.geometry.kind}' has no wall '{w.name}' "
                    f"(it has {', '.join(has) or 'none'})",
                )
            )
        need = WALL_KEYS[w.condition]
        for k in need:
            if getattr(w, k) is None:
                out.append(Finding(f, f"{where}.{k}", f"condition '{w.condition}' needs {k}"))
        for k in sorted({k for v in WALL_KEYS.values() for k in v} - set(need)):
            if getattr(w, k) is not None:
                out.append(
                    Finding(
                        f,
                        f"{where}.{k}",
                        f"condition '{w.condition}' takes {', '.join(need)}, not {k}",
                    )
                )
    return out


def _check_stabilization(case: CaseData) -> list[Finding]:
    """EAFE is built on the edges of P1 simplices."""
    if case.solver.stabilization == "eafe" and case.solver.degree != 1:
        return [
            Finding(
                case.source,
                "solver.stabilization",
                f"'eafe' is a P1 scheme: it needs solver.degree = 1, not {case.solver.degree}",
            )
        ]
    return []


def _check_start(case: CaseData) -> list[Finding]:
    """A start from the axisymmetric cell maps its solution onto a 3D hollow sphere."""
    if case.solver.start != "axisymmetric-cell":
        return []
    g = case.geometry
    rule = None
    if g.kind != "hollow-sphere" or g.model not in ("sector-3d", "full-3d"):
        rule = f"needs a hollow-sphere at sector-3d or full-3d, not {g.kind} at {g.model}"
    elif case.solver.transient:
        rule = "is for steady runs (a transient run marches from the bulk)"
    if rule is None:
        return []
    return [Finding(case.source, "solver.start", f"'axisymmetric-cell' {rule}")]


def _check_steady_state(case: CaseData) -> list[Finding]:
    sv = case.solver
    if sv.until is not None and not sv.transient:
        message = "'until' is a transient key: transient = true"
        return [Finding(case.source, "solver.until", message)]
    if sv.until == "steady":
        if sv.end_time is not None:
            return [
                Finding(
                    case.source,
                    "solver.end_time",
                    "until = 'steady' marches until steady state: drop end_time",
                )
            ]
        if sv.time_step is None:
            return [Finding(case.source, "solver.time_step", "a march needs its first time_step")]
        return []
    if sv.transient:
        if sv.end_time is None or sv.time_step is None:
            return [
                Finding(
                    case.source, "solver.end_time", "a transient run needs end_time and time_step"
                )
            ]
        return []
    # adsorbates first: in a closed domain one without a balance also leaves an amount open
    return check_site_balances(case) or check_steady_state(case)


def _check_catalyst(case: CaseData) -> list[Finding]:
    if case.catalyst.sites == "inventory" and case.geometry.kind not in (
        "hollow-sphere",
        "solid-sphere",
    ):
        return [
            Finding(
                case.source,
                "catalyst.sites",
                "'inventory' counts the metal of a particle: it needs geometry.kind "
                f"hollow-sphere or solid-sphere, not {case.geometry.kind!r}",
            )
        ]
    return []


def _check_output(case: CaseData) -> list[Finding]:
    known = {s.name for s in case.species}
    return [
        Finding(case.source, "output.products", f"unknown species '{p}'")
        for p in case.output.products
        if p not in known
    ]
