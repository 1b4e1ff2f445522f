"""The metal inventory of one particle: its mass, its sites, and the site density they give.

Two ways to count catalytic sites (``catalyst.sites``):

* ``area``: ``catalyst.site_density`` Γ (mol/m²) on every catalytic face, so a
  support with more catalytic area carries more sites;
* ``inventory``: the metal per particle is fixed by the measured loading
  (``metal_loading`` × particle mass, equal across supports by ICP), its
  surface atoms (``dispersion``) are the sites, and they are spread evenly
  over whatever catalytic layer or surface the geometry has. Rate constants
  of catalytic steps are then per site: they are declared at the reference
  density ``site_density`` and every catalytic rate scales with Γ_eff/Γ_ref.
  This is what "the same per-site kinetics and the same metal per particle
  mass in every support" means.
"""

from __future__ import annotations

import math

from confine.case import Case


def particle_mass(case: Case) -> float | None:
    """Mass of one particle (g): carbon of the shell (minus pores) ÷ (1 − metal fraction).

    None for geometry kinds that are not a particle (planar, cylinder-pore).
    """
    g, cat = case.geometry, case.catalyst
    rho = cat.carbon_density * 1e3  # g/m³ from kg/m³
    r_out = g.outer_diameter / 2
    if g.kind == "solid-sphere":
        v = 4.0 / 3.0 * math.pi * r_out**3
    elif g.kind == "hollow-sphere":
        from confine.validate import lattice_of

        lat = lattice_of(case)
        r_cav = r_out - g.shell_thickness
        v = 4.0 / 3.0 * math.pi * (r_out**3 - r_cav**3)
        if lat is not None:
            v -= lat.count * math.pi * (g.pore_diameter / 2) ** 2 * g.shell_thickness
    else:
        return None
    return rho * v / (1.0 - cat.metal_loading)


def sites_per_particle(case: Case) -> float | None:
    """Catalytic sites of one particle (mol): metal mass × dispersion ÷ metal molar mass."""
    mass = particle_mass(case)
    if mass is None:
        return None
    cat = case.catalyst
    return mass * cat.metal_loading * cat.dispersion / (cat.metal_molar_mass * 1e3)


def reference_site_density(case: Case) -> float:
    """Γ_ref per catalytic measure: mol/m³ in a layer (Γ / thickness), mol/m² on a surface."""
    g = case.geometry
    gamma = case.catalyst.site_density
    return gamma / g.catalyst_layer if g.catalyst == "layer" else gamma


def site_scale(case: Case, catalytic_measure: float) -> float:
    """Γ_eff / Γ_ref: the factor on every catalytic rate and on the site balance.

    Args:
        case: the case.
        catalytic_measure: volume of the catalytic layer (m³) or area of the
            catalytic surface (m²) of the whole particle, from the mesh.

    Returns:
        1 with ``sites = "area"``; N_sites / measure / Γ_ref with ``inventory``.

    Raises:
        ValueError: ``inventory`` without a particle, or without a catalytic region.
    """
    if case.catalyst.sites == "area":
        return 1.0
    n = sites_per_particle(case)
    if n is None:
        raise ValueError(
            f"catalyst.sites = 'inventory' needs a particle (hollow or solid sphere), "
            f"not geometry.kind = {case.geometry.kind!r}"
        )
    if not catalytic_measure > 0.0:
        raise ValueError("catalyst.sites = 'inventory': the mesh has no catalytic region")
    return n / catalytic_measure / reference_site_density(case)


__all__ = ["particle_mass", "reference_site_density", "site_scale", "sites_per_particle"]
