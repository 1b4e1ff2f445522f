"""Manufactured solutions for the coupled system: two ions, a neutral, φ, a Tafel step,
an adsorbed species (on the catalyst submesh), in 2D, axisymmetric and 3D.

Network (balanced, so it passes validation): O2 + 2 H2O → 4 *OH (chemical, on
free sites), *OH + e− → OH− (Tafel, at the local φ); K+ is a spectator ion;
potential model ``secondary`` (also electroneutral, poisson, poisson-steric, and
the last two with ``solver.stabilization = "eafe"``).
The catalytic layer is half the box, so the adsorbate lives on a submesh.
Exact fields are smooth and even in x[0] (so they are admissible on the
axisymmetric axis). P1: L2 order 2, H1 order 1.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import solver_meshes as sm
import ufl
from mpi4py import MPI

from confine.case import Case, case_from_dict
from confine.solve import newton_of, solve
from confine.verification import Manufactured

SIZE = 10.0  # nm


def mms_case(model: str = "secondary", steric: bool = False, stabilization: str = "none") -> Case:
    """The coupled test network with values that make every term O(1)."""
    electrolyte: dict[str, Any] = {"potential_model": model, "hindrance": "none"}
    if steric:  # 1 nm lattice: ion volume fractions ~0.06 each, a visible steric flux
        electrolyte.update({"steric": True, "ion_size": "1 nm"})
    return case_from_dict(
        {
            "case": {"name": "mms"},
            "geometry": {"kind": "planar", "model": "2d", "length": "10 nm"},
            "electrolyte": electrolyte,
            "electrode": {"potential": "-0.1 V"},
            "species": [
                {"name": "K+", "charge": 1, "diffusivity": "1.957e-9 m^2/s", "bulk": "0.1 mol/L"},
                {"name": "OH-", "charge": -1, "diffusivity": "5.273e-9 m^2/s", "bulk": "0.1 mol/L"},
                {"name": "O2", "diffusivity": "2.0e-9 m^2/s", "bulk": "0.001 mol/L"},
                {"name": "*OH", "phase": "adsorbed"},
            ],
            "reactions": [
                {
                    "name": "adsorb",
                    "type": "chemical",
                    "where": "layer",
                    "reactants": {"O2": 1, "H2O": 2},
                    "products": {"*OH": 4},
                    "rate_constant": "1e7 1/s",
                },
                {
                    "name": "reduce",
                    "type": "electrochemical",
                    "where": "layer",
                    "reactants": {"*OH": 1},
                    "products": {"OH-": 1},
                    "electrons": 1,
                    "rate_constant": "1e6 mol/(m^3*s)",
                    "transfer_coefficient": 0.5,
                },
            ],
            "solver": {"continuation_steps": 2, "stabilization": stabilization},
        }
    )


def _shape(x, dim: int, phase: float):
    """A smooth field even in x[0]."""
    out = ufl.cos(math.pi * x[0] / SIZE) * ufl.sin(math.pi * x[1] / SIZE + phase)
    if dim == 3:
        out = out * ufl.cos(0.5 * math.pi * x[2] / SIZE + phase)
    return out


def exact(dim: int, eliminated: str | None = None) -> Manufactured:
    """Exact fields (mol/m³, coverage, V); the eliminated ion follows from neutrality."""
    m = Manufactured(
        concentration={
            "K+": lambda x: 100.0 * (1.0 + 0.3 * _shape(x, dim, 0.3)),
            "OH-": lambda x: 100.0 * (1.0 + 0.2 * _shape(x, dim, 0.9)),
            "O2": lambda x: 1.0 * (1.0 + 0.4 * _shape(x, dim, 0.5)),
        },
        coverage={"*OH": lambda x: 0.3 + 0.1 * _shape(x, dim, 0.7)},
        potential=lambda x: 0.02 * _shape(x, dim, 1.1),
    )
    if eliminated is not None:
        del m.concentration[eliminated]
    return m


def errors(
    dim: int,
    n: int,
    axisymmetric: bool,
    model: str = "secondary",
    steric: bool = False,
    stabilization: str = "none",
) -> dict[str, tuple[float, float]]:
    """Relative L2 and H1-seminorm errors of every field on an n-per-side mesh."""
    md = sm.box(MPI.COMM_WORLD, dim, n, SIZE, axisymmetric=axisymmetric)
    ex = exact(dim, "K+" if model == "electroneutral" else None)
    sol = solve(mms_case(model, steric, stabilization), md, manufactured=ex)
    p = sol.model
    x = ufl.SpatialCoordinate(md.mesh)
    w = 2 * math.pi * x[0] if axisymmetric else 1.0
    dx = ufl.Measure("dx", domain=md.mesh, metadata={"quadrature_degree": 6})
    out = {}

    def rel(h, e, meas) -> tuple[float, float]:
        l2 = p.integrate((h - e) ** 2 * w * meas) / p.integrate(e**2 * w * meas)
        d = ufl.grad(h - e)
        h1 = p.integrate(ufl.inner(d, d) * w * meas) / p.integrate(
            ufl.inner(ufl.grad(e), ufl.grad(e)) * w * meas
        )
        return math.sqrt(l2), math.sqrt(h1)

    for s, f in ex.concentration.items():
        out[s] = rel(p.conc[s], f(x), dx)
    assert ex.potential is not None
    out["phi"] = rel(p.phi, ex.potential(x), dx)
    layer = dx(subdomain_data=md.cell_tags, subdomain_id=p.layer_tags)
    for a, f in ex.coverage.items():
        out[a] = rel(p.cov[a], f(x), layer)
    return out


def orders(
    dim: int, ns: list[int], axisymmetric: bool = False, **kw: Any
) -> dict[str, tuple[float, float]]:
    """Observed (L2, H1) orders between the two finest meshes."""
    errs = [errors(dim, n, axisymmetric, **kw) for n in ns]
    ratio = ns[-1] / ns[-2]
    return {
        k: (
            math.log(errs[-2][k][0] / errs[-1][k][0]) / math.log(ratio),
            math.log(errs[-2][k][1] / errs[-1][k][1]) / math.log(ratio),
        )
        for k in errs[-1]
    }


def _check(obs: dict[str, tuple[float, float]]) -> None:
    print(obs)
    for name, (l2, h1) in obs.items():
        assert abs(l2 - 2.0) < 0.15, (name, "L2", l2)
        assert abs(h1 - 1.0) < 0.15, (name, "H1", h1)


def test_mms_2d() -> None:
    _check(orders(2, [8, 16, 32]))


def test_mms_2d_electroneutral() -> None:
    """K+ eliminated by Σ z c = 0; its balance is the equation for φ."""
    _check(orders(2, [8, 16, 32], model="electroneutral"))


def test_mms_2d_steric() -> None:
    """Nernst–Planck with the Bikerman steric flux term."""
    _check(orders(2, [8, 16, 32], steric=True))


def test_mms_axisymmetric() -> None:
    _check(orders(2, [8, 16, 32], axisymmetric=True))


def test_mms_2d_poisson_steric() -> None:
    """Poisson–Nernst–Planck with the Bikerman steric flux (λ_D ≈ 0.96 nm, box 10 nm)."""
    _check(orders(2, [8, 16, 32], model="poisson-steric", steric=True))


def test_mms_axisymmetric_poisson() -> None:
    """Poisson–Nernst–Planck, point ions, with the 2πr weight."""
    _check(orders(2, [8, 16, 32], axisymmetric=True, model="poisson"))


def test_mms_axisymmetric_poisson_eafe() -> None:
    """The same with exponentially fitted (EAFE) ion fluxes and the lumped space charge:
    P1 orders kept (measured L2 1.99–2.03, H1 1.00–1.02)."""
    _check(orders(2, [8, 16, 32], axisymmetric=True, model="poisson", stabilization="eafe"))


def test_mms_2d_poisson_steric_eafe() -> None:
    """EAFE with the steric potential in the fitted drift (every species, O2 too):
    measured L2 1.99, H1 1.00."""
    _check(orders(2, [8, 16, 32], model="poisson-steric", steric=True, stabilization="eafe"))


@pytest.mark.slow
def test_mms_3d_poisson_eafe() -> None:
    """EAFE on tetrahedra (six edges a cell): measured L2 1.93–1.96, H1 0.99–1.00."""
    _check(orders(3, [4, 8, 16], model="poisson", stabilization="eafe"))


@pytest.mark.slow
def test_mms_3d() -> None:
    _check(orders(3, [4, 8, 16]))


def test_iterative_solver_matches_direct_in_3d() -> None:
    """GMRES + fieldsplit/AMG (the 3D default above DIRECT_MAX_WORK) gives the direct answer."""
    md = sm.box(MPI.COMM_WORLD, 3, 6, SIZE)
    direct = solve(mms_case(), md, manufactured=exact(3), linear_solver="direct")
    iterative = solve(mms_case(), md, manufactured=exact(3), linear_solver="iterative")
    assert newton_of(iterative.model).snes.getKSP().getPC().getType() == "fieldsplit"
    assert iterative.linear_iterations > iterative.newton_iterations
    a, b = direct.model.scaled_values(), iterative.model.scaled_values()
    assert abs(a - b).max() < 1e-8 * abs(a).max()
