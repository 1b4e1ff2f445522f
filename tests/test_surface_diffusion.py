"""Surface diffusion of an adsorbate along a catalytic pore wall against its closed form
(issue #23, item 4): cases/verification/pore-wall-surface-diffusion.toml.

A pore whose wall layer fills it, open at both ends to the bath: the tracer A diffuses
in and adsorbs (A + *S → *X, first order in A, zero order in *S), *X diffuses along the
wall with D_s and is released first order. Every field depends on z alone:
A = c0 cosh(s/λ)/cosh(h/λ) and θ_X = B cosh(s/λ) + C cosh(s/ℓ) (s = z − L/2, h = L/2;
see the case file). Checked on two meshes (``mesh.refine`` 0 and 1): the relative L2
error of θ_X and of A falls at the order of P1 (2) and the finer one stays below a bound
about twice the one observed; the mean coverage in metrics.json is the balance; the
adsorbates' mass balances close to round-off. Also the coverage C_I/C_E of metrics.json
(confine/metrics/coverage_means.py) on the shipped 7 nm case.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import ufl
from mpi4py import MPI

from confine.case import Case, load_case
from confine.mesh import load_mesh
from confine.metrics import compute_metrics
from confine.solve import solve

COMM = MPI.COMM_WORLD
CASE = (
    Path(__file__).resolve().parent.parent
    / "cases"
    / "verification"
    / "pore-wall-surface-diffusion.toml"
)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh mesh cache for this module."""
    return tmp_path_factory.mktemp("meshes")


def closed_form(case: Case) -> dict[str, Any]:
    """Tracer and coverage along the pore (functions of s = z − L/2 in m) and the mean θ."""
    g = case.geometry
    assert g.pore_length is not None
    h = g.pore_length / 2
    a, x = case.species_named("A"), case.species_named("*X")
    d, c0, d_s = float(a.diffusivity or 0.0), a.bulk, x.surface_diffusivity
    k_a = case.reaction_named("adsorb").rate_constant
    k = case.reaction_named("release").rate_constant
    gamma = case.catalyst.site_density / g.catalyst_layer  # mol/m³ of layer
    lam, ell = math.sqrt(d / k_a), math.sqrt(gamma * d_s / k)
    b = k_a * c0 / (math.cosh(h / lam) * (k - gamma * d_s / lam**2))
    c = -b * (ell / lam) * math.sinh(h / lam) / math.sinh(h / ell)
    return {
        "A": lambda s: c0 * ufl.cosh(s / lam) / math.cosh(h / lam),
        "*X": lambda s: b * ufl.cosh(s / lam) + c * ufl.cosh(s / ell),
        # without surface diffusion θ_X would follow the local source, k_a A / k
        "*X local": lambda s: k_a * c0 * ufl.cosh(s / lam) / (math.cosh(h / lam) * k),
        "mean": k_a * c0 * lam * math.tanh(h / lam) / (k * h),
    }


def errors(refine: int, cache: Path) -> dict[str, float]:
    """Relative L2 errors of A and θ_X, and of θ_X against the no-diffusion profile,
    the relative error of the mean coverage in metrics.json, and the mass balances."""
    case = load_case(CASE, set={"mesh.refine": refine})
    md = load_mesh(case, COMM, cache)
    sol = solve(case, md)
    p = sol.model
    exact = closed_form(case)
    assert case.geometry.pore_length is not None
    x = ufl.SpatialCoordinate(md.mesh)
    s = x[1] * p.L - case.geometry.pore_length / 2
    w = 2 * math.pi * x[0]
    dx = ufl.Measure("dx", domain=md.mesh, metadata={"quadrature_degree": 6})
    layer = dx(subdomain_data=md.cell_tags, subdomain_id=p.layer_tags)

    def rel(h: Any, e: Any, meas: Any) -> float:
        return math.sqrt(p.integrate((h - e) ** 2 * w * meas) / p.integrate(e**2 * w * meas))

    m = compute_metrics(case, md, sol, COMM)
    species = m["species"]
    return {
        "A": rel(p.conc["A"], exact["A"](s), dx),
        "*X": rel(p.cov["*X"], exact["*X"](s), layer),
        "*X local": rel(p.cov["*X"], exact["*X local"](s), layer),
        "mean": species["*X"]["mean_coverage"]["value"] / exact["mean"] - 1,
        "balance *X": species["*X"]["mass_balance_relative_error"]["value"],
        "balance *S": species["*S"]["mass_balance_relative_error"]["value"],
        "balance": m["mass_balance_relative_error"]["value"],
    }


def test_surface_diffusion_along_a_pore_wall_matches_the_closed_form(cache: Path) -> None:
    """θ_X and A on two meshes: second order, below bounds; the balances close."""
    coarse, fine = errors(0, cache), errors(1, cache)
    # observed: θ_X 5.7e-4 -> 1.7e-4, A 7.8e-4 -> 2.2e-4, mean 4.6e-4 -> 1.3e-4
    # (refine 2: 4.0e-5, 5.4e-5, 3.2e-5)
    for key, bound in (("*X", 3.5e-4), ("A", 4.5e-4), ("mean", 2.6e-4)):
        pair = (abs(coarse[key]), abs(fine[key]))
        assert math.log2(pair[0] / pair[1]) > 1.5, (key, pair)
        assert pair[1] < bound, (key, pair)
    # the wall's diffusion matters: the coverage is far from the local source's (0.23)
    assert fine["*X local"] > 0.1
    for e in (coarse, fine):
        assert e["balance *X"] < 1e-8 and e["balance *S"] < 1e-8 and e["balance"] < 1e-8


def test_coverage_ratio_on_the_shipped_7nm_case(cache: Path) -> None:
    """C_I/C_E of a coverage (issue #23, item 2): cavity-layer mean over the mean in the
    layer at the outer mouths, finite for *H and *NO of cases/mchs-7nm.toml, and defined."""
    case = load_case(CASE.parent.parent / "mchs-7nm.toml", set={"mesh.cells_per_pore_diameter": 3})
    md = load_mesh(case, COMM, cache)
    m = compute_metrics(case, md, solve(case, md), COMM)
    for name in ("*H", "*NO"):
        entry = {k: v["value"] for k, v in m["species"][name].items()}
        ratio = entry["coverage_ratio_interior_exterior"]
        assert math.isfinite(ratio) and ratio > 0, (name, entry)
        cavity, mouth = entry["cavity_layer_mean_coverage"], entry["mouth_layer_mean_coverage"]
        assert 0 < cavity < 1 and 0 < mouth < 1
        assert ratio == pytest.approx(cavity / mouth, rel=1e-14)
        assert m["species"][name]["coverage_ratio_interior_exterior"]["unit"] == "1"
    assert "cavity_layer" in m["definitions"]["coverage_ratio_interior_exterior"]
    assert "mouth_outer" in m["definitions"]["coverage_ratio_interior_exterior"]
    # a pore without a cavity has no such ratio
    pore = load_case(CASE)
    pmd = load_mesh(pore, COMM, cache)
    pm = compute_metrics(pore, pmd, solve(pore, pmd), COMM)
    assert pm["species"]["*X"]["coverage_ratio_interior_exterior"]["value"] is None


@pytest.mark.parametrize("pore", ["7.55 nm", "11.12 nm"])
def test_calibrated_surface_case_solves_cold_at_minus_0_7_v(cache: Path, pore: str) -> None:
    """The calibrated surface-diffusion case from the bulk state at -0.7 V (issue #23: the
    first continuation step failed its line search at 7 and 11 nm, the coverages'
    round-off floor from the diffusion stiffness above the species' residuals). The site
    balances are scaled by that stiffness too (confine.fem.fields.site_balance_scales)."""
    fitted = CASE.parent.parent / "fit" / "representations" / "surface" / "fitted-case.toml"
    sets = {"electrode.potential": "-0.7 V", "geometry.pore_diameter": pore}
    case = load_case(fitted, set=sets)
    md = load_mesh(case, COMM, cache)
    sol = solve(case, md)
    assert sol.converged and sol.multipliers[-1] == 1.0
    # the first step (s = 1e-8) converges in a couple of Newton iterations
    assert sol.step_iterations[0] <= 3, sol.step_iterations
