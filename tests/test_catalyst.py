"""The metal inventory: particle mass, sites per particle, per-site kinetics in the solver."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import confine
from confine.catalyst import areal_site_density, particle_mass, sites_per_particle
from confine.geometry.derived import lattice_of

ROOT = Path(__file__).resolve().parent.parent
SHELL = ROOT / "cases" / "first-order-shell.toml"
COARSE = {"mesh.cells_per_pore_diameter": 3, "output.fields": False, "output.figures": False}


def test_particle_mass_and_sites_by_hand() -> None:
    case = confine.load_case(SHELL, set={"catalyst.sites": "inventory"})
    g, cat = case.geometry, case.catalyst
    lat = lattice_of(case)
    assert lat is not None
    r_o, r_c = g.outer_diameter / 2, g.outer_diameter / 2 - g.shell_thickness
    carbon = (
        4 / 3 * math.pi * (r_o**3 - r_c**3)
        - lat.count * math.pi * (g.pore_diameter / 2) ** 2 * g.shell_thickness
    )
    mass = carbon * 1.9e6 / (1 - cat.metal_loading)  # g, 1.9 g/cm³
    assert particle_mass(case) == pytest.approx(mass, rel=1e-12)
    n = mass * cat.metal_loading * cat.dispersion / 63.546
    assert sites_per_particle(case) == pytest.approx(n, rel=1e-12)
    # Γ_eff over a wall of 1e-15 m²; uniform sites keep the declared density
    assert areal_site_density(case, 1e-15) == pytest.approx(n / 1e-15, rel=1e-12)
    uniform = case.replace(**{"catalyst.sites": "uniform"})
    assert areal_site_density(uniform, 1e-15) == cat.site_density


def test_inventory_is_the_metal_per_particle_and_rates_are_per_site() -> None:
    """Sites from the mesh equal the inventory; a reaction-limited rate scales with them.

    The mean site factor is the inventory over the uniform layer's sites (Γ_ref × layer
    volume), so a first-order rate at uniform concentration scales by exactly that.
    """
    base = confine.load_case(SHELL, set={**COARSE, "reactions.consume.rate_constant": "1 1/s"})
    inv = confine.load_case(
        SHELL,
        set={
            **COARSE,
            "reactions.consume.rate_constant": "1 1/s",
            "catalyst.sites": "inventory",
        },
    )
    m_area = confine.run(base).metrics
    m_inv = confine.run(inv).metrics
    scale = m_inv["catalyst"]["site_scale"]["value"]
    assert m_area["catalyst"]["site_scale"]["value"] == 1.0
    assert m_inv["catalyst"]["sites_mol"]["value"] == pytest.approx(
        sites_per_particle(inv), rel=1e-10
    )
    # k = 1/s: Damköhler ~1e-12, so c = c_bulk and the rate is k c_bulk Σ V_region factor
    r_area = m_area["reactions"]["consume"]["rate_mol_s"]["value"]
    r_inv = m_inv["reactions"]["consume"]["rate_mol_s"]["value"]
    assert r_inv / r_area == pytest.approx(scale, rel=1e-6)
    assert 0.01 < scale < 100  # a 5 % metal particle is within a decade of a monolayer


def test_same_metal_per_particle_mass_across_pore_sizes() -> None:
    """Sites per gram of particle are the same for every support (ICP: equal loading)."""
    per_gram = []
    for d in ("4.18 nm", "7.55 nm", "11.12 nm"):
        case = confine.load_case(
            SHELL, set={"catalyst.sites": "inventory", "geometry.pore_diameter": d}
        )
        n, mass = sites_per_particle(case), particle_mass(case)
        assert n is not None and mass is not None
        per_gram.append(n / mass)
    assert max(per_gram) == pytest.approx(min(per_gram), rel=1e-12)


def test_surface_catalyst_on_a_hollow_sphere_holds_the_same_sites() -> None:
    """catalyst = "surface": the reactions happen on the pore and cavity walls (the
    groups the geometry declares catalytic). With the same inventory and the same
    per-site constant (k_surface = k_layer × t, since a layer's Γ_ref is Γ/t), a
    reaction-limited rate equals the layer's."""
    inventory = {**COARSE, "catalyst.sites": "inventory"}
    layer = confine.load_case(SHELL, set={**inventory, "reactions.consume.rate_constant": "1 1/s"})
    surface = confine.load_case(
        SHELL,
        set={
            **inventory,
            "geometry.catalyst": "surface",
            "reactions.consume.where": "surface",
            "reactions.consume.rate_constant": "2e-9 m/s",  # × t = 2 nm
        },
    )
    m_layer, m_surface = confine.run(layer).metrics, confine.run(surface).metrics
    # the sites sit on the walls the layer lines: the pore and cavity walls
    area = m_surface["catalyst"]["wall_area_m2"]["value"]
    assert area == pytest.approx(m_layer["catalyst"]["wall_area_m2"]["value"], rel=1e-10)
    sites = m_surface["catalyst"]["sites_mol"]["value"]
    assert sites == pytest.approx(sites_per_particle(surface), rel=1e-10)
    assert sites == pytest.approx(m_layer["catalyst"]["sites_mol"]["value"], rel=1e-10)
    r_layer = m_layer["reactions"]["consume"]["rate_mol_s"]["value"]
    r_surface = m_surface["reactions"]["consume"]["rate_mol_s"]["value"]
    assert r_surface > 0.0
    assert r_surface == pytest.approx(r_layer, rel=1e-6)
