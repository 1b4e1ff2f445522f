"""Solver against closed forms, conservation, Faradaic efficiencies, warm starts, failures."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import solver_meshes as sm
from mpi4py import MPI
from petsc4py import PETSc
from scipy.optimize import brentq

from confine.case import Case, case_from_dict, load_case
from confine.metrics import compute_metrics
from confine.physics import hindrance
from confine.solve import Solver, SolverError, newton_of, solve
from confine.solver import continuation
from confine.solver.newton import Newton
from confine.units import FARADAY, GAS_CONSTANT

ROOT = Path(__file__).resolve().parent.parent
COMM = MPI.COMM_WORLD


def value(metrics: dict[str, Any], dotted: str) -> Any:
    node: Any = metrics
    for part in dotted.split("/"):
        node = node[part]
    return node["value"] if isinstance(node, dict) and "value" in node else node


# --------------------------------------------------------------------------- shell
def shell_case(k: float, bath_boundary: str = "bulk", bath_thickness: str = "100 nm") -> Case:
    return case_from_dict(
        {
            "case": {"name": "shell"},
            "geometry": {
                "kind": "hollow-sphere",
                "model": "axisymmetric-cell",
                "wall_thickness": "3 nm",
                "bath_boundary": bath_boundary,
                "bath_thickness": bath_thickness,
            },
            "electrolyte": {"potential_model": "none", "hindrance": "none"},
            "species": [
                {
                    "name": "A",
                    "formula": "X",
                    "diffusivity": "1.91e-9 m^2/s",
                    "bulk": "0.034 mol/L",
                },
                {"name": "B", "formula": "X", "diffusivity": "1.91e-9 m^2/s"},
            ],
            "reactions": [
                {
                    "name": "consume",
                    "type": "chemical",
                    "where": "layer",
                    "reactants": {"A": 1},
                    "products": {"B": 1},
                    "rate_constant": f"{k} 1/s",
                }
            ],
            "output": {"products": ["B"]},
        }
    )


def shell_rate(k: float, d: float, r_in: float, r_out: float, c_s: float) -> float:
    """Consumption (mol/s) of a first-order reaction in a spherical shell, closed inner face.

    c = (A e^{mρ} + B e^{−mρ})/ρ, m = √(k/D); c(r_out) = c_s, c'(r_in) = 0; the
    rate is the diffusive inflow 4π r_out² D c'(r_out) (= η k V c_s).
    """
    m = math.sqrt(k / d)
    mat = np.array(
        [
            [math.exp(m * r_out) / r_out, math.exp(-m * r_out) / r_out],
            [(m * r_in - 1) * math.exp(m * r_in), (-m * r_in - 1) * math.exp(-m * r_in)],
        ]
    )
    a, b = np.linalg.solve(mat, [c_s, 0.0])
    ep, em = math.exp(m * r_out), math.exp(-m * r_out)
    dc = (m * (a * ep - b * em) * r_out - (a * ep + b * em)) / r_out**2
    return 4 * math.pi * r_out**2 * d * dc


K_SHELL = 2.8e6  # Thiele modulus m (R_o − R_i) ≈ 2: neither kinetic nor diffusion limited


def coarse_sector_case() -> Case:
    """The 7 nm urea case on a coarse 3D sector: level 0.5 of
    benchmarks/cross_fidelity.py (every target cell size × 2)."""
    return load_case(
        ROOT / "cases" / "mchs-7nm.toml",
        set={
            "geometry.model": "sector-3d",
            "mesh.cells_per_pore_diameter": 3,
            "mesh.cells_across_layer": 1,
            "mesh.max_cell_size": "40 nm",
            "mesh.growth": 1.6,
        },
    )


def test_effectiveness_factor_spherical_shell() -> None:
    sol = solve(shell_case(K_SHELL), sm.shell(COMM, 55.0, 107.0, 16, 32))
    rate = sol.model.rate_integral("consume")
    exact = shell_rate(K_SHELL, 1.91e-9, 55e-9, 107e-9, 34.0)
    eta = exact / (K_SHELL * 4 / 3 * math.pi * (107e-9**3 - 55e-9**3) * 34.0)
    assert 0.2 < eta < 0.8  # a genuinely mixed regime
    assert abs(rate / exact - 1) < 5e-3
    # and it converges at second order
    coarse = solve(shell_case(K_SHELL), sm.shell(COMM, 55.0, 107.0, 8, 16))
    e1 = abs(coarse.model.rate_integral("consume") / exact - 1)
    assert math.log2(e1 / abs(rate / exact - 1)) > 1.85


def test_far_field_condition_is_the_infinite_bath() -> None:
    """Shell + 43 nm bath with ∂c/∂r = −(c − c∞)/R_b at R_b = 150 nm equals the shell in an
    unbounded bath: rate = c∞ / (1/k_shell + 1/(4π R_o D))."""
    case = shell_case(K_SHELL, bath_boundary="far-field", bath_thickness="43 nm")
    md = sm.shell(COMM, 55.0, 150.0, 95, 48, bath_from=107.0)  # 1 nm: aligned at 107
    sol = solve(case, md)
    rate = sol.model.rate_integral("consume")
    d = 1.91e-9
    per_c = shell_rate(K_SHELL, d, 55e-9, 107e-9, 1.0)
    exact = 34.0 / (1 / per_c + 1 / (4 * math.pi * 107e-9 * d))
    assert abs(rate / exact - 1) < 5e-3


# --------------------------------------------------------------------------- hindrance
def test_hindered_pore_conductance_series_resistances() -> None:
    """bath | pore (D·H) | bath in 1D with a first-order sink at x = 0: the piecewise-linear
    exact solution is in the P1 space, so the flux matches resistances in series exactly."""
    radius, pore_d = 0.5e-9, 3.0e-9
    case = case_from_dict(
        {
            "case": {"name": "pore"},
            "geometry": {
                "kind": "planar",
                "model": "1d",
                "length": "30 nm",
                "catalyst": "surface",
                "pore_diameter": "3 nm",
            },
            "electrolyte": {"potential_model": "none", "hindrance": "renkin"},
            "species": [
                {
                    "name": "A",
                    "formula": "X",
                    "diffusivity": "1e-9 m^2/s",
                    "bulk": "1 mol/L",
                    "radius": "0.5 nm",
                    "radius_kind": "stokes",
                    "radius_source": "test value",
                },
                {
                    "name": "B",
                    "formula": "X",
                    "diffusivity": "1e-9 m^2/s",
                    "radius": "0.5 nm",
                    "radius_kind": "stokes",
                    "radius_source": "test value",
                },
            ],
            "reactions": [
                {
                    "name": "sink",
                    "type": "chemical",
                    "where": "surface",
                    "reactants": {"A": 1},
                    "products": {"B": 1},
                    "rate_constant": "0.05 m/s",
                }
            ],
        }
    )
    md = sm.interval(COMM, 30, 30.0, regions=[("pore", 10.0, 20.0)])
    sol = solve(case, md)
    h = hindrance.renkin(radius / (pore_d / 2))
    d, nm = 1e-9, 1e-9
    resistance = 10 * nm / d + 10 * nm / (d * h) + 10 * nm / d + 1 / 0.05
    exact = 1000.0 / resistance  # mol/(m² s)
    rate = sol.model.rate_integral("sink")
    assert rate == pytest.approx(exact, rel=1e-9)
    assert sol.model.outward_flux("B") == pytest.approx(exact, rel=1e-9)


# --------------------------------------------------------------------------- migration
def test_transport_limited_deposition_with_migration() -> None:
    """Ag+ reduced at x = 0 (Tafel), NO3− inert, electroneutral, 1D.

    Reference (derived here): the inert anion has zero flux, so c_− = c_b e^{φ̂}
    and with c_+ = c_− = c the cation flux is −2D dc/dx (migration doubles it):
    c is linear, c(δ) = c_b, and at the electrode
    2D (c_b − c_s)/δ = k c_s exp(−α (E − φ_s − E_ref) F/RT), φ_s = (RT/F) ln(c_s/c_b).
    """
    delta, d, cb, k, alpha, e = 10e-9, 1.6e-9, 10.0, 0.05, 0.5, -0.1
    case = case_from_dict(
        {
            "case": {"name": "ag"},
            "geometry": {"kind": "planar", "model": "1d", "length": "10 nm", "catalyst": "surface"},
            "electrolyte": {"potential_model": "electroneutral", "hindrance": "none"},
            "electrode": {"potential": f"{e} V"},
            "species": [
                {"name": "Ag+", "charge": 1, "diffusivity": f"{d} m^2/s", "bulk": "0.01 mol/L"},
                {"name": "NO3-", "charge": -1, "diffusivity": "1.9e-9 m^2/s", "bulk": "0.01 mol/L"},
                {"name": "Ag", "diffusivity": "1e-9 m^2/s"},
            ],
            "reactions": [
                {
                    "name": "deposit",
                    "type": "electrochemical",
                    "where": "surface",
                    "reactants": {"Ag+": 1},
                    "products": {"Ag": 1},
                    "electrons": 1,
                    "rate_constant": f"{k} m/s",
                    "transfer_coefficient": alpha,
                }
            ],
        }
    )
    vt = GAS_CONSTANT * 298.15 / FARADAY

    def balance(cs: float) -> float:
        phi_s = vt * math.log(cs / cb)
        return 2 * d * (cb - cs) / delta - k * cs * math.exp(-alpha * (e - phi_s) / vt)

    cs = brentq(balance, 1e-12 * cb, cb, xtol=1e-15)
    exact = 2 * d * (cb - cs) / delta
    assert 0.05 < cs / cb < 0.95  # mixed control: migration and kinetics both matter
    errs = []
    for n in (32, 64):
        sol = solve(case, sm.interval(COMM, n, 10.0))
        errs.append(abs(sol.model.rate_integral("deposit") / exact - 1))
    assert errs[-1] < 1e-3
    assert errs[0] / errs[1] > 3.0  # converging (second order)


# --------------------------------------------------------------------------- Langmuir
def test_langmuir_coverage_at_equilibrium() -> None:
    """A ⇌ *A on the layer and nothing else: θ = Kc/(1 + Kc) everywhere, c = bulk."""
    kf, kb, c = 2e3, 5e4, 40.0
    case = case_from_dict(
        {
            "case": {"name": "langmuir"},
            "geometry": {"kind": "planar", "model": "2d", "length": "10 nm"},
            "electrolyte": {"potential_model": "none", "hindrance": "none"},
            "species": [
                {"name": "A", "formula": "CO", "diffusivity": "1e-9 m^2/s", "bulk": "0.04 mol/L"},
                {"name": "*A", "phase": "adsorbed", "formula": "CO"},
            ],
            "reactions": [
                {
                    "name": "ads",
                    "type": "chemical",
                    "where": "layer",
                    "reactants": {"A": 1},
                    "products": {"*A": 1},
                    "rate_constant": f"{kf} 1/s",
                    "backward_rate_constant": f"{kb} mol/(m^3*s)",
                }
            ],
        }
    )
    sol = solve(case, sm.box(COMM, 2, 8, 10.0))
    th = sol.model.theta.x.array
    expected = kf / kb * c / (1 + kf / kb * c)
    assert np.allclose(th, expected, rtol=1e-10, atol=0)
    a = sol.model.scaled_values()
    assert np.allclose(a, 1.0, rtol=1e-10)


def test_langmuir_on_a_surface_catalyst_with_a_sink() -> None:
    """Adsorbates on a facet submesh: A ⇌ *A on the x = 0 face, *A → B consumes them.

    1D in effect (walls at y = 0, 10): the surface balance kf c_s (1 − θ) − kb θ = kr θ
    and the flux D (c_b − c_s)/L = kr θ (areal rates; Γ drops out at steady state) give
    c_s and θ in closed form; P1 represents the linear profile exactly.
    """
    kf, kb, kr, d, cb, length = 1e-3, 2e-5, 1e-5, 1e-9, 40.0, 10e-9
    case = case_from_dict(
        {
            "case": {"name": "surface-langmuir"},
            "geometry": {
                "kind": "planar",
                "model": "2d",
                "length": "10 nm",
                "catalyst": "surface",
            },
            "electrolyte": {"potential_model": "none", "hindrance": "none"},
            "species": [
                {"name": "A", "formula": "CO", "diffusivity": "1e-9 m^2/s", "bulk": "0.04 mol/L"},
                {"name": "*A", "phase": "adsorbed", "formula": "CO"},
                {"name": "B", "formula": "CO", "diffusivity": "1e-9 m^2/s"},
            ],
            "reactions": [
                {
                    "name": "ads",
                    "type": "chemical",
                    "where": "surface",
                    "reactants": {"A": 1},
                    "products": {"*A": 1},
                    "rate_constant": f"{kf} m/s",
                    "backward_rate_constant": f"{kb} mol/(m^2*s)",
                },
                {
                    "name": "react",
                    "type": "chemical",
                    "where": "surface",
                    "reactants": {"*A": 1},
                    "products": {"B": 1},
                    "rate_constant": f"{kr} mol/(m^2*s)",
                },
            ],
        }
    )
    sol = solve(case, sm.box(COMM, 2, 8, 10.0, surface_left=True))

    def gap(cs: float) -> float:
        theta = kf * cs / (kf * cs + kb + kr)
        return d * (cb - cs) / length - kr * theta

    cs = brentq(gap, 0.0, cb, xtol=1e-14)
    theta = kf * cs / (kf * cs + kb + kr)
    assert np.allclose(sol.model.theta.x.array, theta, rtol=1e-9)
    width = 10e-9  # per metre of depth: the face is 10 nm wide
    assert sol.model.rate_integral("react") == pytest.approx(kr * theta * width, rel=1e-9)
    assert sol.model.outward_flux("B") == pytest.approx(kr * theta * width, rel=1e-9)


# --------------------------------------------------------------------------- urea network
def urea_case(potential: str = "-1.1 V", model: str = "secondary", **more: Any) -> Case:
    over = {
        "geometry.bath_boundary": "bulk",
        "electrode.potential": potential,
        "electrolyte.potential_model": model,
        "output.products": ["urea", "NH4+", "NH3", "NO2-", "H2"],
    }
    over.update(more)
    return load_case(ROOT / "cases" / "mchs-7nm.toml", set=over)


def urea_mesh(comm: MPI.Comm = COMM, h: float = 1.0) -> Any:
    return sm.pore_cell(
        comm,
        h=h,
        r_pore=3.775,
        r_cell=6.0,
        layer=2.0,
        z_cavity=20.0,
        shell=20.0,
        bath=20.0,
        multiplicity=480.0,
    )


@pytest.fixture(scope="module")
def urea_solution() -> Any:
    case = urea_case()
    md = urea_mesh()
    return case, md, solve(case, md)


def test_conservation_on_the_urea_network(urea_solution) -> None:
    case, md, sol = urea_solution
    m = compute_metrics(case, md, sol, COMM)
    assert value(m, "mass_balance_relative_error") < 1e-6
    checked = 0
    for s in case.species:
        err = value(m, f"species/{s.name}/mass_balance_relative_error")
        if err is not None:
            assert err < 1e-6, s.name
            checked += 1
    assert checked >= 12
    # outflow through the outer boundary from the assembled residual = integrated
    # stoichiometry, species by species
    for name in ("NO3-", "NO2-", "H2", "urea", "OH-"):
        out = value(m, f"species/{name}/outward_flux_mol_s")
        prod = value(m, f"species/{name}/production_mol_s")
        assert out == pytest.approx(prod, rel=1e-6), name
    # elements: what leaves carries what came in (every step balances them)
    n_out = sum(
        value(m, f"species/{s}/outward_flux_mol_s") * n
        for s, n in (("NO3-", 1), ("NO2-", 1), ("NH4+", 1), ("NH3", 1), ("urea", 2))
    )
    scale = abs(value(m, "species/NO3-/outward_flux_mol_s"))
    assert abs(n_out) < 1e-6 * scale


def test_faradaic_efficiencies_add_to_one(urea_solution) -> None:
    case, md, sol = urea_solution
    m = compute_metrics(case, md, sol, COMM)
    fes = [value(m, f"products/{p}/faradaic_efficiency") for p in case.output.products]
    assert all(f is not None and f >= 0 for f in fes)
    assert sum(fes) == pytest.approx(1.0, abs=1e-8)
    sel = m["selectivity"]["N"]
    assert sum(v["value"] for v in sel.values()) == pytest.approx(1.0, abs=1e-12)
    # urea is the only carbon product declared: all of the C selectivity
    assert m["selectivity"]["C"]["urea"]["value"] == pytest.approx(1.0, abs=1e-12)
    assert set(m["selectivity"]["C"]) == {"urea"}
    assert value(m, "current_A") > 0
    # currents of the steps add up to the total
    total = sum(value(m, f"reactions/{r.name}/current_A") for r in case.reactions)
    assert total == pytest.approx(value(m, "current_A"), rel=1e-12)


def test_metrics_keys_and_units(urea_solution) -> None:
    case, md, sol = urea_solution
    m = compute_metrics(case, md, sol, COMM)
    urea = m["species"]["urea"]
    for key, unit in (
        ("interior_mean_mol_L", "mol/L"),
        ("exterior_mean_mol_L", "mol/L"),
        ("ratio_interior_exterior", "1"),
        ("flux_into_cavity_mol_s", "mol/s"),
    ):
        assert urea[key]["unit"] == unit
        assert urea[key]["value"] is not None and math.isfinite(urea[key]["value"])
    assert m["reactions"]["coupling"]["rate_mol_s"]["unit"] == "mol/s"
    assert m["local_pH"]["cavity"]["value"] > m["local_pH"]["mouth_outer"]["value"] > 4.0
    # a product made inside is richer inside; the reactant nitrate is poorer
    assert urea["ratio_interior_exterior"]["value"] > 1.0
    assert m["species"]["NO3-"]["ratio_interior_exterior"]["value"] < 1.0
    # nitrate flows into the cavity, products flow out of it
    assert m["species"]["NO3-"]["flux_into_cavity_mol_s"]["value"] > 0
    assert m["species"]["urea"]["flux_into_cavity_mol_s"]["value"] < 0
    assert m["solver"]["converged"]["value"] is True


def test_urea_network_converges_cold_at_three_potentials() -> None:
    md = urea_mesh(h=2.0)
    for e in ("-0.7 V", "-0.9 V", "-1.1 V"):
        sol = solve(urea_case(e), md)
        assert sol.converged and sol.multipliers[-1] == 1.0


def test_electroneutral_urea_network_converges() -> None:
    case = urea_case(model="electroneutral")
    md = urea_mesh(h=2.0)
    sol = solve(case, md)
    m = compute_metrics(case, md, sol, COMM)
    assert value(m, "mass_balance_relative_error") < 1e-6


def test_warm_start_matches_cold_and_is_cheaper() -> None:
    md = urea_mesh(h=2.0)
    first = solve(urea_case("-0.9 V"), md)
    warm = solve(urea_case("-1.0 V"), md, initial=first)
    cold = solve(urea_case("-1.0 V"), md)
    assert warm.multipliers == [1.0]
    assert warm.newton_iterations < cold.newton_iterations
    a, b = warm.model.rate_integral("coupling"), cold.model.rate_integral("coupling")
    assert a == pytest.approx(b, rel=1e-8)


def test_failure_raises_with_history() -> None:
    case = urea_case(**{"solver.max_iterations": 1, "solver.continuation_steps": 1})
    with pytest.raises(SolverError) as info:
        solve(case, urea_mesh(h=2.0))
    err = info.value
    assert err.history and err.reason < 0
    assert err.step >= 0 and err.multiplier <= 1.0
    assert "residual history" in str(err)


# --------------------------------------------------------------------------- transient
def decay_raw(k: float, solver: dict[str, Any], **geometry: Any) -> dict[str, Any]:
    """A → B at k in the catalytic layer of a 10 nm planar box, ``solver`` as given;
    ``geometry``: more geometry keys (e.g. its bath boundary)."""
    return {
        "case": {"name": "decay"},
        "geometry": {"kind": "planar", "model": "2d", "length": "10 nm", **geometry},
        "electrolyte": {"potential_model": "none", "hindrance": "none"},
        "solver": solver,
        "species": [
            {"name": "A", "formula": "X", "diffusivity": "1e-9 m^2/s", "bulk": "0.04 mol/L"},
            {"name": "B", "formula": "X", "diffusivity": "1e-9 m^2/s"},
        ],
        "reactions": [
            {
                "name": "decay",
                "type": "chemical",
                "where": "layer",
                "reactants": {"A": 1},
                "products": {"B": 1},
                "rate_constant": f"{k} 1/s",
            }
        ],
    }


def decay_case(k: float, dt: float, n: int) -> Case:
    """A → B at k everywhere in a closed box, marched n steps of dt."""
    marched = {"transient": True, "end_time": f"{n * dt} s", "time_step": f"{dt} s"}
    return case_from_dict(decay_raw(k, marched, bath_boundary="closed"))


def test_transient_first_order_decay_is_backward_euler() -> None:
    """A → B everywhere in a closed box, uniform: c_n = c_0 / (1 + k Δt)^n exactly, and
    the metrics balance production against accumulation."""
    k, c0, dt, n = 2e3, 40.0, 1e-4, 10
    case = decay_case(k, dt, n)
    md = sm.box(COMM, 2, 4, 10.0, layer_from=-1.0)  # all catalytic layer
    sol = solve(case, md)
    assert sol.times[-1] == pytest.approx(n * dt)
    expected = c0 / (1 + k * dt) ** (len(sol.times) - 1)
    a = sol.model.scaled_values()[:, 0] * c0
    assert np.allclose(a, expected, rtol=1e-10)
    m = compute_metrics(case, md, sol, COMM)
    assert value(m, "mass_balance_relative_error") < 1e-8
    assert value(m, "time_s") == pytest.approx(n * dt)


def test_march_that_makes_no_progress_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """A march is failed, with where it stood, after MAX_MARCH_STEPS steps: one whose
    steps collapse without reaching the end would otherwise run for hours."""
    monkeypatch.setattr(continuation, "MAX_MARCH_STEPS", 4)
    md = sm.box(COMM, 2, 4, 10.0, layer_from=-1.0)
    with pytest.raises(SolverError, match=r"no progress: 4 steps tried, t = 0.0004 s"):
        solve(decay_case(2e3, 1e-4, 10), md)


def test_fields_for_output(urea_solution) -> None:
    """P1 fields on the whole mesh: species in mol/m³, φ in V, coverages (0 off the layer)."""
    case, md, sol = urea_solution
    f = sol.fields()
    assert set(f) == {s.name for s in case.species} | {"phi"}
    V = f["urea"].function_space
    assert all(g.function_space.mesh is md.mesh for g in f.values())
    n = V.dofmap.index_map.size_local
    no3 = f["NO3-"].x.array[:n]
    assert 50.0 < no3.min() <= no3.max() <= 100.0 + 1e-9  # mol/m³ around 0.1 M
    th = f["*H"].x.array[:n]
    mean = sol.model.integrate(sol.model.cov["*H"] * sol.model.w * sol.model.dx_layer)
    mean /= sol.model.integrate(sol.model.w * sol.model.dx_layer)
    assert 0.0 < mean < 1.0
    # on the layer it holds the coverage (its largest nodal value at least the mean) ...
    assert th.min() >= 0.0 and mean <= th.max() <= 1.0
    assert (th == 0.0).any()  # and is zero off it


def test_auto_falls_back_to_direct_when_the_iterative_solve_fails(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """ "auto" takes the iterative solver on a large 3D mesh; if a linear solve fails,
    it solves again with MUMPS (and says so). Forced here: every mesh counts as large
    and GMRES gets one iteration."""
    import confine.solve as solve_mod
    import confine.solver.options as options_mod
    from confine.mesh import load_mesh

    case = load_case(
        ROOT / "cases" / "first-order-shell.toml",
        set={"geometry.model": "sector-3d", "mesh.cells_per_pore_diameter": 3},
    )
    md = load_mesh(case, COMM)
    monkeypatch.setattr(options_mod, "DIRECT_MAX_WORK", 0)
    crippled = {"ksp_max_it": 1}
    with pytest.raises(SolverError) as info:
        solve(case, md, COMM, petsc_options=crippled, linear_solver="iterative")
    assert info.value.reason == solve_mod.DIVERGED_LINEAR_SOLVE
    with caplog.at_level("WARNING", logger="confine"):
        sol = solve(case, md, COMM, petsc_options=crippled, linear_solver="auto")
    assert sol.linear_solver == "direct"
    assert "solving again with MUMPS" in caplog.text
    reference = solve(case, md, COMM, linear_solver="direct")
    got, want = sol.model.scaled_values(), reference.model.scaled_values()
    assert np.allclose(got, want, rtol=1e-8, atol=1e-12 * np.abs(want).max())


def test_auto_does_not_retry_with_mumps_where_it_cannot_fit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where MUMPS's LU would not fit the memory available, a failed iterative solve is
    an error that says so (with the residual history), not a retry that dies of memory."""
    import confine.solver.options as options_mod
    from confine.mesh import load_mesh

    case = load_case(
        ROOT / "cases" / "first-order-shell.toml",
        set={"geometry.model": "sector-3d", "mesh.cells_per_pore_diameter": 3},
    )
    md = load_mesh(case, COMM)
    monkeypatch.setattr(options_mod, "DIRECT_MAX_WORK", 0)
    monkeypatch.setattr(continuation, "memory_available", lambda: 1e3)
    with pytest.raises(SolverError) as info:
        solve(case, md, COMM, petsc_options={"ksp_max_it": 1}, linear_solver="auto")
    assert "MUMPS is not tried" in str(info.value) and "GB available" in str(info.value)
    assert info.value.reason == continuation.DIVERGED_LINEAR_SOLVE
    assert info.value.history


def test_iterative_solver_on_the_urea_network_in_3d(caplog: pytest.LogCaptureFixture) -> None:
    """GMRES + field-by-field AMG (the "auto" choice on large 3D meshes) solves the
    urea network (13 unknowns on the mesh, 2 coverages on the layer submesh) on a
    coarse 3D sector from the bulk state through the whole continuation, with no
    fallback to MUMPS, and gives the direct answer."""
    import confine.solve as solve_mod
    from confine.mesh import load_mesh

    case = coarse_sector_case()
    md = load_mesh(case, COMM)
    # "auto" takes the iterative solver by itself: 13 fields (13³ × nodes > DIRECT_MAX_WORK)
    assert 13**3 * md.mesh.topology.index_map(0).size_global > solve_mod.DIRECT_MAX_WORK
    with caplog.at_level("WARNING", logger="confine"):
        it = solve(case, md, COMM, linear_solver="auto")
    assert newton_of(it.model).linear_solver == "auto" and not newton_of(it.model).is_direct()
    assert "solving again with MUMPS" not in caplog.text
    assert newton_of(it.model).snes.getKSP().getPC().getType() == "fieldsplit"
    assert it.linear_iterations > it.newton_iterations  # a Krylov solve, not LU
    direct = solve(case, md, COMM, linear_solver="direct")
    m_it, m_dir = compute_metrics(case, md, it, COMM), compute_metrics(case, md, direct, COMM)
    keys = ["current_A", "species/urea/ratio_interior_exterior"]
    keys += [f"products/{p}/faradaic_efficiency" for p in case.output.products]
    for key in keys:
        assert value(m_it, key) == pytest.approx(value(m_dir, key), rel=1e-6), key
    got, want = it.model.scaled_values(), direct.model.scaled_values()
    assert np.allclose(got, want, rtol=1e-6, atol=1e-9 * np.abs(want).max())


def test_linear_solver_from_the_case(urea_solution) -> None:
    """``solver.linear_solver = "iterative"`` takes GMRES + field-by-field AMG on the
    axisymmetric cell too ("auto" takes MUMPS in 2D), metrics.json says which solver
    ran, and the answer is the direct one."""
    case, md, direct = urea_solution
    it_case = urea_case(**{"solver.linear_solver": "iterative"})
    it = solve(it_case, md)
    assert not newton_of(it.model).is_direct() and newton_of(direct.model).is_direct()
    assert it.linear_iterations > it.newton_iterations  # a Krylov solve, not LU
    m_it, m_dir = compute_metrics(it_case, md, it, COMM), compute_metrics(case, md, direct, COMM)
    assert (m_it["solver"]["linear_solver"], m_dir["solver"]["linear_solver"]) == (
        "iterative",
        "direct",
    )
    for key in ["current_A", "species/urea/ratio_interior_exterior"]:
        assert value(m_it, key) == pytest.approx(value(m_dir, key), rel=1e-6), key


def assert_jacobian_is_exact_without_structural_zeros(
    solver: Solver, stored_at_most: float = 0.5
) -> None:
    """The Jacobian the solver assembles (structural zeros dropped from its pattern)
    equals dolfinx's full-pattern assembly of the same forms, entry for entry, at the
    current state, at a state with every product and coverage at zero and at one with
    negated concentrations; and it stores at most ``stored_at_most`` of dolfinx's entries."""
    from dolfinx.fem import petsc as fem_petsc
    from petsc4py import PETSc

    p, nlp = solver.model, solver.newton.nlp
    funcs = [p.u, p.theta] if p.theta is not None else p.u
    x = nlp.x.duplicate()
    saved = p.state()
    states = [saved[0].copy(), np.where(saved[0] > 0.5, saved[0], 0.0), -saved[0]]
    for state in states:
        p.u.x.array[:] = state
        p.u.x.scatter_forward()
        if p.theta is not None:
            p.theta.x.array[:] = 0.0 if state is states[1] else saved[1]
        fem_petsc.assign(funcs, x)
        nlp.solver.computeJacobian(x, nlp.A)
        full = fem_petsc.create_matrix(nlp.J)
        fem_petsc.assemble_matrix(full, nlp.J, bcs=p.bcs, diag=1.0)
        full.assemble()
        scale = full.norm()
        stored, allocated = nlp.A.getInfo()["nz_used"], full.getInfo()["nz_used"]
        full.axpy(-1.0, nlp.A, structure=PETSc.Mat.Structure.SUBSET_NONZERO_PATTERN)
        assert full.norm() <= 1e-14 * scale
        assert stored <= stored_at_most * allocated
        full.destroy()
    p.restore(saved)
    x.destroy()


def zero_generic_state(spaces: Any, case: Any) -> None:
    """A degenerate stand-in for ``confine.solver.sparsity.generic_state``: everything
    zero, so most couplings are missing from the pattern taken there."""
    spaces.u.x.array[:] = 0.0
    if spaces.theta is not None:
        spaces.theta.x.array[:] = 0.0


def block_insertion(solver: Solver) -> Any:
    """The Jacobian callback of ``solver``: a ``confine.solver.sparsity.BlockedJacobian``."""
    from confine.solver.sparsity import BlockedJacobian

    callback = solver.newton.snes.getJacobian()[2][0]
    assert isinstance(callback, BlockedJacobian)
    return callback


def solver_of(sol: Any) -> Solver:
    """The model of a solution and the Newton solver it was solved with."""
    return Solver(sol.model, newton_of(sol.model))


def test_jacobian_without_structural_zeros_is_exact(
    urea_solution, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the urea network (13 unknowns, 2 coverages on the layer submesh), with and
    without block insertion of the species block; also with a pattern taken at a
    degenerate state (everything zero, so most couplings are missing from it):
    entries outside the pattern are inserted, not dropped."""
    from confine.solver.sparsity import BlockedJacobian

    case, md, sol = urea_solution
    assert_jacobian_is_exact_without_structural_zeros(solver_of(sol))
    assert not block_insertion(solver_of(sol)).fallback
    plain = Solver.build(shell_case(1e6), md)  # one blocked form (no coverages): block insertion
    plain.model.set_bulk_state()
    assert plain.newton.nlp.A.getBlockSize() == 2
    # A → B in the layer: 3 of the 4 field pairs couple (B does not act on A)
    assert_jacobian_is_exact_without_structural_zeros(plain, stored_at_most=0.75)
    assert not block_insertion(plain).fallback

    # without block insertion (PETSc's BAIJ array not reachable): dolfinx assembles
    # into the compacted pattern
    monkeypatch.setattr("confine.solver.sparsity.available", lambda bs: False)
    unblocked = Solver.build(case, md)
    unblocked.model.restore(sol.model.state())
    assert not isinstance(unblocked.newton.snes.getJacobian()[2][0], BlockedJacobian)
    assert_jacobian_is_exact_without_structural_zeros(unblocked)
    monkeypatch.undo()

    # lean storage (no BAIJ kept): dolfinx assembles into the compacted pattern
    monkeypatch.setenv("CONFINE_JACOBIAN", "lean")
    lean = Solver.build(case, md)
    lean.model.restore(sol.model.state())
    assert block_insertion(lean).lean and block_insertion(lean).local is None
    assert_jacobian_is_exact_without_structural_zeros(lean)
    monkeypatch.delenv("CONFINE_JACOBIAN")

    # the species block by chunks of cells (a BAIJ of at most 16 KiB at a time)
    monkeypatch.setattr("confine.solver.sparsity.CHUNK_BYTES", 1 << 14)
    chunked = Solver.build(case, md)
    chunked.model.restore(sol.model.state())
    assert len(block_insertion(chunked).chunks) > 3
    assert_jacobian_is_exact_without_structural_zeros(chunked)
    assert not block_insertion(chunked).fallback

    monkeypatch.setattr("confine.solver.sparsity.generic_state", zero_generic_state)
    for chunk_bytes in (1 << 14, 1 << 40):  # by chunks, and at once
        monkeypatch.setattr("confine.solver.sparsity.CHUNK_BYTES", chunk_bytes)
        poor = Solver.build(case, md)
        sparse = poor.newton.nlp.A.getInfo()["nz_used"]
        poor.model.restore(sol.model.state())
        assert_jacobian_is_exact_without_structural_zeros(poor)
        assert block_insertion(poor).fallback  # dolfinx's assembly took over
        assert poor.newton.nlp.A.getInfo()["nz_used"] > sparse  # the pattern grew where needed


@pytest.mark.mpi
def test_jacobian_without_structural_zeros_is_exact_in_parallel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ghost rows of the block-inserted species block reach their owners (also with
    the lean storage); the switch to dolfinx's assembly (a pattern from the all-zero
    state) happens on every rank."""
    if COMM.size < 2:
        pytest.skip("needs mpiexec -n 2")

    case, md = urea_case(), urea_mesh(COMM, h=2.0)
    p = Solver.build(case, md)
    p.model.set_bulk_state()
    assert_jacobian_is_exact_without_structural_zeros(p)
    assert not block_insertion(p).fallback
    monkeypatch.setenv("CONFINE_JACOBIAN", "lean")  # no BAIJ: dolfinx's insertion
    lean = Solver.build(case, md)
    lean.model.set_bulk_state()
    assert_jacobian_is_exact_without_structural_zeros(lean)
    monkeypatch.delenv("CONFINE_JACOBIAN")
    monkeypatch.setattr("confine.solver.sparsity.CHUNK_BYTES", 1 << 14)  # by chunks
    chunked = Solver.build(case, md)
    chunked.model.set_bulk_state()
    assert len(block_insertion(chunked).chunks) > 1
    assert_jacobian_is_exact_without_structural_zeros(chunked)
    assert not block_insertion(chunked).fallback
    monkeypatch.undo()

    monkeypatch.setattr("confine.solver.sparsity.generic_state", zero_generic_state)
    poor = Solver.build(case, md)
    poor.model.set_bulk_state()
    assert_jacobian_is_exact_without_structural_zeros(poor)
    assert block_insertion(poor).fallback


@pytest.mark.mpi
def test_memory_lean_choices_solve_alike_in_parallel(monkeypatch: pytest.MonkeyPatch) -> None:
    """The urea network on a coarse 3D sector, 2 ranks, GMRES + fieldsplit/AMG: the
    preconditioner's blocks taken from a view of the Jacobian (the default) or copied
    by PETSc (``CONFINE_PC_VIEW=0``), the species block stored for block insertion or
    lean (``CONFINE_JACOBIAN=lean``) or by chunks of cells: the same Newton and GMRES
    iterations, and the same solution to round-off."""
    from confine.mesh import load_mesh

    if COMM.size < 2:
        pytest.skip("needs mpiexec -n 2")
    case = coarse_sector_case()
    md = load_mesh(case, COMM)
    runs = {}
    for name, env in (
        ("view", {}),
        ("copy", {"CONFINE_PC_VIEW": "0"}),
        ("lean", {"CONFINE_JACOBIAN": "lean"}),
        ("chunks", {}),
    ):
        for k in ("CONFINE_PC_VIEW", "CONFINE_JACOBIAN"):
            monkeypatch.delenv(k, raising=False)
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        if name == "chunks":  # the species block by chunks of cells (16 KiB BAIJs)
            monkeypatch.setattr("confine.solver.sparsity.CHUNK_BYTES", 1 << 14)
        sol = solve(case, md, COMM, linear_solver="iterative")
        if name == "chunks":
            assert len(block_insertion(solver_of(sol)).chunks) > 1
        pmat = newton_of(sol.model).snes.getJacobian()[1]
        assert (pmat.getType() == "python") == (name != "copy"), name
        runs[name] = sol
    ref = runs["copy"]
    want = ref.model.scaled_values()
    for name, sol in runs.items():
        assert (sol.newton_iterations, sol.linear_iterations) == (
            ref.newton_iterations,
            ref.linear_iterations,
        ), name
        got = sol.model.scaled_values()
        assert np.allclose(got, want, rtol=1e-9, atol=1e-12 * np.abs(want).max()), name


def test_a_solver_broken_by_a_petsc_error_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    """An error inside SNESSolve (MUMPS on a numerically singular Jacobian) leaves PETSc's
    residual vector locked read-only, so every later solve on that solver fails: the
    failure is reported at once (not after a dozen halvings that cannot work), and the
    next warm start builds a new solver instead of reusing the broken one."""
    mesh = sm.shell(COMM, 55.0, 107.0, 4, 8)
    first = solve(shell_case(K_SHELL), mesh)
    broken = newton_of(first.model)
    calls: list[int] = []

    def fail(self: Any, snes: Any = None) -> Any:
        calls.append(1)
        raise PETSc.Error(76)

    monkeypatch.setattr(Newton, "_snes_solve", fail)
    with pytest.raises(SolverError, match=r"the linear solver broke \(PETSc error 76"):
        solve(shell_case(2 * K_SHELL), mesh, initial=first)
    assert calls == [1]  # one attempt: the warm start; no cold path on the same objects
    assert broken.broken is not None
    monkeypatch.undo()
    again = solve(shell_case(2 * K_SHELL), mesh, initial=first)
    assert newton_of(again.model) is not broken
