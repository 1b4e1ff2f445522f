"""Cold start: how many forms and expressions a run hands to the form compiler (issue #24).

A cold run pays about 0.2 s of JIT per form or expression. The metrics take
their integrals from a few per-cell tables (:mod:`confine.fem.cellwise`), every
species' outward flux from one vector and the output fields from one
expression, so the count does not grow with species, reactions or regions; and
the solver's forms do not depend on the pore size, so a pore-size sweep compiles
them once. Counts, never times.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

import confine
from confine.case import load_case
from confine.env import import_dolfinx
from confine.fem.model import Model
from confine.mesh import load_mesh
from confine.metrics import compute_metrics

import_dolfinx()
from dolfinx import jit  # noqa: E402
from mpi4py import MPI  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
#: The urea network (16 species, 11 reactions): ~143 compiled objects per run
#: when every (species, region) mean and every flux had its own form.
MAX_COMPILED_PER_RUN = 25
COARSE = {"mesh.cells_per_pore_diameter": "4", "mesh.cells_across_layer": "1"}


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every call into the form compiler (cache hits included)."""
    calls: list[str] = []
    real = jit.ffcx_jit

    def ffcx_jit(ufl_object: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(type(ufl_object).__name__)
        return real(ufl_object, *args, **kwargs)

    monkeypatch.setattr(jit, "ffcx_jit", ffcx_jit)
    return calls


def test_a_urea_run_compiles_a_bounded_number_of_forms(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case = load_case(ROOT / "cases" / "mchs-7nm.toml", set=COARSE)
    calls = _counting(monkeypatch)
    result = confine.run(case)
    assert result.metric("solver.converged") is True
    assert 0 < len(calls) <= MAX_COMPILED_PER_RUN, calls


def test_metrics_compile_the_same_forms_for_few_and_many_species(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The metrics' share of the count: the same for 2 species and for 16."""
    counts = []
    for name in ("first-order-shell", "mchs-7nm"):
        result = confine.run(load_case(ROOT / "cases" / f"{name}.toml", set=COARSE))
        calls = _counting(monkeypatch)
        meshdata = result.solution.model.meshdata
        fresh = Model(result.solution.case, meshdata)  # its metric forms not compiled yet
        calls.clear()
        compute_metrics(result.case, meshdata, dataclasses.replace(result.solution, model=fresh))
        counts.append(len(calls))
        monkeypatch.undo()
    assert counts[1] <= counts[0] + 6, counts  # + the urea case's coverages and layer


def test_solver_forms_do_not_depend_on_the_pore_size() -> None:
    signatures = set()
    for pore in ("4.18 nm", "11.12 nm"):
        case = load_case(
            ROOT / "cases" / "mchs-7nm.toml", set={**COARSE, "geometry.pore_diameter": pore}
        )
        model = Model(case, load_mesh(case, MPI.COMM_WORLD))
        signatures.add(tuple(f.signature() for f in model.F))
    assert len(signatures) == 1
