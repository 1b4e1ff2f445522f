"""What a case will cost, estimated from its keys before any meshing: pores, cells, memory.

Validation refuses a case whose pore lattice or mesh cannot be afforded, in
milliseconds and before anything heavy runs (the lattice relaxation, gmsh):

* **pores** (hollow sphere): validation relaxes the pore lattice, whose cost
  grows with the pore count (about 1.5 ms per pore and trial here, ~10 trials
  for ``wall_thickness``); limit ``geometry.max_pores``, default
  :data:`MAX_PORES`.
* **cells**: the mesh's cell count from the target sizes gmsh is given
  (:func:`confine.geometry.derived.sizes_of`) integrated over the regions the
  builders mesh, graded as gmsh grades them; limit
  ``mesh.max_cells``, default :data:`MAX_CELLS`. The estimate is good to a
  factor of about 2 (tests/test_budget.py checks it against real meshes).
  The memory printed with it is gmsh's peak per cell measured on full-3d
  meshes (the solve needs more). See docs/limits.md.
* **memory of a run** (:func:`run_memory`, ``confine validate --estimate``):
  the mesh build on rank 0 (gmsh's peak) and the solve spread over the
  ranks, from the cell estimate, the unknowns per mesh vertex and the
  measured bytes per unknown: what a batch script asks the scheduler for.

No meshing, dolfinx or lattice relaxation here: numpy and closed forms only
(not even gmsh's library).
Lengths are in nm. Every number is kept as a float (an overflow becomes
``inf``, and ``inf`` is over every limit).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from confine.case_data import CaseData
from confine.findings import Finding
from confine.geometry.derived import Sizes, sizes_of

NM = 1e-9
#: Default limit on the estimated cell count (``mesh.max_cells``): 4x the largest
#: shipped mesh (full-3d mchs-4nm, 12.9 million cells, 13.5 GiB in gmsh).
MAX_CELLS = 50_000_000
#: Default limit on the pore count of a hollow sphere (``geometry.max_pores``): the
#: lattice of 10,000 pores takes ~15 s to validate here; the shipped cases have <= 697.
MAX_PORES = 10_000
#: Most gmsh threads a case may ask for.
MAX_THREADS = 1024
#: gmsh's peak memory per cell, bytes (full-3d records of one HXT call: 0.97-1.1 kB per
#: tetrahedron): every level but full-3d.
MESH_BYTES_PER_CELL = 1100
#: The same for a full-3d build, streamed by batches of volumes (the OCC model, the surface
#: mesh and one batch at once: 1.86 GiB at 5.21 M cells, 384 B per cell,
#: benchmarks/records/mesh-mchs-11nm-full-3d-11nm-convert-streamed.json), with margin.
STREAMED_MESH_BYTES_PER_CELL = 450
#: Cell measure over h^d for a target size h: triangles and tetrahedra as gmsh makes
#: them (fitted to the meshes of tests/test_budget.py and benchmarks/records/
#: {mesh,scaling}-*.json: 0.84-1.46 of their counts; equilateral: 0.433 and 0.118).
CELL_MEASURE = {1: 1.0, 2: 0.36, 3: 0.16}
#: Memory of the solve per unknown, bytes: the urea network on the 3D sector solved by the
#: iterative solver on one rank, process peak less the imports (benchmarks/records/
#: memory-sector-3d-urea-chunks.json: 2 838 B at 363 600 unknowns; the whole 11 nm
#: particle on 2 ranks: 2.78 KB), with a tenth for margin.
SOLVE_BYTES_PER_UNKNOWN = 3100
#: Memory of one rank before its share of the problem: Python, dolfinx, PETSc, MPI and the
#: compiled forms (153 MiB of imports in that record, ~300 MiB per rank in the scaling records).
RANK_BYTES = 300 * 2**20
#: Cells per mesh vertex as gmsh grades these meshes (full-3d and sector records: 4.4-5.3
#: tetrahedra per vertex; triangles ~2).
CELLS_PER_VERTEX = {1: 1.0, 2: 2.0, 3: 4.5}
_RATIO = 1.04  # geometric step of the quadrature grids (an error well under 1 %)


@dataclass(frozen=True)
class Estimate:
    """What a case will cost (None where it does not apply)."""

    pores: float | None  # pore count of a hollow sphere (before the lattice is relaxed)
    cells: float | None  # cells of the mesh (None: geometry too inconsistent to tell)
    streamed: bool = False  # a full-3d build: volumes streamed to the file by batches

    @property
    def mesh_bytes(self) -> float | None:
        """gmsh's peak memory for the mesh, bytes."""
        per_cell = STREAMED_MESH_BYTES_PER_CELL if self.streamed else MESH_BYTES_PER_CELL
        return None if self.cells is None else self.cells * per_cell


def mesh_dimension(case: CaseData) -> int:
    """Topological dimension of the case's mesh."""
    model = case.geometry.model
    if model == "1d":
        return 1
    return 2 if model in ("axisymmetric-cell", "2d") else 3


def unknowns_per_vertex(case: CaseData) -> int:
    """Fields on the mesh: the transported species (not the solvent) and the potential.

    Coverages live on the catalytic layer only (a few % of the vertices): not counted.
    """
    species = sum(1 for s in case.species if s.phase == "solution" and s.name != "H2O")
    return species + (case.electrolyte.potential_model != "none")


def run_memory(case: CaseData, ranks: int = 1) -> dict[str, float] | None:
    """Memory a run of the case needs: the mesh build and the solve over ``ranks`` ranks.

    Returns:
        ``cells``, ``vertices``, ``unknowns`` (estimates), ``mesh_bytes`` (gmsh's peak
        on the rank that builds the mesh), ``solve_bytes`` (all ranks together),
        ``per_rank_bytes`` (one rank's share of the solve) and ``rank0_bytes``
        (the larger of the build and one rank's share: rank 0 does both, in
        turn); None when the cells cannot be estimated.
    """
    est = estimate(case)
    if est.cells is None or est.mesh_bytes is None:
        return None
    vertices = est.cells / CELLS_PER_VERTEX[mesh_dimension(case)]
    unknowns = vertices * unknowns_per_vertex(case)
    solve = unknowns * SOLVE_BYTES_PER_UNKNOWN
    per_rank = RANK_BYTES + solve / max(ranks, 1)
    return {
        "ranks": float(ranks),
        "cells": est.cells,
        "vertices": vertices,
        "unknowns": unknowns,
        "mesh_bytes": est.mesh_bytes,
        "solve_bytes": solve + RANK_BYTES * ranks,
        "per_rank_bytes": per_rank,
        "rank0_bytes": max(per_rank, est.mesh_bytes + RANK_BYTES),
    }


def max_cells(case: CaseData) -> int:
    """The cell limit of a case (``mesh.max_cells``, else :data:`MAX_CELLS`)."""
    return case.mesh.max_cells or MAX_CELLS


def max_pores(case: CaseData) -> int:
    """The pore limit of a case (``geometry.max_pores``, else :data:`MAX_PORES`)."""
    return case.geometry.max_pores or MAX_PORES


def check_budget(case: CaseData) -> list[Finding]:
    """The budget problem of a case (empty when it fits): one line naming the estimate."""
    f = case.source
    m = case.mesh
    if m.threads > MAX_THREADS:
        return [Finding(f, "mesh.threads", f"must be at most {MAX_THREADS}, got {m.threads}")]
    if m.growth < 1 or (m.growth == 1 and m.boundary_layer):
        need = "above 1 with a boundary layer" if m.boundary_layer else "at least 1"
        return [Finding(f, "mesh.growth", f"must be {need} (sizes grow away from the walls)")]
    est = estimate(case)
    rings = case.geometry.sector_rings
    in_sector = 3.0 * rings * (rings + 1) + 1  # a hexagon and its rings of neighbours
    if case.geometry.model == "sector-3d" and est.pores is not None and in_sector > 0.4 * est.pores:
        # the tile's solid angle must stay under a hemisphere (sector_apothem's bracket)
        return [
            Finding(
                f,
                "geometry.sector_rings",
                f"{rings} rings hold {in_sector:.0f} pores: a sector holds at most 2/5 of the "
                f"particle's ~{_count(est.pores)} pores (use full-3d)",
            )
        ]
    if est.pores is not None and not est.pores <= max_pores(case):
        key = _lattice_key(case)
        return [
            Finding(
                f,
                f"geometry.{key}",
                f"estimated {_count(est.pores)} pores: above the limit of "
                f"{max_pores(case)} (geometry.max_pores; validation relaxes the lattice, "
                "~15 s per 10,000 pores)",
            )
        ]
    if est.cells is not None and not est.cells <= max_cells(case):
        return [
            Finding(
                f,
                "mesh",
                f"estimated {_count(est.cells)} cells{_bytes(est.mesh_bytes)}: above "
                f"the limit of {max_cells(case):.3g} cells (mesh.max_cells; raise it on a machine "
                "with the memory, or coarsen the mesh or the geometry)",
            )
        ]
    return []


def fits_budget(case: CaseData) -> bool:
    """Whether the lattice and the mesh are affordable (what :func:`check_budget` checks)."""
    return not check_budget(case)


def estimate(case: CaseData) -> Estimate:
    """Pores and cells of a case, from its keys alone (milliseconds)."""
    with np.errstate(all="ignore"):  # overflow is inf, reported as such
        try:
            pores = _pores(case)
            cells = _cells(case, pores)
        except (OverflowError, ZeroDivisionError, ValueError):
            return Estimate(pores=math.inf, cells=math.inf)
    if cells is not None and math.isnan(cells):
        cells = math.inf
    if pores is not None and math.isnan(pores):
        pores = math.inf
    return Estimate(pores=pores, cells=cells, streamed=case.geometry.model == "full-3d")


# --------------------------------------------------------------------------- pores
def _lattice_key(case: CaseData) -> str:
    g = case.geometry
    given = [k for k in ("wall_thickness", "porosity", "pore_count") if getattr(g, k) is not None]
    return given[0] if len(given) == 1 else "outer_diameter"


def _pores(case: CaseData) -> float | None:
    """Pore count of a hollow sphere, as the lattice will have it (within ~2 %)."""
    g = case.geometry
    if g.kind != "hollow-sphere":
        return None
    r_out = g.outer_diameter / 2 / NM
    r_cav = r_out - g.shell_thickness / NM
    d = g.pore_diameter / NM
    if r_cav <= 0:
        return None
    if g.pore_count is not None:
        return float(g.pore_count)
    if g.wall_thickness is not None:
        pitch = d + g.wall_thickness / NM
        if 2.0 * r_cav <= pitch:
            return 1.0
        # ideal hexagonal count x the relaxed lattice's spacing ratio squared (~0.91^2),
        # where count_from_wall starts its search
        return max(1.0, 0.83 * 8.0 * math.pi * (r_cav / pitch) * (r_cav / pitch) / math.sqrt(3))
    if g.porosity is not None:
        a = d / 2
        if a >= r_cav:
            return None
        shell = 4.0 / 3.0 * math.pi * (_cube(r_out) - _cube(r_cav))
        return max(1.0, g.porosity * shell / _pore_volume(a, r_cav, r_out))
    return None


def _cube(x: float) -> float:
    return x * x * x  # a float product overflows to inf; ** would raise


def _pore_volume(a: float, r_in: float, r_out: float) -> float:
    """Radial cylinder of radius a between two spheres (lattice.pore_volume, overflow-safe)."""

    def cap(r: float) -> float:
        return _cube(r) - _cube(math.sqrt(max(r * r - a * a, 0.0)))

    return 2.0 * math.pi / 3.0 * (cap(r_out) - cap(r_in))


# --------------------------------------------------------------------------- cells
def _cells(case: CaseData, pores: float | None) -> float | None:
    g = case.geometry
    s = sizes_of(case)
    if s.growth < 1:
        return None  # check_budget refuses it
    if not all(v > 0 for v in (s.pore, s.layer, s.wall, s.max, s.boundary_first or 1.0)):
        return math.inf  # positive keys whose sizes underflow (mesh.refine = 2000)
    if g.kind == "hollow-sphere":
        return _hollow(case, s, pores)
    if g.kind == "solid-sphere":
        return _solid(case, s)
    if g.kind == "sphere":
        return _sphere(case, s)
    if g.kind == "planar":
        return _planar(case, s)
    if g.kind == "cylinder-pore":
        return _cylinder_pore(case, s)
    return None


Field = Callable[[np.ndarray], np.ndarray]


def _graded(s: Sizes, sources: list[tuple[float, float]], bl_walls: list[float]) -> Field:
    """Size at positions x: min over sources (x0, h0) of h0 + (growth − 1)|x − x0|,
    the boundary layer from its walls, capped at the coarsest size."""
    g = s.growth - 1.0
    if s.boundary_first is not None:
        sources = sources + [(w, s.boundary_first) for w in bl_walls]

    def field(x: np.ndarray) -> np.ndarray:
        h = np.full_like(x, s.max)
        for x0, h0 in sources:
            h = np.minimum(h, h0 + g * np.abs(x - x0))
        return h

    return field


def _grid(lo: float, hi: float, anchors: list[float], h_min: float) -> np.ndarray:
    """Points on [lo, hi], geometric away from each anchor (sizes grow away from them)."""
    span = hi - lo
    if not span > 0:
        return np.array([lo, hi])
    first = min(h_min, span) / 20.0
    n = math.ceil(math.log(max(span / first, 1.0)) / math.log(_RATIO)) + 2
    steps = first * _RATIO ** np.arange(n)
    steps = steps[steps < span]
    pts = [np.array([lo, hi])]
    for a in anchors:
        pts += [a + steps, a - steps, np.array([a])]
    x = np.concatenate(pts)
    return np.unique(x[(x >= lo) & (x <= hi)])


def _integrate(
    lo: float, hi: float, weight: Field, size: Field, dim: int, anchors: list[float], h_min: float
) -> float:
    """∫ weight(x) / (c_d size(x)^d) dx over [lo, hi] (trapezoid on a graded grid)."""
    if not hi > lo:
        return 0.0
    x = _grid(lo, hi, [*anchors, lo, hi], h_min)
    h = size(x)
    y = weight(x) / (CELL_MEASURE[dim] * h**dim)
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2.0)


def _radial(
    s: Sizes,
    lo: float,
    hi: float,
    dim: int,
    angle: float,
    sources: list[tuple[float, float]],
    bl_walls: list[float],
    cap: float | None = None,
) -> float:
    """Cells of a spherical shell lo < r < hi: 3D with solid angle ``angle``, or the r–z
    wedge of half-angle ``angle`` (2D); ``cap`` bounds the size (a restricted field)."""
    field = _graded(s, sources, bl_walls)
    size = field if cap is None else (lambda x: np.minimum(field(x), cap))
    if dim == 3:
        weight: Field = lambda r: angle * r * r  # noqa: E731
    else:
        weight = lambda r: angle * r  # noqa: E731
    anchors = [x0 for x0, _ in sources] + bl_walls
    h_min = min([h0 for _, h0 in sources] + [s.boundary_first or s.max, cap or s.max])
    return _integrate(lo, hi, weight, size, dim, anchors, h_min)


def _pore_section(s: Sizes, a: float, t: float, filled: bool, dim: int) -> float:
    """Cells per unit length of a pore of radius a with a layer t lining its wall:
    2D the strip 0 < r < a of the r–z cell, 3D the disc (h_pore in the core, h_layer
    in the layer, the boundary layer from the wall)."""
    bl = [(0.0, s.boundary_first)] if s.boundary_first is not None else []
    g = s.growth - 1.0

    def size(d: np.ndarray) -> np.ndarray:  # d: distance from the pore wall
        core = s.layer if filled else s.pore
        h = np.where(d < t, s.layer, core)
        for x0, h0 in bl:
            h = np.minimum(h, h0 + g * np.abs(d - x0))
        return np.minimum(h, s.max)

    if dim == 3:
        weight: Field = lambda d: 2.0 * math.pi * np.maximum(a - d, 0.0)  # noqa: E731
        dim_section = 3
    else:
        weight = lambda d: np.ones_like(d)  # noqa: E731
        dim_section = 2
    h_min = min(s.layer, s.pore, s.boundary_first or s.max)
    return _integrate(0.0, a, weight, size, dim_section, [0.0, t], h_min)


def _hollow(case: CaseData, s: Sizes, pores: float | None) -> float | None:
    g = case.geometry
    if pores is None:
        return None
    r_out = g.outer_diameter / 2 / NM
    r_cav = r_out - g.shell_thickness / NM
    r_bath = r_out + g.bath_thickness / NM
    a = g.pore_diameter / 2 / NM
    layer = g.catalyst == "layer"
    t = min(g.catalyst_layer / NM, a) if layer else 0.0
    filled = layer and g.pore_diameter / 2 - g.catalyst_layer < g.layer_fill_core
    if not 0 < a < r_cav < r_out or t >= r_cav:
        return None
    n = max(pores, 1.0)
    r_in = r_cav - t
    if g.model == "axisymmetric-cell":
        dim, in_cell = 2, 1.0
        angle = math.acos(1.0 - 2.0 / n) if n > 1 else math.pi
    else:
        dim = 3
        rings = g.sector_rings
        in_cell = n if g.model == "full-3d" else min(3.0 * rings * (rings + 1) + 1, n)
        angle = 4.0 * math.pi * in_cell / n
    sources = [(r_in, s.wall), (r_out, s.pore)]
    walls = [r_cav, r_out]
    cells = _radial(s, 0.0, r_in, dim, angle, sources, walls)
    cells += _radial(s, r_in, r_cav, dim, angle, sources, walls, cap=s.wall)
    cells += _radial(s, r_out, r_bath, dim, angle, sources, walls)
    length = r_out - r_cav * math.cos(math.asin(min(a / r_cav, 1.0)))
    cells += in_cell * length * _pore_section(s, a, t, filled, dim)
    return cells


def _solid(case: CaseData, s: Sizes) -> float | None:
    g = case.geometry
    r_out = g.outer_diameter / 2 / NM
    t = g.catalyst_layer / NM if g.catalyst == "layer" else 0.0
    r_bath = r_out + g.bath_thickness / NM
    if not 0 < r_out <= r_out + t < r_bath:
        return None
    dim = 2 if g.model == "axisymmetric-cell" else 3
    angle = math.pi if dim == 2 else 4.0 * math.pi
    sources = [(r_out, s.wall), (r_out + t, s.wall)]
    cells = _radial(s, r_out, r_out + t, dim, angle, sources, [r_out], cap=s.layer)
    return cells + _radial(s, r_out + t, r_bath, dim, angle, sources, [r_out])


def _sphere(case: CaseData, s: Sizes) -> float | None:
    """A ball of electrolyte (the cavity alone), finest at its wall."""
    g = case.geometry
    radius = g.outer_diameter / 2 / NM
    t = g.catalyst_layer / NM if g.catalyst == "layer" else 0.0
    if not 0 <= t < radius:
        return None
    dim = 2 if g.model == "axisymmetric-cell" else 3
    angle = math.pi if dim == 2 else 4.0 * math.pi
    sources = [(radius - t, s.wall), (radius, s.wall)]
    cells = _radial(s, 0.0, radius - t, dim, angle, sources, [radius])
    return cells + _radial(s, radius - t, radius, dim, angle, sources, [radius], cap=s.wall)


def _planar(case: CaseData, s: Sizes) -> float | None:
    g = case.geometry
    if g.length is None:
        return None
    length, width = g.length / NM, g.width / NM
    t = g.catalyst_layer / NM if g.catalyst == "layer" else 0.0
    dim = {"1d": 1, "2d": 2, "3d": 3}.get(g.model)
    if dim is None or not 0 <= t < length:
        return None
    h0 = s.layer if t > 0 else s.pore
    field = _graded(s, [(t, h0)], [0.0])

    def size(x: np.ndarray) -> np.ndarray:
        h = np.where(x < t, np.minimum(field(x), s.layer), field(x))
        return np.minimum(h, width) if dim > 1 else h  # no coarser than the slab is wide

    # cells in a slice dx: (width / h)^(dim - 1) columns of dx / h
    weight: Field = lambda x: np.full_like(x, width ** (dim - 1))  # noqa: E731
    h_min = min(h0, s.boundary_first or s.max)
    return _integrate(0.0, length, weight, size, dim, [0.0, t], h_min)


def _cylinder_pore(case: CaseData, s: Sizes) -> float | None:
    g = case.geometry
    if g.pore_length is None:
        return None
    length = g.pore_length / NM
    a = g.pore_diameter / 2 / NM
    res = g.reservoir_length / NM
    layer = g.catalyst == "layer"
    t = min(g.catalyst_layer / NM, a) if layer else 0.0
    filled = layer and a - t < g.layer_fill_core / NM
    dim = 2 if g.model == "axisymmetric-cell" else 3
    cells = length * _pore_section(s, a, t, filled, dim)
    if res > 0:  # two reservoirs: sizes grow away from the mouth, with the bath's grading
        field = _graded(s, [(0.0, s.pore)], [0.0])
        # a reservoir as a slab of depth res: its cross-section (r-z width, or area) per depth
        section = a + res if dim == 2 else math.pi * (a + res) * (a + res)
        weight: Field = lambda z: np.full_like(z, section)  # noqa: E731
        h_min = min(s.pore, s.boundary_first or s.max)
        cells += 2.0 * _integrate(0.0, res, weight, field, dim, [0.0], h_min)
    return cells


# --------------------------------------------------------------------------- text
def _count(x: float) -> str:
    if not (math.isfinite(x) and x < 1e300):
        return "more than 1e300"
    return f"{x:.0f}" if x < 1e5 else f"{x:.2g}"


def _bytes(x: float | None) -> str:
    """ ", ~N GiB to mesh" (nothing when it overflows)."""
    if x is None or not math.isfinite(x) or x >= 1e300:
        return ""
    unit, size = ("TiB", 2**40) if x >= 2**40 else ("GiB", 2**30) if x >= 2**30 else ("MiB", 2**20)
    v = x / size
    return f", ~{v:.0f} {unit} to mesh" if 10 <= v < 1000 else f", ~{v:.2g} {unit} to mesh"
