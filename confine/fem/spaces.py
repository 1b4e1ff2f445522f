"""The discrete setting of one case on one mesh: scales, measures, spaces, sites.

Unknowns (all dimensionless, Lagrange P``solver.degree``):

* block 0, ``V`` on the whole fluid mesh: the deviation ĉ_i − ĉ_i,bulk of
  ĉ_i = c_i / c_ref,i from its bulk value, for every solution species (the
  ion eliminated by the electroneutral model excepted) and, for the
  ``secondary``, ``electroneutral``, ``poisson`` and ``poisson-steric``
  models, φ̂ = Fφ/RT (see :mod:`confine.fem.fields` for why deviations);
* block 1, ``W`` on a submesh of the catalyst (layer cells, or surface facets,
  via ``create_submesh`` + ``entity_maps``): the coverages θ_a of adsorbed species.

Lengths are mesh units (nm, ``MeshData.length_scale`` = L metres each);
integrals are over L^d m^d (axisymmetric: r-weighted, d = 3). Reference
concentrations c_ref = bulk, floored at :data:`C_REF_FLOOR` of the largest
bulk for products. Nothing here changes with the swept values
(:mod:`confine.fem.swept`): it is built once per case structure and mesh.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import ufl

from confine.case import Case
from confine.catalyst import areal_site_density, reference_site_density
from confine.env import import_dolfinx
from confine.fem import jit
from confine.fem.cellwise import CellTables
from confine.geometry.groups import FACET_GROUPS, tag, tags
from confine.mesh import MeshData
from confine.physics import potential
from confine.units import FARADAY, GAS_CONSTANT

import_dolfinx()
from dolfinx import fem  # noqa: E402
from dolfinx import mesh as dmesh  # noqa: E402
from mpi4py import MPI  # noqa: E402

#: Floor of a reference concentration, relative to the largest bulk value.
C_REF_FLOOR = 1e-6
#: Potential models that solve Poisson's equation for φ (double layers resolved).
POISSON_MODELS = ("poisson", "poisson-steric")
#: Potential models with φ among the unknowns.
PHI_MODELS = ("secondary", "electroneutral", *POISSON_MODELS)


def shape(n: int) -> tuple[int, ...]:
    """Value shape of n unknowns: blocked (n,), or scalar for one (dolfinx cannot
    take a sub-space of a one-component blocked element)."""
    return (n,) if n > 1 else ()


def part(f: Any, i: int) -> Any:
    """Component i of a (possibly scalar) Function, TestFunction or expression."""
    return f[i] if len(f.ufl_shape) else f


def sub(V: Any, i: int) -> Any:
    """Sub-space i of a (possibly scalar) function space."""
    return V.sub(i) if V.num_sub_spaces else V


class Spaces:
    """Scales, measures, function spaces, region indicators and catalytic sites.

    Attributes (public, read by the residual, the solver and the metrics):
        case, meshdata, mesh, comm, L, d, tdim, axisymmetric, temperature, vt,
        model (potential model), charges, diffusivity, c_ref, c_scale, eliminated,
        unknowns, adsorbed, has_phi, poisson, dx, ds, dS, x, w, catalyst,
        layer_tags, dx_layer, surface_tags, ds_surface, cell_groups, V, u, v,
        W, theta, q, submesh, entity_maps, chi_pore, chi_layer, chi_interior, tables,
        site_factor, catalytic_area, sites_mol, site_scale, gamma, coverage_cell_min.
    """

    def __init__(self, case: Case, meshdata: MeshData, comm: MPI.Comm | None = None):
        model = case.electrolyte.potential_model
        if model not in ("none", *PHI_MODELS):
            raise NotImplementedError(f"potential model {model!r} is not in this solver")
        self.case = case
        self.meshdata = meshdata
        self.mesh = meshdata.mesh
        self.comm = comm if comm is not None else self.mesh.comm
        self.model = model
        self.L = meshdata.length_scale
        self.axisymmetric = meshdata.axisymmetric
        self.tdim = self.mesh.topology.dim
        #: Dimension of integrals: volumes are L^d m^d (axisymmetric: r-weighted, 3).
        self.d = 3 if self.axisymmetric else self.tdim
        self.temperature = case.electrolyte.temperature
        self.vt = GAS_CONSTANT * self.temperature / FARADAY
        self._forms: dict[Any, Any] = {}

        sol = [s for s in case.species if s.phase == "solution"]
        self.adsorbed = [s.name for s in case.species if s.phase == "adsorbed"]
        self.charges = {s.name: s.charge for s in sol}
        self.diffusivity = {s.name: float(s.diffusivity or 0.0) for s in sol}
        max_bulk = max([s.bulk for s in sol] + [0.0])
        floor = C_REF_FLOOR * max_bulk if max_bulk > 0 else 1.0
        #: Reference concentration of each solution species (mol/m³).
        self.c_ref = {s.name: max(s.bulk, floor) for s in sol}
        #: c_ref as Constants, what the forms hold: a number compiled into them would
        #: make a bath of another composition (a particle in a film's electrolyte)
        #: compile every form again.
        self.c_scale = {n: fem.Constant(self.mesh, c) for n, c in self.c_ref.items()}
        self.eliminated: str | None = None
        if model == "electroneutral":
            self.eliminated = potential.eliminated_ion(case).name
        self.unknowns = [s.name for s in sol if s.name != self.eliminated]
        self.has_phi = model in PHI_MODELS
        self.poisson = model in POISSON_MODELS
        if self.has_phi:
            self.unknowns.append("phi")

        self._build_measures()
        self._build_spaces()
        #: Per-cell integrals of families of expressions (few forms for many integrals).
        self.tables = CellTables(self.mesh, meshdata.cell_tags, self.comm, self.form)
        self._build_sites()

    # ------------------------------------------------------------------ assembly
    def form(self, expr: Any) -> Any:
        """Compile a form (with the catalyst entity maps when there are adsorbates).

        Kept per model: the metrics of every point of a warm-started chain
        assemble the same few hundred functionals, and each fresh ``fem.form``
        costs a look-up in the JIT cache directory (slow when it is large).
        UFL forms hash and compare structurally, coefficients by identity.
        """
        cached = self._forms.get(expr)
        if cached is None:
            cached = jit.form(expr, entity_maps=self.entity_maps or None)
            self._forms[expr] = cached
        return cached

    def integrate(self, expr: Any) -> float:
        """Assemble a scalar form and sum over ranks."""
        local = fem.assemble_scalar(self.form(expr))
        return float(self.comm.allreduce(local, op=MPI.SUM))

    # ------------------------------------------------------------------ set-up
    def _build_measures(self) -> None:
        md, case = self.meshdata, self.case
        # 2p (+1 for the r weight): exact for the bilinear terms, enough for O(h^(p+1))
        deg = 2 * case.solver.degree + (1 if self.axisymmetric else 0)
        meta = {"quadrature_degree": deg}
        self.dx = ufl.Measure("dx", domain=self.mesh, subdomain_data=md.cell_tags, metadata=meta)
        self.ds = ufl.Measure("ds", domain=self.mesh, subdomain_data=md.facet_tags, metadata=meta)
        self.dS = ufl.Measure("dS", domain=self.mesh, subdomain_data=md.facet_tags, metadata=meta)
        self.x = ufl.SpatialCoordinate(self.mesh)
        self.w: Any = 2 * math.pi * self.x[0] if self.axisymmetric else 1.0
        present = set(np.unique(md.cell_tags.values).tolist())
        present = set().union(*self.comm.allgather(present))
        self.catalyst = case.geometry.catalyst
        layer = tuple(t for t in tags("catalyst_layer") if t in present)
        self.layer_tags = layer
        self.dx_layer: Any = self.dx(layer) if layer else None
        #: Where volumetric rates are integrated: dx, or its vertex rule with
        #: ``solver.lumped_reactions`` (a diagonal reaction mass: no undershoot
        #: next to a fast reaction's unresolved front).
        self.dx_rates: Any = (
            ufl.Measure(
                "dx",
                domain=self.mesh,
                subdomain_data=md.cell_tags,
                metadata={"quadrature_rule": "vertex", "quadrature_degree": 1},
            )
            if case.solver.lumped_reactions
            else self.dx
        )
        #: Facet tags of an areal catalyst: the groups the geometry declares catalytic
        #: (pore and cavity walls of a hollow sphere, a planar electrode, ...).
        self.surface_tags = self._surface_tags()
        self.ds_surface = self.ds(self.surface_tags)
        self.cell_groups = present

    def _surface_tags(self) -> tuple[int, ...]:
        groups = self.meshdata.info.get("catalytic") or ("catalyst_surface",)
        facets = tuple(tag(g) for g in groups if tag(g) in FACET_GROUPS.values())
        return facets or (tag("catalyst_surface"),)

    def region_indicator(self, groups: Sequence[int]) -> fem.Function:
        """DG0 function: 1 on cells with one of these tags, 0 elsewhere."""
        Q = fem.functionspace(self.mesh, ("DG", 0))
        chi = fem.Function(Q)
        ct = self.meshdata.cell_tags
        cells = ct.indices[np.isin(ct.values, np.asarray(groups, dtype=ct.values.dtype))]
        dofs = Q.dofmap.list[cells].ravel() if len(cells) else np.zeros(0, dtype=np.int32)
        chi.x.array[dofs] = 1.0
        chi.x.scatter_forward()
        return chi

    def _build_spaces(self) -> None:
        p = self.case.solver.degree
        n = len(self.unknowns)
        self.V = fem.functionspace(self.mesh, ("Lagrange", p, shape(n)))
        self.u = fem.Function(self.V, name="u")
        self.v = ufl.TestFunction(self.V)
        self.entity_maps: list[Any] = []
        self.submesh: Any = None
        #: Smallest cell diameter of the coverages' submesh (mesh units; inf: none).
        self.coverage_cell_min = math.inf
        self.theta: fem.Function | None = None
        self.q: Any = None
        self.W: Any = None
        if self.adsorbed:
            self._build_coverage_space(p)
        self.chi_pore = self.region_indicator(tags("pores"))
        self.chi_layer = self.region_indicator(tags("catalyst_layer"))
        self.chi_interior = self.region_indicator(tags("interior"))

    def _build_coverage_space(self, p: int) -> None:
        """The coverages' space on a submesh of the catalyst's cells or facets."""
        if self.catalyst == "layer":
            ct = self.meshdata.cell_tags
            ent = ct.indices[
                np.isin(ct.values, np.asarray(tags("catalyst_layer"), dtype=ct.values.dtype))
            ]
            dim = self.tdim
        else:
            ft = self.meshdata.facet_tags
            ent = ft.indices[
                np.isin(ft.values, np.asarray(self.surface_tags, dtype=ft.values.dtype))
            ]
            dim = self.tdim - 1
        count = self.comm.allreduce(len(ent), op=MPI.SUM)
        if count == 0:
            raise ValueError(
                "adsorbed species need a catalyst region, but the mesh has no "
                f"{self.catalyst} entities"
            )
        self.mesh.topology.create_connectivity(dim, self.tdim)
        submesh, emap, _, _ = dmesh.create_submesh(self.mesh, dim, np.sort(ent).astype(np.int32))
        self.submesh = submesh
        self.entity_maps = [emap]
        self.W = fem.functionspace(submesh, ("Lagrange", p, shape(len(self.adsorbed))))
        n_sub = submesh.topology.index_map(dim).size_local
        local = submesh.h(dim, np.arange(n_sub, dtype=np.int32)).min(initial=math.inf)
        self.coverage_cell_min = float(self.comm.allreduce(local, op=MPI.MIN))
        self.theta = fem.Function(self.W, name="theta")
        self.q = ufl.TestFunction(self.W)

    def _build_sites(self) -> None:
        """Where the catalytic sites are: a density field, and the per-site factor on rates.

        ``uniform``: Γ_ref everywhere (factor 1). ``inventory``: the particle's sites
        spread evenly over the carbon wall each layer region lines, so a region
        holds Γ_eff A_wall / V_layer per volume (factor: that over Γ_ref).
        """
        case = self.case
        m = float(self.meshdata.multiplicity)
        ref = reference_site_density(case)
        #: Local site density over Γ_ref (DG0; 1 everywhere for uniform sites).
        self.site_factor = fem.Function(fem.functionspace(self.mesh, ("DG", 0)))
        self.site_factor.x.array[:] = 1.0
        if self.catalyst != "layer":
            size = self.integrate(self.w * self.ds_surface) * self.L ** (self.d - 1) * m
            self.catalytic_area = size
            gamma_a = areal_site_density(case, size) if size > 0 else ref
            self.site_scale = gamma_a / ref
            self.site_factor.x.array[:] = self.site_scale
            self.sites_mol = gamma_a * size
            self.gamma: Any = gamma_a  # mol/m² of surface
            return
        walls = {"pore_layer": "pore_wall", "cavity_layer": "cavity_wall"}
        walls["outer_layer"] = "outer_surface"
        vol = dict.fromkeys(walls, 0.0)
        area = dict.fromkeys(walls, 0.0)
        present = [layer for layer in walls if tag(layer) in self.cell_groups]
        if present:  # two forms: the cells' volumes, and each wall's area per cell
            per_cell = self.tables.table([self.w], self.dx)
            faces = self.tables.total(
                self.tables.table(
                    [self.w] * len(present), [self.ds(tag(walls[x])) for x in present]
                )
            )
            for j, layer in enumerate(present):
                volume = self.tables.total(per_cell, (tag(layer),))[0]
                vol[layer] = float(volume) * self.L**self.d * m
                area[layer] = float(faces[j]) * self.L ** (self.d - 1) * m
        total_v = sum(vol.values())
        #: Carbon wall area lined by the catalyst (m²) of the whole particle.
        self.catalytic_area = sum(area.values())
        if case.catalyst.sites == "inventory":
            gamma_a = areal_site_density(case, self.catalytic_area)
            ct = self.meshdata.cell_tags
            Q = self.site_factor.function_space
            for layer in walls:
                if vol[layer] <= 0.0:
                    continue
                cells = ct.indices[ct.values == tag(layer)]
                dofs = Q.dofmap.list[cells].ravel()
                self.site_factor.x.array[dofs] = gamma_a * area[layer] / vol[layer] / ref
            self.site_factor.x.scatter_forward()
            self.sites_mol = gamma_a * self.catalytic_area
        else:
            self.sites_mol = ref * total_v
        #: Volume-weighted mean of the site factor (1 for uniform sites).
        self.site_scale = self.sites_mol / (ref * total_v) if total_v > 0 else 1.0
        self.gamma = ref * self.site_factor  # mol/m³ of layer

    # ------------------------------------------------------------------ queries
    def measure_of(self, where: str) -> Any:
        """Where a reaction (``where``: electrolyte, surface, layer) happens: dx,
        the catalytic surface, or the layer (None: the mesh has no layer)."""
        if where == "surface":
            return self.ds_surface
        volume = self.dx_rates
        if where == "electrolyte":
            return volume
        return volume(self.layer_tags) if self.layer_tags else None

    def state(self) -> list[np.ndarray]:
        """Copies of the unknowns' arrays (u; θ with adsorbates)."""
        out = [self.u.x.array.copy()]
        if self.theta is not None:
            out.append(self.theta.x.array.copy())
        return out

    def restore(self, state: Sequence[np.ndarray]) -> None:
        """Set the unknowns from arrays of :meth:`state`."""
        self.u.x.array[:] = state[0]
        if self.theta is not None:
            self.theta.x.array[:] = state[1]

    def global_dofs(self) -> int:
        """Global number of unknowns (both blocks)."""
        n = self.V.dofmap.index_map.size_global * self.V.dofmap.index_map_bs
        if self.theta is not None:
            n += self.W.dofmap.index_map.size_global * self.W.dofmap.index_map_bs
        return int(n)
