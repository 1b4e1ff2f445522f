# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # confine in four steps: a case, a pore sweep, the fields, a fit
#
# A plain Python script in jupytext's percent format: run it with
# `python examples/tutorial.py` from the repository root, or open it as a notebook
# (`jupytext --to notebook examples/tutorial.py`). CI runs it (tests/test_readme.py),
# so every mesh here is coarse: the numbers show the workflow, not converged results
# (drop the `COARSE` overrides for those).
#
# Outputs go to `results/tutorial/` (or the folder in `CONFINE_TUTORIAL_OUT`).

# %%
import os
from pathlib import Path

import numpy as np

import confine

OUT = Path(os.environ.get("CONFINE_TUTORIAL_OUT", "results/tutorial"))
OUT.mkdir(parents=True, exist_ok=True)
COARSE = {"mesh.cells_per_pore_diameter": 4, "mesh.max_cell_size": "40 nm"}

# %% [markdown]
# ## 1. One case
#
# `cases/mchs-7nm.toml` is the urea study's hollow mesoporous carbon sphere with
# 7.55 nm pores, solved on an axisymmetric cell (one pore and its share of the
# shell, cavity and bath). `set={...}` overrides any key by its dotted path, in the
# units you write; inside the code every value is an SI float.

# %%
case = confine.load_case("cases/mchs-7nm.toml", set=COARSE)
print(case.geometry.model, case.geometry.pore_diameter, "m")
result = confine.run(case, out=OUT / "mchs-7nm")
for key in (
    "species.urea.ratio_interior_exterior",  # C_I/C_E: cavity over bath concentration
    "products.urea.faradaic_efficiency",
    "current_density_A_per_m2",
):
    print(f"{key:40s} {result.metric(key):.4g}")

# %% [markdown]
# ## 2. A pore sweep
#
# A sweep is a base case and the values to try; here given as a dict with the
# structure of a sweep file (`cases/sweeps/*.sweep.toml`). Each point is one run in
# its own folder; the sweep resumes where it stopped and merges `results.csv`.
# `jobs=2` runs points in two worker processes: the script needs no
# `if __name__ == "__main__":` guard.

# %%
sweep = {
    "sweep": {"name": "tutorial-pores", "case": str(Path("cases/mchs-7nm.toml").resolve())},
    "set": {**COARSE, "output.fields": False, "output.figures": False},
    "parameters": {"geometry.pore_diameter": ["4.18 nm", "11.12 nm"]},
}
table = confine.sweep(sweep, out=OUT / "pore-sweep", jobs=2, plots=False)
columns = [
    "geometry.pore_diameter [nm]",
    "species.urea.ratio_interior_exterior [1]",
    "products.urea.faradaic_efficiency [1]",
]
print(table[columns].to_string(index=False))

# %% [markdown]
# ## 3. The fields in pyvista
#
# `result.to_pyvista()` gives the solution as a pyvista grid: one point array per
# species (mol/L), the potential (V), coverages, and the subdomain tags as cell
# data. Coordinates are in nm; on the axisymmetric cell x is the radius from the
# pore axis and y the height along it. The same fields are in
# `OUT/mchs-7nm/fields.xdmf` (ParaView) and `vtk/fields.pvd`.

# %%
import pyvista as pv  # noqa: E402 (the notebook's imports are where they are used)

pv.OFF_SCREEN = True  # no window: render to a file
grid = result.to_pyvista()
print(grid)
urea = np.asarray(grid.point_data["urea"])
print(f"urea: {urea.min():.4g} .. {urea.max():.4g} mol/L over {grid.n_points} nodes")

# the shell and a little of the cavity and bath around it: y is the distance from
# the sphere's centre, the pore runs from the cavity (r_in) to the outer surface
r_out = case.geometry.outer_diameter / 2 * 1e9  # nm
r_in = r_out - case.geometry.shell_thickness * 1e9
x_min, x_max, _, _, z_min, z_max = grid.bounds
shell = grid.clip_box((x_min, x_max, r_in - 10, r_out + 10, z_min - 1, z_max + 1), invert=False)
plotter = pv.Plotter(off_screen=True, window_size=(600, 900))
bar = {"title": "urea [mol/L]", "vertical": True, "position_x": 0.8, "position_y": 0.25}
plotter.add_mesh(shell, scalars="urea", cmap="viridis", scalar_bar_args=bar)
plotter.show_bounds(
    xtitle="r [nm]", ytitle="distance from the centre [nm]", n_xlabels=2, fmt="%.0f"
)
plotter.view_xy()
plotter.screenshot(OUT / "fields.png")
plotter.close()
print("wrote", OUT / "fields.png")

# %% [markdown]
# ## 4. A fit
#
# `confine fit` adjusts case parameters by bounded least squares until chosen
# metrics match measured values, and reports 95 % intervals, sensitivities and
# correlations. A twin experiment shows it: the verification case
# `cases/first-order-shell.toml` (A → B, first order in the catalytic layer) is run
# at a known rate constant to make the "measurement", and the fit recovers that
# constant from a start three times too small. The fit-file reference is
# docs/sweeps.md, "Fit files".

# %%
shell = "cases/first-order-shell.toml"
k_true = 1e5  # 1/s
measured = confine.run(confine.load_case(shell, set={**COARSE, "output.fields": False}))
rate = measured.metric("products.B.production_mol_s")
data = OUT / "twin.csv"
data.write_text(
    "quantity,value,uncertainty,unit,source\n"
    f"production.B,{rate!r},{0.02 * rate!r},mol/s,twin run at k = {k_true:g} 1/s\n",
    encoding="utf-8",
)
fit_spec = {
    "fit": {"name": "tutorial-twin", "case": str(Path(shell).resolve()), "data": str(data)},
    "set": {**COARSE, "output.fields": False, "output.figures": False},
    "parameters": {
        "reactions.consume.rate_constant": {
            "start": "3e4 1/s",
            "bounds": ["1e3 1/s", "1e7 1/s"],
        }
    },
    "targets": {"production.B": "products.B.production_mol_s"},
}
report = confine.fit(fit_spec, out=OUT / "fit")
print(report.to_markdown())
