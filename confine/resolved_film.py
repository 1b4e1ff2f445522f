"""A film resolved particle by particle: the reference the two-scale electrode is checked against.

Verification only (issue #22, item 2): tests/test_film_resolved.py uses it; production
code never imports this module. It is an independent solve — its own gmsh geometry and
a plain linear dolfinx problem, not confine's meshes, forms or Newton solver.

The film is the axisymmetric Wigner–Seitz column of a film of solid spheres, in (r, z)
with lengths in nm:

* ``count`` spheres of radius R centred on the axis at z_k = (k + ½) s, k = 0 … N − 1,
  inside a cylinder of radius R_c whose side wall carries no flux (the cell of one
  column of particles in a laterally periodic film);
* the current collector z = 0 carries no flux (a mirror plane of the column); the film
  is 0 < z < L = N s, the Nernst layer L < z < L + δ, and c = c_b at z = L + δ;
* steady diffusion D ∇²c = 0 in the electrolyte and a first-order reaction on every
  sphere, −D ∂c/∂n = k_s c; weak form with the axisymmetric weight r,
  ∫ ∇c·∇v r dA + (k_s / D) ∫ c v r ds = 0, in P2 Lagrange.

What it gives per electrode area (π R_c²): the consumption J = 2 k_s ∫ c r ds / R_c²
over the spheres, and the inflow at the top, which must equal it.

The same unit cell gives the film's transport factor (:func:`cell_transport`): 0 < z < s
with the sphere at s/2, c = 0 at z = 0 and c = 1 at z = s, no flux on the sphere and the
side wall. For the periodic column that Dirichlet pair is exact (the corrector is odd
about the mid-plane and periodic, hence zero on both faces). D_eff / D = s F / (π R_c²)
with F = 2π ∫ |∇c|² r dA the flux (its energy form: error O(h⁴) in P2); ε = 1 − V_p /
(π R_c² s) and τ = ε D / D_eff.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from confine.env import import_dolfinx
from confine.film import FilmGeometry

import_dolfinx()  # MPI and PETSc in dolfinx's order: before mpi4py, and before gmsh
import dolfinx  # noqa: E402
import dolfinx.fem.petsc  # noqa: E402
import gmsh  # noqa: E402
import ufl  # noqa: E402
from dolfinx.io import gmsh as gmshio  # noqa: E402
from mpi4py import MPI  # noqa: E402

NM = 1e-9  # m per nm: the column is in nm, the film geometry in m
#: Physical group tags of the column's mesh.
FLUID, SPHERES, TOP, BOTTOM = 1, 2, 3, 4
#: Far from the spheres the mesh coarsens to this many times the spheres' cell size...
COARSE = 6.0
#: ...over this many sphere radii.
GRADING = 1.0
#: gmsh options of the column's mesh: the size field alone sets the sizes, quadratic
#: (curved) cells put the spheres' surface right to O(h³), one seed gives one mesh.
OPTIONS = {
    "General.Terminal": 0,
    "Mesh.MeshSizeFromPoints": 0,
    "Mesh.MeshSizeFromCurvature": 0,
    "Mesh.MeshSizeExtendFromBoundary": 0,
    "Mesh.Algorithm": 6,
    "Mesh.RandomSeed": 1,
    "Mesh.ElementOrder": 2,
}


@dataclass(frozen=True)
class Column:
    """The Wigner–Seitz column of a film of spheres (lengths in nm).

    Attributes:
        radius: R, the spheres' radius.
        cell_radius: R_c, the column's radius (π R_c² of electrode per column).
        spacing: s, centre to centre along the axis (the unit cell's height).
        count: N, spheres in the column (film thickness N s).
        diffusion_layer: δ, the Nernst layer above the film.
    """

    radius: float
    cell_radius: float
    spacing: float
    count: int
    diffusion_layer: float

    @property
    def thickness(self) -> float:
        """L = N s (nm)."""
        return self.count * self.spacing

    @property
    def porosity(self) -> float:
        """ε = 1 − V_p / (π R_c² s): the electrolyte between the spheres."""
        return 1.0 - 4.0 / 3.0 * self.radius**3 / (self.cell_radius**2 * self.spacing)


@dataclass(frozen=True)
class ColumnResult:
    """The resolved film's solution (per electrode area, SI).

    Attributes:
        consumption: J, mol/(m² s): the spheres' rate over π R_c².
        inflow: the flux in through the top, mol/(m² s) (= J at convergence).
        cells: mesh cells.
        dofs: P2 unknowns.
    """

    consumption: float
    inflow: float
    cells: int
    dofs: int


def solve_column(
    col: Column, diffusivity: float, rate_constant: float, bulk: float, h: float
) -> ColumnResult:
    """The resolved film (see the module doc).

    Args:
        col: the column.
        diffusivity: D (m²/s).
        rate_constant: k_s (m/s), first order on the spheres' surface.
        bulk: c_b (mol/m³) at the Nernst layer's outer face.
        h: cell size on the spheres (nm), coarsening away from them.
    """
    top = col.thickness + col.diffusion_layer
    centres = [(k + 0.5) * col.spacing for k in range(col.count)]
    mesh, facets = _mesh(col, top, centres, h)
    space = dolfinx.fem.functionspace(mesh, ("Lagrange", 2))
    c, v = ufl.TrialFunction(space), ufl.TestFunction(space)
    r = ufl.SpatialCoordinate(mesh)[0]
    ds = ufl.Measure("ds", domain=mesh, subdomain_data=facets)
    ratio = rate_constant / diffusivity * 1e-9  # k_s / D in 1/nm
    a = ufl.inner(ufl.grad(c), ufl.grad(v)) * r * ufl.dx + ratio * c * v * r * ds(SPHERES)
    zero = dolfinx.fem.Constant(mesh, 0.0)
    rhs = zero * v * ufl.dx
    dofs = dolfinx.fem.locate_dofs_topological(space, 1, facets.find(TOP))
    bc = dolfinx.fem.dirichletbc(float(bulk), dofs, space)
    sol = _solve(a, rhs, [bc], "resolved_column_")
    consumed = _integral(sol * r * ds(SPHERES))  # nm²·mol/m³
    inflow = _integral(sol.dx(1) * r * ds(TOP))  # nm·mol/m³
    area = col.cell_radius**2
    return ColumnResult(
        consumption=2.0 * rate_constant * consumed / area,
        inflow=2.0 * diffusivity * 1e9 * inflow / area,
        cells=mesh.topology.index_map(2).size_global,
        dofs=space.dofmap.index_map.size_global,
    )


def cell_transport(col: Column, h: float) -> float:
    """D_eff / D = ε / τ of the column's unit cell (see the module doc).

    Args:
        col: the column (its radius, cell radius and spacing).
        h: cell size on the sphere (nm).
    """
    cell = Column(col.radius, col.cell_radius, col.spacing, 1, 0.0)
    mesh, facets = _mesh(cell, col.spacing, [col.spacing / 2], h)
    space = dolfinx.fem.functionspace(mesh, ("Lagrange", 2))
    c, v = ufl.TrialFunction(space), ufl.TestFunction(space)
    r = ufl.SpatialCoordinate(mesh)[0]
    a = ufl.inner(ufl.grad(c), ufl.grad(v)) * r * ufl.dx
    rhs = dolfinx.fem.Constant(mesh, 0.0) * v * ufl.dx
    bcs = [
        dolfinx.fem.dirichletbc(
            float(value),
            dolfinx.fem.locate_dofs_topological(space, 1, facets.find(tag)),
            space,
        )
        for tag, value in ((TOP, 1.0), (BOTTOM, 0.0))
    ]
    sol = _solve(a, rhs, bcs, "resolved_cell_")
    energy = _integral(ufl.inner(ufl.grad(sol), ufl.grad(sol)) * r * ufl.dx)
    return 2.0 * energy * col.spacing / col.cell_radius**2


def _solve(a: Any, rhs: Any, bcs: list[Any], prefix: str) -> Any:
    """A direct solve of a linear problem."""
    problem = dolfinx.fem.petsc.LinearProblem(
        a,
        rhs,
        bcs=bcs,
        petsc_options_prefix=prefix,
        petsc_options={"ksp_type": "preonly", "pc_type": "lu"},
    )
    return problem.solve()


def _integral(form: Any) -> float:
    return float(np.real(dolfinx.fem.assemble_scalar(dolfinx.fem.form(form))))


def _mesh(col: Column, top: float, centres: list[float], h: float) -> tuple[Any, Any]:
    """The fluid of the column up to ``top`` (nm): a rectangle [0, R_c] × [0, top] without
    the half-discs of the spheres; h on the spheres, coarsening away from them. Serial
    (one process's mesh: a reference of a few thousand cells)."""
    started = not gmsh.isInitialized()
    if started:
        gmsh.initialize(interruptible=False)
    saved = {key: gmsh.option.getNumber(key) for key in OPTIONS}
    try:
        for key, number in OPTIONS.items():
            gmsh.option.setNumber(key, number)
        gmsh.model.add("resolved-column")
        o = gmsh.model.occ
        box = o.addRectangle(0.0, 0.0, 0.0, col.cell_radius, top)
        discs = [(2, o.addDisk(0.0, z, 0.0, col.radius, col.radius)) for z in centres]
        fluid, _ = o.cut([(2, box)], discs)
        o.synchronize()
        groups: dict[int, list[int]] = {SPHERES: [], TOP: [], BOTTOM: []}
        for _, tag in gmsh.model.getBoundary(fluid, oriented=False):
            x0, y0, _, x1, y1, _ = gmsh.model.getBoundingBox(1, tag)
            tol = 1e-6 * top
            if gmsh.model.getType(1, tag) in ("Circle", "Ellipse"):
                groups[SPHERES].append(tag)
            elif abs(y0 - top) < tol and abs(y1 - top) < tol:
                groups[TOP].append(tag)
            elif abs(y0) < tol and abs(y1) < tol and x1 - x0 > tol:
                groups[BOTTOM].append(tag)
        gmsh.model.addPhysicalGroup(2, [t for _, t in fluid], FLUID)
        for tag, curves in groups.items():
            if curves:
                gmsh.model.addPhysicalGroup(1, curves, tag)
        dist = gmsh.model.mesh.field.add("Distance")
        gmsh.model.mesh.field.setNumbers(dist, "CurvesList", groups[SPHERES])
        gmsh.model.mesh.field.setNumber(dist, "Sampling", 200)
        grade = gmsh.model.mesh.field.add("Threshold")
        gmsh.model.mesh.field.setNumber(grade, "InField", dist)
        gmsh.model.mesh.field.setNumber(grade, "SizeMin", h)
        gmsh.model.mesh.field.setNumber(grade, "SizeMax", COARSE * h)
        gmsh.model.mesh.field.setNumber(grade, "DistMin", 0.0)
        gmsh.model.mesh.field.setNumber(grade, "DistMax", GRADING * col.radius)
        gmsh.model.mesh.field.setAsBackgroundMesh(grade)
        gmsh.model.mesh.generate(2)
        data = gmshio.model_to_mesh(gmsh.model, MPI.COMM_SELF, 0, gdim=2)
    finally:
        if started:
            gmsh.finalize()
        else:  # a session someone else opened: leave its options as they were
            gmsh.model.remove()
            for key, number in saved.items():
                gmsh.option.setNumber(key, number)
    assert np.all(data.mesh.geometry.x[:, 0] > -1e-9 * top)  # r ≥ 0: the axisymmetric half
    assert data.facet_tags is not None
    return data.mesh, data.facet_tags


def column_of(geo: FilmGeometry, count: int) -> Column:
    """The column of a film of spheres (:func:`confine.film.film_geometry`): N = ``count``
    spheres per column, s = L / N and π R_c² = N / n_A (n_A per electrode area), so the
    column's packing and sites per area are the film's."""
    return Column(
        radius=geo.particle_diameter / 2 / NM,
        cell_radius=math.sqrt(count / (math.pi * geo.particles_per_area)) / NM,
        spacing=geo.thickness / count / NM,
        count=count,
        diffusion_layer=geo.diffusion_layer / NM,
    )
