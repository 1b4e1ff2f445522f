"""The quality gate: a converged run whose checks fail is a failure, never a result;
and a legal case at an extreme scale is solved correctly, not just failed cleanly."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import confine
from confine.case import load_case
from confine.quality import (
    BOUND_TOLERANCE,
    FieldBounds,
    QualityError,
    assess,
    judged_mass_balances,
    round_off_fraction,
)

ROOT = Path(__file__).resolve().parent.parent
CASE = ROOT / "cases" / "mchs-7nm.toml"


def test_extreme_diffusivities_are_solved_not_lost_to_round_off() -> None:
    """CO2 at D = 1e-3 and 1e10 m²/s: its depletion is 1e-10 and 1e-23 of the bulk.
    Held as c/c_ref, that is below round-off, and the outflow computed from it was
    lost (mass balance 1.7e-4 and 0.9994, reported as converged); held as a
    deviation from the bulk, it is resolved to round-off (measured 1.2e-11, 6.8e-12)."""
    for d in ("1e-3 m^2/s", "1e10 m^2/s"):
        case = load_case(CASE, set={"species.CO2.diffusivity": f'"{d}"'})
        result = confine.run(case)
        assert result.metric("mass_balance_relative_error") < 1e-9, d
        assert result.metric("species.CO2.mass_balance_relative_error") < 1e-9, d


def test_a_wrong_answer_fails_the_run(tmp_path: Path) -> None:
    """An absolute Newton tolerance far above the problem's scale (solver.atol = 1e8
    in scaled units: every step's first residual is below it) leaves the solution
    on the bulk state, which Newton calls converged. The gate sees the lost mass
    balance: the run fails, failure.json says what and by how much, and no
    metrics.json is written."""
    case = load_case(ROOT / "cases" / "first-order-shell.toml", set={"solver.atol": "1e8"})
    out = tmp_path / "run"
    with pytest.raises(QualityError, match="mass balance of A") as info:
        confine.run(case, out=out)
    assert sorted(p.name for p in out.iterdir()) == ["failure.json"]
    failure = json.loads((out / "failure.json").read_text(encoding="utf-8"))
    assert failure["converged"] is False
    worst = {f["subject"]: f for f in failure["quality"] if f["check"] == "mass balance"}
    assert worst["A"]["value"] > 0.5  # the whole consumption is missing from the inflow
    assert worst["A"]["limit"] == case.solver.quality_tolerance == 1e-6
    assert info.value.findings


def test_the_threshold_is_a_case_key() -> None:
    """A threshold below round-off fails every reacting species of a healthy run."""
    case = load_case(
        ROOT / "cases" / "first-order-shell.toml", set={"solver.quality_tolerance": "1e-18"}
    )
    with pytest.raises(QualityError) as info:
        confine.run(case)
    assert {f.subject for f in info.value.findings} <= {"A", "B"}
    assert all(f.check == "mass balance" for f in info.value.findings)


def metrics(**species_errors: float) -> dict:
    return {
        "species": {
            n: {"mass_balance_relative_error": {"value": e, "unit": "1"}}
            for n, e in species_errors.items()
        },
        "products": {},
    }


def test_checks_on_a_metrics_document() -> None:
    case = load_case(ROOT / "cases" / "first-order-shell.toml")
    assert assess(case, metrics(A=1e-9, B=2e-7), None) == []
    (found,) = assess(case, metrics(A=1e-9, B=2e-6), None)
    assert (found.check, found.subject, found.value) == ("mass balance", "B", 2e-6)
    (nan,) = [f for f in assess(case, metrics(A=math.nan), None) if f.check == "finite value"]
    assert nan.subject == "species.A.mass_balance_relative_error.value"
    fe = metrics(A=0.0)
    fe["products"] = {
        "B": {"faradaic_efficiency": {"value": 0.7}, "electrons_per_molecule": {"value": 2}},
        "C": {"faradaic_efficiency": {"value": 0.31}, "electrons_per_molecule": {"value": 6}},
    }
    (over,) = assess(case, fe, None)
    assert over.check == "summed Faradaic efficiency" and over.value == pytest.approx(1.01)
    fe["products"]["C"]["faradaic_efficiency"]["value"] = 0.3
    assert assess(case, fe, None) == []
    fe["products"]["C"]["faradaic_efficiency"]["value"] = 0.3 + 2.4e-6  # just over 1 + 1e-6
    (barely,) = assess(case, fe, None)
    assert str(barely).endswith("is 1.0000024 (limit 1.000001)")  # the differing digits shown
    # a transient state whose other species release 3e-6 of the current: theirs, not an error
    fe["stored_current_fraction"] = {"value": -3e-6, "unit": "1"}
    assert assess(case, fe, None) == []
    fe["stored_current_fraction"]["value"] = -1e-6  # releasing less than the excess
    (still,) = assess(case, fe, None)
    assert still.limit == pytest.approx(1.0 + 2e-6)
    fe["stored_current_fraction"]["value"] = 5e-6  # storing: the bound stays 1 + τ
    (stored,) = assess(case, fe, None)
    assert stored.limit == pytest.approx(1.0 + 1e-6)


def scaled(**species: tuple[float, float]) -> dict:
    """A metrics document of (relative error, mass_balance_scale_mol_s) per species."""
    doc = metrics(**{n: e for n, (e, _) in species.items()})
    for n, (_, s) in species.items():
        doc["species"][n]["mass_balance_scale_mol_s"] = {"value": s, "unit": "mol/s"}
    return doc


def test_a_round_off_species_is_judged_on_the_largest_turnover() -> None:
    """A species turning over far below the largest has a balance of round-off: it is
    judged over f × the largest turnover; above f, or with an imbalance above the
    round-off, it is judged as before."""
    case = load_case(ROOT / "cases" / "first-order-shell.toml")
    f = round_off_fraction(case.solver.quality_tolerance, case.solver.rtol)
    assert f == pytest.approx(100 * 2.220446049250313e-16 / 1e-6)  # > rtol = 1e-10
    # urea of the study's 4 nm model: 0.84 of 2e-33 mol/s beside 3.4e-16 mol/s
    assert assess(case, scaled(A=(1e-12, 3.4e-16), U=(0.84, 2.2e-33)), None) == []
    # the same error on a species above the floor fails
    (found,) = assess(case, scaled(A=(1e-12, 3.4e-16), U=(0.84, 1e-20 + f * 3.4e-16)), None)
    assert found.subject == "U" and found.value == pytest.approx(0.84)
    # below the floor, an imbalance above 100 ε of the largest turnover fails
    (found,) = assess(case, scaled(A=(1e-12, 1.0), U=(0.5, 1e-10)), None)
    assert found.subject == "U" and found.value == pytest.approx(0.5e-10 / f)
    # the largest species is always judged on its own turnover
    (found,) = assess(case, scaled(A=(2e-6, 1.0), U=(0.0, 1e-30)), None)
    assert (found.subject, found.value) == ("A", 2e-6)


def test_a_round_off_species_does_not_fail_the_run(tmp_path: Path) -> None:
    """The study's own model at 4 nm on coarse cells: urea is made at ~1e-33 mol/s,
    17 decades below the largest turnover; the run passes and reports its balance."""
    case = load_case(
        ROOT / "cases" / "du2025-model" / "du2025-4nm.toml",
        set={
            "mesh.cells_per_pore_diameter": "3",
            "mesh.cells_across_layer": "1",
            "output.figures": "false",
            "output.fields": "false",
        },
    )
    result = confine.run(case)
    urea = result.metric("species.urea.production_mol_s")
    largest = max(
        e["mass_balance_scale_mol_s"]["value"]
        for e in result.metrics["species"].values()
        if e["mass_balance_scale_mol_s"]["value"] is not None
    )
    assert 0 < urea < 1e-30 and urea < 1e-14 * largest
    # its raw balance was 0.84 while the bounded (VI) step pinned urea at ~1e-21 mol/L
    # (below PETSc's 1e-8 zero tolerance, now 0); solved, it balances: 2.5e-15
    tol, rtol = case.solver.quality_tolerance, case.solver.rtol
    assert judged_mass_balances(result.metrics["species"], tol, rtol)["urea"] < tol
    assert result.metric("species.urea.mass_balance_relative_error") < 1e-9
    assert result.metric("species.H+.mass_balance_relative_error") < 1e-9


def test_bounds() -> None:
    ok = FieldBounds({"A": (-0.5 * BOUND_TOLERANCE, 1.0)}, {"*H": (0.0, 1.0)})
    assert ok.findings() == []
    bad = FieldBounds({"A": (-0.01, 1.0)}, {"*H": (-0.01, 1.2)})
    checks = sorted(f.check for f in bad.findings())
    assert checks == ["coverage above 1", "coverage below 0", "relative undershoot below 0"]
