"""The metrics document: assembles metrics.json's body from the metric families.

:func:`compute_metrics` gathers the means (:mod:`confine.metrics.means`), the
catalyst means, the rates and Faradaic efficiencies
(:mod:`confine.metrics.rates`), the double-layer metrics and the pore sections
into one nested dict, adds the definitions and the units table, and wraps
every number as ``{"value": v, "unit": u}``.

Every integral over the simulated cell is multiplied by ``MeshData.multiplicity``
(N pores for an axisymmetric or one-pore sector cell, 1 for full-3d), so
rates, fluxes and currents are for one whole particle at any fidelity level.
Key names carry their unit (``_mol_L``, ``_mol_s``, ``_A``); ``units`` repeats
them and ``definitions`` says what each mean and flux is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from confine.case import Case
from confine.catalyst import particle_mass
from confine.geometry.groups import tag
from confine.metrics.catalyst_means import DEFINITIONS as CATALYST_MEAN_DEFINITIONS
from confine.metrics.catalyst_means import UNITS as CATALYST_MEAN_UNITS
from confine.metrics.catalyst_means import catalyst_metrics
from confine.metrics.coverage_means import DEFINITIONS as COVERAGE_DEFINITIONS
from confine.metrics.coverage_means import RATIO_DEFINITION as COVERAGE_RATIO_DEFINITION
from confine.metrics.coverage_means import UNITS as COVERAGE_UNITS
from confine.metrics.coverage_means import coverage_means, layer_mouth_measure
from confine.metrics.double_layer import (
    double_layer_metrics,
    max_cell_peclet,
    pore_conduction,
)
from confine.metrics.leakage import UNITS as LEAKAGE_UNITS
from confine.metrics.leakage import definitions as leakage_definitions
from confine.metrics.leakage import leakage_entries
from confine.metrics.means import (
    EXTERIOR_DEFINITIONS,
    INTERIOR_GROUPS,
    Means,
    local_ph,
    species_means,
)
from confine.metrics.rates import (
    Rates,
    adsorbate_balance,
    faradaic_efficiency_sum,
    mean_coverages,
    particles_per_area,
    product_entries,
    reaction_entries,
    reaction_rates,
    selectivity,
    solution_balance,
    stored_current_fraction,
    worst_mass_balance,
)
from confine.metrics.sections import pore_middle
from confine.solution import Solution

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
    "mass_balance_scale_mol_s": "mol/s",
    "pH": "1",
    "yield_g_per_h_per_g_cat": "g/(h g_cat)",
    "current_density_A_per_m2": "A/m^2",
    "partial_current_density_A_per_m2": "A/m^2",
    **COVERAGE_UNITS,
    **LEAKAGE_UNITS,
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
    "stored_current_fraction": "1",
    "layer_volume_m3": "m^3",
    "wall_area_m2": "m^2",
    "newton_iterations_failed_attempts": "1",
    "max_cell_peclet": "1",
    "cavity": "1",
    "mouth_outer": "1",
    "converged": "1",
}

#: Parents whose numeric leaves are dimensionless without a unit of their own.
_DIMENSIONLESS_PARENTS = ("N", "N_atoms", "C", "C_atoms", "local_pH", "ratio_by_definition")

#: ``definitions`` present in every document.
_DEFINITIONS = {
    "flux_into_cavity": "net inflow into cavity + cavity layer through the inner pore "
    "mouths = their net consumption (steady state, consistent)",
    "outward_flux": "outflow through outer_boundary from the assembled residual (consistent flux)",
    "faradaic_efficiency": "electrons_per_molecule * F * production / current",
    "electrons_per_molecule": "electron accounting over the network relative to the bulk species",
    "current": "sum over electrochemical steps of n F rate (cathodic positive)",
    "stored_current_fraction": "transient runs: sum over the species that are not declared "
    "products of electrons_per_molecule * F * accumulation / current (negative: released); "
    "faradaic_efficiency_sum + it is at most 1",
    "mass_balance_relative_error": "|outflow - production + accumulation| / "
    "mass_balance_scale_mol_s (the largest of the three and the gross turnover; an "
    "adsorbate: |production - accumulation| / gross turnover); the quality gate judges a "
    "species turning over less than a round-off fraction of the largest against that "
    "fraction (confine.quality.round_off_fraction)",
    "pH": "-log10 of the mean H+ concentration in mol/L (or pKw + log10 [OH-])",
    **CATALYST_MEAN_DEFINITIONS,
}
#: ``definitions.ratio_interior_exterior``: C_I/C_E of every species, one key whatever
#: its phase (coverages add theirs).
_RATIO_DEFINITION = (
    "C_I/C_E of a species under one key whatever its phase: solution species: "
    "interior_mean_mol_L / exterior_mean_mol_L (definitions.interior, .exterior; the other "
    "variants in ratio_by_definition)"
)
#: ``definitions`` of the optional sections, present with them.
_WALLS_DEFINITION = (
    "per [[walls]] entry: area-mean surface charge (given, or "
    "the consistent flux of Poisson's equation for a given potential), "
    "area-mean potential vs the bath, differential capacitance dσ/dψ "
    "from the linearised problem (with adsorbates: the two-block "
    "Jacobian; absent for a given-potential wall there)"
)
_PORE_MIDDLE_DEFINITION = (
    "cross-section through the middle of the pore on the "
    "axis (cylinder-pore: z = pore_length/2; hollow sphere: mid-shell) of "
    "an axisymmetric cell: means (2/a²)∫ c r dr, φ at the wall and on the "
    "axis"
)
_PORE_CONDUCTION_DEFINITION = (
    "ionic current F Σ z N through the pore under "
    "end_voltage (consistent outflow at end_a; positive for V > 0), "
    "conductance current / end_voltage, transference numbers F z N / I"
)


def definitions(case: Case, poisson: bool, middle: bool, leaks: bool = False) -> dict[str, str]:
    """What each mean and flux of the document is (text).

    Args:
        case: the case solved (its output section picks interior/exterior).
        poisson: whether the document has ``walls`` (a poisson model).
        middle: whether it has ``pore_middle``.
        leaks: whether its species have leakage entries.
    """
    out = {
        "interior": f"volume mean over {'+'.join(INTERIOR_GROUPS[case.output.interior])} cells",
        "exterior": EXTERIOR_DEFINITIONS[case.output.exterior],
        "ratio_interior_exterior": _RATIO_DEFINITION,
        **_DEFINITIONS,
    }
    if poisson:
        out["walls"] = _WALLS_DEFINITION
    if middle:
        out["pore_middle"] = _PORE_MIDDLE_DEFINITION
    if case.geometry.end_voltage is not None:
        out["pore_conduction"] = _PORE_CONDUCTION_DEFINITION
    if any(s.phase == "adsorbed" for s in case.species):
        out.update(COVERAGE_DEFINITIONS)
        out["ratio_interior_exterior"] += f"; {COVERAGE_RATIO_DEFINITION}"
    if leaks:
        out.update(leakage_definitions(case))
    return out


def _species(
    case: Case, meshdata: Any, p: Any, m: float, rates: Rates, means: Means
) -> tuple[dict[str, Any], dict[str, float | None]]:
    """Every species' entry (means, catalyst means, balances), and the top-level
    catalyst mean potentials (``m``: cells per particle)."""
    at_catalyst, catalyst_potential = catalyst_metrics(p)
    has_interior = tag("cavity") in p.cell_groups
    adsorbed = any(s.phase == "adsorbed" for s in case.species)
    mouth = layer_mouth_measure(meshdata, p) if adsorbed else None
    solution = [s.name for s in case.species if s.phase == "solution"]
    outflow = p.outward_fluxes(solution)  # one form for every species
    coverage = mean_coverages(p)  # and one for every adsorbate
    ratios = coverage_means(p, mouth)  # and two for their C_I/C_E
    leakage = leakage_entries(case, p, rates, m)
    species: dict[str, Any] = {}
    for s in case.species:
        if s.phase == "solution":
            species[s.name] = {
                **species_means(means, p.conc[s.name]),
                **at_catalyst[s.name],
                **solution_balance(p, rates, s.name, m, has_interior, outflow[s.name]),
            }
        else:
            species[s.name] = {
                **adsorbate_balance(p, rates, s.name, m, coverage[s.name]),
                **ratios[s.name],
            }
        species[s.name].update(leakage.get(s.name, {}))
    return species, catalyst_potential


def _solver_record(solution: Solution, peclet: float | None) -> dict[str, Any]:
    """How the solve went (iterations, continuation, linear solver, cell Péclet)."""
    return {
        "converged": solution.converged,
        "newton_iterations": solution.newton_iterations,
        "linear_iterations": solution.linear_iterations,
        "linear_solver": solution.linear_solver,
        "continuation_multipliers": list(solution.multipliers),
        "newton_iterations_per_step": list(solution.step_iterations),
        "max_cell_peclet": peclet,
        "newton_iterations_failed_attempts": solution.failed_iterations,
        "wall_time_s": solution.wall_time_s,
    }


def _electrical(case: Case, meshdata: Any, solution: Solution) -> dict[str, Any]:
    """The optional leading sections: Debye length and walls (poisson models), the
    pore's middle section (axisymmetric pores), pore conduction (end_voltage)."""
    p = solution.model
    out = double_layer_metrics(solution.case, p) if p.poisson else {}
    middle = pore_middle(case, meshdata, p)
    if middle is not None:
        out["pore_middle"] = middle
    if case.geometry.end_voltage is not None:
        out["pore_conduction"] = pore_conduction(case, p)
    return out


def _per_square_metre(case: Case, tdim: int) -> bool:
    """A 1D slab: every integral is per m² of its cross-section (the electrode's area)."""
    return case.geometry.kind == "planar" and tdim == 1


def basis(case: Case, tdim: int) -> str:
    """What the extensive metrics (rates, currents, volumes) are per."""
    if case.geometry.kind in ("hollow-sphere", "solid-sphere", "sphere"):
        return "per whole particle (cell integrals x multiplicity)"
    if _per_square_metre(case, tdim):
        return "per m^2 of electrode (a 1D slab: integrals over a 1 m^2 cross-section)"
    if tdim == 2 and case.geometry.model != "axisymmetric-cell":
        return "per m of depth (a 2D section: integrals over a 1 m depth)"
    return "the domain as meshed (cell integrals x multiplicity)"


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
    if comm is not None and comm.size != p.comm.size:
        raise ValueError("compute_metrics: communicator differs from the solution's")
    m = float(meshdata.multiplicity)
    means = Means.of(case, meshdata, p)
    rates = reaction_rates(case, p, m)
    species, catalyst_potential = _species(case, meshdata, p, m, rates, means)
    mass = particle_mass(case)
    per_area = particles_per_area(case, mass)
    products = product_entries(case, rates, mass, per_area)
    first = case.output.products[0] if case.output.products else None
    cells = meshdata.mesh.topology.index_map(meshdata.mesh.topology.dim).size_global
    peclet = max_cell_peclet(case, p)
    electrical = _electrical(case, meshdata, solution)
    body = {
        **electrical,
        "basis": basis(case, p.tdim),
        "multiplicity": m,
        "definitions": definitions(
            case,
            p.poisson,
            "pore_middle" in electrical,
            any("leakage_mol_s" in e for e in species.values()),
        ),
        "units": UNITS,
        "solver": _solver_record(solution, peclet),
        "mesh": {"cells": int(cells), "dofs": solution.dofs},
        "time_s": solution.times[-1] if solution.times else None,
        "electrode_potential_V": case.electrode.potential,
        **catalyst_potential,
        "mass_balance_relative_error": worst_mass_balance(species),
        "current_A": rates.current,
        "current_density_A_per_m2": (
            rates.current * per_area
            if per_area is not None
            else (rates.current if _per_square_metre(case, p.tdim) else None)
        ),
        "particle_mass_g": mass,
        "catalyst": {
            "sites_mol": p.sites_mol,
            "site_scale": p.site_scale,
            "wall_area_m2": p.catalytic_area,
        },
        "species": species,
        "reactions": reaction_entries(case, rates),
        "products": products,
        "faradaic_efficiency_sum": faradaic_efficiency_sum(products),
        **(
            {"stored_current_fraction": stored_current_fraction(case, species, rates.current)}
            if p.transient
            else {}
        ),
        "selectivity": selectivity(case, products),
        "yield_g_per_h_per_g_cat": products[first]["yield_g_per_h_per_g_cat"] if first else None,
        "local_pH": local_ph(means, p.conc),
        "layer_volume_m3": (  # column 0 of the means' cell table: the weight w
            float(p.tables.total(means.cells, p.layer_tags)[0]) * p.L**p.d * m
            if p.dx_layer is not None
            else None
        ),
    }
    return _with_units(body)


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
            unit = "1" if parent in _DIMENSIONLESS_PARENTS else ""
        value = node.item() if isinstance(node, np.generic) else node
        return {"value": value, "unit": unit}
    return node
