"""Mean concentrations and potential where the catalyst is (metrics.json).

An areal catalyst: area means over its reacting surfaces (the facet groups
the geometry declares catalytic, e.g. pore and cavity walls, a planar
electrode, a sphere's surface); a catalytic layer: volume means over the
layer. These are the concentrations and the electrolyte potential the
kinetics see on average. Keys (always present, None where they do not apply):
``species.<name>.catalyst_surface_mean_mol_L``, ``catalyst_layer_mean_mol_L``,
and top-level ``catalyst_surface_mean_potential_V``,
``catalyst_layer_mean_potential_V`` (None without a potential unknown).
Every mean comes from one compiled form (:class:`confine.fem.cellwise.CellTables`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from confine.metrics.means import MOL_L

UNITS = {
    "catalyst_surface_mean_mol_L": "mol/L",
    "catalyst_layer_mean_mol_L": "mol/L",
    "catalyst_surface_mean_potential_V": "V",
    "catalyst_layer_mean_potential_V": "V",
}

DEFINITIONS = {
    "catalyst_surface_mean": "area mean over the reacting surfaces of an areal catalyst "
    "(concentration per species, electrolyte potential φ vs the bath)",
    "catalyst_layer_mean": "volume mean over the catalytic layer (concentration per "
    "species, electrolyte potential φ vs the bath)",
}


def catalyst_metrics(p: Any) -> tuple[dict[str, dict[str, float | None]], dict[str, float | None]]:
    """Per-species and top-level entries of the catalyst means (collective).

    Args:
        p: the solved :class:`confine.fem.model.Model`.

    Returns:
        species name -> {key: mean in mol/L or None}, and {key: mean φ in V or None}.
    """
    where = "surface" if p.catalyst == "surface" else "layer"
    other = "layer" if where == "surface" else "surface"
    family = [*p.conc.values(), *([p.phi] if p.has_phi else [])]
    weighted = [p.w, *(e * p.w for e in family)]
    if where == "surface":  # one form of every mean (the size in column 0)
        tot = p.tables.total(p.tables.table(weighted, p.ds_surface))
    elif p.dx_layer is not None:  # the means' cell table (the same form)
        tot = p.tables.total(p.tables.table(weighted, p.dx), p.layer_tags)
    else:
        tot = np.zeros(len(weighted))
    size = float(tot[0])
    species: dict[str, dict[str, float | None]] = {}
    for k, name in enumerate(p.conc, start=1):
        mean = float(tot[k]) / size / MOL_L if size > 0.0 else None
        species[name] = {
            f"catalyst_{where}_mean_mol_L": mean,
            f"catalyst_{other}_mean_mol_L": None,
        }
    phi = float(tot[-1]) / size if size > 0.0 and p.has_phi else None
    top = {f"catalyst_{where}_mean_potential_V": phi, f"catalyst_{other}_mean_potential_V": None}
    return species, top
