"""C_I/C_E bands per pore size from the three uncertainty sweeps (their ``bands.csv``).

Run the sweeps first (48 runs), then draw::

    for s in 4nm 7nm 11nm; do
      confine sweep cases/sweeps/pore-size-uncertainty-$s.sweep.toml --out results/uncertainty-$s
    done
    python examples/uncertainty_bands.py results/uncertainty-4nm results/uncertainty-7nm \\
        results/uncertainty-11nm --out results/uncertainty

Writes ``ratio-bands.png`` (median and 5-95 % band of C_I/C_E of every solution
species, a marker per pore size) and ``ratio-bands.csv`` (the rows plotted) into
``--out``. The spreads behind the bands are stated in the sweep files: the TEM
size spread is measured, the pore-size spread is an assumption.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

RATIO = ".ratio_interior_exterior [1]"
PORE = "geometry.pore_diameter [nm]"


def ratio_bands(sweep_dirs: Sequence[Path]) -> pd.DataFrame:
    """C_I/C_E rows of the sweeps' bands.csv, with the sweep's mean pore diameter.

    Returns:
        One row per sweep and species: ``sweep``, ``pore_diameter_nm`` (the mean
        of the sampled diameters), ``species``, ``n``, ``p05``, ``p50``, ``p95``.
    """
    rows = []
    for d in sweep_dirs:
        bands = pd.read_csv(Path(d) / "bands.csv")
        pore = bands.loc[bands["quantity"] == PORE, "mean"]
        ratios = bands[
            bands["quantity"].str.startswith("species.") & bands["quantity"].str.endswith(RATIO)
        ]
        for _, r in ratios.iterrows():
            rows.append(
                {
                    "sweep": Path(d).name,
                    "pore_diameter_nm": float(pore.iloc[0]) if len(pore) else float("nan"),
                    "species": r["quantity"].removeprefix("species.").removesuffix(RATIO),
                    "n": int(r["n"]),
                    "p05": r["p05"],
                    "p50": r["p50"],
                    "p95": r["p95"],
                }
            )
    return pd.DataFrame(rows)


def draw(table: pd.DataFrame, path: Path) -> None:
    """Median and 5-95 % band per species (x) and pore size (offset markers)."""
    from matplotlib.figure import Figure

    species = list(dict.fromkeys(table["species"]))
    sweeps = list(dict.fromkeys(table["sweep"]))
    fig = Figure(figsize=(max(6.0, 0.7 * len(species) + 2), 4.2), layout="constrained")
    ax = fig.subplots()
    width = 0.8 / max(len(sweeps), 1)
    for k, name in enumerate(sweeps):
        rows = table[table["sweep"] == name].set_index("species").reindex(species)
        x = [i + (k - (len(sweeps) - 1) / 2) * width for i in range(len(species))]
        err = [rows["p50"] - rows["p05"], rows["p95"] - rows["p50"]]
        d = rows["pore_diameter_nm"].dropna()
        label = f"{d.iloc[0]:.2f} nm ({name})" if len(d) else name
        ax.errorbar(x, rows["p50"], yerr=err, fmt="o", ms=4, capsize=3, label=label)
    ax.axhline(1.0, color="0.4", lw=0.8, ls="--")
    ax.set_xticks(range(len(species)), species, rotation=45, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("C_I / C_E  (median, 5-95 %)")
    ax.set_title("C_I/C_E bands: TEM size spread (measured) + pore-size spread (assumed)")
    ax.legend(fontsize=8, title="pore size", title_fontsize=8)
    fig.savefig(path, dpi=120)


def main(argv: Sequence[str] | None = None) -> Path:
    """Read the sweeps' bands, write the PNG and CSV, print where.

    Args:
        argv: command-line arguments (default: ``sys.argv``).

    Returns:
        The PNG written.
    """
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("sweeps", nargs="+", type=Path, help="output directories of the sweeps")
    p.add_argument("--out", type=Path, default=Path("results") / "uncertainty")
    args = p.parse_args(argv)
    table = ratio_bands(args.sweeps)
    if table.empty:
        raise SystemExit("no C_I/C_E rows in the bands.csv files given")
    args.out.mkdir(parents=True, exist_ok=True)
    png, csv = args.out / "ratio-bands.png", args.out / "ratio-bands.csv"
    table.to_csv(csv, index=False)
    draw(table, png)
    print(f"wrote {png} and {csv}")
    return png


if __name__ == "__main__":
    main()
