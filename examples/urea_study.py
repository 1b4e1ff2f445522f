"""The pore-size study of Du et al. (Nat. Commun. 2025), Fig. 6, from confine's Python API.

Runs the urea network on the axisymmetric cell for the three pore sizes of the
study (4.18, 7.55 and 11.12 nm BJH means) at one electrode potential and draws
one figure, ``urea-study.png``:

(a) concentration maps of CO2, NO3-, *H and urea on a cut through a pore (the
    (r, z) cell mirrored about the pore axis, zoomed on the shell); *H is an
    adsorbed coverage and is drawn on the catalytic layer only;
(b) formation rates of *H, *NO, H2 and urea per particle against pore size;
(c) C_I/C_E (cavity mean over outer-pore-mouth mean) of CO2, NO3-, *H, *NO and
    urea per pore size. Adsorbed species have no concentration in the cavity
    or at the mouths: they are left out of (c), with a note on the figure.

The plotted numbers go to ``urea-study.csv`` beside it. Usage::

    python examples/urea_study.py --out results/urea-study           # 6 cells per pore
    python examples/urea_study.py --out /tmp/study --coarse          # CI: seconds

The kinetics are those of ``cases/mchs-7nm.toml``, calibrated at 7 nm only;
the 4 and 11 nm panels are predictions (see cases/README.md).
"""

from __future__ import annotations

import argparse
import csv
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

import confine
from confine.case import Case
from confine.result import Result

ROOT = Path(__file__).resolve().parent.parent
BASE_CASE = ROOT / "cases" / "mchs-7nm.toml"

#: The three samples of the study: label -> overrides of the 7 nm case. The 4 and
#: 11 nm entries equal cases/mchs-4nm.toml and cases/mchs-11nm.toml (the 7 nm case
#: with only geometry.pore_diameter changed; a test checks that those files agree).
PORE_SIZES: dict[str, dict[str, str]] = {
    "4 nm": {"geometry.pore_diameter": "4.18 nm"},
    "7 nm": {},  # 7.55 nm: the base case as it is
    "11 nm": {"geometry.pore_diameter": "11.12 nm"},
}
MAP_SPECIES = ("CO2", "NO3-", "*H", "urea")
RATE_SPECIES = ("*H", "*NO", "H2", "urea")
RATIO_SPECIES = ("CO2", "NO3-", "*H", "*NO", "urea")
COARSE = {"mesh.cells_per_pore_diameter": 3}


def load_cases(potential: str | None, coarse: bool, base: Path = BASE_CASE) -> dict[str, Case]:
    """The case of every pore size, with the potential and mesh settings asked for.

    Args:
        potential: electrode potential vs RHE (e.g. ``"-1.1 V"``); None keeps the case's.
        coarse: a coarse mesh (``mesh.cells_per_pore_diameter = 3``), for CI.
        base: the 7 nm case file.

    Returns:
        Pore-size label -> validated case.
    """
    common: dict[str, Any] = {"output.fields": False, "output.figures": False}
    if potential is not None:
        common["electrode.potential"] = potential
    if coarse:
        common |= COARSE
    return {label: confine.load_case(base, set=common | sets) for label, sets in PORE_SIZES.items()}


def formation_rate(case: Case, result: Result, species: str) -> float:
    """Gross formation rate of a species per particle (mol/s): what the steps make of it.

    Sums, over every reaction, the stoichiometric coefficient of the species on
    the side the net rate runs to (products for a forward net rate, reactants
    for a backward one) times the rate. For an intermediate (*H, *NO) this is
    its production by the electrochemical steps, not its net production (which
    is zero at steady state); for a product that nothing consumes (H2, urea) it
    equals ``products.<name>.production_mol_s``.
    """
    total = 0.0
    for r in case.reactions:
        rate = float(result.metric(f"reactions.{r.name}.rate_mol_s"))
        made = r.products.get(species, 0.0) if rate > 0 else r.reactants.get(species, 0.0)
        total += made * abs(rate)
    return total


def ratio(result: Result, species: str) -> float | None:
    """C_I/C_E of a species (of an adsorbed one: its coverage's, cavity layer over the
    layer at the outer mouths); None where the metrics have none."""
    entry = result.metrics["species"].get(species, {})
    value = entry.get("ratio_interior_exterior")
    if isinstance(value, Mapping):
        value = value.get("value")
    return None if value is None else float(value)


def table_rows(cases: Mapping[str, Case], results: Mapping[str, Result]) -> list[dict[str, Any]]:
    """One row per pore size: the numbers of panels (b) and (c)."""
    rows = []
    for label, case in cases.items():
        res = results[label]
        row: dict[str, Any] = {
            "pore_size": label,
            "pore_diameter_nm": case.geometry.pore_diameter / 1e-9,
            "electrode_potential_V": case.electrode.potential,
        }
        for s in RATE_SPECIES:
            row[f"formation_{s}_mol_s"] = formation_rate(case, res, s)
        for s in RATIO_SPECIES:
            row[f"ratio_CI_CE_{s}"] = ratio(res, s)
        for s in (sp.name for sp in case.species if sp.phase == "adsorbed"):
            row[f"mean_coverage_{s}"] = float(res.metric(f"species.{s}.mean_coverage"))
        rows.append(row)
    return rows


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """The plotted numbers; empty cells where a quantity is not defined."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        for row in rows:
            w.writerow({k: "" if v is None else v for k, v in row.items()})


def section_data(result: Result, window: tuple[float, float]) -> dict[str, Any]:
    """The mirrored (r, z) section of a result, clipped to a radial window (nm).

    Uses :meth:`Result.to_pyvista` and :func:`confine.figures.section` (the cut
    confine's own figures show).

    Returns:
        ``points`` (n, 2) in nm with the radial distance from the particle centre
        along x, ``triangles`` (m, 3), ``subdomain`` (m,), and one array of point
        values per field.
    """
    from confine.figures import section

    cut = section(result.to_pyvista(), axisymmetric=True).triangulate()
    xy = np.asarray(cut.points[:, :2], dtype=float)
    cells = np.asarray(cut.cells_dict[5], dtype=np.int64)  # VTK_TRIANGLE
    radius = np.linalg.norm(xy[cells].mean(axis=1), axis=1)
    keep = (radius >= window[0]) & (radius <= window[1])
    data: dict[str, Any] = {
        # rotate: the pore axis (y of the cell) along x, so the maps are wide and short
        "points": np.column_stack([xy[:, 1], xy[:, 0]]),
        "triangles": cells[keep],
        "subdomain": np.asarray(cut.cell_data["subdomain"])[keep],
    }
    used = np.unique(data["triangles"])
    data["half_width"] = float(np.abs(data["points"][used, 1]).max())
    for name in cut.point_data:
        data[name] = np.asarray(cut.point_data[name], dtype=float)
    return data


def draw(
    cases: Mapping[str, Case],
    results: Mapping[str, Result],
    rows: Sequence[Mapping[str, Any]],
    path: Path,
    *,
    panels: Sequence[str] = ("a", "b", "c"),
) -> None:
    """The three-panel figure.

    Args:
        cases: pore-size label -> case.
        results: pore-size label -> result.
        rows: the numbers of panels (b) and (c) (:func:`table_rows`).
        path: the PNG to write.
        panels: the letters of the three panels (``("d", "e", "f")`` for the study's Fig. 6).
    """
    from matplotlib import colors, ticker
    from matplotlib.figure import Figure
    from matplotlib.tri import Triangulation

    from confine.geometry.groups import tags

    first = next(iter(cases.values()))
    g = first.geometry
    r_out = g.outer_diameter / 2 / 1e-9
    r_in = r_out - g.shell_thickness / 1e-9
    margin = 0.25 * g.shell_thickness / 1e-9
    window = (r_in - margin, r_out + margin)
    sections = {label: section_data(results[label], window) for label in cases}
    adsorbed = {s.name for s in first.species if s.phase == "adsorbed"}
    layer = np.array(tags("catalyst_layer"))

    labels = list(cases)
    fig = Figure(figsize=(13, 11.5), layout="constrained")
    # two rows: an array of two SubFigures (typed as "array or one SubFigure")
    top, bottom = cast(Sequence[Any], fig.subfigures(2, 1, height_ratios=[1.35, 1.0]))
    top.suptitle(
        f"({panels[0]}) cut through a pore at {first.electrode.potential:g} V vs RHE "
        "(bath right, cavity left; r from the particle centre)",
        fontsize=10,
    )
    axes = top.subplots(len(MAP_SPECIES), len(labels), sharex=True, sharey=True, squeeze=False)
    for i, name in enumerate(MAP_SPECIES):
        on_layer = name in adsorbed
        values = []
        for label in labels:
            d = sections[label]
            tri = d["triangles"][np.isin(d["subdomain"], layer)] if on_layer else d["triangles"]
            values.append(d[name][np.unique(tri)])
        allv = np.concatenate(values)
        pos = allv[allv > 0]
        norm: colors.Normalize
        if pos.size and pos.max() / pos.min() > 100:
            norm = colors.LogNorm(vmin=pos.min(), vmax=pos.max())
        else:
            norm = colors.Normalize(vmin=float(allv.min()), vmax=float(allv.max()))
        mappable = None
        for j, label in enumerate(labels):
            ax = axes[i, j]
            d = sections[label]
            tri = d["triangles"][np.isin(d["subdomain"], layer)] if on_layer else d["triangles"]
            outline = Triangulation(d["points"][:, 0], d["points"][:, 1], d["triangles"])
            ax.triplot(outline, color="0.85", lw=0.1)  # the fluid domain, for *H's context
            t = Triangulation(d["points"][:, 0], d["points"][:, 1], tri)
            vals = (
                np.clip(d[name], norm.vmin, None) if isinstance(norm, colors.LogNorm) else d[name]
            )
            mappable = ax.tripcolor(t, vals, shading="gouraud", norm=norm, cmap="viridis")
            ax.set_aspect("equal")
            ax.set_xlim(*window)
            half = max(sections[lab]["half_width"] for lab in labels)
            ax.set_ylim(-half, half)
            if i == 0:
                ax.set_title(f"{label} ({cases[label].geometry.pore_diameter / 1e-9:.2f} nm)")
            if j == 0:
                ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=10)
            if i == len(MAP_SPECIES) - 1:
                ax.set_xlabel("r [nm]")
            ax.tick_params(labelsize=7)
        unit = "coverage (catalytic layer)" if on_layer else "mol/L"
        cb = top.colorbar(mappable, ax=axes[i, :].tolist(), shrink=0.9, pad=0.01)
        cb.set_label(unit, fontsize=8)
        if not isinstance(norm, colors.LogNorm):  # full values, no "1e-7+3.4e-2" offsets
            cb.formatter = ticker.FormatStrFormatter("%.6g")
            cb.update_ticks()
        cb.ax.tick_params(labelsize=7)

    ax_b, ax_c = bottom.subplots(1, 2)
    d_nm = [row["pore_diameter_nm"] for row in rows]
    for k, s in enumerate(RATE_SPECIES):
        ax_b.plot(d_nm, [row[f"formation_{s}_mol_s"] for row in rows], "o-", color=f"C{k}", label=s)
    ax_b.set_yscale("log")
    ax_b.set_xticks(d_nm, [f"{d:.2f}" for d in d_nm])
    ax_b.set_xlabel("pore diameter [nm]")
    ax_b.set_ylabel("formation rate per particle [mol/s]")
    ax_b.set_title(f"({panels[1]}) production of *H, *NO, H2 and urea", fontsize=10)
    ax_b.legend(fontsize=8)

    shown = [s for s in RATIO_SPECIES if all(row[f"ratio_CI_CE_{s}"] is not None for row in rows)]
    left_out = [s for s in RATIO_SPECIES if s not in shown]
    width = 0.8 / max(len(rows), 1)
    x = np.arange(len(shown))
    for k, row in enumerate(rows):
        heights = [row[f"ratio_CI_CE_{s}"] for s in shown]
        ax_c.bar(x + (k - (len(rows) - 1) / 2) * width, heights, width, label=row["pore_size"])
    ax_c.axhline(1.0, color="0.3", lw=0.8, ls="--")
    ax_c.set_xticks(x, shown)
    ratios = [row[f"ratio_CI_CE_{s}"] for row in rows for s in shown]
    if ratios and min(ratios) > 0 and max(ratios) / min(ratios) > 20:
        ax_c.set_yscale("log")
    ax_c.set_ylabel("C_I / C_E")
    ax_c.set_title(
        f"({panels[2]}) C_I/C_E: cavity mean / outer pore-mouth mean\n"
        "(coverages: cavity layer / layer at the outer mouths)",
        fontsize=10,
    )
    ax_c.legend(fontsize=8, title="pore size", title_fontsize=8)
    if left_out:
        ax_c.text(
            0.02,
            0.98,
            f"{', '.join(left_out)}: adsorbed (coverages on the catalyst sites),\n"
            "no concentration in the cavity or at the mouths: no C_I/C_E.\n"
            "Mean coverages are in the CSV.",
            transform=ax_c.transAxes,
            va="top",
            fontsize=7,
            bbox={"facecolor": "white", "edgecolor": "0.7", "alpha": 0.9},
        )
    fig.savefig(path, dpi=110)


def main(argv: Sequence[str] | None = None) -> Path:
    """Run the three pore sizes, write the figure and its CSV, print where.

    Args:
        argv: command-line arguments (default: ``sys.argv``).

    Returns:
        The PNG written.
    """
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "results" / "urea-study")
    p.add_argument("--potential", default=None, help='e.g. "-0.9 V" (default: the case\'s)')
    p.add_argument("--coarse", action="store_true", help="3 cells per pore diameter (CI)")
    p.add_argument("--case", type=Path, default=BASE_CASE, help="the 7 nm case file")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    cases = load_cases(args.potential, args.coarse, args.case)
    results = {}
    for label, case in cases.items():
        results[label] = confine.run(case)
        print(f"{label}: solved in {results[label].metric('solver.wall_time_s'):.1f} s")
    rows = table_rows(cases, results)
    bad = [
        (row["pore_size"], s)
        for row in rows
        for s in RATE_SPECIES
        if not (math.isfinite(row[f"formation_{s}_mol_s"]) and row[f"formation_{s}_mol_s"] > 0)
    ]
    if bad:
        raise RuntimeError(f"no positive formation rate for {bad}: nothing to plot on a log axis")
    args.out.mkdir(parents=True, exist_ok=True)
    png, table = args.out / "urea-study.png", args.out / "urea-study.csv"
    write_csv(table, rows)
    draw(cases, results, rows, png)
    print(f"wrote {png} and {table} ({time.perf_counter() - t0:.0f} s)")
    return png


if __name__ == "__main__":
    main()
