"""C_I/C_E of a coverage: the cavity-layer mean of θ over its mean in the layer at the
outer pore mouths (metrics.json, adsorbed species of a layer catalyst).

A coverage lives on the catalytic layer only, so the solution species' C_I/C_E
(cavity over outer mouth, :mod:`confine.metrics.means`) has no numerator or
denominator for it. Its counterpart: the volume mean of θ over the cavity's
layer (``cavity_layer`` cells) over the area mean of θ over the part of the
outer mouths that is layer (the ``mouth_outer`` facets with a ``pore_layer``
cell on one side, integrated from that side: θ is not defined on the bath's).
Keys (always present on an adsorbate, None where the geometry has no cavity
layer or no layer at the outer mouths, and on an areal catalyst):
``cavity_layer_mean_coverage``, ``mouth_layer_mean_coverage`` and the ratio
under ``ratio_interior_exterior``, the key of every species' C_I/C_E (so a
reader of ``species.*.ratio_interior_exterior`` sees an intermediate in every
representation); ``coverage_ratio_interior_exterior``, its first name, holds
the same value for older readers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import ufl

from confine.geometry.groups import tag

UNITS = {
    "cavity_layer_mean_coverage": "1",
    "mouth_layer_mean_coverage": "1",
    "coverage_ratio_interior_exterior": "1",
}

#: The coverages' part of ``definitions.ratio_interior_exterior``.
RATIO_DEFINITION = "adsorbed species (layer catalyst): see coverage_ratio_interior_exterior"

DEFINITIONS = {
    "coverage_ratio_interior_exterior": "C_I/C_E of an adsorbed species (layer catalyst), "
    "also its ratio_interior_exterior: volume mean of its coverage over the cavity's "
    "catalytic layer (cavity_layer cells: cavity_layer_mean_coverage) over its area mean "
    "over the outer pore mouths within the layer (mouth_outer facets beside pore_layer "
    "cells: mouth_layer_mean_coverage); it does not follow output.interior/exterior",
}


def layer_mouth_measure(meshdata: Any, p: Any) -> Any | None:
    """The outer mouths within the pore layer as a one-sided facet measure (None without
    a layer catalyst). Each owned ``mouth_outer`` facet beside a ``pore_layer`` cell is
    integrated from that cell, where the coverages live."""
    if p.catalyst != "layer" or tag("pore_layer") not in p.cell_groups:
        return None
    mesh = meshdata.mesh
    tdim = mesh.topology.dim
    mesh.topology.create_connectivity(tdim - 1, tdim)
    mesh.topology.create_connectivity(tdim, tdim - 1)
    f2c = mesh.topology.connectivity(tdim - 1, tdim)
    c2f = mesh.topology.connectivity(tdim, tdim - 1)
    ft, ct = meshdata.facet_tags, meshdata.cell_tags
    owned = mesh.topology.index_map(tdim - 1).size_local
    facets = ft.indices[(ft.values == tag("mouth_outer")) & (ft.indices < owned)]
    cells = mesh.topology.index_map(tdim)
    layer = np.zeros(cells.size_local + cells.num_ghosts, dtype=bool)
    layer[ct.indices[ct.values == tag("pore_layer")]] = True
    pairs: list[int] = []
    for f in facets:
        for c in f2c.links(f):
            if layer[c]:
                pairs += [int(c), int(np.flatnonzero(c2f.links(c) == f)[0])]
    return ufl.Measure(
        "ds",
        domain=mesh,
        subdomain_data=[(1, np.asarray(pairs, dtype=np.int32))],
        subdomain_id=1,
        metadata=p.ds.metadata(),  # the solver's quadrature
    )


def coverage_means(p: Any, mouth: Any | None) -> dict[str, dict[str, float | None]]:
    """Every adsorbate's cavity-layer and mouth-layer means and their ratio (collective):
    one per-cell table for the cavity layer and one for the mouths, whatever the count.

    Args:
        p: the solved model (its ``tables``: :class:`confine.fem.cellwise.CellTables`).
        mouth: :func:`layer_mouth_measure` of its mesh.
    """
    names = list(p.adsorbed)
    exprs = [p.w, *(p.cov[a] * p.w for a in names)]
    cavity: list[float | None] = [None] * len(names)
    if names and p.catalyst == "layer" and tag("cavity_layer") in p.cell_groups:
        tot = p.tables.total(p.tables.table(exprs, p.dx), [tag("cavity_layer")])
        cavity = [float(v) / tot[0] if tot[0] > 0 else None for v in tot[1:]]
    outer: list[float | None] = [None] * len(names)
    if names and mouth is not None:
        tot = p.tables.total(p.tables.table(exprs, mouth))
        outer = [float(v) / tot[0] if tot[0] > 0 else None for v in tot[1:]]
    out = {}
    for a, c, o in zip(names, cavity, outer, strict=True):
        ratio = c / o if c is not None and o is not None and o != 0.0 else None
        out[a] = {
            "cavity_layer_mean_coverage": c,
            "mouth_layer_mean_coverage": o,
            "ratio_interior_exterior": ratio,
            "coverage_ratio_interior_exterior": ratio,  # its first name
        }
    return out
