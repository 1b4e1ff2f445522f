"""Do the pores' double layers change the urea study? ``secondary`` against ``poisson-steric``.

At 0.1 M the Debye length is 0.96 nm, while the 4 nm pores have a 2.1 nm
radius. This study runs the urea cases at 4.18, 7.55 and 11.12 nm twice on the
same mesh, once electroneutral-ohmic (``secondary``) and once resolving the
double layers with finite ion sizes (``poisson-steric``), and tabulates what
the double layer changes: C_I/C_E of each species, the nitrate exclusion from
the pores, the reaction-plane potential, wall charge, currents and FEs.

Each case is ``cases/mchs-<size>.toml`` changed only as a double-layer run needs:

* the catalyst is the carbon wall itself (``geometry.catalyst = "surface"``: the
  pore and cavity walls), with the *same per-site kinetics*: every catalytic
  rate constant × the 2 nm layer thickness (a layer's Γ_ref is Γ / t, a
  surface's Γ), the same metal inventory and sites;
* the bath is held at bulk 300 nm out (``bath_boundary = "bulk"``, which the
  poisson models need), and the mesh is refined at every wall
  (``mesh.boundary_layer``: first cell 0.1 λ_D);
* ``poisson-steric`` only: the carbon walls are the polarised cathode behind a
  Stern layer, ``[[walls]]`` with ``STERN_CAPACITANCE`` and
  ``ZERO_CHARGE_POTENTIAL``; lattice sizes from the case's hydrated radii
  (a = 2r); Tafel steps at the reaction plane (``electrode.frumkin``), or, with
  ``--no-frumkin``, against the bath.

Usage::

    python examples/double_layer_study.py --out results/double-layer        # minutes
    python examples/double_layer_study.py --out /tmp/dl --coarse --sizes 7  # CI

Writes ``double-layer-study.csv`` and ``double-layer-study.json`` (one row per
pore size and model) and each run's own result directory.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path
from typing import Any

import confine
from confine.case import Case, apply_overrides, case_from_dict
from confine.result import Result

ROOT = Path(__file__).resolve().parent.parent
CASES = {"4": "mchs-4nm.toml", "7": "mchs-7nm.toml", "11": "mchs-11nm.toml"}
MODELS = ("secondary", "poisson-steric")
#: Compact (Stern) layer of the carbon walls: 10 µF/cm², the order of the inner-layer
#: capacitance of carbon and metal electrodes in water (Bard & Faulkner, ch. 13).
#: Assumed, not measured for these carbons.
STERN_CAPACITANCE = "0.1 F/m^2"
#: Potential of zero charge of the carbon walls: ≈ 0 V vs SHE (carbons lie at about
#: −0.1 … +0.3 V vs SHE), that is +0.24 V vs RHE at the bath's pH 4.1. Assumed.
ZERO_CHARGE_POTENTIAL = "0.24 V"
WALLS = ("pore_wall", "cavity_wall", "outer_surface")
COARSE = {"mesh.cells_per_pore_diameter": 3, "mesh.first_cell_debye_fraction": 0.25}
SPECIES = ("CO2", "NO3-", "K+", "H+", "OH-", "HCO3-", "NO2-", "NH4+", "urea")


def _surface_constant(text: str, thickness: float) -> str:
    """A layer rate constant 'value unit' (per m³) as the areal one: × thickness (m)."""
    value, unit = text.split(" ", 1)
    return f"{float(value) * thickness!r} {unit}*m"


def double_layer_case(
    size: str,
    model: str,
    frumkin: bool = True,
    overrides: dict[str, Any] | None = None,
    stern_capacitance: str = STERN_CAPACITANCE,
    zero_charge_potential: str = ZERO_CHARGE_POTENTIAL,
) -> Case:
    """The urea case of one pore size, prepared for a double-layer comparison.

    Args:
        size: "4", "7" or "11" (the case files of cases/).
        model: "secondary" or "poisson-steric".
        frumkin: poisson-steric: Tafel steps at the reaction plane.
        overrides: further dotted-key overrides (mesh settings, potential).
        stern_capacitance: poisson-steric: C_S of the carbon walls.
        zero_charge_potential: poisson-steric: their E_pzc (vs RHE).
    """
    path = ROOT / "cases" / CASES[size]
    base = confine.load_case(path)
    raw, thickness = base.to_dict(), base.geometry.catalyst_layer
    for r in raw["reactions"]:
        if r["where"] == "layer":
            r["where"] = "surface"
            r["rate_constant"] = _surface_constant(r["rate_constant"], thickness)
            if "backward_rate_constant" in r:
                r["backward_rate_constant"] = _surface_constant(
                    r["backward_rate_constant"], thickness
                )
    sets: dict[str, Any] = {
        "geometry.catalyst": "surface",
        "geometry.bath_boundary": "bulk",
        "mesh.boundary_layer": True,
        "electrolyte.potential_model": model,
        "output.fields": False,
        "output.figures": False,
        **(overrides or {}),
    }
    if model != "secondary":
        raw["walls"] = [
            {
                "name": w,
                "condition": "stern",
                "stern_capacitance": stern_capacitance,
                "zero_charge_potential": zero_charge_potential,
            }
            for w in WALLS
        ]
        sets["electrode.frumkin"] = frumkin
    apply_overrides(raw, sets, str(path))
    raw["case"]["name"] = f"{raw['case']['name']}-{model}" + ("" if frumkin else "-no-frumkin")
    return case_from_dict(raw, f"{path} (double-layer study)")


def _metric(result: Result, path: str) -> float | None:
    try:
        return float(result.metric(path))
    except (KeyError, TypeError, ValueError):
        return None


def summarize(result: Result, size: str, model: str, seconds: float) -> dict[str, Any]:
    """One row of the study: what the double layer could change, as numbers."""
    m = result.metrics
    row: dict[str, Any] = {"pore": size, "model": model, "seconds": round(seconds, 1)}
    row["newton_iterations"] = _metric(result, "solver.newton_iterations")
    row["dofs"] = _metric(result, "mesh.dofs")
    row["newton_iterations_per_step"] = m["solver"]["newton_iterations_per_step"]
    row["max_cell_peclet"] = _metric(result, "solver.max_cell_peclet")
    row["current_density_A_m2"] = _metric(result, "current_density_A_per_m2")
    for p in ("urea", "NH4+", "NH3", "NO2-", "H2"):
        row[f"FE_{p}"] = _metric(result, f"products.{p}.faradaic_efficiency")
    for s in SPECIES:
        row[f"CI_CE_{s}"] = _metric(result, f"species.{s}.ratio_interior_exterior")
        # the outer mouths lie in the outer surface's double layer: the bath as reference
        by = m["species"][s].get("ratio_by_definition", {}).get("cavity/bath", {})
        row[f"cavity_over_bath_{s}"] = by.get("value") if isinstance(by, dict) else None
    row["pH_cavity"] = _metric(result, "local_pH.cavity")
    row["pH_mouth"] = _metric(result, "local_pH.mouth_outer")
    mid = m.get("pore_middle", {}).get("species", {})
    for s in ("NO3-", "K+", "H+"):
        mean = mid.get(s, {}).get("section_mean_mol_L", {}).get("value")
        bulk = result.case.species_named(s).bulk / 1000.0  # mol/L
        row[f"pore_middle_{s}_over_bulk"] = mean / bulk if mean is not None else None
    row["pore_middle_phi_wall_V"] = _metric(result, "pore_middle.phi_wall_V")
    row["pore_middle_phi_axis_V"] = _metric(result, "pore_middle.phi_axis_V")
    for w in ("pore_wall", "cavity_wall"):
        row[f"{w}_potential_V"] = _metric(result, f"walls.{w}.potential_V")
        row[f"{w}_charge_C_m2"] = _metric(result, f"walls.{w}.surface_charge_C_per_m2")
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="output directory")
    ap.add_argument("--sizes", nargs="+", default=list(CASES), choices=list(CASES))
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    ap.add_argument("--potential", default=None, help='electrode potential, e.g. "-0.9 V"')
    ap.add_argument("--coarse", action="store_true", help="coarse meshes (CI)")
    ap.add_argument("--no-frumkin", action="store_true", help="poisson-steric without Frumkin")
    ap.add_argument("--stern-capacitance", default=STERN_CAPACITANCE, help='e.g. "0.2 F/m^2"')
    ap.add_argument("--zero-charge-potential", default=ZERO_CHARGE_POTENTIAL, help="vs RHE")
    args = ap.parse_args(argv)
    overrides: dict[str, Any] = dict(COARSE) if args.coarse else {}
    if args.potential:
        overrides["electrode.potential"] = args.potential
    rows = []
    for size in args.sizes:
        for model in args.models:
            case = double_layer_case(
                size,
                model,
                not args.no_frumkin,
                overrides,
                args.stern_capacitance,
                args.zero_charge_potential,
            )
            t0 = time.perf_counter()
            result = confine.run(case, out=args.out / f"{size}nm-{model}")
            rows.append(summarize(result, size, model, time.perf_counter() - t0))
            print(json.dumps(rows[-1]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "double-layer-study.json").write_text(json.dumps(rows, indent=1) + "\n")
    with open(args.out / "double-layer-study.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
