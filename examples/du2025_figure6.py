"""The study's own model of Du et al. (Nat. Commun. 2025), Fig. 6d–f: mobile *H and *NO.

Runs ``cases/du2025-model/du2025-{4,7,11}nm.toml`` (secondary current
distribution, Nernst–Planck with migration and the mean-field steric term,
*H and *NO as mobile solution species, the particle in an infinite bath; the
three files differ only in the pore diameter) on the axisymmetric cell at one
electrode potential and draws one figure, ``du2025-figure6.png``:

(d) concentration maps of CO2, NO3-, *H and urea (mol/L) on a cut through a
    pore (the (r, z) cell mirrored about the pore axis, zoomed on the shell);
(e) formation rates of *H, *NO, H2 and urea per particle against pore size;
(f) C_I/C_E (cavity mean over outer-pore-mouth mean) of CO2, NO3-, *H, *NO and
    urea per pore size: the intermediates are solution species here, so all
    five have one.

The plotted numbers go to ``du2025-figure6.csv`` beside it (with urea's C_I/C_E
by every definition the metrics give), and the urea C_I/C_E at 7 nm is printed
beside the study's 1.62. Usage::

    python examples/du2025_figure6.py --out results/du2025-figure6          # 6 cells per pore
    python examples/du2025_figure6.py --out /tmp/fig6 --coarse              # CI: seconds

The maps, panels and CSV are those of ``examples/urea_study.py`` (the same
functions, loaded from beside this file); only the cases differ. Every choice
of the cases, and how urea C_I/C_E moves with each, is in cases/README.md
("The study's own model").
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import confine
from confine.case import Case
from confine.result import Result

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "cases" / "du2025-model"
#: Pore-size label -> case file (the 4 and 11 nm files are the 7 nm one by ``base``).
PORE_SIZES = {
    "4 nm": CASES / "du2025-4nm.toml",
    "7 nm": CASES / "du2025-7nm.toml",
    "11 nm": CASES / "du2025-11nm.toml",
}
#: The study's urea C_I/C_E at 7 nm (Du et al. 2025, Fig. 6f).
STUDY_UREA_RATIO_7NM = 1.62


def _urea_study() -> ModuleType:
    """examples/urea_study.py, loaded by path (examples are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(
        "urea_study", Path(__file__).with_name("urea_study.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


STUDY = _urea_study()


def load_cases(potential: str | None, coarse: bool) -> dict[str, Case]:
    """The three cases, with the potential and mesh settings asked for.

    Args:
        potential: electrode potential vs RHE (e.g. ``"-1.1 V"``); None keeps the case's.
        coarse: a coarse mesh (``mesh.cells_per_pore_diameter = 3``), for CI.

    Returns:
        Pore-size label -> validated case.
    """
    common: dict[str, Any] = {"output.fields": False, "output.figures": False}
    if potential is not None:
        common["electrode.potential"] = potential
    if coarse:
        common |= STUDY.COARSE
    return {label: confine.load_case(path, set=common) for label, path in PORE_SIZES.items()}


def table_rows(cases: Mapping[str, Case], results: Mapping[str, Result]) -> list[dict[str, Any]]:
    """The rows of urea_study.table_rows, plus urea's C_I/C_E by every definition."""
    rows = STUDY.table_rows(cases, results)
    for row, label in zip(rows, cases, strict=True):
        by_def = results[label].metrics["species"]["urea"].get("ratio_by_definition") or {}
        for name, entry in by_def.items():
            value = entry.get("value") if isinstance(entry, Mapping) else entry
            row[f"urea_ratio_{name}"] = None if value is None else float(value)
    return rows


def main(argv: Sequence[str] | None = None) -> Path:
    """Run the three pore sizes, write the figure and its CSV, print urea C_I/C_E at 7 nm.

    Args:
        argv: command-line arguments (default: ``sys.argv``).

    Returns:
        The PNG written.
    """
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "results" / "du2025-figure6")
    p.add_argument("--potential", default=None, help='e.g. "-0.9 V" (default: the case\'s)')
    p.add_argument("--coarse", action="store_true", help="3 cells per pore diameter (CI)")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    cases = load_cases(args.potential, args.coarse)
    results = {}
    for label, case in cases.items():
        results[label] = confine.run(case)
        print(f"{label}: solved in {results[label].metric('solver.wall_time_s'):.1f} s")
    rows = table_rows(cases, results)
    args.out.mkdir(parents=True, exist_ok=True)
    png, table = args.out / "du2025-figure6.png", args.out / "du2025-figure6.csv"
    STUDY.write_csv(table, rows)
    STUDY.draw(cases, results, rows, png, panels=("d", "e", "f"))
    seven = next(row for row in rows if row["pore_size"] == "7 nm")
    print(
        f"urea C_I/C_E at 7 nm: {seven['ratio_CI_CE_urea']:.3g} "
        f"(the study: {STUDY_UREA_RATIO_7NM}; cavity mean / outer pore-mouth mean)"
    )
    print(f"wrote {png} and {table} ({time.perf_counter() - t0:.0f} s)")
    return png


if __name__ == "__main__":
    main()
