"""The bounded (VI) Newton step pins an unknown only where it sits on its bound.

A concentration that is small but positive — H+ at pH 12 in an electrode film is
1e-8 of its pH-4 bulk, the value concentrations are scaled by — must be solved
like any other. PETSc's VI solver counts every unknown within its zero tolerance
(default 1e-8, in the solver's scaled units) of a bound as pinned there and drops
its equation; :data:`confine.solver.options.VI_ZERO_TOLERANCE` sets it to 0.

The case: a 5 µm film under no diffusion layer where A + B → P (k c_A c_B; B at
3 × A's bulk is drawn down too, so the problem is nonlinear; Φ = t √(k c_B/D_eff)
= 40 at the bulk): A falls from its bulk to ~1e-15 of it at the collector. Solved
with the bounded solver as the case's only solver (``snes_type = vinewtonrsls``),
its state equals the unbounded Newton solve's node by node, relative to each
node's own value, and A's balance closes. At PETSc's default the nodes below
1e-8 of the bulk stay where an early iterate put them (5e5 times too high).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from mpi4py import MPI
from test_film_closed_forms import C_B, D_EFF, film, neutral

from confine.case import case_from_dict
from confine.document import value
from confine.mesh import load_mesh
from confine.metrics import compute_metrics
from confine.solve import solve

COMM = MPI.COMM_WORLD
T = 5e-6  # film thickness (m)
PHI = 40.0  # t √(k c_B/D_eff)
B_RATIO = 3.0


def bimolecular_film(solver: dict[str, Any]) -> dict[str, Any]:
    k = (PHI / T) ** 2 * D_EFF / (B_RATIO * C_B)  # m³/(mol s)
    step = {
        "name": "sink",
        "type": "chemical",
        "where": "layer",
        "reactants": {"A": 1, "B": 1},
        "products": {"P": 1},
        "rate_constant": f"{k} m^3/(mol*s)",
    }
    species = [neutral("A", C_B), neutral("B", B_RATIO * C_B), {**neutral("P"), "formula": "X2"}]
    raw = film(T, 1e-9, species, [step], 0, cells=40, growth=1.1)
    raw["solver"] = solver
    return raw


def solved(raw: dict[str, Any], cache: Path) -> tuple[np.ndarray, dict[str, Any]]:
    case = case_from_dict(raw)
    md = load_mesh(case, COMM, cache)
    sol = solve(case, md)
    a = sol.fields()["A"].x.array.copy()
    return a, compute_metrics(case, md, sol, COMM)


def test_bounded_step_solves_a_species_far_below_its_bulk(tmp_path: Path) -> None:
    base = {"rtol": 1e-12}
    a_newton, _ = solved(bimolecular_film(base), tmp_path)
    vi = {**base, "petsc_options": {"snes_type": "vinewtonrsls"}}
    a_vi, m = solved(bimolecular_film(vi), tmp_path)
    # the depth of the test: A at the collector far below PETSc's default zero tolerance
    assert a_newton.min() < 1e-9 * C_B
    assert np.all(a_vi > 0)
    # node by node, relative to the node's own value (the default tolerance left the
    # nodes below 1e-8 of the bulk where the first iterate put them)
    assert np.max(np.abs(a_vi / a_newton - 1)) < 1e-6
    assert value(m, "species.A.mass_balance_relative_error") < 1e-8
