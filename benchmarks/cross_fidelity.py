"""Cross-fidelity: the axisymmetric cone cell against the 3D hexagonal sector, mesh-converged.

Issue #13 ("Shows it works"): the 7 nm case on ``sector-3d`` must agree with
the ``axisymmetric-cell`` on urea C_I/C_E within 3 % on mesh-converged values
(DESIGN.md section 3). This script runs one case (default
``cases/mchs-7nm.toml`` at −1.1 V) at both fidelity levels over a sequence of
meshes, estimates the mesh-converged value of every reported metric per
fidelity, and the relative difference sector vs cone.

Mesh levels. A level is a refinement factor ``f`` applied to *every* target
cell size of the case's ``[mesh]`` section at once: ``cells_per_pore_diameter``
and ``cells_across_layer`` × f, ``max_cell_size`` ÷ f and the grading slope
``growth − 1`` ÷ f, so the size field is h(x)/f everywhere and the nominal
mesh size is h ∝ 1/f. (Raising ``cells_per_pore_diameter`` alone hardly
changes these meshes: the catalytic layer's own size, the cavity wall and the
grading bind; ``mesh.refine`` halves every size, the grading slope too.)
``f`` must make both cell counts integers (with the shipped 6 and 2: 0.5, 1,
1.5, 2, 2.5, 3, 4, ...).

Warm starts. The coarsest level of each fidelity runs the case's own
continuation from the bulk state; each finer level starts Newton from the
next coarser converged state (stored per base-case hash in
``results/cross-fidelity-states/``) interpolated onto its mesh: 3 Newton steps
instead of ~55, same converged state (checked: 1e-15). ``--cold`` turns it
off. Warm-started points use MUMPS by default (``--linear-solver direct``),
as the stored record did: the GMRES + node-blocked AMG of that time failed on
the urea network (DIVERGED_LINEAR_SOLVE). ``auto`` (or ``iterative``) now
uses the field-by-field preconditioner that solves it in 3D with a quarter of
MUMPS's memory (benchmarks/README.md, "Iterative solver for the 3D urea
network").

Converged value per fidelity (:func:`converged_estimate`), from the three
finest levels Q1, Q2, Q3 at h1 > h2 > h3: if the differences are monotone and
contracting, Richardson extrapolation ``Q = Q0 + C h^p`` with the observed
order p (solved from the three points; the level ratios need not be equal),
the uncertainty |Q0 − Q3| and Roache's grid convergence index of the finest
mesh; otherwise the finest value and the spread of the three (not
extrapolated). With two levels only: the finest value, and beside it an
extrapolation with the assumed order 2 (P1 elements), marked as assumed.

Every point runs in a fresh process (``python cross_fidelity.py point ...``,
one rank, ``OMP_NUM_THREADS=1``) so its wall time and peak memory are its
own; the record is rewritten after each point, so a run cut short leaves a
valid partial record, and ``--resume`` skips the points already in it (same
case hash, fidelity and level).

Usage::

    python benchmarks/cross_fidelity.py run [--case CASE] [--set K=V ...]
        [--axi-levels 0.5 1 1.5 2 3 4 6 8] [--sector-levels 0.5 1 1.5 2]
        [--out benchmarks/records/cross-fidelity-7nm.json] [--resume] [--log LOG]
    python benchmarks/cross_fidelity.py summarize --out FILE   # estimates again, from FILE
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CASE = ROOT / "cases" / "mchs-7nm.toml"
DEFAULT_OUT = ROOT / "benchmarks" / "records" / "cross-fidelity-7nm.json"
#: Converged states of the points (warm starts of finer levels), one folder per
#: base-case hash; not committed.
STATES = ROOT / "results" / "cross-fidelity-states"


def state_path(case_hash: str, model: str, level: float) -> Path:
    """Where the converged state of one point of one base case is stored."""
    return STATES / case_hash[:16] / f"{model}-{level:g}.npz"


AXI, SECTOR = "axisymmetric-cell", "sector-3d"

#: The acceptance bound of issue #13 on the urea C_I/C_E (relative).
TOLERANCE = 0.03

#: Metrics recorded per run: record key -> dotted metrics path.
METRICS: dict[str, str] = {
    "urea_ratio": "species.urea.ratio_interior_exterior",
    "CO2_ratio": "species.CO2.ratio_interior_exterior",
    "NO3-_ratio": "species.NO3-.ratio_interior_exterior",
    "NH4+_ratio": "species.NH4+.ratio_interior_exterior",
    "H2_ratio": "species.H2.ratio_interior_exterior",
    "urea_production_mol_s": "products.urea.production_mol_s",
    "current_A": "current_A",
    "urea_interior_mean_mol_L": "species.urea.interior_mean_mol_L",
    "urea_exterior_mean_mol_L": "species.urea.exterior_mean_mol_L",
    "urea_ratio_cavity/bath": "species.urea.ratio_by_definition.cavity/bath",
    "urea_ratio_mouth_inner/mouth_outer": (
        "species.urea.ratio_by_definition.mouth_inner/mouth_outer"
    ),
    "urea_faradaic_efficiency": "products.urea.faradaic_efficiency",
    "mass_balance_relative_error": "mass_balance_relative_error",
    "sites_mol": "catalyst.sites_mol",
    "site_scale": "catalyst.site_scale",
    "layer_volume_m3": "layer_volume_m3",
}

#: Metrics whose mesh-converged value and sector/cone difference are estimated.
COMPARED = (
    "urea_ratio",
    "CO2_ratio",
    "NO3-_ratio",
    "NH4+_ratio",
    "H2_ratio",
    "urea_production_mol_s",
    "current_A",
    "urea_ratio_cavity/bath",
    "urea_ratio_mouth_inner/mouth_outer",
)


# --------------------------------------------------------------------- levels
def parse_sets(items: Sequence[str]) -> dict[str, str]:
    """``K=V`` strings as a dict (the value as written, parsed by load_case).

    Args:
        items: the ``--set`` arguments.

    Returns:
        Dotted key -> value text.

    Raises:
        SystemExit: an item without ``=``.
    """
    out: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise SystemExit(f"--set {item!r}: expected KEY=VALUE")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def level_overrides(case: Any, factor: float) -> dict[str, str]:
    """The ``[mesh]`` overrides that divide every target size of ``case`` by ``factor``.

    Args:
        case: the base case (its ``mesh`` section is scaled).
        factor: refinement factor f (> 0); 1 is the case's own mesh.

    Returns:
        Dotted key -> value for :func:`confine.load_case`.

    Raises:
        ValueError: f does not make the cell counts across a pore and the layer integers.
    """
    m = case.mesh
    counts = {}
    for key, base in (
        ("cells_per_pore_diameter", m.cells_per_pore_diameter),
        ("cells_across_layer", m.cells_across_layer),
    ):
        value = base * factor
        if abs(value - round(value)) > 1e-9:
            raise ValueError(
                f"level {factor:g}: mesh.{key} = {base} × {factor:g} is not an integer"
            )
        counts[key] = round(value)
    return {
        "mesh.cells_per_pore_diameter": str(counts["cells_per_pore_diameter"]),
        "mesh.cells_across_layer": str(counts["cells_across_layer"]),
        "mesh.max_cell_size": f'"{m.max_cell_size / 1e-9 / factor:.12g} nm"',
        "mesh.growth": f"{1.0 + (m.growth - 1.0) / factor:.12g}",
    }


def base_case(case_file: Path, sets: Mapping[str, str], potential: str) -> Any:
    """The case every run starts from: the file, ``--set`` and the electrode potential.

    Args:
        case_file: the TOML case.
        sets: user overrides.
        potential: electrode potential vs RHE, e.g. ``"-1.1 V"``.

    Returns:
        The validated :class:`confine.case.Case`.
    """
    from confine.case import load_case

    return load_case(case_file, set={**sets, "electrode.potential": f'"{potential}"'})


def run_overrides(
    case: Any, sets: Mapping[str, str], potential: str, model: str, factor: float
) -> dict[str, str]:
    """All overrides of one run (user sets, potential, fidelity, mesh level, no field output)."""
    return {
        **sets,
        "electrode.potential": f'"{potential}"',
        "geometry.model": model,
        "output.fields": "false",
        "output.figures": "false",
        **level_overrides(case, factor),
    }


# ---------------------------------------------------------------------- point
def _get(metrics: Mapping[str, Any], dotted: str) -> Any:
    """A metric by dotted path (keys may hold dots or slashes), unwrapping value/unit."""
    node: Any = metrics
    parts = dotted.split(".")
    i = 0
    while i < len(parts):
        for j in range(len(parts), i, -1):  # longest key first ("NO3-", "cavity/bath")
            key = ".".join(parts[i:j])
            if isinstance(node, Mapping) and key in node:
                node = node[key]
                i = j
                break
        else:
            return None
    if isinstance(node, Mapping) and "value" in node:
        return node["value"]
    return node


def point(
    case_file: Path,
    sets: Mapping[str, str],
    potential: str,
    model: str,
    factor: float,
    out: Path,
    warm_from: float | None = None,
    linear_solver: str = "auto",
) -> None:
    """Solve one (fidelity, level) in this process and write its row as JSON.

    Args:
        case_file: the TOML case.
        sets: user overrides.
        potential: electrode potential.
        model: ``axisymmetric-cell`` or ``sector-3d``.
        factor: mesh refinement factor.
        out: where to write the row.
        warm_from: a coarser level of the same fidelity whose stored state
            (:func:`save_state`) starts Newton, interpolated onto this mesh;
            None: the case's own continuation from the bulk state.
        linear_solver: ``auto`` | ``direct`` | ``iterative`` for a warm-started
            point (:class:`confine.solve.Solver`); a cold point uses confine.run's auto.
    """
    from confine.bench import peak_rss_mb
    from confine.case import load_case
    from confine.mesh import measure
    from confine.solve import newton_of

    t0 = time.perf_counter()
    base = base_case(case_file, sets, potential)
    overrides = run_overrides(base, sets, potential, model, factor)
    case = load_case(case_file, set=overrides)
    warm_info: dict[str, Any] | None = None
    if warm_from is None:
        result_metrics, sol = _cold(case)
    else:
        coarse = load_case(case_file, set=run_overrides(base, sets, potential, model, warm_from))
        state = state_path(base.hash(), model, warm_from)
        result_metrics, sol, warm_info = _warm(case, coarse, state, linear_solver)
        warm_info["from_level"] = warm_from
    wall = time.perf_counter() - t0
    md = sol.meshdata
    problem = sol.model
    newton = newton_of(problem)
    measured = measure(md, md.mesh.comm)
    m = result_metrics
    row: dict[str, Any] = {
        "model": model,
        "level": factor,
        "h_rel": 1.0 / factor,
        "overrides": {k: v for k, v in overrides.items() if k.startswith("mesh.")},
        "case_hash_run": m.get("case_hash"),
        "mesh_hash": md.info.get("hash"),
        "cells": _get(m, "mesh.cells"),
        "vertices": md.mesh.topology.index_map(0).size_global,
        "dofs": _get(m, "mesh.dofs"),
        "fields": len(problem.unknowns) + len(problem.adsorbed),
        "multiplicity": md.multiplicity,
        "linear_solver": "direct" if newton.is_direct() else "iterative",
        "petsc_options": {k: str(v) for k, v in newton.options().items()},
        "converged": _get(m, "solver.converged"),
        "newton_iterations": _get(m, "solver.newton_iterations"),
        "linear_iterations": _get(m, "solver.linear_iterations"),
        "continuation_steps": len(_get(m, "solver.continuation_multipliers") or []),
        "wall_s": wall,
        "mesh_s": _get(m, "timings.mesh_s"),
        "mesh_cached": md.info.get("cached"),
        "solve_s": _get(m, "solver.wall_time_s"),
        "peak_rss_mb": peak_rss_mb(),
        "metrics": {k: _get(m, path) for k, path in METRICS.items()},
        "measured_nm": measured,
        "mesh_sizes_nm": md.info.get("sizes"),
        "start": "continuation from the bulk state" if warm_info is None else warm_info,
    }
    save_state(problem, md, state_path(base.hash(), model, factor), base.hash())
    out.write_text(json.dumps(row, indent=1, default=str) + "\n", encoding="utf-8")


def _cold(case: Any) -> tuple[dict[str, Any], Any]:
    """:func:`confine.run` as shipped: its metrics document and solution."""
    import confine

    result = confine.run(case)
    return result.metrics, result.solution


def _warm(
    case: Any, coarse: Any, state: Path, linear_solver: str = "auto"
) -> tuple[dict[str, Any], Any, dict[str, Any]]:
    """Solve ``case`` from the converged state of ``coarse`` (another mesh) in ``state``.

    The coarse unknowns and coverages are interpolated onto this mesh (non-matching
    interpolation; points of this mesh's curved faces just outside the coarse
    chords are found within a padding), then Newton runs at the full rates
    (``Solver.solve(warm=True)``, which falls back to continuation from that
    state if it fails). The converged state does not depend on the start.

    Returns:
        The metrics document (as :func:`confine.run` makes it), the solution,
        and what the warm start did.
    """
    import numpy as np

    from confine.env import import_dolfinx

    import_dolfinx()  # sets up the wheel's MPI libraries before dolfinx loads
    from dolfinx import fem
    from mpi4py import MPI

    from confine.mesh import load_mesh
    from confine.metrics import compute_metrics
    from confine.pipeline import _document
    from confine.solve import Solver

    comm = MPI.COMM_WORLD
    saved = np.load(state)
    t0 = time.perf_counter()
    md_c = load_mesh(coarse, comm)
    if str(saved["mesh_hash"]) != md_c.info.get("hash"):
        raise RuntimeError(
            f"{state}: stored for mesh {saved['mesh_hash']}, not {md_c.info['hash']}"
        )
    src = Solver.build(coarse, md_c, comm).model
    src.restore([saved["u"], *([saved["theta"]] if "theta" in saved else [])])
    t_mesh = time.perf_counter()
    md = load_mesh(case, comm)
    timings = {"mesh_s": time.perf_counter() - t_mesh}
    t1 = time.perf_counter()
    solver = Solver.build(case, md, comm, linear_solver=linear_solver)
    dst = solver.model
    padding = 0.5  # nm: coarse chords of the curved faces lie inside the fine nodes
    missing = {}
    for name, f_to, f_from in (("u", dst.u, src.u), ("theta", dst.theta, src.theta)):
        if f_to is None or f_from is None:
            continue
        msh = f_to.function_space.mesh
        tdim = msh.topology.dim
        cells = np.arange(msh.topology.index_map(tdim).size_local, dtype=np.int32)
        data = fem.create_interpolation_data(
            f_to.function_space, f_from.function_space, cells, padding=padding
        )
        f_to.x.array[:] = np.nan
        f_to.interpolate_nonmatching(f_from, cells, data)
        bad = ~np.isfinite(f_to.x.array)
        missing[name] = int(bad.sum())
        f_to.x.array[bad] = 0.0  # not found: Newton starts from 0 there
        f_to.x.scatter_forward()
    t_interp = time.perf_counter() - t1
    solution = solver.solve(warm=True)
    timings["solve_s"] = time.perf_counter() - t1
    body = compute_metrics(case, md, solution, comm)
    metrics = _document(case, md, solution, body, timings, comm)
    info = {
        "kind": "warm start: interpolated coarser converged state, Newton at full rates",
        "coarse_setup_s": t_mesh - t0,
        "interpolation_s": t_interp,
        "padding_nm": padding,
        "dofs_not_found": missing,
        "fell_back_to_continuation": len(solution.multipliers) > 1,
    }
    return metrics, solution, info


def save_state(problem: Any, meshdata: Any, path: Path, case_hash: str) -> None:
    """Store a converged state (unknowns, coverages, mesh and base-case hash) for warm starts."""
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"u": problem.u.x.array}
    if problem.theta is not None:
        arrays["theta"] = problem.theta.x.array
    np.savez(
        path,
        mesh_hash=np.array(str(meshdata.info.get("hash"))),
        case_hash=np.array(case_hash),
        **arrays,
    )


def run_point(
    case_file: Path,
    sets: Mapping[str, str],
    potential: str,
    model: str,
    factor: float,
    timeout: float,
    log: Path | None,
    warm_from: float | None = None,
    linear_solver: str = "auto",
) -> dict[str, Any]:
    """Run :func:`point` in a fresh one-rank process; its row (or a failure row).

    Args:
        case_file: the TOML case.
        sets: user overrides.
        potential: electrode potential.
        model: the fidelity level.
        factor: mesh refinement factor.
        timeout: seconds before the point is abandoned.
        log: file the point's stdout/stderr are appended to (None: discarded).
        warm_from: coarser level to warm-start from (None: cold).
        linear_solver: ``auto`` | ``direct`` | ``iterative`` (warm-started points).

    Returns:
        The row; a failed point has ``"failed": <reason>`` and no metrics.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "row.json"
        cmd = [sys.executable, __file__, "point", "--case", str(case_file), "--model", model]
        cmd += ["--level", repr(factor), "--potential", potential, "--json", str(out)]
        for k, v in sets.items():
            cmd += ["--set", f"{k}={v}"]
        if warm_from is not None:
            cmd += ["--warm-from", repr(warm_from), "--linear-solver", linear_solver]
        env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
        env["OMP_NUM_THREADS"] = "1"
        t0 = time.perf_counter()
        failed: str | None = None
        with open(log, "a", encoding="utf-8") if log else open(os.devnull, "w") as fh:
            fh.write(f"\n==== {model} level {factor:g}: {' '.join(cmd)}\n")
            fh.flush()
            try:
                res = subprocess.run(
                    cmd, env=env, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, timeout=timeout
                )
                if res.returncode != 0 or not out.exists():
                    failed = f"exit code {res.returncode} (see the log)"
            except subprocess.TimeoutExpired:
                failed = f"timed out after {timeout:g} s"
        elapsed = time.perf_counter() - t0
        if failed is not None:
            return {"model": model, "level": factor, "failed": failed, "process_wall_s": elapsed}
        row: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    row["process_wall_s"] = elapsed
    return row


# ----------------------------------------------------------------- estimates
def _richardson_order(h: Sequence[float], q: Sequence[float]) -> float | None:
    """Observed order p of ``q = q0 + C h^p`` through three points (h descending), or None."""
    from scipy.optimize import brentq

    d1, d2 = q[1] - q[0], q[2] - q[1]
    target = d1 / d2

    def g(p: float) -> float:
        return (h[0] ** p - h[1] ** p) / (h[1] ** p - h[2] ** p) - target

    lo, hi = 0.05, 20.0
    try:
        if g(lo) * g(hi) > 0:
            return None
        return float(brentq(g, lo, hi, xtol=1e-10))
    except (ValueError, ZeroDivisionError, OverflowError):
        return None


def converged_estimate(h: Sequence[float], q: Sequence[float]) -> dict[str, Any]:
    """Mesh-converged estimate of one metric from a refinement sequence.

    Args:
        h: nominal mesh sizes (any common scale), one per level.
        q: the metric at those levels (None for a failed level is skipped).

    Returns:
        ``method`` (``richardson`` | ``finest`` | ``single`` | ``none``),
        ``value`` (the estimate), ``finest``, ``uncertainty`` (absolute:
        |extrapolated − finest| for Richardson, else the spread of the levels
        used), ``order`` (observed, or None), ``monotone``, ``levels_used``
        and, with exactly two levels, ``richardson_assumed_order_2``.
    """
    pts = sorted(
        ((float(a), float(b)) for a, b in zip(h, q, strict=True) if b is not None),
        key=lambda t: -t[0],
    )
    if not pts:
        return {"method": "none", "value": None}
    hs, qs = [p[0] for p in pts], [p[1] for p in pts]
    if len(pts) == 1:
        return {"method": "single", "value": qs[0], "finest": qs[0], "uncertainty": None}
    if len(pts) == 2:
        r = hs[0] / hs[1]
        q2 = qs[1] + (qs[1] - qs[0]) / (r**2 - 1.0)
        return {
            "method": "finest",
            "value": qs[1],
            "finest": qs[1],
            "uncertainty": abs(qs[1] - qs[0]),
            "levels_used": hs,
            "richardson_assumed_order_2": q2,
            "note": "two levels: finest value, uncertainty = difference of the two",
        }
    h3, q3 = hs[-3:], qs[-3:]
    d1, d2 = q3[1] - q3[0], q3[2] - q3[1]
    spread = max(q3) - min(q3)
    monotone = d1 * d2 > 0 and abs(d2) < abs(d1)
    base: dict[str, Any] = {
        "finest": q3[2],
        "levels_used": h3,
        "values_used": q3,
        "monotone": monotone,
        "spread": spread,
    }
    if d1 == 0.0 and d2 == 0.0:
        return base | {"method": "finest", "value": q3[2], "uncertainty": 0.0, "order": None}
    p = _richardson_order(h3, q3) if monotone else None
    if p is None:
        return base | {
            "method": "finest",
            "value": q3[2],
            "uncertainty": spread,
            "order": None,
            "note": "not monotone and contracting over the three finest levels: finest value, "
            "uncertainty = spread of the three",
        }
    c = (q3[1] - q3[2]) / (h3[1] ** p - h3[2] ** p)
    q0 = q3[2] - c * h3[2] ** p
    r = h3[1] / h3[2]
    gci = 1.25 * abs(d2 / q3[2]) / (r**p - 1.0) if q3[2] != 0 else None
    return base | {
        "method": "richardson",
        "value": q0,
        "uncertainty": abs(q0 - q3[2]),
        "order": p,
        "gci_fine": gci,
    }


#: Mesh-measured groups compared level by level (whole particle, nm³ / nm²).
GEOMETRY = (
    ("volumes", "cavity"),
    ("volumes", "cavity_layer"),
    ("volumes", "pore"),
    ("volumes", "pore_layer"),
    ("volumes", "bath"),
    ("areas", "mouth_outer"),
    ("areas", "mouth_inner"),
    ("areas", "outer_boundary"),
)


def same_level_diagnostics(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Sector ÷ cone − 1 at equal mesh level: measured geometry and the urea means.

    What separates the two fidelities at one level: the meshed pore cross-section
    and mouth area (faceted cylinders in 3D), volumes, and the interior and
    exterior means that make C_I/C_E.

    Args:
        rows: successful runs.

    Returns:
        Level -> quantity -> relative difference.
    """
    out: dict[str, Any] = {}
    for r in rows:
        if r["model"] != SECTOR:
            continue
        twin = next((x for x in rows if x["model"] == AXI and x["level"] == r["level"]), None)
        if twin is None:
            continue
        entry: dict[str, float | None] = {}
        for kind, name in GEOMETRY:
            a = twin["measured_nm"][kind].get(name)
            s = r["measured_nm"][kind].get(name)
            entry[f"{kind}.{name}"] = s / a - 1.0 if a and s is not None else None
        for key in ("urea_interior_mean_mol_L", "urea_exterior_mean_mol_L", "urea_ratio"):
            a, s = twin["metrics"].get(key), r["metrics"].get(key)
            entry[key] = s / a - 1.0 if a and s is not None else None
        out[f"{r['level']:g}"] = entry
    return out


def summarize(record: dict[str, Any]) -> dict[str, Any]:
    """Converged estimates per fidelity and the sector-vs-cone differences (into ``record``).

    Args:
        record: the study record with its ``runs``.

    Returns:
        The same record with ``converged`` and ``difference`` filled in.
    """
    ok = [r for r in record["runs"] if "failed" not in r]
    conv: dict[str, dict[str, Any]] = {}
    for model in (AXI, SECTOR):
        rows = sorted((r for r in ok if r["model"] == model), key=lambda r: r["level"])
        conv[model] = {
            key: converged_estimate(
                [r["h_rel"] for r in rows], [r["metrics"].get(key) for r in rows]
            )
            for key in COMPARED
        }
    diff: dict[str, Any] = {}
    for key in COMPARED:
        a, s = conv[AXI][key], conv[SECTOR][key]
        entry: dict[str, Any] = {}
        if a.get("value") and s.get("value") is not None:
            entry["converged"] = s["value"] / a["value"] - 1.0
            entry["finest"] = s["finest"] / a["finest"] - 1.0
            ua, us = a.get("uncertainty"), s.get("uncertainty")
            if ua is not None and us is not None:  # |Δ(s/a)| ≲ (us/s + ua/a)·s/a, first order
                entry["uncertainty"] = abs(s["value"] / a["value"]) * (
                    us / abs(s["value"]) + ua / abs(a["value"])
                )
        same, h_same, axi_same = {}, [], []
        for r in ok:
            if r["model"] != SECTOR:
                continue
            twin = [x for x in ok if x["model"] == AXI and x["level"] == r["level"]]
            if twin and twin[0]["metrics"].get(key) and r["metrics"].get(key) is not None:
                same[f"{r['level']:g}"] = r["metrics"][key] / twin[0]["metrics"][key] - 1.0
                h_same.append(r["h_rel"])
                axi_same.append(twin[0]["metrics"][key])
        entry["same_level"] = same
        # the cone extrapolated from the sector's own levels only (same level set, so
        # the same pre-asymptotic bias), and the same-level difference extrapolated to h = 0
        a_m = converged_estimate(h_same, axi_same)
        if a_m.get("value") and s.get("value") is not None:
            entry["converged_on_sector_levels"] = s["value"] / a_m["value"] - 1.0
            entry["axisymmetric_on_sector_levels"] = a_m
        d_m = converged_estimate(h_same, list(same.values()))
        entry["same_level_extrapolated"] = {
            k: d_m.get(k) for k in ("method", "value", "uncertainty", "order")
        }
        diff[key] = entry
    record["converged"] = conv
    record["difference_sector_vs_axisymmetric"] = diff
    record["same_level_diagnostics"] = same_level_diagnostics(ok)
    record["verdict"] = verdict(conv, diff.get("urea_ratio", {}))
    return record


def verdict(conv: Mapping[str, Mapping[str, Any]], diff: Mapping[str, Any]) -> dict[str, Any]:
    """Does the sector agree with the cone on urea C_I/C_E within :data:`TOLERANCE`?

    ``agrees`` only when both values are mesh-converged estimates (Richardson
    with an observed order) and the difference plus its uncertainty is within
    the tolerance; ``disagrees`` when the difference minus its uncertainty
    exceeds it; otherwise ``not established`` with the reason.
    """
    d, u = diff.get("converged"), diff.get("uncertainty")
    methods = {m: conv[m]["urea_ratio"].get("method") for m in (AXI, SECTOR)}
    out: dict[str, Any] = {
        "metric": "urea C_I/C_E (species.urea.ratio_interior_exterior)",
        "tolerance": TOLERANCE,
        "relative_difference": d,
        "uncertainty": u,
        "estimates": methods,
    }
    if d is None:
        return out | {"result": "not established", "reason": "a fidelity has no value"}
    if u is not None and abs(d) - u > TOLERANCE:
        return out | {"result": "disagrees"}
    if any(m != "richardson" for m in methods.values()):
        return out | {
            "result": "not established",
            "reason": "not both values are mesh-converged estimates (see converged.*.method)",
        }
    if u is not None and abs(d) + u <= TOLERANCE:
        return out | {"result": "agrees"}
    return out | {"result": "not established", "reason": "the uncertainty straddles the bound"}


# ------------------------------------------------------------------- driver
def _file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:20]


def _write(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(record, indent=1, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _print_row(r: dict[str, Any]) -> None:
    if "failed" in r:
        print(f"{r['model']:18s} f={r['level']:<4g} FAILED: {r['failed']}", flush=True)
        return
    m = r["metrics"]
    print(
        f"{r['model']:18s} f={r['level']:<4g} cells={r['cells']:7d} dofs={r['dofs']:8d} "
        f"newton={r['newton_iterations']:3d} wall={r['process_wall_s']:7.1f}s "
        f"urea C_I/C_E={m['urea_ratio']:.5f} CO2={m['CO2_ratio']:.5f} "
        f"I={m['current_A']:.4e} A",
        flush=True,
    )


def _warm_level(case_hash: str, model: str, factor: float) -> float | None:
    """The finest stored level of ``model`` coarser than ``factor`` for this case (or None)."""
    import numpy as np

    best = None
    for path in state_path(case_hash, model, 1.0).parent.glob(f"{model}-*.npz"):
        try:
            level = float(path.stem.rsplit("-", 1)[1])
            with np.load(path) as saved:
                same = str(saved["case_hash"]) == case_hash
        except (ValueError, KeyError, OSError):
            continue
        if same and level < factor and (best is None or level > best):
            best = level
    return best


def study(args: argparse.Namespace) -> None:
    """Run every missing point, rewriting the record after each one."""
    from confine.bench import machine
    from confine.env import git_revision, versions

    sets = parse_sets(args.set)
    base = base_case(args.case, sets, args.potential)
    record: dict[str, Any] = {
        "benchmark": "cross-fidelity",
        "issue": 13,
        "claim": "sector-3d agrees with the axisymmetric cell on urea C_I/C_E within 3 % "
        "(mesh-converged values)",
        "case": base.case.name,
        "case_file": str(args.case.resolve().relative_to(ROOT))
        if args.case.resolve().is_relative_to(ROOT)
        else str(args.case),
        "case_file_sha256": _file_sha(args.case),
        "case_hash": base.hash(),
        "case_hash_note": "hash of the resolved case with --set and the potential, at the "
        "case's own mesh and fidelity; each run's own hash is in its row",
        "overrides": sets,
        "electrode_potential": args.potential,
        "catalyst_sites": base.catalyst.sites,
        "definitions": {
            "C_I/C_E": "species.<s>.ratio_interior_exterior: interior = volume mean over the "
            f"cavity ('{base.output.interior}'), exterior = area mean over the outer pore "
            f"mouths ('{base.output.exterior}')",
            "level": "refinement factor f: cells_per_pore_diameter and cells_across_layer × f, "
            "max_cell_size and growth − 1 ÷ f (every target size ÷ f); h_rel = 1/f",
            "converged": "Richardson extrapolation with the observed order over the three "
            "finest levels when monotone and contracting, else the finest value with the "
            "spread as uncertainty (see benchmarks/cross_fidelity.py)",
            "difference": "sector-3d / axisymmetric-cell − 1",
        },
        "levels": {AXI: args.axi_levels, SECTOR: args.sector_levels},
        "mpi_ranks": 1,
        "threads": 1,
        "versions": versions(),
        "git": git_revision(),
        "machine": machine(),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "runs": [],
    }
    if args.resume and args.out.exists():
        old = json.loads(args.out.read_text(encoding="utf-8"))
        if old.get("case_hash") == record["case_hash"]:
            record["runs"] = [r for r in old.get("runs", []) if "failed" not in r]
            record["started"] = old.get("started", record["started"])
            record["study_wall_s_before"] = old.get("study_wall_s", 0.0)
    plan = [(AXI, f) for f in args.axi_levels] + [(SECTOR, f) for f in args.sector_levels]
    for _, factor in plan:
        level_overrides(base, factor)  # fail early on a bad level
    t_start = time.perf_counter()
    for model, factor in plan:
        if any(r["model"] == model and r["level"] == factor for r in record["runs"]):
            continue
        warm = None if args.cold else _warm_level(base.hash(), model, factor)
        row = run_point(
            args.case,
            sets,
            args.potential,
            model,
            factor,
            args.timeout,
            args.log,
            warm,
            args.linear_solver,
        )
        record["runs"].append(row)
        _print_row(row)
        record["finished"] = None
        record["study_wall_s"] = record.get("study_wall_s_before", 0.0) + (
            time.perf_counter() - t_start
        )
        _write(args.out, summarize(record))
    record["finished"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    _write(args.out, summarize(record))
    report(record)


def report(record: dict[str, Any]) -> None:
    """Print the runs, the converged values and the differences."""
    for r in sorted(record["runs"], key=lambda r: (r["model"], r["level"])):
        _print_row(r)
    for key in COMPARED:
        a = record["converged"][AXI][key]
        s = record["converged"][SECTOR][key]
        d = record["difference_sector_vs_axisymmetric"][key]
        print(
            f"{key:36s} axi {a.get('value')!s:>22} ({a.get('method')}, p={a.get('order')}) "
            f"sector {s.get('value')!s:>22} ({s.get('method')}, p={s.get('order')}) "
            f"diff {d.get('converged')}",
        )
    print("verdict:", record["verdict"])


def main() -> None:
    """Command line: run | point | summarize."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("run", "point", "summarize"))
    ap.add_argument("--case", type=Path, default=DEFAULT_CASE)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--potential", default="-1.1 V", help="electrode potential vs RHE")
    ap.add_argument(
        "--axi-levels", type=float, nargs="+", default=[0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0]
    )
    ap.add_argument("--sector-levels", type=float, nargs="+", default=[0.5, 1.0, 1.5, 2.0])
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per point")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--log", type=Path, default=None, help="append the points' output here")
    ap.add_argument("--resume", action="store_true", help="keep the points already in --out")
    ap.add_argument("--model", choices=(AXI, SECTOR), help="point: the fidelity")
    ap.add_argument("--level", type=float, default=1.0, help="point: the refinement factor")
    ap.add_argument("--json", type=Path, help="point: where to write its row")
    ap.add_argument("--warm-from", type=float, help="point: warm-start from this coarser level")
    ap.add_argument(
        "--linear-solver",
        choices=("auto", "direct", "iterative"),
        default="direct",
        help="warm-started points: MUMPS LU, GMRES + fieldsplit/AMG, or confine's choice",
    )
    ap.add_argument(
        "--cold", action="store_true", help="every point from the bulk state (no warm starts)"
    )
    args = ap.parse_args()
    if args.mode == "point":
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
        logging.getLogger("confine").setLevel(logging.DEBUG)
        point(
            args.case,
            parse_sets(args.set),
            args.potential,
            args.model,
            args.level,
            args.json,
            args.warm_from,
            args.linear_solver,
        )
        return
    if args.mode == "summarize":
        record = summarize(json.loads(args.out.read_text(encoding="utf-8")))
        _write(args.out, record)
        report(record)
        return
    with contextlib.suppress(AttributeError):
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    study(args)


if __name__ == "__main__":
    main()
