"""Two scales against a film resolved particle by particle (issue #22, item 2).

cases/verification/resolved-film-spheres.toml is a film six solid spheres thick with
a first-order surface reaction A -> B (k_s R / D = 2e-3; film Thiele modulus 1.0;
δ = 2 µm). ``confine run`` solves it as two scales: the sphere in an unbounded bath
gives η, the 1D film runs with k_v = η k_s n_V 4π R² and D_eff = D ε/τ. The reference
(:mod:`confine.resolved_film`) meshes every sphere of the film's Wigner–Seitz column
(the same spheres, spacing and sites per electrode area) in (r, z) and solves it with
plain dolfinx; τ comes from a cell problem on the same unit cell.

Measured (consumption per electrode area; reference mesh: cell size h on the spheres,
curved P2):

* reference, h = 6.25 / 3.125 / 1.5625 / 0.78125 nm: 0.2519385, 0.2519361, 0.2519358,
  0.2519358 mol/(m² s): the test's two levels are within 1.1e-5 and 1.1e-6 of the
  finest (fourth order: curved cells);
* the cell's D_eff / D = 0.4804895, 0.4804496, 0.4804455, 0.4804453 at those h:
  τ = ε D / D_eff = 1.278392 is the case's;
* two scales against the reference: −7.54e-4 (−0.075 %), and −7.67e-4 with the film's
  1D mesh refined 4×. What is left is the coupling's own error: η is the sphere's in
  an unbounded bath, 1 / (1 + k_s R / D), which counts the particle's whole outer
  diffusion resistance, while among its neighbours a particle sees the film's local
  mean a shorter way off; that error is O(k_s R / D) (−0.053 % at half this k_s,
  −0.12 % at 2.5×), and with η = 1 the film's closed form meets the reference to 3e-5.

The bound 2e-3 is that measured −7.5e-4 with margin for the reference's mesh error
(1e-5) and the film's (1.3e-5); it is five times inside the issue's 1 %. The comparison
has teeth: a film without its own gradient (k_v L in series with the Nernst layer)
is 13 % off, and one with τ = 1 is 2.4 % off (Bruggeman's τ, 1.2760, happens to lie
within 0.2 % of this cell's and cannot be told apart here: −0.053 %).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from confine.case import load_case
from confine.film import film_geometry
from confine.pipeline import run
from confine.resolved_film import cell_transport, column_of, solve_column

ROOT = Path(__file__).resolve().parent.parent
CASE = ROOT / "cases" / "verification" / "resolved-film-spheres.toml"
#: Spheres in the film (the case's thickness over its spacing).
COUNT = 6
#: Cell sizes on the spheres (nm): R / 8 and R / 16.
LEVELS = (6.25, 3.125)
#: Two scales against the resolved film (see the module doc).
BOUND = 2e-3


@pytest.fixture(scope="module")
def electrode() -> dict[str, float]:
    """The two-scale run of the shipped case, and its chemistry."""
    case = load_case(CASE)
    geo = film_geometry(case)
    a, step = case.species_named("A"), case.reaction_named("consume")
    m = run(case).metrics
    film = m["film_document"]
    area = film["layer_volume_m3"]["value"] / geo.thickness  # 1D: per m² of cross-section
    return {
        "consumption": film["reactions"]["consume"]["rate_mol_s"]["value"] / area,
        "eta": m["effectiveness_factors"]["consume"]["value"],
        "D": a.diffusivity,
        "k": step.rate_constant,
        "bulk": a.bulk,
        "tau": geo.tortuosity,
        "porosity": geo.porosity,
    }


def test_the_column_is_the_films_geometry() -> None:
    """The resolved column holds the film's particles: its packing, spacing and sites."""
    geo = film_geometry(load_case(CASE))
    col = column_of(geo, COUNT)
    assert col.radius == pytest.approx(50.0, rel=1e-12)
    assert col.spacing == pytest.approx(120.0, rel=1e-12)
    assert col.cell_radius == pytest.approx(60.0, rel=1e-12)
    assert col.porosity == pytest.approx(geo.porosity, rel=1e-12)
    assert col.thickness * 1e-9 == pytest.approx(geo.thickness, rel=1e-12)


def test_the_films_tortuosity_is_its_unit_cells(electrode: dict[str, float]) -> None:
    """τ = ε D / D_eff from the cell problem (not Bruggeman): the case's value, to 2e-5 at
    the finer level (measured 9e-6; 9e-5 at the coarser)."""
    col = column_of(film_geometry(load_case(CASE)), COUNT)
    tau = col.porosity / cell_transport(col, LEVELS[-1])
    assert tau == pytest.approx(electrode["tau"], rel=2e-5)


def test_two_scales_equal_the_resolved_film(electrode: dict[str, float]) -> None:
    """The consumption per electrode area of the two-scale run equals the resolved film's
    within 0.2 % (measured −0.075 %; see the module doc), at two reference meshes that
    agree to 5e-5; the reference balances (consumption = inflow at the top)."""
    e = electrode
    ks, d = e["k"], e["D"]
    assert e["eta"] == pytest.approx(1.0 / (1.0 + ks * 50e-9 / d), rel=1e-5)  # the sphere
    col = column_of(film_geometry(load_case(CASE)), COUNT)
    refs = [solve_column(col, d, ks, e["bulk"], h) for h in LEVELS]
    for ref in refs:
        assert ref.inflow == pytest.approx(ref.consumption, rel=1e-8)
    coarse, fine = (r.consumption for r in refs)
    assert coarse == pytest.approx(fine, rel=5e-5)
    assert e["consumption"] == pytest.approx(fine, rel=BOUND)
    # the film's own gradient matters: Φ ≈ 1, and without it the film is far off
    geo = film_geometry(load_case(CASE))
    k_v = e["eta"] * ks * geo.particles_per_area * math.pi * (100e-9) ** 2 / geo.thickness
    d_eff = d * e["porosity"] / e["tau"]
    thiele = geo.thickness * math.sqrt(k_v / d_eff)
    assert 0.9 < thiele < 1.1
    flat = e["bulk"] / (geo.diffusion_layer / d + 1.0 / (k_v * geo.thickness))
    assert abs(flat / fine - 1.0) > 20 * BOUND
