"""The metal inventory of one particle: its mass, its sites, and the site density they give.

Two ways to place catalytic sites (``catalyst.sites``):

* ``uniform`` (default): ``site_density`` Γ per catalytic face, held in the layer
  at Γ / ``catalyst_layer`` per volume everywhere: a homogeneous volumetric
  catalyst whose rate constants are per layer volume;
* ``inventory``: the metal per particle is fixed by the measured loading
  (``metal_loading`` × particle mass, equal across supports by ICP), its
  surface atoms (``dispersion``) are the sites, and they are spread evenly over
  the carbon wall the layer lines (clusters sit on the wall), so each layer
  region holds Γ_eff = N_sites / (total wall area) per wall area, i.e.
  Γ_eff × A_wall / V_layer per volume (a pore filled by its layer holds more
  sites per volume than a thin lining). Rate constants of catalytic steps are
  then per site: declared at the reference density ``site_density`` (per
  volume: Γ_ref / ``catalyst_layer``), and every catalytic rate scales with the
  local density over the reference. "The same per-site kinetics and the same
  metal per particle mass in every support."
"""

from __future__ import annotations

import math

from confine.case_data import CaseData as Case
from confine.geometry.derived import lattice_of


def particle_carbon_volume(case: Case) -> float | None:
    """Carbon volume of one particle (m³): the shell minus its pores (or the ball).

    None for geometry kinds that are not a particle (planar, cylinder-pore).
    """
    g = case.geometry
    r_out = g.outer_diameter / 2
    if g.kind == "solid-sphere":
        return 4.0 / 3.0 * math.pi * r_out**3
    if g.kind != "hollow-sphere":
        return None
    lat = lattice_of(case)
    r_cav = r_out - g.shell_thickness
    v = 4.0 / 3.0 * math.pi * (r_out**3 - r_cav**3)
    if lat is not None:
        v -= lat.count * math.pi * (g.pore_diameter / 2) ** 2 * g.shell_thickness
    return v


def particle_fluid_fraction(case: Case) -> float:
    """Electrolyte inside one particle (cavity and pores) over its envelope volume (0 if none)."""
    carbon = particle_carbon_volume(case)
    if carbon is None:
        return 0.0
    return 1.0 - carbon / (math.pi / 6.0 * case.geometry.outer_diameter**3)


def particle_mass(case: Case) -> float | None:
    """Mass of one particle (g): carbon of the shell (minus pores) ÷ (1 − metal fraction).

    None for geometry kinds that are not a particle (planar, cylinder-pore).
    """
    v = particle_carbon_volume(case)
    if v is None:
        return None
    rho = case.catalyst.carbon_density * 1e3  # g/m³ from kg/m³
    return rho * v / (1.0 - case.catalyst.metal_loading)


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


def areal_site_density(case: Case, wall_area: float) -> float:
    """Γ_eff (mol/m²): the inventory over the catalytic wall area, or ``site_density``.

    Args:
        case: the case.
        wall_area: carbon wall area lined by the catalyst (m²) of the whole particle,
            from the mesh.

    Raises:
        ValueError: ``inventory`` without a particle, or without a catalytic wall.
    """
    if case.catalyst.sites == "uniform":
        return case.catalyst.site_density
    n = sites_per_particle(case)
    if n is None:
        raise ValueError(
            f"catalyst.sites = 'inventory' needs a particle (hollow or solid sphere), "
            f"not geometry.kind = {case.geometry.kind!r}"
        )
    if not wall_area > 0.0:
        raise ValueError("catalyst.sites = 'inventory': the mesh has no catalytic wall")
    return n / wall_area


__all__ = [
    "areal_site_density",
    "particle_mass",
    "reference_site_density",
    "sites_per_particle",
]
