"""The electrode film alone against closed forms (issue #22, item 2).

The film scale is the ``planar`` geometry in 1D: the current collector at x = 0
(``electrode``, no flux), the catalyst film 0 < x < t (``outer_layer``,
``catalyst = "layer"``) with porosity ε and Bruggeman tortuosity τ = ε^−1/2
(D_eff = D ε/τ = D ε^1.5, κ_eff = κ ε^1.5), the Nernst diffusion layer
t < x < t + δ (``bath``) and the bulk at x = t + δ (``outer_boundary``).
Rates are per total film volume. The 1D metrics are per the slab's cross-section
(``layer_volume_m3`` / t, or ``catalyst.wall_area_m2`` for an areal catalyst).

* a porous electrode with first-order kinetics k, the diffusion layer in series:
  N = c_b / (δ/D + 1/(√(k D_eff) tanh Φ)), Φ = t √(k/D_eff); without a
  diffusion layer the effectiveness is tanh Φ / Φ;
* the Nernst-layer limiting current n F D c_b / δ (neutral reactant; and an ion
  with a supporting electrolyte under the secondary model);
* the reaction layer of CO2 + OH− → HCO3− with OH− in excess (k' = k2 [OH−]):
  μ = √(D/k'), and with a first-order sink k_s at x = 0 (Robin) and c(δ) = c_b
  the inflow from the bulk is c_b (D/μ)(sh + β ch)/(ch + β sh), β = k_s μ/D,
  ch, sh = cosh, sinh(δ/μ), which is c_b √(D k') coth(δ/μ) as k_s → ∞;
* the ohmic drop of a film carrying a uniform volumetric current q under the
  secondary model: φ = φ_t − q (t² − x²)/(2 κ_eff) in the film (fed from its
  face, none through the collector), φ_t = −q t δ/κ; its film mean
  φ_t − q t²/(3 κ_eff).

Each closed form is checked on two meshes (``mesh.refine`` 0 and 1): the error
falls at second order (P1) and the finer error stays below a bound about twice
the one observed; every checked value is within 0.5 % of its closed form.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from mpi4py import MPI

from confine.case import case_from_dict
from confine.document import value
from confine.geometry.derived import sizes_of
from confine.mesh import load_mesh
from confine.metrics import compute_metrics
from confine.solve import solve
from confine.units import FARADAY, GAS_CONSTANT

COMM = MPI.COMM_WORLD
NM = 1e-9
D = 1e-9  # reactant diffusivity (m²/s)
EPS = 0.4  # film porosity
TAU = EPS**-0.5  # Bruggeman
D_EFF = D * EPS**1.5
C_B = 1000.0  # reactant bulk (mol/m³)
VT = GAS_CONSTANT * 298.15 / FARADAY


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh mesh cache for this module."""
    return tmp_path_factory.mktemp("meshes")


def run(raw: dict[str, Any], cache: Path) -> dict[str, Any]:
    """Validate, mesh, solve and compute the metrics of a case."""
    case = case_from_dict(raw)
    md = load_mesh(case, COMM, cache)
    return compute_metrics(case, md, solve(case, md), COMM)


def nm(length: float) -> str:
    return f"{length / NM:.12g} nm"


def film(
    t: float | None,
    delta: float,
    species: list[dict[str, Any]],
    reactions: list[dict[str, Any]],
    refine: int,
    cells: int = 20,
    growth: float = 1.3,
) -> dict[str, Any]:
    """A film of thickness t (None: an areal catalyst at x = 0) under a diffusion layer δ."""
    geometry: dict[str, Any] = {"kind": "planar", "model": "1d", "length": nm((t or 0) + delta)}
    if t is None:
        geometry["catalyst"] = "surface"
    else:
        geometry.update(catalyst="layer", catalyst_layer=nm(t))
    return {
        "case": {"name": "film"},
        "geometry": geometry,
        "mesh": {
            "cells_across_layer": cells,
            "max_cell_size": nm(max(delta / 10, (t or 0) / cells)),
            "growth": growth,
            "refine": refine,
        },
        "catalyst": {"layer_porosity": EPS, "layer_tortuosity": TAU},
        "electrolyte": {"potential_model": "none", "hindrance": "none"},
        "species": species,
        "reactions": reactions,
    }


def neutral(name: str, bulk: float | None = None, d: float = D) -> dict[str, Any]:
    out = {"name": name, "formula": "X", "diffusivity": f"{d} m^2/s"}
    if bulk is not None:
        out["bulk"] = f"{bulk} mol/m^3"
    return out


def ion(name: str, charge: int, d: float, bulk: float | None = None) -> dict[str, Any]:
    out = {"name": name, "charge": charge, "diffusivity": f"{d} m^2/s"}
    if bulk is not None:
        out["bulk"] = f"{bulk} mol/m^3"
    return out


def per_area(metrics: dict[str, Any], t: float) -> float:
    """The cross-section (m²) a 1D film's metrics are per."""
    return value(metrics, "layer_volume_m3") / t


def converges(errors: list[float], bound: float) -> None:
    """Second order under halving and the finer error below ``bound``."""
    coarse, fine = (abs(e) for e in errors)
    assert math.log2(coarse / fine) > 1.5, errors
    assert fine < bound, errors


# --------------------------------------------------------------------------- 1 porous film
def series_flux(k: float, t: float, delta: float) -> float:
    """N = c_b / (δ/D + 1/(√(k D_eff) tanh Φ)) (mol/(m² s))."""
    phi = t * math.sqrt(k / D_EFF)
    return C_B / (delta / D + 1.0 / (math.sqrt(k * D_EFF) * math.tanh(phi)))


FILMS = {
    # Φ, δ, bound: with the diffusion layer (50 µm), and without one (1 nm: δ/D is at most
    # 2.5e-4 of the film's resistance). Observed (refine 0 -> 1, 20 cells across the film):
    # 1.5e-5 -> 3.7e-6, 5.5e-5 -> 1.4e-5, 1.9e-4 -> 4.8e-5; 1.8e-5 -> 4.6e-6,
    # 1.6e-4 -> 4.0e-5, 2.6e-3 -> 6.5e-4
    "phi0.3-nernst": (0.3, 50e-6, 8e-6),
    "phi1-nernst": (1.0, 50e-6, 3e-5),
    "phi5-nernst": (5.0, 50e-6, 1e-4),
    "phi0.3-bare": (0.3, 1e-9, 1e-5),
    "phi1-bare": (1.0, 1e-9, 8e-5),
    "phi5-bare": (5.0, 1e-9, 1.3e-3),
}


@pytest.mark.parametrize(("phi", "delta", "bound"), FILMS.values(), ids=FILMS.keys())
def test_porous_film_with_first_order_kinetics(
    phi: float, delta: float, bound: float, cache: Path
) -> None:
    """A → B at k in a 5 µm film (ε 0.4, Bruggeman) under δ: the integrated rate and
    the outflow of A match the series closed form; without a diffusion layer the
    effectiveness rate / (k t c_b) is tanh Φ / Φ."""
    t = 5e-6
    k = (phi / t) ** 2 * D_EFF
    exact = series_flux(k, t, delta)
    step = {
        "name": "sink",
        "type": "chemical",
        "where": "layer",
        "reactants": {"A": 1},
        "products": {"B": 1},
        "rate_constant": f"{k} 1/s",
    }
    errors = []
    for refine in (0, 1):
        raw = film(t, delta, [neutral("A", C_B), neutral("B")], [step], refine, cells=20)
        m = run(raw, cache)
        area = per_area(m, t)
        rate = value(m, "reactions.sink.rate_mol_s") / area
        inflow = -value(m, "species.A.outward_flux_mol_s") / area
        assert inflow == pytest.approx(rate, rel=1e-9)
        assert rate == pytest.approx(exact, rel=5e-3)
        if delta < 1e-8:
            assert rate / (k * t * C_B) == pytest.approx(math.tanh(phi) / phi, rel=5e-3)
        errors.append(rate / exact - 1)
    converges(errors, bound)


# --------------------------------------------------------------------------- 2 limiting current
def tafel(reactant: str, product: str, k: float) -> dict[str, Any]:
    """A one-electron Tafel step in the film, α 0.5, first order in the reactant."""
    return {
        "name": "reduce",
        "type": "electrochemical",
        "where": "layer",
        "reactants": {reactant: 1},
        "products": {product: 1},
        "electrons": 1,
        "rate_constant": f"{k} 1/s",
        "transfer_coefficient": 0.5,
    }


LIMITING_E = -0.5  # V: k exp(α |E| F/RT) = 1.7e4 k
LIMITING_PHI = 30.0  # Φ of the film at that potential: its resistance is 0.26 % of δ/D


@pytest.mark.parametrize("model", ["none", "secondary"])
def test_nernst_layer_limiting_current(model: str, cache: Path) -> None:
    """A fast reduction (Tafel, −0.5 V) in a 1 µm film under δ = 50 µm: the current
    density is n F D c_b / δ within 0.5 % (observed −0.26 %, −0.25 %: the film's own
    resistance at Φ 30), and the series closed form to discretization error.

    ``none``: a neutral reactant A + e− → P−; observed error against the series form
    9.8e-6 -> 2.5e-6. ``secondary``: the reactant an ion, 1 mM M+ + e− → M in 1 M
    KNO3 (κ from the ions, 15 S/m): migration in the ohmic field (drop i δ/κ ≈ 6 µV)
    adds i δ/(2 κ RT/F) = 1.25e-4 to the flux of a trace cation (c' + (iF/κRT) c = N/D
    across the layer, to first order in the drop); against the series form with
    that correction, observed 1.4e-5 -> 7e-6 (the spectators and the potential-
    dependent film rate, not resolution, make the rest: no order asserted)."""
    t, delta = 1e-6, 50e-6
    k_eff = (LIMITING_PHI / t) ** 2 * D_EFF
    k = k_eff / math.exp(0.5 * -LIMITING_E / VT)
    if model == "none":
        species = [neutral("A", C_B), ion("P-", -1, D) | {"formula": "X"}]
        cb = C_B
        step = tafel("A", "P-", k)
    else:
        cb = 1.0
        species = [
            ion("M+", 1, D, cb),
            neutral("M") | {"formula": "M"},
            ion("K+", 1, 1.96e-9, 1000.0),
            ion("NO3-", -1, 1.9e-9, 1000.0 + cb),
        ]
        step = tafel("M+", "M", k)
    limit = FARADAY * D * cb / delta
    exact = FARADAY * cb / (delta / D + 1.0 / (math.sqrt(k_eff * D_EFF) * math.tanh(LIMITING_PHI)))
    if model == "secondary":
        kappa = FARADAY / VT * sum(z * z * d * c for z, d, c in ((1, D, cb), (1, 1.96e-9, 1e3)))
        kappa += FARADAY / VT * 1.9e-9 * (1000.0 + cb)
        exact *= 1.0 + exact * delta / (2 * kappa * VT)
    errors = []
    for refine in (0, 1):
        raw = film(t, delta, species, [step], refine, cells=100)
        raw["electrolyte"]["potential_model"] = model
        raw["electrode"] = {"potential": f"{LIMITING_E} V"}
        m = run(raw, cache)
        current = value(m, "current_A") / per_area(m, t)
        assert current == pytest.approx(limit, rel=5e-3)
        errors.append(current / exact - 1)
    if model == "none":
        converges(errors, 5e-6)
    else:
        assert max(abs(e) for e in errors) < 5e-5, errors


# --------------------------------------------------------------------------- 3 reaction layer
D_CO2 = 1.91e-9
K2 = 2.23  # CO2 + OH− → HCO3− (m³/(mol s)), 2.23e3 L/(mol s) as in cases/mchs-7nm.toml
K_S = 1.0  # first-order CO2 sink at the electrode (m/s): β = k_s μ/D ≥ 1.5e3


def reaction_layer_inflow(oh: float, delta: float) -> tuple[float, float]:
    """CO2 inflow from the bulk (mol/(m² s)) with the Robin sink k_s at x = 0, and its
    k_s → ∞ limit c_b √(D k') coth(δ/μ), per unit bulk CO2."""
    kp = K2 * oh
    mu = math.sqrt(D_CO2 / kp)
    beta = K_S * mu / D_CO2
    ch, sh = math.cosh(delta / mu), math.sinh(delta / mu)
    robin = (D_CO2 / mu) * (sh + beta * ch) / (ch + beta * sh)
    return robin, math.sqrt(D_CO2 * kp) / math.tanh(delta / mu)


LAYERS = {
    # [OH−] (mol/m³), δ, bound; μ = 9.3 µm (δ/μ 1.1) and 2.9 µm (δ/μ 3.4).
    # Observed (refine 0 -> 1): 3.7e-5 -> 8.7e-6 and 9.0e-4 -> 2.3e-4
    "pH12-delta10um": (10.0, 10e-6, 2e-5),
    "pH13-delta10um": (100.0, 10e-6, 5e-4),
}


@pytest.mark.parametrize(("oh", "delta", "bound"), LAYERS.values(), ids=LAYERS.keys())
def test_buffer_reaction_layer(oh: float, delta: float, bound: float, cache: Path) -> None:
    """CO2 (1 µM) reacting with OH− (10 or 100 mM, in excess: pseudo-first order,
    k' = k2 [OH−]) across δ, consumed at the electrode: the CO2 drawn from the bulk
    matches the Robin closed form, and c_b √(D k') coth(δ/μ) within 0.5 %."""
    cb = 1e-3  # mol/m³ (1 µM): [OH−] changes by < 1e-4 of itself
    species = [
        neutral("CO2", cb, D_CO2) | {"formula": "CO2"},
        neutral("P", None, D_CO2) | {"formula": "CO2"},
        ion("OH-", -1, 5.273e-9, oh),
        ion("HCO3-", -1, 1.185e-9),
        ion("K+", 1, 1.96e-9, oh),
    ]
    reactions = [
        {
            "name": "hydroxylation",
            "type": "homogeneous",
            "where": "electrolyte",
            "reactants": {"CO2": 1, "OH-": 1},
            "products": {"HCO3-": 1},
            "rate_constant": f"{K2} m^3/(mol*s)",
        },
        {
            "name": "sink",
            "type": "chemical",
            "where": "surface",
            "reactants": {"CO2": 1},
            "products": {"P": 1},
            "rate_constant": f"{K_S} m/s",
        },
    ]
    robin, limit = reaction_layer_inflow(oh, delta)
    errors = []
    for refine in (0, 1):
        m = run(film(None, delta, species, reactions, refine, growth=1.05), cache)
        area = value(m, "catalyst.wall_area_m2")
        inflow = -value(m, "species.CO2.outward_flux_mol_s") / area / cb
        homogeneous = value(m, "reactions.hydroxylation.rate_mol_s") / area / cb
        electrode = value(m, "reactions.sink.rate_mol_s") / area / cb
        assert inflow == pytest.approx(homogeneous + electrode, rel=1e-9)
        assert inflow == pytest.approx(limit, rel=5e-3)
        errors.append(inflow / robin - 1)
    converges(errors, bound)


# --------------------------------------------------------------------------- 4 ohmic drop
KAPPA = 1.0  # S/m, given


@pytest.mark.parametrize("porosity", [0.4, 1.0])
def test_ohmic_drop_across_a_film_carrying_a_uniform_current(porosity: float, cache: Path) -> None:
    """A potential-independent (α = 0) zero-order step 2 H2O + 2e− → H2 + 2 OH− in a
    10 µm film under δ = 40 µm, secondary model, κ given: the film's mean potential
    is φ_t − q t²/(3 κ_eff), κ_eff = κ ε^1.5 (Bruggeman), φ_t = −q t δ/κ."""
    t, delta = 10e-6, 40e-6
    kappa_eff = KAPPA * porosity**1.5
    q = 2.5e7  # A/m³: j = q t = 250 A/m², film drop q t²/(2 κ_eff) = 5 mV at ε 0.4
    r = q / (2 * FARADAY)
    species = [
        neutral("H2") | {"formula": "H2"},
        ion("OH-", -1, 5.273e-9, 100.0),
        ion("K+", 1, 1.96e-9, 100.0),
    ]
    step = {
        "name": "her",
        "type": "electrochemical",
        "where": "layer",
        "reactants": {"H2O": 2},
        "products": {"H2": 1, "OH-": 2},
        "electrons": 2,
        "rate_constant": f"{r} mol/(m^3*s)",
        "transfer_coefficient": 0.0,
    }
    phi_t = -q * t * delta / KAPPA
    exact = phi_t - q * t**2 / (3 * kappa_eff)
    errors = []
    for refine in (0, 1):
        raw = film(t, delta, species, [step], refine)
        raw["catalyst"] = {"layer_porosity": porosity, "layer_tortuosity": porosity**-0.5}
        raw["electrolyte"].update(potential_model="secondary", conductivity=f"{KAPPA} S/m")
        m = run(raw, cache)
        assert value(m, "current_A") / per_area(m, t) == pytest.approx(q * t, rel=1e-9)
        mean = value(m, "catalyst_layer_mean_potential_V")
        errors.append(mean / exact - 1)
    # observed −1.5e-4 -> −3.9e-5 (ε 0.4), −4.8e-5 -> −1.2e-5 (ε 1): the P1 mean of a
    # quadratic (nodally exact in 1D); before κ saw ε/τ the ε 0.4 film was off by −18 %
    converges(errors, 8e-5 if porosity < 1 else 2.5e-5)


def test_film_sizes_follow_the_film_not_the_width() -> None:
    """A 1D film is resolved by ``cells_across_layer`` (1D has no lateral width: the
    default 10 nm width once made a 5 µm film 3000 cells of 1.7 nm), capped by
    length / cells_per_pore_diameter; the diffusion layer grades up to max_cell_size."""
    raw = film(5e-6, 50e-6, [neutral("A", C_B)], [], 0, cells=20)
    sizes = sizes_of(case_from_dict(raw))
    assert sizes.layer == pytest.approx(250.0)
    assert sizes.max == pytest.approx(5000.0)
    raw["geometry"]["length"] = nm(5.6e-6)  # two cells across, a thin bath: length / 6 binds
    raw["mesh"]["cells_across_layer"] = 2
    assert sizes_of(case_from_dict(raw)).layer == pytest.approx(5600.0 / 6)
