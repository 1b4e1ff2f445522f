"""The two cases an electrode case is solved as: its particle, and its film.

* :func:`particle_case`: the electrode case without its film (``film.coupling
  = "none"``): one particle in its bath, the sub-grid model.
* :func:`film_case`: a ``planar`` 1D case through the electrode: the current
  collector (x = 0, ``electrode``: no flux), the film 0 < x < L as a catalytic
  ``layer`` with the film's porosity ε and tortuosity τ (D_eff = D ε/τ, and
  the conductivity likewise), the Nernst layer L < x < L + δ as ``bath``, and
  the bulk held at x = L + δ. Its sites are the particles' (n_A N_p per
  electrode area, uniform over the film) and every catalytic rate constant is
  the particle's per-site constant times the step's effectiveness factor
  (:mod:`confine.two_scale`) and the film's site density over the reference:
  k_film = k η ρ_film / ρ_ref. Homogeneous reactions run in the electrolyte
  the film holds: between particles (ε) and inside them (their fluid fraction
  f_p times the packing φ).

The potential the study reports is iR-corrected: the metal against the
solution at the film's outer face. The film is solved against the bulk
(φ = 0 at x = L + δ), so its electrode potential is E + φ(L), the ohmic drop
of the Nernst layer added back (:mod:`confine.electrode_run` finds it).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from confine.case import Case, case_from_dict
from confine.case_reader import rate_units
from confine.catalyst import particle_fluid_fraction
from confine.film import FilmGeometry
from confine.two_scale import Effectiveness

#: Newton tolerance of a film (see :func:`film_case`).
FILM_RTOL = 1e-14
#: Mesh cell growth away from the film into the Nernst layer.
FILM_GROWTH = 1.15
#: The first step of a film's march to steady state (:func:`pseudo_transient`), in its
#: slowest diffusion times; later steps grow as its steady residual falls.
MARCH_FIRST_STEP = 1.0
#: Newton tolerance of the march's steps.
MARCH_RTOL = 1e-10


def particle_case(case: Case) -> Case:
    """The electrode case's particle in its bath: the sub-grid model."""
    raw = case.to_dict()
    raw["film"] = {"coupling": "none"}
    return case_from_dict(raw, case.source)


def film_case(case: Case, geo: FilmGeometry, eff: Effectiveness, shift: float = 0.0) -> Case:
    """The 1D film of an electrode case (see the module doc).

    Args:
        case: the electrode case.
        geo: its film (:func:`confine.film.film_geometry`).
        eff: its particle's effectiveness factors and sites.
        shift: added to the electrode potential: the Nernst layer's ohmic drop φ(L) (V).
    """
    raw = case.to_dict()
    length = geo.thickness + geo.diffusion_layer
    f = case.film
    raw["film"] = {"coupling": "none"}
    raw["case"]["name"] = f"{case.case.name}-film"
    raw["geometry"] = {
        "kind": "planar",
        "model": "1d",
        "length": f"{length!r} m",
        "width": f"{length!r} m",
        "catalyst": "layer",
        "catalyst_layer": f"{geo.thickness!r} m",
        "bath_boundary": "bulk",
    }
    raw["mesh"] = {
        **{k: v for k, v in raw.get("mesh", {}).items() if k in ("threads", "max_cells")},
        "cells_per_pore_diameter": 1,
        "cells_across_layer": f.cells_across_film,
        "max_cell_size": f"{geo.diffusion_layer / f.cells_across_diffusion_layer!r} m",
        "growth": FILM_GROWTH,
    }
    site_density = geo.particles_per_area * eff.sites / geo.thickness  # mol/m³ of film
    fluid = geo.porosity + geo.packing * particle_fluid_fraction(case)
    raw["catalyst"] = {
        **raw["catalyst"],
        "sites": "uniform",
        "site_density": f"{site_density * geo.thickness!r} mol/m^2",
        "layer_porosity": geo.porosity,
        "layer_tortuosity": geo.tortuosity,
        "layer_fluid_fraction": fluid,
    }
    raw["electrode"] = {
        **raw["electrode"],
        "potential": f"{case.electrode.potential + shift!r} V",
    }
    scale = site_density / eff.reference_density
    raw["reactions"] = [
        _film_reaction(entry, r, eff.factors.get(r.name, 1.0) * scale, case)
        for entry, r in zip(raw["reactions"], case.reactions, strict=True)
    ]
    # micrometre cells do not resolve the fast buffer and water equilibria: lumped rates
    # keep the scheme monotone, and full Newton steps pass the first overshoot of the
    # products' bilinear equilibria, which a backtracking line search crawls through
    raw["solver"] = {
        **raw["solver"],
        "lumped_reactions": True,
        # a species held by a fast equilibrium (NH4+ beside NH3 at pH 13) needs its
        # balance resolved beyond the step test's √rtol: its residual is that × gross
        "rtol": min(case.solver.rtol, FILM_RTOL),
        "petsc_options": {
            "snes_linesearch_type": "basic",
            # MUMPS workspace +400 % over its estimate (default here +50 %): the lumped
            # fast reactions beside trace species (H+ at pH 13) delay many pivots, and
            # at 80 cells across the film +50 % ran out (INFOG(1) = -9). A 1D film's
            # factors are small: the memory does not matter.
            "mat_mumps_icntl_14": 400,
            **raw["solver"].get("petsc_options", {}),
        },
    }
    raw["output"] = {**raw["output"], "interior": "cavity", "exterior": "outer_boundary"}
    if case.electrolyte.potential_model == "secondary":
        # across µm of film and a 100 µm Nernst layer at tens of mA/cm² the electrolyte
        # changes by orders of magnitude (pH 4 -> 13, nitrate depleted): a fixed
        # conductivity with free ion migration (secondary) then piles K+ up to ~40 M.
        # Electroneutrality (one ion from the others, φ from charge conservation) holds.
        raw["electrolyte"] = {**raw["electrolyte"], "potential_model": "electroneutral"}
    return case_from_dict(raw, case.source)


def particle_in_film(case: Case, values: dict[str, float], potential: float) -> Case:
    """The electrode case's particle in the film's own electrolyte: its bath at the film's
    composition at one depth (``values``, mol/m³ of every solution species, from the
    film's fields) and its metal at ``potential`` against that electrolyte (V)."""
    raw = particle_case(case).to_dict()
    for entry in raw["species"]:
        if entry.get("phase", "solution") == "solution" and entry["name"] in values:
            entry["bulk"] = f"{max(values[entry['name']], 0.0)!r} mol/m^3"
    raw["electrode"] = {**raw["electrode"], "potential": f"{potential!r} V"}
    raw["case"]["name"] = f"{case.case.name}-particle-in-film"
    # the film's alkaline electrolyte: NH4+ beside NH3 in fast equilibrium (see film_case)
    raw["solver"] = {**raw["solver"], "rtol": min(case.solver.rtol, FILM_RTOL)}
    return case_from_dict(raw, case.source)


def pseudo_transient(film: Case) -> Case:
    """The film from the bulk state, switched on at its potential, marched to steady state.

    The steady film's Newton continuation in the rate multiplier fails where the
    electrode turns alkaline (pH 4 to 13 across µm: OH− and CO3²− grow 10⁹-fold
    from their bulk scales, and full Newton steps on the fast equilibria overshoot
    by that much). Backward Euler from the bulk at the applied potential is the
    experiment itself: each step is near its start, so Newton converges, and the
    state reached is the one the electrode reaches when the potential is switched
    on (where the site kinetics have more than one steady state, the one reached
    from the bulk). The march runs until the film no longer changes
    (``solver.until = "steady"``, :mod:`confine.solver.pseudo_time`: its first
    step :data:`MARCH_FIRST_STEP` times the slowest species' diffusion time
    across film and Nernst layer, later ones growing as the steady residual
    falls), so the state reached is a function of the case only; the steady
    solve started from it (:mod:`confine.electrode_run`) is what is reported.

    The same march starts a particle in the film's electrolyte
    (:func:`particle_in_film`), whose bath is far from the bulk it was built from.

    Args:
        film: a film case (:func:`film_case`), or a particle case.
    """
    raw = film.to_dict()
    g = film.geometry
    if g.kind == "planar":
        length = g.length or 0.0
    else:  # a particle in its bath
        length = 0.5 * (g.outer_diameter or 0.0) + (g.bath_thickness or 0.0)
    slowest = min(float(s.diffusivity or math.inf) for s in film.species if s.phase == "solution")
    first = MARCH_FIRST_STEP * length**2 / slowest
    raw["solver"] = {
        **raw["solver"],
        # the march only finds the steady solve's start: its steps need not resolve what
        # the steady solve does (at FILM_RTOL late steps sat at their round-off floor and
        # failed until the time step collapsed)
        "rtol": max(film.solver.rtol, MARCH_RTOL),
        "transient": True,
        "until": "steady",
        "time_step": f"{first!r} s",
    }
    raw["solver"].pop("end_time", None)
    return case_from_dict(raw, film.source)


def _film_reaction(entry: dict[str, Any], r: Any, factor: float, case: Case) -> dict[str, Any]:
    """A reaction entry of the film: catalytic steps per film volume, × ``factor``."""
    if r.where == "electrolyte":
        return entry
    # a surface step's constant (per m²) becomes per m³ through ρ_film / Γ_ref (1/m)
    units = rate_units(dataclasses.replace(r, where="layer"), case)
    out = {**entry, "where": "layer"}
    out["rate_constant"] = f"{r.rate_constant * factor!r} {units['rate_constant']}"
    if r.backward_rate_constant is not None:
        kb = r.backward_rate_constant * factor
        out["backward_rate_constant"] = f"{kb!r} {units['backward_rate_constant']}"
    return out
