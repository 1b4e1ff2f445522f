"""Reaction rates and what follows from them: production, current, Faradaic efficiency.

Per whole particle (cell integrals × multiplicity): each reaction's rate, the
net production of every species, the current (Σ n F r over electrochemical
steps, cathodic positive), each declared product's electrons per molecule,
Faradaic efficiency, partial current density and yield, the N/C
selectivities, and every species' mass balance (outflow vs integrated
stoichiometry for solution species, net production vs gross turnover for
adsorbates). Electron accounting and molar masses come from the network and
the formulas alone (no solution needed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from confine.case import SOLVENT, Case
from confine.geometry.groups import tags
from confine.physics.kinetics import stoichiometry
from confine.units import FARADAY
from confine.validate import elements

#: Atomic masses (g/mol), IUPAC 2021 conventional values, for yields.
ATOMIC_MASS = {
    "H": 1.008,
    "C": 12.011,
    "N": 14.007,
    "O": 15.999,
    "K": 39.098,
    "Na": 22.990,
    "Cl": 35.45,
    "S": 32.06,
    "P": 30.974,
    "Cu": 63.546,
    "Ru": 101.07,
    "X": 0.0,
}


def _elements(case: Case, name: str) -> dict[str, int]:
    s = case.species_named(name)
    return dict(elements(s.formula or s.name) or {})


def electrons_per_molecule(case: Case) -> dict[str, float | None]:
    """Electrons stored in each species relative to the bulk species, by electron accounting.

    Species with a bulk concentration (and the solvent) hold 0; every
    electrochemical step adds its n, every other step conserves the count.
    Solved in the least-squares sense; a species the network does not
    determine, or an inconsistent network, gives None.
    """
    refs = {s.name for s in case.species if s.bulk > 0} | {SOLVENT}
    unknown = [s.name for s in case.species if s.name not in refs]
    if not unknown:
        return {s.name: 0.0 for s in case.species}
    if not case.reactions:  # nothing is made: no electron count is determined
        return {s.name: (0.0 if s.name in refs else None) for s in case.species}
    col = {n: j for j, n in enumerate(unknown)}
    rows, rhs = [], []
    for r in case.reactions:
        row = np.zeros(len(unknown))
        for s, nu in stoichiometry(r).items():
            if s in col:
                row[col[s]] += nu
        rows.append(row)
        rhs.append(r.electrons if r.type == "electrochemical" else 0.0)
    a, b = np.array(rows), np.array(rhs)
    e, *_ = np.linalg.lstsq(a, b, rcond=None)
    consistent = np.allclose(a @ e, b, atol=1e-9)
    _, sv, vt = np.linalg.svd(a)
    rank = int(np.sum(sv > 1e-10 * max(sv.max(), 1.0))) if sv.size else 0
    null = vt[rank:]
    out: dict[str, float | None] = dict.fromkeys(refs - {SOLVENT}, 0.0)
    for n, j in col.items():
        determined = consistent and (null.size == 0 or np.allclose(null[:, j], 0.0, atol=1e-9))
        out[n] = float(e[j]) if determined else None
    return out


def molar_mass(case: Case, name: str) -> float | None:
    """g/mol from the species formula (None if an element is not tabulated)."""
    els = _elements(case, name)
    if not els or any(e not in ATOMIC_MASS for e in els):
        return None
    return sum(ATOMIC_MASS[e] * n for e, n in els.items())


@dataclass(frozen=True)
class Rates:
    """Reaction rates per whole particle (mol/s), in the case's reaction order.

    Attributes:
        total: reaction name -> rate over the cell × multiplicity.
        interior: reaction name -> its part inside the interior (cavity + its layer).
        stoichiometry: reaction name -> species -> ν (products positive).
        current: Σ n F r over the electrochemical steps (A, cathodic positive).
        particle: reaction name -> its part inside the particle's outer mouths
            (cavity, pores and their layers; the ``particle`` union).
        backward: reversible reaction name -> its backward rate alone over the cell
            × multiplicity (the net is ``total``).
    """

    total: dict[str, float]
    interior: dict[str, float]
    stoichiometry: dict[str, dict[str, float]]
    current: float
    particle: dict[str, float]
    backward: dict[str, float] = field(default_factory=dict)

    def production(self, name: str, interior: bool = False) -> float:
        """Net production of a species (mol/s), in the whole cell or the interior."""
        where = self.interior if interior else self.total
        return sum(self.stoichiometry[k].get(name, 0.0) * v for k, v in where.items())

    def particle_production(self, name: str) -> float:
        """Net production of a species inside the particle's outer mouths (mol/s)."""
        return sum(self.stoichiometry[k].get(name, 0.0) * v for k, v in self.particle.items())

    def made(self, name: str) -> float:
        """What the steps make of a species, Σ max(ν r, 0) over every step (mol/s)."""
        return sum(
            max(self.stoichiometry[k].get(name, 0.0) * v, 0.0) for k, v in self.total.items()
        )

    def gross(self, name: str) -> float:
        """Gross turnover of a species, Σ |ν| (r_forward + r_backward) over every reaction
        (mol/s): a fast equilibrium turns a species over far faster than its net rate,
        and its balance is resolved relative to that."""
        out = 0.0
        for k, v in self.total.items():
            back = self.backward.get(k, 0.0)
            out += abs(self.stoichiometry[k].get(name, 0.0)) * (abs(v + back) + abs(back))
        return out


def reaction_rates(case: Case, p: Any, multiplicity: float) -> Rates:
    """Each reaction's rate per particle, and its part in the interior (collective).

    Args:
        case: the case solved.
        p: the solved model (``rates``, ``measure_of``, ``tables``, ``w``, ``L``, ``d``): one
            form per kind of region (cells, catalytic facets) for every reaction.
        multiplicity: cells per particle.
    """
    m = multiplicity
    total: dict[str, float] = {}
    interior: dict[str, float] = {}
    particle: dict[str, float] = {}
    backward: dict[str, float] = {}
    inside = tags("interior")  # the cells of chi_interior
    for surface in (False, True):
        # one form per kind (cells, facets): every reaction's rate per cell, summed by group
        group = [r for r in case.reactions if (r.where == "surface") == surface]
        group = [r for r in group if p.measure_of(r) is not None]
        if not group:
            continue
        reversible = [r for r in group if r.name in p.backward_rates]
        rates = [p.rates[r.name] * p.w for r in group]
        rates += [p.backward_rates[r.name] * p.w for r in reversible]
        measures = [p.measure_of(r) for r in (*group, *reversible)]
        table = p.tables.table(rates, measures)
        whole, inner = p.tables.total(table), p.tables.total(table, inside)
        within = p.tables.total(table, tags("particle"))
        for k, r in enumerate(group):
            dim = p.d - 1 if r.where == "surface" else p.d
            total[r.name] = float(whole[k]) * p.L**dim * m
            interior[r.name] = float(inner[k]) * p.L**dim * m
            particle[r.name] = float(within[k]) * p.L**dim * m
        for k, r in enumerate(reversible, len(group)):
            dim = p.d - 1 if r.where == "surface" else p.d
            backward[r.name] = float(whole[k]) * p.L**dim * m
    for r in case.reactions:
        if r.name not in total:  # no such region in the mesh
            total[r.name] = interior[r.name] = particle[r.name] = 0.0
    total = {r.name: total[r.name] for r in case.reactions}  # the case's order
    interior = {r.name: interior[r.name] for r in case.reactions}
    particle = {r.name: particle[r.name] for r in case.reactions}
    current = sum(
        r.electrons * FARADAY * total[r.name] for r in case.reactions if r.type == "electrochemical"
    )
    nu = {r.name: stoichiometry(r) for r in case.reactions}
    return Rates(total, interior, nu, current, particle, backward)


def solution_balance(
    p: Any,
    rates: Rates,
    name: str,
    multiplicity: float,
    has_interior: bool,
    outflow: float | None = None,
) -> dict[str, Any]:
    """A solution species' inflow into the cavity, outflow, production and mass balance.

    Outflow = production − accumulation (transient runs) to solver tolerance;
    the relative error is over the largest of them and the gross turnover
    (``mass_balance_scale_mol_s``; both None for a species that never reacts).

    Args:
        p: the solved model.
        rates: the reaction rates.
        name: the species.
        multiplicity: cells per particle.
        has_interior: whether the mesh has a cavity (else no inflow into it).
        outflow: the species' consistent outward flux per cell, if already
            assembled (``p.outward_fluxes``); else assembled here.
    """
    m = multiplicity
    prod = rates.production(name)
    entry: dict[str, Any] = {
        "flux_into_cavity_mol_s": -rates.production(name, interior=True) if has_interior else None
    }
    out = (p.outward_flux(name) if outflow is None else outflow) * m
    entry["outward_flux_mol_s"] = out
    entry["production_mol_s"] = prod
    acc = 0.0
    if p.transient:  # what stays in the cell: outflow = production − accumulation
        c = p.conc[name]
        acc = p.integrate((c - p.conc_old[name]) / p.dt * p.w * p.dx) * p.L**p.d * m
        entry["accumulation_mol_s"] = acc
    gross = rates.gross(name)
    scale = max(abs(out), abs(prod), abs(acc), gross)
    entry["mass_balance_relative_error"] = abs(out - prod + acc) / scale if gross > 0 else None
    entry["mass_balance_scale_mol_s"] = scale if gross > 0 else None
    return entry


def mean_coverages(p: Any) -> dict[str, float | None]:
    """Every adsorbate's mean coverage over the catalyst from one form (None: no catalyst)."""
    if not p.adsorbed:
        return {}
    meas = p.dx_layer if p.catalyst == "layer" else p.ds_surface
    tot = p.tables.total(p.tables.table([p.w, *(p.cov[a] * p.w for a in p.adsorbed)], meas))
    size = float(tot[0])
    return {a: float(tot[k]) / size if size > 0 else None for k, a in enumerate(p.adsorbed, 1)}


def adsorbate_balance(
    p: Any, rates: Rates, name: str, multiplicity: float, coverage: float | None
) -> dict[str, Any]:
    """An adsorbed species' mean coverage, production and mass balance.

    Net production (minus Γ ∂θ/∂t over the catalyst, transient runs) against
    the gross turnover (``mass_balance_scale_mol_s``; both None for an adsorbate
    that never reacts).

    Args:
        p: the solved model.
        rates: the reaction rates.
        name: the adsorbate.
        multiplicity: cells per particle.
        coverage: its mean coverage (:func:`mean_coverages`).
    """
    meas = p.dx_layer if p.catalyst == "layer" else p.ds_surface
    theta = p.cov[name]
    entry: dict[str, Any] = {"mean_coverage": coverage}
    gross = rates.gross(name)
    prod = rates.production(name)
    entry["production_mol_s"] = prod
    acc = 0.0
    if p.transient:  # Γ ∂θ/∂t over the catalyst
        dim = p.d if p.catalyst == "layer" else p.d - 1
        rate = p.gamma * (theta - p.cov_old[name]) / p.dt
        acc = p.integrate(rate * p.w * meas) * p.L**dim * multiplicity
        entry["accumulation_mol_s"] = acc
    entry["mass_balance_relative_error"] = abs(prod - acc) / gross if gross > 0 else None
    entry["mass_balance_scale_mol_s"] = gross if gross > 0 else None
    return entry


def worst_mass_balance(species: dict[str, dict[str, Any]]) -> float:
    """The largest relative mass-balance error over the species that react (0 if none)."""
    errs = [
        e["mass_balance_relative_error"]
        for e in species.values()
        if e.get("mass_balance_relative_error") is not None
    ]
    return max(errs) if errs else 0.0


def reaction_entries(case: Case, rates: Rates) -> dict[str, dict[str, float]]:
    """Each reaction's rate (mol/s) and current (A; 0 for a chemical step)."""
    return {
        r.name: {
            "rate_mol_s": rates.total[r.name],
            "current_A": (
                r.electrons * FARADAY * rates.total[r.name] if r.type == "electrochemical" else 0.0
            ),
        }
        for r in case.reactions
    }


def particles_per_area(case: Case, mass: float | None) -> float | None:
    """Particles per electrode area (1/m²): loading (kg/m²) ÷ particle mass (g → kg)."""
    return (case.catalyst.electrode_loading / (mass * 1e-3)) if mass else None


def product_entries(
    case: Case, rates: Rates, mass: float | None, per_area: float | None
) -> dict[str, dict[str, Any]]:
    """Each declared product's production, electrons per molecule, Faradaic
    efficiency, partial current density and yield.

    Args:
        case: the case solved (``output.products``).
        rates: the reaction rates.
        mass: the particle's mass (g), None if unknown.
        per_area: particles per electrode area (1/m²), None if unknown.
    """
    e_per = electrons_per_molecule(case)
    current = rates.current
    products: dict[str, Any] = {}
    for name in case.output.products:
        prod = rates.production(name)
        n_e = e_per.get(name)
        fe = (n_e * FARADAY * prod / current) if (n_e is not None and current != 0) else None
        mm = molar_mass(case, name)
        yld = prod * mm * 3600.0 / mass if (mm is not None and mass) else None
        products[name] = {
            "production_mol_s": prod,
            "electrons_per_molecule": n_e,
            "faradaic_efficiency": fe,
            "partial_current_density_A_per_m2": (
                n_e * FARADAY * prod * per_area
                if (n_e is not None and per_area is not None)
                else None
            ),
            "yield_g_per_h_per_g_cat": yld,
        }
    return products


def stored_current_fraction(
    case: Case, species: dict[str, dict[str, Any]], current: float
) -> float | None:
    """The share of the current stored in the species that are not declared products,
    Σ n F (accumulation) / current (transient runs; negative where they release it).

    Electron accounting makes Σ over every species of n F production equal the
    current, so the products' FEs sum to 1 less what the other species take: their
    outflow and, in a transient run, their accumulation. At steady state the sum is
    at most 1; while adsorbates discharge (an *NO coverage falling) it exceeds 1 by
    what they release, which this fraction measures.

    Args:
        case: the case solved (``output.products``).
        species: the document's species entries (``accumulation_mol_s`` where stored).
        current: the current (A).
    """
    if current == 0:
        return None
    e_per = electrons_per_molecule(case)
    stored = 0.0
    for name, entry in species.items():
        n_e, acc = e_per.get(name), entry.get("accumulation_mol_s")
        if name in case.output.products or acc is None or n_e is None:
            continue
        stored += n_e * FARADAY * acc
    return stored / current


def faradaic_efficiency_sum(products: dict[str, dict[str, Any]]) -> float | None:
    """Σ FE over the products that have one (None without declared products)."""
    if not products:
        return None
    return sum(
        v["faradaic_efficiency"] for v in products.values() if v["faradaic_efficiency"] is not None
    )


def selectivity(case: Case, products: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """N- and C-selectivity, per molecule and per atom, over the declared products.

    An element's entry is present when at least one product contains it; its
    value is None when those products are not produced.
    """
    sel: dict[str, Any] = {}
    for element in ("N", "C"):
        atoms = {n: _elements(case, n).get(element, 0) for n in case.output.products}
        holders = [n for n, k in atoms.items() if k > 0]
        if not holders:
            continue
        tot = sum(products[n]["production_mol_s"] for n in holders)
        tot_atoms = sum(atoms[n] * products[n]["production_mol_s"] for n in holders)
        sel[element] = (
            {n: products[n]["production_mol_s"] / tot for n in holders} if tot > 0 else None
        )
        sel[f"{element}_atoms"] = (
            {n: atoms[n] * products[n]["production_mol_s"] / tot_atoms for n in holders}
            if tot_atoms > 0
            else None
        )
    return sel
