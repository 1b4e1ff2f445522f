"""Nanoreactor metrics of a converged solution, per whole particle, summed over MPI ranks.

Every integral over the simulated cell is multiplied by ``MeshData.multiplicity``
(N pores for an axisymmetric or one-pore sector cell, 1 for full-3d), so
rates, fluxes and currents are for one whole particle at any fidelity level.
Key names carry their unit (``_mol_L``, ``_mol_s``, ``_A``); ``units`` repeats
them and ``definitions`` says what each mean and flux is.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from confine.case import SOLVENT, Case
from confine.catalyst import particle_mass
from confine.catalyst_means import DEFINITIONS as CATALYST_MEAN_DEFINITIONS
from confine.catalyst_means import UNITS as CATALYST_MEAN_UNITS
from confine.catalyst_means import catalyst_metrics
from confine.geometry.groups import tag
from confine.physics.kinetics import stoichiometry
from confine.solution import Solution
from confine.solver.tangent import wall_capacitance
from confine.units import FARADAY

log = logging.getLogger("confine")

MOL_L = 1e3  # mol/m³ per mol/L
PKW = 14.0  # pKw at 25 °C, for a pH from OH− when H+ is not a species

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

UNITS = {
    "interior_mean_mol_L": "mol/L",
    "exterior_mean_mol_L": "mol/L",
    "ratio_interior_exterior": "1",
    "flux_into_cavity_mol_s": "mol/s",
    "outward_flux_mol_s": "mol/s",
    "production_mol_s": "mol/s",
    "rate_mol_s": "mol/s",
    "current_A": "A",
    "faradaic_efficiency": "1",
    "electrons_per_molecule": "1",
    "mean_coverage": "1",
    "mass_balance_relative_error": "1",
    "pH": "1",
    "yield_g_per_h_per_g_cat": "g/(h g_cat)",
    "current_density_A_per_m2": "A/m^2",
    "partial_current_density_A_per_m2": "A/m^2",
    "particle_mass_g": "g",
    "sites_mol": "mol",
    "accumulation_mol_s": "mol/s",
    "time_s": "s",
    "surface_charge_C_per_m2": "C/m^2",
    "differential_capacitance_F_per_m2": "F/m^2",
    "potential_V": "V",
    "section_mean_mol_L": "mol/L",
    "phi_wall_V": "V",
    "phi_axis_V": "V",
    "space_charge_section_mean_C_per_m3": "C/m^3",
    "z_nm": "nm",
    "debye_length_nm": "nm",
    "end_voltage_V": "V",
    "conductance_S": "S",
    "flux_out_of_end_a_mol_s": "mol/s",
    "transference_number": "1",
    **CATALYST_MEAN_UNITS,
}


def _elements(case: Case, name: str) -> dict[str, int]:
    from confine.validate import elements

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


def _ph(c_h: float | None, c_oh: float | None) -> float | None:
    if c_h is not None and c_h > 0:
        return -math.log10(c_h / MOL_L)
    if c_oh is not None and c_oh > 0:
        return PKW + math.log10(c_oh / MOL_L)
    return None


def compute_metrics(
    case: Case, meshdata: Any, solution: Solution, comm: Any = None
) -> dict[str, Any]:
    """All metrics of a converged solution as a nested dict (see module doc).

    Every number is a leaf ``{"value": v, "unit": u}``; ``definitions`` holds
    strings. Collective: every rank must call it and gets the same dict.

    Args:
        case: the case solved (its output section picks interior/exterior).
        meshdata: the mesh it was solved on.
        solution: the converged solution.
        comm: the communicator (must be the mesh's; the solution's by default).
    """
    p = solution.load()
    md = meshdata
    if comm is not None and comm.size != p.comm.size:
        raise ValueError("compute_metrics: communicator differs from the solution's")
    m = float(md.multiplicity)
    w, dx, dS, ds = p.w, p.dx, p.dS, p.ds
    vol = p.L**p.d  # m³ per scaled volume unit
    present = p.cell_groups
    facet_present = set(np.unique(md.facet_tags.values).tolist())
    facet_present = set().union(*p.comm.allgather(facet_present))

    interior_groups = {
        "cavity": ("cavity",),
        "cavity+layer": ("cavity", "cavity_layer"),
        "particle": ("cavity", "cavity_layer", "pore", "pore_layer"),
    }
    in_tags = tuple(tag(g) for g in interior_groups[case.output.interior] if tag(g) in present)
    ex_kind = case.output.exterior

    def interior_mean(expr: Any) -> float | None:
        if not in_tags:
            return None
        size = p.integrate(w * dx(in_tags))
        return p.integrate(expr * w * dx(in_tags)) / size if size > 0 else None

    def exterior_mean(expr: Any) -> float | None:
        if ex_kind == "mouth_outer":
            t = tag("mouth_outer")
            if t not in facet_present:
                return None
            wr: Any = w("+") if p.axisymmetric else 1.0
            return p.integrate(expr("+") * wr * dS(t)) / p.integrate(wr * dS(t))
        if ex_kind == "bath":
            if tag("bath") not in present:
                return None
            return p.integrate(expr * w * dx(tag("bath"))) / p.integrate(w * dx(tag("bath")))
        t = tag("outer_boundary")
        return p.integrate(expr * w * ds(t)) / p.integrate(w * ds(t))

    def volume_mean(expr: Any, groups: tuple[str, ...]) -> float | None:
        tags_ = tuple(tag(g) for g in groups if tag(g) in present)
        if not tags_:
            return None
        size = p.integrate(w * dx(tags_))
        return p.integrate(expr * w * dx(tags_)) / size if size > 0 else None

    def facet_mean(expr: Any, name: str) -> float | None:
        t = tag(name)
        if t not in facet_present:
            return None
        wr: Any = w("+") if p.axisymmetric else 1.0
        return p.integrate(expr("+") * wr * dS(t)) / p.integrate(wr * dS(t))

    # C_I/C_E under every supported definition, so users can match a paper's
    means: dict[str, Callable[[Any], float | None]] = {
        "cavity": lambda e: volume_mean(e, ("cavity",)),
        "cavity+layer": lambda e: volume_mean(e, ("cavity", "cavity_layer")),
        "bath": lambda e: volume_mean(e, ("bath",)),
        "mouth_inner": lambda e: facet_mean(e, "mouth_inner"),
        "mouth_outer": lambda e: facet_mean(e, "mouth_outer"),
    }

    def ratios(expr: Any) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for key in RATIO_DEFINITIONS:
            num, den = (means[k](expr) for k in key.split("/"))
            out[key] = num / den if num is not None and den not in (None, 0.0) else None
        return out

    # reaction rates per particle, and their parts inside the interior (cavity + its layer)
    chi_in = p.chi_interior
    rates: dict[str, float] = {}
    rates_in: dict[str, float] = {}
    for r in case.reactions:
        meas = p.measure_of(r)
        if meas is None:
            rates[r.name] = rates_in[r.name] = 0.0
            continue
        dim = p.d - 1 if r.where == "surface" else p.d
        rates[r.name] = p.integrate(p.rates[r.name] * w * meas) * p.L**dim * m
        rates_in[r.name] = p.integrate(p.rates[r.name] * chi_in * w * meas) * p.L**dim * m
    nu = {r.name: stoichiometry(r) for r in case.reactions}

    def production(name: str, where: Mapping[str, float]) -> float:
        return sum(nu[k].get(name, 0.0) * v for k, v in where.items())

    current = sum(
        r.electrons * FARADAY * rates[r.name] for r in case.reactions if r.type == "electrochemical"
    )

    at_catalyst, catalyst_potential = catalyst_metrics(p)
    species: dict[str, Any] = {}
    for s in case.species:
        entry: dict[str, Any] = {}
        prod = production(s.name, rates)
        if s.phase == "solution":
            c = p.conc[s.name]
            ci, ce = interior_mean(c), exterior_mean(c)
            entry["interior_mean_mol_L"] = None if ci is None else ci / MOL_L
            entry["exterior_mean_mol_L"] = None if ce is None else ce / MOL_L
            entry["ratio_interior_exterior"] = (
                ci / ce if ci is not None and ce not in (None, 0.0) else None
            )
            entry["ratio_by_definition"] = ratios(c)
            entry.update(at_catalyst[s.name])
            has_interior = tag("cavity") in present
            entry["flux_into_cavity_mol_s"] = (
                -production(s.name, rates_in) if has_interior else None
            )
            out = p.outward_flux(s.name) * m
            entry["outward_flux_mol_s"] = out
            entry["production_mol_s"] = prod
            acc = 0.0
            if p.transient:  # what stays in the cell: outflow = production − accumulation
                acc = p.integrate((c - p.conc_old[s.name]) / p.dt * w * dx) * vol * m
                entry["accumulation_mol_s"] = acc
            gross = sum(abs(nu[k].get(s.name, 0.0) * v) for k, v in rates.items())
            entry["mass_balance_relative_error"] = (
                abs(out - prod + acc) / max(abs(out), abs(prod), abs(acc), gross)
                if gross > 0
                else None
            )
        else:
            meas = p.dx_layer if p.catalyst == "layer" else p.ds_surface
            theta = p.cov[s.name]
            size = p.integrate(w * meas)
            entry["mean_coverage"] = p.integrate(theta * w * meas) / size if size > 0 else None
            gross = sum(abs(nu[k].get(s.name, 0.0) * v) for k, v in rates.items())
            entry["production_mol_s"] = prod
            acc = 0.0
            if p.transient:  # Γ ∂θ/∂t over the catalyst
                gamma = p.gamma
                dim = p.d if p.catalyst == "layer" else p.d - 1
                acc = (
                    p.integrate(gamma * (theta - p.cov_old[s.name]) / p.dt * w * meas)
                    * p.L**dim
                    * m
                )
                entry["accumulation_mol_s"] = acc
            entry["mass_balance_relative_error"] = abs(prod - acc) / gross if gross > 0 else None
        species[s.name] = entry
    # the worst species: outflow vs integrated stoichiometry (solution species), net
    # production vs gross turnover (adsorbates); species that never react are skipped
    errs = [
        e["mass_balance_relative_error"]
        for e in species.values()
        if e.get("mass_balance_relative_error") is not None
    ]
    mass_balance = max(errs) if errs else 0.0

    e_per = electrons_per_molecule(case)
    mass = particle_mass(case)
    # electrode loading (kg/m²) ÷ particle mass (kg): particles per electrode area
    particles_per_area = (case.catalyst.electrode_loading / (mass * 1e-3)) if mass else None
    products: dict[str, Any] = {}
    for name in case.output.products:
        prod = production(name, rates)
        n_e = e_per.get(name)
        fe = (n_e * FARADAY * prod / current) if (n_e is not None and current != 0) else None
        mm = molar_mass(case, name)
        yld = prod * mm * 3600.0 / mass if (mm is not None and mass) else None
        products[name] = {
            "production_mol_s": prod,
            "electrons_per_molecule": n_e,
            "faradaic_efficiency": fe,
            "partial_current_density_A_per_m2": (
                n_e * FARADAY * prod * particles_per_area
                if (n_e is not None and particles_per_area is not None)
                else None
            ),
            "yield_g_per_h_per_g_cat": yld,
        }

    # N- and C-selectivity (per molecule and per atom) over the declared products
    # that contain the element: present when at least one product does
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

    def conc_or_none(name: str, fn: Any) -> float | None:
        try:
            return fn(p.conc[name])
        except KeyError:
            return None

    ph = {
        "cavity": _ph(conc_or_none("H+", interior_mean), conc_or_none("OH-", interior_mean)),
        "mouth_outer": _ph(conc_or_none("H+", exterior_mean), conc_or_none("OH-", exterior_mean)),
    }
    first = case.output.products[0] if case.output.products else None

    cells = md.mesh.topology.index_map(md.mesh.topology.dim).size_global
    peclet = p.cell_peclet() if p.has_phi else None
    if peclet is not None and peclet > 2.0 and case.solver.stabilization == "none":
        log.warning(
            "cell Péclet number of migration %.3g > 2 with Galerkin ion fluxes: refine the "
            "mesh at the walls or set solver.stabilization = 'eafe'",
            peclet,
        )
    double_layer = _double_layer_metrics(case, md, solution) if p.poisson else {}
    middle = _pore_middle(case, md, solution)
    if middle is not None:
        double_layer["pore_middle"] = middle
    if case.geometry.end_voltage is not None:
        double_layer["pore_conduction"] = _pore_conduction(case, solution)
    return _with_units(
        {
            **double_layer,
            "basis": "per whole particle (cell integrals x multiplicity)",
            "multiplicity": m,
            "definitions": {
                "interior": f"volume mean over {'+'.join(interior_groups[case.output.interior])} "
                "cells",
                "exterior": {
                    "mouth_outer": "area mean over the outer pore mouths (mouth_outer "
                    "facets, '+' side; the field is continuous)",
                    "bath": "volume mean over the bath",
                    "outer_boundary": "area mean over the bath's outer face",
                }[ex_kind],
                "flux_into_cavity": "net inflow into cavity + cavity layer through the inner pore "
                "mouths = their net consumption (steady state, consistent)",
                "outward_flux": "outflow through outer_boundary from the assembled residual "
                "(consistent flux)",
                "faradaic_efficiency": "electrons_per_molecule * F * production / current",
                "electrons_per_molecule": "electron accounting over the network relative to the "
                "bulk species",
                "current": "sum over electrochemical steps of n F rate (cathodic positive)",
                "pH": "-log10 of the mean H+ concentration in mol/L (or pKw + log10 [OH-])",
                **CATALYST_MEAN_DEFINITIONS,
                **(
                    {
                        "walls": "per [[walls]] entry: area-mean surface charge (given, or "
                        "the consistent flux of Poisson's equation for a given potential), "
                        "area-mean potential vs the bath, differential capacitance dσ/dψ "
                        "from the linearised problem (with adsorbates: the two-block "
                        "Jacobian; absent for a given-potential wall there)",
                    }
                    if p.poisson
                    else {}
                ),
                **(
                    {
                        "pore_middle": "cross-section through the middle of the pore on the "
                        "axis (cylinder-pore: z = pore_length/2; hollow sphere: mid-shell) of "
                        "an axisymmetric cell: means (2/a²)∫ c r dr, φ at the wall and on the "
                        "axis",
                    }
                    if middle is not None
                    else {}
                ),
                **(
                    {
                        "pore_conduction": "ionic current F Σ z N through the pore under "
                        "end_voltage (consistent outflow at end_a; positive for V > 0), "
                        "conductance current / end_voltage, transference numbers F z N / I",
                    }
                    if case.geometry.end_voltage is not None
                    else {}
                ),
            },
            "units": UNITS,
            "solver": {
                "converged": solution.converged,
                "newton_iterations": solution.newton_iterations,
                "linear_iterations": solution.linear_iterations,
                "linear_solver": solution.linear_solver,
                "continuation_multipliers": list(solution.multipliers),
                "newton_iterations_per_step": list(solution.step_iterations),
                "max_cell_peclet": peclet,
                "newton_iterations_failed_attempts": solution.failed_iterations,
                "wall_time_s": solution.wall_time_s,
            },
            "mesh": {"cells": int(cells), "dofs": solution.dofs},
            "time_s": solution.times[-1] if solution.times else None,
            "electrode_potential_V": case.electrode.potential,
            **catalyst_potential,
            "mass_balance_relative_error": mass_balance,
            "current_A": current,
            "current_density_A_per_m2": (
                current * particles_per_area if particles_per_area is not None else None
            ),
            "particle_mass_g": mass,
            "catalyst": {
                "sites_mol": p.sites_mol,
                "site_scale": p.site_scale,
                "wall_area_m2": p.catalytic_area,
            },
            "species": species,
            "reactions": {
                r.name: {
                    "rate_mol_s": rates[r.name],
                    "current_A": (
                        r.electrons * FARADAY * rates[r.name]
                        if r.type == "electrochemical"
                        else 0.0
                    ),
                }
                for r in case.reactions
            },
            "products": products,
            "faradaic_efficiency_sum": (
                sum(
                    v["faradaic_efficiency"]
                    for v in products.values()
                    if v["faradaic_efficiency"] is not None
                )
                if products
                else None
            ),
            "selectivity": sel,
            "yield_g_per_h_per_g_cat": products[first]["yield_g_per_h_per_g_cat"]
            if first
            else None,
            "local_pH": ph,
            "layer_volume_m3": (
                p.integrate(w * p.dx_layer) * vol * m if p.dx_layer is not None else None
            ),
        }
    )


#: Units of keys that do not carry theirs in the name.
KEY_UNITS = {
    "multiplicity": "1",
    "site_scale": "1",
    "electrode_potential_V": "V",
    "newton_iterations": "1",
    "linear_iterations": "1",
    "wall_time_s": "s",
    "cells": "1",
    "dofs": "1",
    "faradaic_efficiency_sum": "1",
    "layer_volume_m3": "m^3",
    "wall_area_m2": "m^2",
    "newton_iterations_failed_attempts": "1",
    "max_cell_peclet": "1",
    "cavity": "1",
    "mouth_outer": "1",
    "converged": "1",
}


def _pore_conduction(case: Case, solution: Solution) -> dict[str, Any]:
    """A cylinder pore under geometry.end_voltage V: the ionic current
    I = F Σ z_i N_i with N_i the consistent outflow through end_a (positive for
    V > 0: cations leave at the low-potential end), conductance I/V and
    transference numbers F z_i N_i / I (per pore)."""
    p = solution.model
    volts = float(case.geometry.end_voltage or 0.0)
    flux = {n: p.outward_flux(n, "end_a") for n in p.c_ref}
    current = FARADAY * sum(p.charges[n] * f for n, f in flux.items())
    return {
        "end_voltage_V": volts,
        "current_A": current,
        "conductance_S": current / volts if volts != 0.0 else None,
        "species": {
            n: {
                "flux_out_of_end_a_mol_s": f,
                "transference_number": (
                    FARADAY * p.charges[n] * f / current if current != 0.0 else None
                ),
            }
            for n, f in flux.items()
        },
    }


def _double_layer_metrics(case: Case, md: Any, solution: Solution) -> dict[str, Any]:
    """Poisson models: the Debye length, each [[walls]] entry's charge, potential and
    differential capacitance."""
    p = solution.model
    out: dict[str, Any] = {"debye_length_nm": p.debye / 1e-9}
    out["walls"] = {
        w.name: {
            "surface_charge_C_per_m2": p.wall_charge(w.name),
            "potential_V": p.wall_potential(w.name),
            "differential_capacitance_F_per_m2": wall_capacitance(p, w.name),
        }
        for w in case.walls
    }
    return out


def _pore_middle(case: Case, md: Any, solution: Solution) -> dict[str, Any] | None:
    """Cross-section through the middle of the pore on the axis of an axisymmetric cell
    (a cylinder-pore at z = length/2; a hollow sphere's pore at mid-shell): section
    means of every species (and the space charge), φ at the wall and on the axis."""
    g, p = case.geometry, solution.model
    if not p.axisymmetric:
        return None
    if g.kind == "cylinder-pore" and g.pore_length is not None:
        z = g.pore_length / 2
    elif g.kind == "hollow-sphere":
        z = g.outer_diameter / 2 - g.shell_thickness / 2
    else:
        return None
    funcs = p.physical_functions()
    names = [n for n in (*p.c_ref, "phi", "space_charge") if n in funcs]
    sec = section_of_pore(
        {n: funcs[n] for n in names}, md.mesh, p.comm, z / p.L, g.pore_diameter / 2 / p.L
    )
    out: dict[str, Any] = {"z_nm": z / 1e-9}
    if "phi" in funcs:
        out["phi_wall_V"] = sec["wall"]["phi"]
        out["phi_axis_V"] = sec["axis"]["phi"]
    if "space_charge" in funcs:
        out["space_charge_section_mean_C_per_m3"] = sec["mean"]["space_charge"]
    out["species"] = {n: {"section_mean_mol_L": sec["mean"][n] / MOL_L} for n in p.c_ref}
    return out


#: C_I/C_E definitions reported per species ("interior mean / exterior mean"):
#: cavity volume mean over the outer pore-mouth area mean (the default), over
#: the bath volume mean, the inner over the outer pore mouth, and the cavity
#: with its catalyst layer over the outer mouth.
RATIO_DEFINITIONS = (
    "cavity/mouth_outer",
    "cavity/bath",
    "mouth_inner/mouth_outer",
    "cavity+layer/mouth_outer",
)


def _with_units(node: Any, key: str = "", parent: str = "") -> Any:
    """Wrap every number (and None) as {"value": v, "unit": u}; definitions stay text."""
    if isinstance(node, dict):
        if key in ("definitions", "units"):
            return node
        return {k: _with_units(v, k, key) for k, v in node.items()}
    if isinstance(node, list | str):
        return node
    if isinstance(node, bool | int | float | np.floating | np.integer) or node is None:
        unit = UNITS.get(key) or KEY_UNITS.get(key)
        if unit is None:
            unit = (
                "1"
                if parent in ("N", "N_atoms", "C", "C_atoms", "local_pH", "ratio_by_definition")
                else ""
            )
        value = node.item() if isinstance(node, np.generic) else node
        return {"value": value, "unit": unit}
    return node


#: Gauss–Legendre points and weights on [0, 1] (3 points: exact for P2 × r).
_GL_X = 0.5 + 0.5 * np.array([-math.sqrt(0.6), 0.0, math.sqrt(0.6)])
_GL_W = np.array([5.0, 8.0, 5.0]) / 18.0


def section_of_pore(
    fields: Mapping[str, Any], mesh: Any, comm: Any, z: float, radius: float
) -> dict[str, Any]:
    """Cross-section of an axisymmetric (r, z) mesh at height z, 0 ≤ r ≤ radius.

    The line z = const is cut by every owned cell it crosses (a cell counts
    when min z ≤ z < max z, so a line along a row of edges is counted once);
    on each piece Gauss–Legendre points integrate f·r exactly for P1 and P2
    fields. Collective.

    Args:
        fields: name -> Function (P1 or P2 Lagrange on the mesh).
        mesh: the (r, z) mesh (coordinates in mesh units).
        comm: its communicator.
        z: height of the section (mesh units).
        radius: outer radius of the section (mesh units).

    Returns:
        ``mean``: name -> (2/a²) ∫ f r dr; ``wall`` and ``axis``: name -> f at
        (radius, z) and (0, z).
    """
    tdim = mesh.topology.dim
    n = mesh.topology.index_map(tdim).size_local
    x = mesh.geometry.x
    cells_x = x[mesh.geometry.dofmaps[0][:n]]  # (n, 3, 3)
    cz = cells_x[:, :, 1]
    hit = np.flatnonzero((cz.min(axis=1) <= z) & (cz.max(axis=1) > z))
    pts, wts, owners = [], [], []
    ends: dict[str, tuple[float, int, float]] = {}  # side -> (|r − target|, cell, r)
    for c in hit:
        rs = []
        for i, j in ((0, 1), (1, 2), (2, 0)):
            (ra, za), (rb, zb) = cells_x[c, i, :2], cells_x[c, j, :2]
            if za == zb:
                if za == z:
                    rs += [ra, rb]
                continue
            t = (z - za) / (zb - za)
            if 0.0 <= t <= 1.0:
                rs.append(ra + t * (rb - ra))
        if not rs:
            continue
        r0, r1 = max(min(rs), 0.0), min(max(rs), radius)
        for side, target, r in (("axis", 0.0, r0), ("wall", radius, r1)):
            if side not in ends or abs(r - target) < ends[side][0]:
                ends[side] = (abs(r - target), int(c), r)
        if r1 <= r0:
            continue
        rq = r0 + (r1 - r0) * _GL_X
        pts.append(rq)
        wts.append((r1 - r0) * _GL_W * rq)
        owners.append(np.full(3, c, dtype=np.int32))
    names = list(fields)
    local = np.zeros(len(names))
    if pts:
        r = np.concatenate(pts)
        w = np.concatenate(wts)
        cells = np.concatenate(owners)
        p3 = np.column_stack([r, np.full_like(r, z), np.zeros_like(r)])
        for k, name in enumerate(names):
            local[k] = float(np.dot(fields[name].eval(p3, cells).ravel(), w))
    total = np.zeros_like(local)
    comm.Allreduce(local, total)
    out: dict[str, Any] = {"mean": {nm: 2.0 * total[k] / radius**2 for k, nm in enumerate(names)}}
    for side in ("axis", "wall"):
        if side in ends:
            _, cell, r_end = ends[side]
            at = np.array([[r_end, z, 0.0]])
            vals = [float(fields[nm].eval(at, [cell])[0]) for nm in names]
            mine = (ends[side][0], vals)
        else:
            mine = (math.inf, [0.0] * len(names))
        best = min(comm.allgather(mine), key=lambda t: t[0])
        out[side] = dict(zip(names, best[1], strict=True))
    return out


__all__ = ["compute_metrics", "electrons_per_molecule", "molar_mass", "section_of_pore"]
