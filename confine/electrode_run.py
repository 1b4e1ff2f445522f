"""One electrode run: the particle cell, its effectiveness factors, the film, one document.

1. The particle alone in its bath at the bulk composition and the electrode
   potential (:func:`confine.film_case.particle_case`): the sub-grid model.
2. Its effectiveness factors (:func:`confine.two_scale.effectiveness`).
3. The 1D film (:func:`confine.film_case.film_case`), first marched from the
   bulk state at its potential, then solved steady from where the march ends
   (:func:`confine.film_case.pseudo_transient`), at the potential the study
   reports: iR-corrected, the metal against the solution at the film's outer
   face. The film is solved against the bulk (φ = 0 beyond the Nernst layer),
   so its electrode potential is E + φ(L), with φ(L) the solution potential at
   the film face; φ(L) depends on the current, so the film is solved again,
   warm, until φ(L) moves by less than :data:`SHIFT_TOLERANCE`.
4. One document: film-scale values per m² of electrode (current density,
   FEs, pH and CO2 at the film face and the collector, ohmic drops), the
   film's geometry, the factors, and the particle's and the film's own
   documents; files in ``out``: metrics.json, metrics.csv, case.toml, and the
   particle's and the film's own outputs in ``particle/`` and ``film/``.

The runs go through the caller's one-case runner and writer (:mod:`confine.pipeline`
passes its own), so every run meets the same quality gate.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from confine import io
from confine.case import Case
from confine.document import value
from confine.failure import summary as failure_summary
from confine.film import FilmGeometry, film_geometry
from confine.film_case import film_case, particle_case, particle_in_film, pseudo_transient
from confine.fixed_point import Anderson
from confine.io import write_failure
from confine.metrics.means import ph
from confine.metrics.rates import molar_mass
from confine.quality import QualityError, judged_mass_balances
from confine.readable import readable_case
from confine.result import Result
from confine.solver.continuation import SolverError
from confine.two_scale import Effectiveness, effectiveness
from confine.units import FARADAY

log = logging.getLogger("confine")

#: The film face's potential is settled when it moves by less than this (V).
SHIFT_TOLERANCE = 1e-6
#: Film solves at most, to settle it.
MAX_SHIFTS = 30
#: The factors from the particle in the film are settled when none moves by more than this.
FACTOR_TOLERANCE = 1e-6
#: Passes (particle in the film, then the film) at most, to settle them. Plain passes
#: contract linearly, by 0.2–0.7 each (δ = 50 µm, -0.7 V: 0.2 with one calibration,
#: 0.71 with the next: > 30 passes); accelerated, they settle in a few.
MAX_FACTOR_PASSES = 30
Runner = Callable[..., Result]
#: What the electrode document's own values mean.
DEFINITIONS = {
    "electrode_potential_V": "the metal against the solution at the film's outer face "
    "(iR-corrected, as the study reports it)",
    "effectiveness_factor": "a catalytic step's rate in the particle cell over its rate "
    "were every site at the cell's bath composition; the bath is the film's electrolyte "
    "at mid-depth (film.effectiveness_at = film: particle_in_film) or the bulk "
    "(effectiveness_factors_bulk_bath)",
    "particle_in_film": "the particle cell with its bath at the film's composition and "
    "potential at mid-depth; its C_I/C_E (ratio_interior_exterior) is against that local "
    "electrolyte, beside the isolated particle's in particle_document",
    "film_face": "the film's outer face (x = film thickness), where the Nernst layer "
    "begins; collector: x = 0",
    "mass_balance_relative_error": "the largest species imbalance of the film and the "
    "particle as the quality gate judges it (confine.quality.judged_mass_balances: over "
    "its own turnover, or a round-off fraction of the largest); each species' raw value "
    "is in film_document and particle_document",
    "ohmic_drop_nernst_layer_V": "solution potential at the film face below the bulk's; "
    "the film runs at E + (that drop's negative), so the iR-corrected E holds at its face",
}


def run(
    case: Case,
    out: Path | str | None,
    comm: Any,
    run_cell: Runner,
    write_cell: Callable[[Result, Path, Any], None],
    initial: Any = None,
) -> Result:
    """Solve an electrode case (see the module doc).

    Args:
        case: a validated electrode case (``film.coupling`` not "none").
        out: output directory, or None.
        comm: MPI communicator. Collective.
        run_cell: the one-case runner, ``run_cell(case, out, comm, initial)``.
        write_cell: writes a solved one-case result's files, ``write_cell(result, out, comm)``.
        initial: an earlier electrode run's result or its :class:`ElectrodeSolution`
            (a sweep's or a fit's neighbour) to warm-start the particle and the film from.

    Raises:
        SolverError, QualityError: from the particle or the film; ``out`` then
            holds only failure.json.
    """
    t0 = time.perf_counter()
    try:
        warm = getattr(initial, "solution", initial)
        warm = warm if isinstance(warm, ElectrodeSolution) else None
        particle = particle_case(case)
        sub = _warm_or_cold(run_cell, particle, comm, warm and warm.particle)
        eff = effectiveness(particle, sub.metrics)
        geo = film_geometry(case)
        res, shifts = _settle(case, geo, eff, comm, run_cell, warm)
        inside: InFilm | None = None
        if case.film.effectiveness_at == "film":
            inside, res, shifts = _in_film(case, geo, eff, res, shifts, comm, run_cell, warm)
    except Exception as err:
        if out is not None:
            summary = failure_summary(err, case)
            write_failure(Path(out), err, readable_case(case), comm, summary=summary)
        raise
    used = eff if inside is None else inside.eff
    doc = document(case, geo, used, sub.metrics, res, shifts, comm)
    if inside is not None:
        doc.update(_in_film_entries(inside, eff))
    doc["timings"] = {"total_s": {"value": time.perf_counter() - t0, "unit": "s"}}
    both = ElectrodeSolution(
        particle=sub.solution,
        film=res.solution,
        shift=shifts[-1],
        in_film=None if inside is None else inside.result.solution,
    )
    result = Result(case=case, metrics=doc, converged=True, solution=both)
    if out is not None:
        out = Path(out)
        with io.output_dir(out, comm) as tmp:
            write_cell(sub, tmp / "particle", comm)
            write_cell(res, tmp / "film", comm)
            if inside is not None:
                write_cell(inside.result, tmp / "particle_in_film", comm)
            if comm.rank == 0:
                io.write_json(tmp / "metrics.json", doc)
                io.write_metrics_csv(tmp / "metrics.csv", doc)
                (tmp / "case.toml").write_text(case.to_toml(), encoding="utf-8")
        result.out = out
    return result


@dataclass(frozen=True)
class ElectrodeSolution:
    """An electrode run's two solutions: what :attr:`Result.solution` holds for it.

    Anything else asked of it (fields, mesh, state) is the film's, the run's
    field output; a sweep or a fit hands it back as the next run's warm start.
    """

    particle: Any
    film: Any
    #: The film's potential shift (V): the Nernst layer's ohmic drop it settled at.
    shift: float = 0.0
    #: The particle in the film's electrolyte (``film.effectiveness_at = "film"``).
    in_film: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.film, name)


def _warm(run_cell: Runner, case: Case, comm: Any, warm: Any) -> Result | None:
    """A run warm from ``warm`` (another state of the same mesh), or None where there is
    no warm state or the warm start fails (the caller then starts otherwise)."""
    if warm is None:
        return None
    try:
        return run_cell(case, None, comm, initial=warm)
    # a QualityError: the warm Newton converged to a state that fails its checks; the
    # march from the bulk may not (ValueError: another mesh or unknowns)
    except (SolverError, QualityError, ValueError) as err:
        log.info("%s: the warm start failed (%s)", case.case.name, err)
        return None


def _warm_or_cold(run_cell: Runner, case: Case, comm: Any, warm: Any) -> Result:
    """A run warm from ``warm`` where that works, else cold."""
    return _warm(run_cell, case, comm, warm) or run_cell(case, None, comm)


def _settle(
    case: Case,
    geo: FilmGeometry,
    eff: Effectiveness,
    comm: Any,
    run_cell: Runner,
    warm: ElectrodeSolution | None = None,
) -> tuple[Result, list[float]]:
    """The film at E + s with s = φ(L) at the film face: g(s) = φ(L; s) − s = 0 by the
    secant method from s = 0 (or the warm start's shift) and s = φ(L; 0), each solve
    warm from the last."""
    shifts: list[float] = []
    gaps: list[float] = []
    res: Any = None if warm is None else warm.film
    shift = 0.0 if warm is None else warm.shift
    for _ in range(MAX_SHIFTS):
        film = film_case(case, geo, eff, shift)
        res = _solve_film(film, res, comm, run_cell)
        face = face_values(res, [geo.thickness], comm)[0]
        if "phi" not in face:  # no solution potential (potential_model "none"): no drop
            return res, [shift]
        gap = face["phi"] - shift
        log.debug("film at E %+.6f V: face gap %.3e V", shift, gap)
        shifts.append(shift)
        gaps.append(gap)
        if abs(gap) < SHIFT_TOLERANCE:
            return res, shifts
        if len(shifts) < 2 or gaps[-1] == gaps[-2]:
            shift = shift + gap  # a fixed-point step
        else:
            slope = (gaps[-1] - gaps[-2]) / (shifts[-1] - shifts[-2])
            shift = shift - gap / slope
    raise RuntimeError(
        f"the film face's potential did not settle in {MAX_SHIFTS} solves (last gaps {gaps[-3:]} V)"
    )


def _solve_film(film: Case, warm: Any, comm: Any, run_cell: Runner) -> Result:
    """A steady film (or particle in the film): warm from ``warm`` where there is one,
    else (or where that fails) from the state its march from its bulk reaches
    (:func:`confine.film_case.pseudo_transient`)."""
    done = _warm(run_cell, film, comm, warm)
    if done is not None:
        return done
    marched = run_cell(pseudo_transient(film), None, comm)
    return run_cell(film, None, comm, initial=marched)


@dataclass(frozen=True)
class InFilm:
    """The particle in the film's electrolyte at mid-depth, and its factors."""

    depth: float
    values: dict[str, float]
    result: Result
    eff: Effectiveness
    passes: int
    change: float


def _in_film(
    case: Case,
    geo: FilmGeometry,
    eff: Effectiveness,
    res: Result,
    shifts: list[float],
    comm: Any,
    run_cell: Runner,
    warm: ElectrodeSolution | None,
) -> tuple[InFilm, Result, list[float]]:
    """Factors from the particle in the film's own electrolyte, iterated with the film.

    The particle sits at mid-film in the film's composition, its metal at the
    film's electrode potential against the local solution (E + shift − φ(x)).
    Its factors (Anderson-accelerated: :mod:`confine.fixed_point`) replace the
    previous ones and the film is solved again (warm), until no factor moves by
    more than :data:`FACTOR_TOLERANCE`.
    """
    depth = 0.5 * geo.thickness
    local: Any = None if warm is None else warm.in_film
    changes: list[float] = []
    accelerate = Anderson()
    for passes in range(1, MAX_FACTOR_PASSES + 1):
        values = face_values(res, [depth], comm)[0]
        potential = case.electrode.potential + shifts[-1] - values.get("phi", 0.0)
        inside = particle_in_film(case, values, potential)
        local = _solve_film(inside, local, comm, run_cell)
        new = effectiveness(inside, local.metrics)
        names = list(new.factors)
        old = np.array([eff.factors.get(k, 1.0) for k in names])
        got = np.array([new.factors[k] for k in names])
        change = float(np.max(np.abs(got - old), initial=0.0))
        changes.append(change)
        log.debug("factors in the film, pass %d: largest change %.2e", passes, change)
        settled = change < FACTOR_TOLERANCE
        # settled: the film takes the factors its particle gave (the document's
        # factors are then that particle's rates over their limits); else the
        # accelerated ones
        if not settled:
            nxt = accelerate.step(old, got)
            new = replace(new, factors=dict(zip(names, nxt.tolist(), strict=True)))
        eff = new
        state = ElectrodeSolution(None, res.solution, shifts[-1])
        res, shifts = _settle(case, geo, eff, comm, run_cell, state)
        if settled:
            return InFilm(depth, values, local, eff, passes, change), res, shifts
    last = ", ".join(f"{c:.2e}" for c in changes[-3:])
    raise RuntimeError(
        f"the effectiveness factors in the film did not settle in {MAX_FACTOR_PASSES} passes "
        f"(last changes {last}; settled below {FACTOR_TOLERANCE:g})"
    )


def _q(v: Any, unit: str) -> dict[str, Any]:
    """A document value with its unit."""
    return {"value": v, "unit": unit}


def _composition(values: dict[str, float]) -> dict[str, Any]:
    """pH and CO2 (mol/L) of the film's fields at one point (:func:`face_values`)."""
    co2 = values.get("CO2")
    return {
        "pH": _q(ph(values.get("H+"), values.get("OH-")), "1"),
        "CO2_mol_L": _q(None if co2 is None else co2 / 1000.0, "mol/L"),
    }


def _in_film_entries(inside: InFilm, bulk: Effectiveness) -> dict[str, Any]:
    """The document's entries of the particle in the film (see :func:`_in_film`)."""
    doc = inside.result.metrics
    return {
        "effectiveness_factors_bulk_bath": {k: _q(x, "1") for k, x in bulk.factors.items()},
        "particle_in_film": {
            "depth_um": _q(inside.depth * 1e6, "um"),
            **_composition(inside.values),
            "electrode_potential_V": _q(value(doc, "electrode_potential_V"), "V"),
            "factor_passes": _q(inside.passes, "1"),
            "factor_change": _q(inside.change, "1"),
            "ratio_interior_exterior": {
                name: _q(entry.get("ratio_interior_exterior", {}).get("value"), "1")
                for name, entry in doc.get("species", {}).items()
            },
        },
        "particle_in_film_document": doc,
    }


def face_values(res: Result, xs: Sequence[float], comm: Any) -> list[dict[str, float]]:
    """Every output field at the mesh vertex nearest each ``x`` (m) of a 1D film
    (collective; the fields are interpolated once for all points).

    Concentrations in mol/m³, φ in V (the solution's own units).
    """
    fields = res.solution.fields()
    scale = res.solution.meshdata.length_scale
    out: list[dict[str, float]] = [{} for _ in xs]
    for name, f in fields.items():
        n = f.function_space.dofmap.index_map.size_local
        coords = f.function_space.tabulate_dof_coordinates()[:n, 0] * scale
        for k, x in enumerate(xs):
            dist = np.abs(coords - x)
            i = int(np.argmin(dist)) if n else -1
            mine = (float(dist[i]), float(f.x.array[i])) if n else (np.inf, 0.0)
            out[k][name] = min(comm.allgather(mine))[1]
    return out


def document(
    case: Case,
    geo: FilmGeometry,
    eff: Effectiveness,
    particle: dict[str, Any],
    film: Result,
    shifts: list[float],
    comm: Any,
) -> dict[str, Any]:
    """The electrode's metrics document (see the module doc)."""
    fm = film.metrics
    at_face, at_collector = face_values(film, [geo.thickness, 0.0], comm)

    face, collector = (
        {**_composition(v), "potential_V": _q(v.get("phi"), "V")} for v in (at_face, at_collector)
    )

    products = _products(case, fm)
    j = value(fm, "current_density_A_per_m2")
    tol = case.solver.quality_tolerance
    worst = [
        max(judged_mass_balances(d.get("species") or {}, tol, rtol).values(), default=0.0)
        for d, rtol in ((fm, film.case.solver.rtol), (particle, case.solver.rtol))
    ]
    its = [value(d, "solver.newton_iterations") for d in (fm, particle)]
    return {
        "case": case.case.name,
        "case_hash": case.hash(),
        "basis": "per m^2 of electrode (geometric area)",
        "model": {
            "kind": "electrode",
            "coupling": case.film.coupling,
            "particle": case.geometry.kind,
            "fidelity": case.geometry.model,
            "potential_model": case.electrolyte.potential_model,
        },
        "definitions": DEFINITIONS,
        "solver": {
            "converged": _q(True, "1"),
            "newton_iterations": _q(sum(i for i in its if i is not None), "1"),
            "film_solves": _q(len(shifts), "1"),
        },
        "mass_balance_relative_error": _q(max(worst), "1"),
        "current_density_A_per_m2": _q(j, "A/m^2"),
        "local_pH": {
            "film_face": face["pH"],
            "collector": collector["pH"],
        },
        "electrode_potential_V": _q(case.electrode.potential, "V"),
        "film_potential_shift_V": _q(shifts[-1], "V"),
        "current_density_mA_per_cm2": _q(j / 10.0 if j is not None else None, "mA/cm^2"),
        "products": products,
        "faradaic_efficiency_sum": _q(value(fm, "faradaic_efficiency_sum"), "1"),
        "selectivity": fm.get("selectivity"),
        "yield_g_per_h_per_g_cat": _first_yield(products),
        "film_face": face,
        "collector": collector,
        "ohmic_drop_film_V": _q(_drop(at_face, at_collector), "V"),
        "ohmic_drop_nernst_layer_V": _q(_drop({"phi": 0.0}, at_face), "V"),
        "film": _film_entry(geo),
        "effectiveness_factors": {k: _q(v, "1") for k, v in eff.factors.items()},
        "film_document": fm,
        "particle_document": particle,
    }


def _products(case: Case, fm: dict[str, Any]) -> dict[str, Any]:
    """Each product's FE, partial current density and yield per catalyst mass
    (production per electrode area × molar mass ÷ loading), from the film's document."""
    j = value(fm, "current_density_A_per_m2")
    out: dict[str, Any] = {}
    for name, p in fm["products"].items():
        fe, n_e = value(p, "faradaic_efficiency"), value(p, "electrons_per_molecule")
        mm = molar_mass(case, name)
        part = None if fe is None or j is None else fe * j  # A/m² of electrode
        yld = None
        if part is not None and n_e and mm is not None and case.catalyst.electrode_loading:
            # mol/(m² s) × g/mol × s/h ÷ g/m² (loading in kg/m²)
            yld = part / (n_e * FARADAY) * mm * 3600.0 / (case.catalyst.electrode_loading * 1e3)
        out[name] = {
            "faradaic_efficiency": {"value": fe, "unit": "1"},
            "partial_current_density_mA_per_cm2": {
                "value": None if part is None else part / 10.0,
                "unit": "mA/cm^2",
            },
            "yield_g_per_h_per_g_cat": {"value": yld, "unit": "g/(h g_cat)"},
        }
    return out


def _first_yield(products: dict[str, Any]) -> dict[str, Any]:
    """The first declared product's yield (the particle document's top-level value)."""
    for entry in products.values():
        return dict(entry["yield_g_per_h_per_g_cat"])
    return {"value": None, "unit": "g/(h g_cat)"}


def _film_entry(geo: FilmGeometry) -> dict[str, Any]:
    """The film's geometry, in readable units."""
    return {
        "thickness_um": {"value": geo.thickness * 1e6, "unit": "um"},
        "particles_thick": {"value": geo.particles_thick, "unit": "1"},
        "porosity": {"value": geo.porosity, "unit": "1"},
        "tortuosity": {"value": geo.tortuosity, "unit": "1"},
        "diffusion_layer_um": {"value": geo.diffusion_layer * 1e6, "unit": "um"},
        "particles_per_area_per_cm2": {"value": geo.particles_per_area * 1e-4, "unit": "1/cm^2"},
    }


def _drop(high: dict[str, float], low: dict[str, float]) -> float | None:
    """φ(high) − φ(low) (V), or None without a solution potential (potential_model "none")."""
    if "phi" not in high or "phi" not in low:
        return None
    return high["phi"] - low["phi"]
