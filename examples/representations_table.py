"""The three representations of *H and *NO compared (issue 23, item 3): each calibrated
at 7 nm (``cases/fit/representations/<name>/fitted-case.toml``), then 4 nm, 11 nm and the
CS control predicted at -0.7 and -1.1 V with nothing retuned::

    for r in immobile surface mobile; do
      confine fit cases/fit/representations/$r.fit.toml --out cases/fit/representations/$r
    done
    python examples/representations_table.py --out results/representations

Writes ``representations.csv`` (one row per representation, geometry and potential:
urea FE, yield and production, urea C_I/C_E, the intermediates' leakage fractions,
current density) into ``--out`` and prints the study's trends per representation:
7 nm best for urea (FE and yield above 4 and 11 nm at both potentials) and urea's
C_I/C_E falling as pores widen (4 > 7 > 11 nm). ``--coarse`` runs on coarse cells.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import confine
from confine.case import Case, case_from_dict, load_case
from confine.case_reader import read_case_file
from confine.document import value

ROOT = Path(__file__).resolve().parent.parent
REPRESENTATIONS = ("immobile", "surface", "mobile")
PORES_NM = {"4nm": 4.18, "7nm": 7.55, "11nm": 11.12}
POTENTIALS_V = (-1.1, -0.7)  # in this order: -0.7 V warm-starts from -1.1 V
COARSE = {"mesh.cells_per_pore_diameter": 3, "mesh.cells_across_layer": 1}


def fitted_case(name: str) -> Path:
    """The calibrated case of one representation (written by its fit)."""
    return ROOT / "cases" / "fit" / "representations" / name / "fitted-case.toml"


def prediction(name: str, where: str, potential: float, coarse: bool) -> Case:
    """One representation's calibrated case at a pore size (``4nm``...) or ``CS``.

    CS is cases/cs.toml with the representation's species and reactions (its own
    geometry: the catalyst on the outer surface only).
    """
    sets: dict[str, Any] = {"electrode.potential": f"{potential} V"}
    sets.update({"output.fields": False, "output.figures": False})
    if coarse:
        sets.update(COARSE)
    if where != "CS":
        sets["geometry.pore_diameter"] = f"{PORES_NM[where]} nm"
        return load_case(fitted_case(name), set=sets)
    raw = read_case_file(ROOT / "cases" / "cs.toml")
    fitted = read_case_file(fitted_case(name))
    raw["species"], raw["reactions"] = fitted["species"], fitted["reactions"]
    raw["case"] = {**raw["case"], "name": f"cs-{name}"}
    for key, v in sets.items():
        section, field = key.split(".")
        raw[section] = {**raw.get(section, {}), field: v}
    return case_from_dict(raw, f"cs-{name}")


def row(name: str, where: str, potential: float, coarse: bool, warm: list[Any]) -> dict[str, Any]:
    """The metrics the comparison table reads, for one run (an error: its message).

    ``warm`` holds the previous potential's result at the same geometry (or nothing):
    the run starts from it (fewer Newton iterations; every point also solves from the
    bulk state) and leaves its own result there.
    """
    out: dict[str, Any] = {"representation": name, "geometry": where, "potential_V": potential}
    try:
        result = confine.run(
            prediction(name, where, potential, coarse), initial=warm[0] if warm else None
        )
    except Exception as err:  # a failed prediction is a row too, with its reason
        out["error"] = str(err).splitlines()[0][:200]
        return out
    warm[:] = [result]
    m = result.metrics

    def get(key: str) -> Any:  # None where the metric is absent
        try:
            return value(m, key)
        except KeyError:
            return None

    out.update(
        fe_urea=get("products.urea.faradaic_efficiency"),
        yield_urea=get("yield_g_per_h_per_g_cat"),
        urea_mol_s=get("species.urea.production_mol_s"),
        ratio_urea=get("species.urea.ratio_interior_exterior"),
        leak_H=get("species.*H.leakage_fraction_of_production"),
        leak_NO=get("species.*NO.leakage_fraction_of_production"),
        current_density_A_m2=get("current_density_A_per_m2"),
    )
    return out


def trends(rows: Sequence[dict[str, Any]], name: str) -> dict[str, bool]:
    """The study's trends for one representation: 7 nm best for urea (FE and yield
    above 4 and 11 nm at both potentials), urea C_I/C_E falling 4 > 7 > 11 nm."""
    at = {(r["geometry"], r["potential_V"]): r for r in rows if r["representation"] == name}

    def get(where: str, e: float, key: str) -> float:
        return float(at[(where, e)].get(key) or float("nan"))

    best = all(
        get("7nm", e, k) > max(get("4nm", e, k), get("11nm", e, k))
        for e in POTENTIALS_V
        for k in ("fe_urea", "yield_urea")
    )
    falling = all(
        get("4nm", e, "ratio_urea") > get("7nm", e, "ratio_urea") > get("11nm", e, "ratio_urea")
        for e in POTENTIALS_V
    )
    return {"7nm_best_for_urea": best, "urea_ratio_falls_with_pore_size": falling}


def main(argv: Sequence[str] | None = None) -> Path:
    """Run every prediction, write representations.csv, print the trends."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/representations"))
    parser.add_argument("--coarse", action="store_true", help="coarse cells (a quick check)")
    parser.add_argument("--only", nargs="*", default=list(REPRESENTATIONS))
    args = parser.parse_args(argv)
    rows = []
    for name in args.only:
        for where in (*PORES_NM, "CS"):
            warm: list[Any] = []
            rows += [row(name, where, e, args.coarse, warm) for e in POTENTIALS_V]
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "representations.csv"
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    for r in rows:
        print(r)
    for name in args.only:
        print(name, trends(rows, name))
    return path


if __name__ == "__main__":
    main()
