"""Reaction–transport solver: Nernst–Planck + potential + kinetics on dolfinx.

Unknowns (all dimensionless, Lagrange P``solver.degree``):

* block 0, on the whole fluid mesh: the deviation ĉ_i − ĉ_i,bulk of
  ĉ_i = c_i / c_ref,i from its bulk value, for every solution species (the
  ion eliminated by the electroneutral model excepted) and, for the
  ``secondary``, ``electroneutral``, ``poisson`` and ``poisson-steric``
  models, φ̂ = Fφ/RT. Deviations, not ĉ itself: a reactant that a fast
  diffusion keeps within 1e-20 of its bulk still carries its consumption in
  full precision (ĉ = 1 + 1e-20 is 1 in floating point, and a flux computed
  from it would be zero), and the residual's round-off floor is that of the
  actual fluxes, not of the bulk's;
* block 1, on a submesh of the catalyst (layer cells, or surface facets, via
  ``create_submesh`` + ``entity_maps``): the coverages θ_a of adsorbed species.

Lengths are mesh units (nm, ``MeshData.length_scale`` m each). Each species
balance is divided by D_i c_ref,i L^(d−2) so its diffusion term is O(1)
(c_ref = bulk, floored at 1e-6 of the largest bulk for products); each
adsorbate balance by a rate scale of its own. Values that sweeps change
(electrode potential, rate constants, bulk concentrations) are
``fem.Constant``s: forms compile once per mesh, and a warm start on the same
mesh reuses the :class:`Problem`.

Ion fluxes are Galerkin by default; with ``solver.stabilization = "eafe"``
they are edge-averaged finite elements (Scharfetter–Gummel on every edge, see
:func:`confine.physics.transport.edge_averaged_flux_form`) for every charged
species under a potential model with φ (every species when steric), and the
poisson models' space charge (and a transient run's accumulation of those
species) is lumped at the vertices: stable, positive
concentrations at any cell Péclet number |z ∇φ̂| h (P1 simplices only). The
unknowns stay the concentrations, so everything that reads them is unchanged.

Steady runs: continuation on a multiplier s of every catalytic rate constant
(and, from 1e-4 at the start, of every wall charge and wall potential,
[[walls]] of the poisson models: :data:`WALL_FLOOR`), s = 1e-8 … 1
geometrically, from the bulk, nearly uncharged state with coverages
balancing the site kinetics (which solves s → 0 exactly); a failed step is
halved, and a step that needed more than :data:`SLOW_STEP_ITERATIONS` Newton
iterations halves the next increment. Each
step is a line-search Newton (SNES ``newtonls``/``bt``, MUMPS LU in 2D and
small 3D, GMRES + fieldsplit/AMG above :data:`DIRECT_MAX_WORK` in 3D). If it
converges to a state far outside the bounds (c < 0, θ ∉ [0, 1]: a spurious
root), the step is redone as a variational inequality (``vinewtonrsls``).
Convergence is judged per field (each species, φ, each coverage: Newton step
below √``solver.rtol`` of the field's size — quadratic convergence leaves an
error of order rtol —, and the residual fallen by :data:`RESIDUAL_DROP`, or
the undamped Newton correction below rtol where the residual sits at its
round-off floor), so trace products are resolved next to the
supporting electrolyte; every criterion is relative, so none depends on the
problem's scale (rates over many decades, baths from nm to µm). A warm start
(``initial``) first tries s = 1.
Transient runs march with backward Euler (see :func:`solve`).
"""

from __future__ import annotations

import logging
import math
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import ufl

from confine import assembly
from confine.case import Case, Reaction, Wall
from confine.catalyst import areal_site_density, reference_site_density
from confine.env import import_dolfinx
from confine.geometry.groups import FACET_GROUPS, tag, tags
from confine.mesh import MeshData
from confine.physics import boundary, hindrance, kinetics, potential, transport
from confine.quality import BOUND_TOLERANCE
from confine.units import FARADAY, GAS_CONSTANT

log = logging.getLogger("confine")

import_dolfinx()
from dolfinx import fem  # noqa: E402
from dolfinx import mesh as dmesh  # noqa: E402
from dolfinx.fem import petsc as fem_petsc  # noqa: E402
from mpi4py import MPI  # noqa: E402
from petsc4py import PETSc  # noqa: E402

#: Floor of a reference concentration, relative to the largest bulk value.
C_REF_FLOOR = 1e-6
#: First continuation multiplier (the bulk state solves s → 0).
S_START = 1e-8
#: Most halvings of a failed continuation step.
MAX_HALVINGS = 12
#: Newton iterations above which a converged continuation step halves the next
#: increment in log s (double-layer runs crawl under the line search otherwise).
SLOW_STEP_ITERATIONS = 10
#: Smallest increment in log10 s that slow steps halve down to (failures still halve).
MIN_LOG_STEP = 1.0 / 16.0

#: Direct solve: MUMPS LU (2D, and 3D up to DIRECT_MAX_WORK).
DIRECT_OPTIONS: dict[str, Any] = {
    "ksp_type": "preonly",
    "pc_type": "lu",
    "pc_factor_mat_solver_type": "mumps",
    # workspace +50 % over MUMPS's estimate (default +20 %): the pivoting of a fast
    # surface reaction next to slow diffusion can need more (INFOG(1) = -9 otherwise,
    # a failed linear solve, e.g. a Tafel sphere at k = 0.1 m/s)
    "mat_mumps_icntl_14": 50,
}
#: Iterative solve (3D): GMRES with a field-by-field preconditioner. The
#: unknowns on the full mesh (species, φ) are split into one block per field,
#: each preconditioned by one V-cycle of scalar smoothed-aggregation AMG
#: (:data:`FIELD_AMG`), the blocks applied additively (block Jacobi over fields);
#: the coverages on the catalyst submesh follow multiplicatively with block
#: Jacobi/ILU. Every field alone is a scalar diffusion–migration–reaction
#: operator that AMG solves in ~15 iterations, while AMG on the node-blocked
#: coupled matrix (all fields per aggregate, constants as near-null space) fails
#: on the urea network, where migration (product ions to φ) and the buffer
#: reactions couple the fields: GMRES breaks down after hundreds of iterations
#: (benchmarks/README.md, "Iterative solver"); left out of the preconditioner,
#: GMRES absorbs these couplings. The per-field options are added by
#: ``Problem._iterative_options`` (their number depends on the case).
ITERATIVE_OPTIONS: dict[str, Any] = {
    "ksp_type": "gmres",
    "ksp_gmres_restart": 200,
    "ksp_rtol": 1e-10,
    "ksp_max_it": 1000,
    "pc_type": "fieldsplit",
    "pc_fieldsplit_type": "multiplicative",
    "fieldsplit_c_ksp_type": "preonly",
    "fieldsplit_c_pc_type": "fieldsplit",
    "fieldsplit_c_pc_fieldsplit_type": "additive",
    "fieldsplit_theta_ksp_type": "preonly",
    "fieldsplit_theta_pc_type": "bjacobi",
}
#: Preconditioner of one field's block: a V-cycle of smoothed-aggregation AMG,
#: Richardson/SOR smoothing (the blocks are not symmetric: no Chebyshev), four
#: sweeps per level instead of two: on the sector-3d urea network GMRES then
#: needs 21 → 24 iterations from h to h/2 instead of 21 → 28, in the same time.
FIELD_AMG: dict[str, Any] = {
    "ksp_type": "preonly",
    "pc_type": "gamg",
    "mg_levels_ksp_type": "richardson",
    "mg_levels_ksp_max_it": 4,
    "mg_levels_pc_type": "sor",
}
#: A Newton solve converges only once its residual fell by this factor (besides the
#: per-field step test), or below the absolute tolerance (0 by default: none).
RESIDUAL_DROP = 1e-6
#: A Newton step that cuts the residual by less than this factor (Newton cuts it
#: quadratically near a root) has it stalled: at its round-off floor, or at a local
#: minimum of the residual; :meth:`Problem._at_round_off` tells which.
STALL_RATIO = 0.5
#: SNES reason of a failed linear solve (the one failure "auto" retries with MUMPS).
DIVERGED_LINEAR_SOLVE = -3
#: Largest 3D problem solved directly when linear_solver = "auto", as nodes × k³
#: for k unknowns on the mesh (150k nodes for one field; 2.3k for 4, 68 for 13):
#: the LU of k coupled fields costs about k³ times a scalar one, the iterative
#: solve about k times. Measured cold (one rank; benchmarks/README.md, "Block
#: insertion"): the 3D manufactured problem (4 fields + 1 coverage) at 10k
#: unknowns MUMPS 2.1 s, GMRES 0.8 s; at 71k 46 s / 1.6 GB against 5.3 s /
#: 0.5 GB; the urea sector at 16k 8.7 s against 3.3 s; one field at 49k about
#: even (11.6 against 12.8 s).
DIRECT_MAX_WORK = 150_000
#: Wall charges and potentials follow m(s) = max(s, WALL_FLOOR · s^(1/4)) in the
#: continuation: 1e-4 of their value at s = 1e-8 (a start well above round-off,
#: still linear), then the same steps as the rates from s = 1e-2 on.
WALL_FLOOR = 1e-2
#: Potential models that solve Poisson's equation for φ (double layers resolved).
POISSON_MODELS = ("poisson", "poisson-steric")
#: Potential models with φ among the unknowns.
PHI_MODELS = ("secondary", "electroneutral", *POISSON_MODELS)

Expr = Any
FieldFn = Callable[[Any], Any]  # x (mesh coordinates, nm) -> UFL expression


class SolverError(RuntimeError):
    """Newton did not converge.

    Attributes:
        history: residual norms of every Newton iteration of the failed solve.
        step: continuation step reached (index into ``multipliers``).
        multiplier: the rate-constant multiplier at which it failed.
        converged_multiplier: the last multiplier that converged (None: none did).
        reason: the SNES converged reason (negative).
    """

    def __init__(
        self,
        message: str,
        *,
        history: Sequence[float],
        step: int,
        multiplier: float,
        converged_multiplier: float | None,
        reason: int,
    ):
        self.history = list(history)
        self.step = step
        self.multiplier = multiplier
        self.converged_multiplier = converged_multiplier
        self.reason = reason
        tail = ", ".join(f"{r:.3e}" for r in self.history[-12:])
        super().__init__(
            f"{message}: continuation step {step} (rate multiplier {multiplier:.3e}; last "
            f"converged {converged_multiplier!s}), SNES reason {reason}, residual history "
            f"[{tail}]"
        )


@dataclass
class Manufactured:
    """Exact fields for the method of manufactured solutions (verification only).

    Each callable maps the mesh coordinates (UFL, nm) to a UFL expression in
    physical units: concentrations in mol/m³, coverages as fractions, φ in V.
    The solver adds the sources that make them exact and imposes them on the
    outer boundary (Dirichlet) instead of the bulk values.
    """

    concentration: dict[str, FieldFn]
    coverage: dict[str, FieldFn] = field(default_factory=dict)
    potential: FieldFn | None = None


@dataclass
class Solution:
    """A converged steady state.

    Attributes:
        case: the case solved.
        meshdata: its mesh.
        problem: the :class:`Problem` (functions, forms, UFL expressions for metrics).
        converged: always True for a returned Solution (failures raise SolverError).
        newton_iterations: Newton iterations over all continuation steps.
        linear_iterations: Krylov iterations over all Newton steps (1 per LU solve).
        residual_history: residual norm at every Newton iteration, all steps.
        multipliers: the continuation multipliers that converged, in order.
        step_iterations: Newton iterations of each of those steps.
        failed_iterations: Newton iterations of failed (then halved) attempts.
        wall_time_s: time spent in solve.
        dofs: global number of unknowns.
    """

    case: Case
    meshdata: MeshData
    problem: Problem
    converged: bool
    newton_iterations: int
    linear_iterations: int
    residual_history: list[float]
    multipliers: list[float]
    wall_time_s: float
    dofs: int
    state: list[np.ndarray] = field(default_factory=list, repr=False)
    times: list[float] = field(default_factory=list)
    #: Newton iterations of each converged continuation step (aligned with multipliers),
    #: and those spent in attempts that failed and were halved.
    step_iterations: list[int] = field(default_factory=list)
    failed_iterations: int = 0

    def activate(self) -> Problem:
        """Put this solution's state and values back into its (possibly shared) problem.

        Warm starts on the same mesh reuse one :class:`Problem` (forms compile
        once), so a later solve overwrites its functions; metrics and fields
        call this first.
        """
        self.problem.update(self.case)
        self.problem.set_multiplier(1.0)
        self.problem._restore(self.state)
        return self.problem

    def concentration(self, name: str) -> Expr:
        """UFL expression of a solution species' concentration (mol/m³)."""
        return self.problem.conc[name]

    def coverage(self, name: str) -> Expr:
        """UFL expression of an adsorbed species' coverage (on the catalyst submesh)."""
        return self.problem.cov[name]

    @property
    def cell_tags(self) -> Any:
        """The mesh's cell tags (subdomains), for output."""
        return self.meshdata.cell_tags

    def fields(self) -> dict[str, Any]:
        """P-degree Functions on the whole mesh in mol/m³ (species), V (phi) and
        coverage (adsorbates, 0 off the catalyst), for output."""
        return self.activate().physical_functions()


def solve(
    case: Case,
    meshdata: MeshData,
    comm: MPI.Comm | None = None,
    initial: Solution | None = None,
    *,
    manufactured: Manufactured | None = None,
    petsc_options: Mapping[str, Any] | None = None,
    linear_solver: str | None = None,
) -> Solution:
    """Solve a case to steady state on a mesh.

    Args:
        case: the validated case.
        meshdata: the mesh with its tags (coordinates in nm).
        comm: communicator (must be the mesh's; default the mesh's).
        initial: a converged solution on the same mesh to warm-start from
            (e.g. the nearest point of a sweep).
        manufactured: verification hook (method of manufactured solutions).
        petsc_options: extra PETSc options (over the defaults and the case's).
        linear_solver: "direct" (MUMPS LU), "iterative" (GMRES with one AMG
            V-cycle per field, see :data:`ITERATIVE_OPTIONS`), or "auto": direct
            in 2D and for 3D meshes up to :data:`DIRECT_MAX_WORK` (nodes × k³),
            iterative above, and direct again if an iterative linear solve fails.
            Default: the case's ``solver.linear_solver``.

    Returns:
        The converged solution.

    Raises:
        SolverError: Newton failed; carries the residual history and the
            continuation step reached.
        NotImplementedError: a potential model the solver lacks.

    A transient case (``solver.transient``) is marched with backward Euler from
    the bulk state (coverages at ``species.initial``) to ``solver.end_time``
    with steps of ``solver.time_step`` (halved on failure); the returned
    solution is the final state, ``Solution.times`` the times reached.
    """
    linear_solver = linear_solver or case.solver.linear_solver
    if (
        initial is not None
        and initial.meshdata is meshdata
        and manufactured is None
        and not petsc_options
        and linear_solver == initial.problem.linear_solver
    ):
        problem = initial.problem
        try:
            problem.update(case)  # same forms: reuse them (no recompilation)
        except ValueError:
            pass
        else:
            problem._restore(initial.state)
            return problem.solve(warm=True)

    def attempt(kind: str) -> Solution:
        problem = Problem(
            case,
            meshdata,
            comm,
            manufactured=manufactured,
            petsc_options=petsc_options,
            linear_solver=kind,
        )
        if initial is not None:
            problem.copy_state(initial.problem, initial.state)
            return problem.solve(warm=True)
        return problem.solve()

    try:
        return attempt(linear_solver)
    except SolverError as err:
        # "auto" chose the iterative solver (a large 3D mesh) and a linear solve
        # failed: the preconditioner, not Newton, is what broke. Retry with MUMPS.
        if linear_solver != "auto" or err.reason != DIVERGED_LINEAR_SOLVE:
            raise
        log.warning(
            "the iterative linear solver failed (%s); solving again with MUMPS (direct)", err
        )
        return attempt("direct")


# --------------------------------------------------------------------------- helpers
def _shape(n: int) -> tuple[int, ...]:
    """Value shape of n unknowns: blocked (n,), or scalar for one (dolfinx cannot
    take a sub-space of a one-component blocked element)."""
    return (n,) if n > 1 else ()


def _assign(c: Any, value: float) -> None:
    """Set a scalar fem.Constant (sweeps change values, not forms)."""
    c.value = value


def _index_set(indices: np.ndarray, comm: Any) -> Any:
    """A PETSc index set of global indices (owned by this rank)."""
    return PETSc.IS().createGeneral(cast(Any, indices), comm=comm)


def _part(f: Any, i: int) -> Any:
    """Component i of a (possibly scalar) Function, TestFunction or expression."""
    return f[i] if len(f.ufl_shape) else f


def _sub(V: Any, i: int) -> Any:
    return V.sub(i) if V.num_sub_spaces else V


def _sub_function(f: Any, i: int) -> Any:
    """A collapsed copy of component i."""
    if f.function_space.num_sub_spaces:
        return f.sub(i).collapse()
    out = fem.Function(f.function_space)
    out.x.array[:] = f.x.array
    return out


# --------------------------------------------------------------------------- the problem
#: Reaction keys held in Constants (a sweep or fit changes them without recompiling).
SWEPT_REACTION_KEYS = ("rate_constant", "transfer_coefficient", "reference_potential")


def form_signature(case: Case) -> dict[str, Any]:
    """The case without the values a reused :class:`Problem` takes as Constants.

    Two cases with equal signatures compile to the same forms and set-up; the
    case name, description and outputs do not enter the solve.
    """
    d = case.to_dict()
    for section in ("case", "output"):
        d.pop(section, None)
    d.get("electrode", {}).pop("potential", None)
    for r in d.get("reactions", []):
        for k in SWEPT_REACTION_KEYS:
            r.pop(k, None)
        if "backward_rate_constant" in r:  # reversible or not changes the form
            r["backward_rate_constant"] = True
    for sp in d.get("species", []):
        sp.pop("bulk", None)
    for wall in d.get("walls", []):  # ramped Constants (the Stern capacitance is compiled in)
        for k in ("surface_charge", "potential", "zero_charge_potential"):
            wall.pop(k, None)
    d.get("geometry", {}).pop("end_voltage", None)
    return d


class Problem:
    """Function spaces, forms and SNES for one case on one mesh (reusable across sweeps)."""

    def __init__(
        self,
        case: Case,
        meshdata: MeshData,
        comm: MPI.Comm | None = None,
        *,
        manufactured: Manufactured | None = None,
        petsc_options: Mapping[str, Any] | None = None,
        linear_solver: str | None = None,
    ):
        linear_solver = linear_solver or case.solver.linear_solver  # see solve()
        if linear_solver not in ("auto", "direct", "iterative"):
            raise ValueError(f"linear_solver must be auto, direct or iterative: {linear_solver!r}")
        self.linear_solver = linear_solver
        self.transient = case.solver.transient
        model = case.electrolyte.potential_model
        if model not in ("none", *PHI_MODELS):
            raise NotImplementedError(f"potential model {model!r} is not in this solver")
        self.case = case
        self.meshdata = meshdata
        self.mesh = meshdata.mesh
        self.comm = comm if comm is not None else self.mesh.comm
        self.manufactured = manufactured
        self.model = model
        self.L = meshdata.length_scale
        self.axisymmetric = meshdata.axisymmetric
        self.tdim = self.mesh.topology.dim
        #: Dimension of integrals: volumes are L^d m^d (axisymmetric: r-weighted, 3).
        self.d = 3 if self.axisymmetric else self.mesh.geometry.dim
        self.temperature = case.electrolyte.temperature
        self.vt = GAS_CONSTANT * self.temperature / FARADAY
        self._extra_options = dict(petsc_options or {})
        self._forms: dict[Any, Any] = {}
        self._expressions: dict[str, Any] = {}  # interpolated fields, compiled once
        self._flux_tests: dict[tuple[str, str | None], fem.Function] = {}

        sol = [s for s in case.species if s.phase == "solution"]
        self.adsorbed = [s.name for s in case.species if s.phase == "adsorbed"]
        self.charges = {s.name: s.charge for s in sol}
        self.diffusivity = {s.name: float(s.diffusivity or 0.0) for s in sol}
        max_bulk = max([s.bulk for s in sol] + [0.0])
        floor = C_REF_FLOOR * max_bulk if max_bulk > 0 else 1.0
        #: Reference concentration of each solution species (mol/m³).
        self.c_ref = {s.name: max(s.bulk, floor) for s in sol}
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
        self._build_sites()
        self._build_constants()
        self._build_forms()
        self._build_solver()

    # ------------------------------------------------------------------ setup
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
        #: Facet tags of an areal catalyst: the groups the geometry declares catalytic
        #: (pore and cavity walls of a hollow sphere, a planar electrode, ...).
        self.surface_tags = self._surface_tags()
        self.ds_surface = self.ds(self.surface_tags)
        self.cell_groups = present

    def _surface_tags(self) -> tuple[int, ...]:
        groups = self.meshdata.info.get("catalytic") or ("catalyst_surface",)
        facets = tuple(tag(g) for g in groups if tag(g) in FACET_GROUPS.values())
        return facets or (tag("catalyst_surface"),)

    def _region_indicator(self, groups: Sequence[int]) -> fem.Function:
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
        self.V = fem.functionspace(self.mesh, ("Lagrange", p, _shape(n)))
        self.u = fem.Function(self.V, name="u")
        self.v = ufl.TestFunction(self.V)
        self.entity_maps: list[Any] = []
        self.submesh = None
        self.theta: fem.Function | None = None
        self.q: Any = None
        if self.adsorbed:
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
            sub, emap, _, _ = dmesh.create_submesh(self.mesh, dim, np.sort(ent).astype(np.int32))
            self.submesh = sub
            self.entity_maps = [emap]
            self.W = fem.functionspace(sub, ("Lagrange", p, _shape(len(self.adsorbed))))
            self.theta = fem.Function(self.W, name="theta")
            self.q = ufl.TestFunction(self.W)
        self.chi_pore = self._region_indicator(tags("pores"))
        self.chi_layer = self._region_indicator(tags("catalyst_layer"))
        self.chi_interior = self._region_indicator(tags("interior"))

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
        if self.catalyst == "layer":
            walls = {"pore_layer": "pore_wall", "cavity_layer": "cavity_wall"}
            walls["outer_layer"] = "outer_surface"
            vol = {k: 0.0 for k in walls}
            area = {k: 0.0 for k in walls}
            for layer, wall in walls.items():
                if tag(layer) in self.cell_groups:
                    vol[layer] = self.integrate(self.w * self.dx(tag(layer))) * self.L**self.d * m
                    area[layer] = (
                        self.integrate(self.w * self.ds(tag(wall))) * self.L ** (self.d - 1) * m
                    )
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
            self.gamma: Any = ref * self.site_factor  # mol/m³ of layer
        else:
            size = self.integrate(self.w * self.ds_surface) * self.L ** (self.d - 1) * m
            self.catalytic_area = size
            gamma_a = areal_site_density(case, size) if size > 0 else ref
            self.site_scale = gamma_a / ref
            self.site_factor.x.array[:] = self.site_scale
            self.sites_mol = gamma_a * size
            self.gamma = gamma_a  # mol/m² of surface

    def _k(self, r: Reaction) -> float:
        """A catalytic rate constant at the mean site density (for float estimates only)."""
        return r.rate_constant * (self.site_scale if r.where != "electrolyte" else 1.0)

    def _const(self, value: float) -> fem.Constant:
        return fem.Constant(self.mesh, float(value))

    def _build_constants(self) -> None:
        case = self.case
        self.E = self._const(case.electrode.potential)
        self.s = self._const(1.0)  # continuation multiplier of catalytic rates
        self.k = {r.name: self._const(r.rate_constant) for r in case.reactions}
        self.kb = {
            r.name: self._const(r.backward_rate_constant)
            for r in case.reactions
            if r.backward_rate_constant is not None
        }
        self.bulk_hat = {
            s: self._const(case.species_named(s).bulk / self.c_ref[s]) for s in self.c_ref
        }
        echem = [r for r in case.reactions if r.type == "electrochemical"]
        self.alpha = {r.name: self._const(r.transfer_coefficient) for r in echem}
        self.e_ref = {r.name: self._const(r.reference_potential) for r in echem}
        #: Half the voltage across a cylinder pore (φ̂ at end_b; −that at end_a), and
        #: the ramped end potentials.
        self.end_target = 0.5 * float(case.geometry.end_voltage or 0.0) / self.vt
        self.end_value = {
            "end_a": self._const(-self.end_target),
            "end_b": self._const(self.end_target),
        }
        #: Wall data at s = 1 (σ̂ or ψ̂) and the constants holding the ramped values.
        self.wall_target: dict[str, float] = {}
        self.wall_value: dict[str, fem.Constant] = {}
        if self.poisson:
            self.charge_scale = potential.charge_scale(case, self.L)
            for wall in case.walls:
                self.wall_target[wall.name] = self._wall_hat(wall)
                self.wall_value[wall.name] = self._const(self.wall_target[wall.name])

    def _wall_hat(self, wall: Wall) -> float:
        """Scaled wall data: σ̂ = σ / (ε RT/(F L)), ψ̂ = Fψ/RT, or (Stern) F(E − E_pzc)/RT."""
        if wall.condition == "charge":
            return float(wall.surface_charge or 0.0) / self.charge_scale
        if wall.condition == "stern":
            e_pzc = float(wall.zero_charge_potential or 0.0)
            return (self.case.electrode.potential - e_pzc) / self.vt
        return float(wall.potential or 0.0) / self.vt

    def _stern_conductance(self, wall: Wall) -> float:
        """k = C_S L / ε of a Stern wall (scaled)."""
        return float(wall.stern_capacitance or 0.0) * self.L / potential.permittivity(self.case)

    def set_multiplier(self, value: float) -> None:
        """Set the continuation multiplier s: catalytic rates × s, wall charges and
        potentials and the voltage across a pore × max(s, :data:`WALL_FLOOR` · s^(1/4))."""
        _assign(self.s, value)
        ramp = max(value, WALL_FLOOR * value**0.25)
        for name, c in self.wall_value.items():
            _assign(c, ramp * self.wall_target[name])
        _assign(self.end_value["end_a"], -ramp * self.end_target)
        _assign(self.end_value["end_b"], ramp * self.end_target)

    def update(self, case: Case) -> None:
        """Take a case that differs only in swept values.

        Swept values are Constants: the electrode potential, rate
        constants, transfer coefficients, reference potentials and bulk
        concentrations. Anything else is compiled into the forms or the set-up
        (diffusivities, temperature, sites, geometry, solver options, ...).

        Raises:
            ValueError: the case differs in anything else (build a new problem).
        """
        if form_signature(self.case) != form_signature(case):
            raise ValueError(
                "only the potential, rate constants, transfer coefficients, reference "
                "potentials and bulk values can change on a reused problem"
            )
        self.case = case
        _assign(self.E, case.electrode.potential)
        for r in case.reactions:
            _assign(self.k[r.name], r.rate_constant)
            if r.backward_rate_constant is not None:
                _assign(self.kb[r.name], r.backward_rate_constant)
            if r.name in self.alpha:
                _assign(self.alpha[r.name], r.transfer_coefficient)
                _assign(self.e_ref[r.name], r.reference_potential)
        for s in self.c_ref:
            _assign(self.bulk_hat[s], case.species_named(s).bulk / self.c_ref[s])
        self._set_bounds()  # c ≥ 0 is a deviation ≥ −bulk
        for wall in case.walls:
            self.wall_target[wall.name] = self._wall_hat(wall)
        self.end_target = 0.5 * float(case.geometry.end_voltage or 0.0) / self.vt
        self.set_multiplier(float(self.s.value))

    # ------------------------------------------------------------------ fields
    def _physical_fields(self, u: Any, theta: Any) -> tuple[dict[str, Expr], dict[str, Expr], Expr]:
        """Concentrations (mol/m³), coverages and φ (V) as UFL from the unknowns."""
        conc: dict[str, Expr] = {}
        for i, name in enumerate(self.unknowns):
            if name != "phi":  # the unknown is the deviation from the bulk (see module doc)
                conc[name] = self.c_ref[name] * (self.bulk_hat[name] + _part(u, i))
        phi_hat = _part(u, self.unknowns.index("phi")) if self.has_phi else None
        if self.eliminated is not None:
            z_e = self.charges[self.eliminated]
            conc[self.eliminated] = potential.eliminated_concentration(
                self.charges, conc, self.eliminated, z_e
            )
            conc = {s: conc[s] for s in self.c_ref}  # case order
        cov = {a: _part(theta, j) for j, a in enumerate(self.adsorbed)} if theta is not None else {}
        phi = self.vt * phi_hat if phi_hat is not None else 0.0
        return conc, cov, phi

    def _rates(
        self, conc: Mapping[str, Expr], cov: Mapping[str, Expr], phi: Expr, ramp: bool = True
    ) -> dict[str, Expr]:
        """Physical rate of every reaction (catalytic ones × the continuation multiplier)."""
        values = {**conc, **cov}
        # Resolved double layers: the local φ is the reaction-plane potential φ₂, which
        # the Tafel law sees only with the Frumkin correction; otherwise the whole
        # metal–bath difference drives it (φ = 0, the bath). Concentrations stay local.
        if self.poisson and not self.case.electrode.frumkin:
            phi = 0.0
        out = {}
        for r in self.case.reactions:
            k: Expr = self.k[r.name]
            if r.where != "electrolyte":
                k = k * self.site_factor  # per-site kinetics: × local Γ / Γ_ref
            if r.type != "homogeneous" and ramp:
                k = self.s * k
            out[r.name] = kinetics.reaction_rate(
                r,
                values,
                cov,
                k=k,
                kb=self.kb.get(r.name),
                potential=self.E,
                phi=phi,
                temperature=self.temperature,
                alpha=self.alpha.get(r.name),
                reference=self.e_ref.get(r.name),
            )
        return out

    def _measure(self, r: Reaction) -> Any:
        if r.where == "electrolyte":
            return self.dx
        if r.where == "surface":
            return self.ds_surface
        if self.dx_layer is None:
            return None
        return self.dx_layer

    def _geo_factor(self, r: Reaction) -> float:
        """L-power turning a scaled integral of a rate into a physical one (per L^(d−2))."""
        return self.L ** (1 if r.where == "surface" else 2)

    def _diffusivity_hat(self, name: str) -> Expr:
        """D_eff / D in each region: hindrance in pores, ε/τ in the catalytic layer."""
        case = self.case
        sp = case.species_named(name)
        h = hindrance.hindrance_factor(
            case.electrolyte.hindrance, sp.radius, case.geometry.pore_diameter / 2
        )
        eps_tau = case.catalyst.layer_porosity / case.catalyst.layer_tortuosity
        out: Expr = 1.0
        if h != 1.0:
            out = 1.0 + (h - 1.0) * self.chi_pore
        if eps_tau != 1.0:
            out = out * (1.0 + (eps_tau - 1.0) * self.chi_layer)
        return out

    def _steric(self, conc_hat: Mapping[str, Expr]) -> Expr | None:
        """Gradient of S = −ln(1 − Σ v_j c_j) in mesh units, or None
        (:meth:`_steric_potential`)."""
        steric = self._steric_potential(conc_hat)
        return None if steric is None else ufl.grad(steric)

    def _steric_potential(self, conc_hat: Mapping[str, Expr]) -> Expr | None:
        """S = −ln(1 − Σ v_j c_j), or None.

        On with ``electrolyte.steric`` or the ``poisson-steric`` model; the
        lattice spacing is ``electrolyte.ion_size`` for every ion, else twice
        each ion's ``radius`` (sizes per ion).
        """
        e = self.case.electrolyte
        if not self._steric_on():
            return None
        ions = [s for s in self.case.species if s.phase == "solution" and s.charge != 0]
        vols, cs = [], []
        for s in ions:
            size = e.ion_size if e.ion_size is not None else 2.0 * float(s.radius or 0.0)
            vols.append(transport.lattice_volume(size))
            cs.append(self.c_ref[s.name] * conc_hat[s.name])
        return transport.steric_potential(cs, vols)

    def _far_field_radius(self) -> float:
        g = self.case.geometry
        if g.kind not in ("hollow-sphere", "solid-sphere"):
            raise ValueError("bath_boundary = 'far-field' needs a spherical particle")
        return (g.outer_diameter / 2 + g.bath_thickness) / self.L  # mesh units

    # ------------------------------------------------------------------ forms
    def _build_forms(self) -> None:
        case, w, dx = self.case, self.w, self.dx
        u, v = self.u, self.v
        if self.transient:
            self.u_old = fem.Function(self.V, name="u_old")
            self.theta_old = fem.Function(self.W) if self.theta is not None else None
            self.dt = self._const(float(case.solver.time_step or 1.0))
            self.conc_old, self.cov_old, _ = self._physical_fields(self.u_old, self.theta_old)
        conc, cov, phi = self._physical_fields(u, self.theta)
        self.conc, self.cov, self.phi = conc, cov, phi
        self.rates = self._rates(conc, cov, phi)
        conc_hat = {s: conc[s] / self.c_ref[s] for s in conc}
        phi_hat = _part(u, self.unknowns.index("phi")) if self.has_phi else None
        grad_steric = self._steric(conc_hat)
        nu = {r.name: kinetics.stoichiometry(r) for r in case.reactions}
        far = case.geometry.bath_boundary == "far-field"
        outer = tag("outer_boundary")
        robin = boundary.exchange_coefficients(case)  # far-field and exchange faces (m/s)
        ds_bath = self.ds(tuple(tag(n) for n in boundary.BATH_FACES))

        ex = self._manufactured_fields()
        self.eq_forms: dict[str, Any] = {}  # species balances, interior part (test fn v)
        self.eq_scale: dict[str, float] = {}  # scaled -> physical (mol/s per L-power)
        self.eq_test: dict[str, int] = {}  # component of v each balance is tested with
        F0 = 0
        for name in self.c_ref:
            test_comp = self.unknowns.index("phi" if name == self.eliminated else name)
            vi = _part(v, test_comp)
            D = self.diffusivity[name]
            z = self.charges[name]
            Dhat = self._diffusivity_hat(name)
            if self._fitted(name):
                form = self._fitted_flux_form(name, conc_hat, phi_hat, vi, Dhat)
            else:
                flux = transport.nernst_planck_flux(
                    conc_hat[name],
                    ufl.grad(conc_hat[name]),
                    Dhat,
                    z,
                    ufl.grad(phi_hat) if phi_hat is not None else None,
                    grad_steric,
                )
                form = -ufl.inner(flux, ufl.grad(vi)) * w * dx
            scale = D * self.c_ref[name]
            for r in case.reactions:
                coef = nu[r.name].get(name, 0.0)
                meas = self._measure(r)
                if coef == 0.0 or meas is None:
                    continue
                form -= (self._geo_factor(r) / scale) * coef * self.rates[r.name] * vi * w * meas
            if ex is not None:
                src = self._mms_species_source(name, ex, nu)
                form -= (self.L**2 / scale) * src * vi * w * dx
            if self.transient:  # backward Euler accumulation ∂c/∂t
                rate = (conc[name] - self.conc_old[name]) / self.dt
                # lumped with fitted fluxes: a diagonal mass keeps the M-matrix
                dx_acc = self._dx_lumped() if self._fitted(name) else dx
                form += (self.L**2 / scale) * rate * vi * w * dx_acc
            self.eq_forms[name] = form
            self.eq_scale[name] = scale * self.L ** (self.d - 2)
            self.eq_test[name] = test_comp
            F0 += form
            if name in robin:  # outflow k (c − c_bulk); not in eq_forms: outward_flux sees it
                k_hat = robin[name] * self.L / D
                F0 += boundary.exchange_form(
                    conc_hat[name], self.bulk_hat[name], k_hat, vi, w, ds_bath
                )
        if self.model == "secondary":
            assert phi_hat is not None
            kappa = potential.conductivity(case)
            wphi = _part(v, self.unknowns.index("phi"))
            form = ufl.inner(ufl.grad(phi_hat), ufl.grad(wphi)) * w * dx
            fac = FARADAY / (kappa * self.vt)
            for r in case.reactions:
                meas = self._measure(r)
                if r.type != "electrochemical" or meas is None:
                    continue
                form += (
                    fac * self._geo_factor(r) * r.electrons * self.rates[r.name] * wphi * w * meas
                )
            if ex is not None:
                form -= fac * self.L**2 * self._mms_phi_source(ex) * wphi * w * dx
            F0 += form
            if far:
                F0 += phi_hat / self._far_field_radius() * wphi * w * self.ds(outer)
        if self.poisson:
            F0 += self._poisson_form(conc, phi_hat, ex)
        forms = [F0]
        if self.adsorbed:
            forms.append(self._adsorbate_form(conc, cov, phi, nu, ex))
        self.F = forms
        self._build_bcs(ex)

    def _dx_lumped(self) -> Any:
        """Vertex-rule cell measure for the space charge (and the accumulation of
        fitted species in transient runs) under EAFE (None: Galerkin).

        The fitted fluxes hold c at vertices (nodal Boltzmann at equilibrium);
        the lumped charge keeps Poisson's Jacobian an M-matrix with it, so φ
        is monotone through a layer that cells of the Debye length's size
        resolve only coarsely (the box method of drift–diffusion solvers).
        """
        if self.case.solver.stabilization != "eafe":
            return None
        return ufl.Measure(
            "dx",
            domain=self.mesh,
            subdomain_data=self.meshdata.cell_tags,
            metadata={"quadrature_rule": "vertex", "quadrature_degree": 1},
        )

    def _steric_on(self) -> bool:
        e = self.case.electrolyte
        return bool(e.steric or self.model == "poisson-steric")

    def _fitted(self, name: str) -> bool:
        """Whether a species' flux is the EAFE one (``solver.stabilization = "eafe"``):
        ions under a potential model with φ, and every species when steric."""
        if self.case.solver.stabilization != "eafe":
            return False
        return (self.charges[name] != 0 and self.has_phi) or self._steric_on()

    def _fitted_flux_form(
        self, name: str, conc_hat: Mapping[str, Expr], phi_hat: Expr | None, test: Expr, dhat: Expr
    ) -> Any:
        """∫ −N̂·∇v w of one species by edge-averaged exponential fitting
        (:func:`confine.physics.transport.edge_averaged_flux_form`): the drift
        potential ψ = z φ̂ + S and ĉ taken at the vertices of each cell.

        Raises:
            ValueError: not P1 on affine simplices (EAFE works on edges of simplices).
        """
        msh = self.mesh
        if self.case.solver.degree != 1 or msh.geometry.cmaps[0].degree != 1:
            raise ValueError("solver.stabilization = 'eafe' needs P1 on an affine mesh")
        if msh.topology.cell_type not in (
            dmesh.CellType.interval,
            dmesh.CellType.triangle,
            dmesh.CellType.tetrahedron,
        ):
            raise ValueError("solver.stabilization = 'eafe' needs a simplex mesh")
        z = self.charges[name]
        c_v, psi = [], []
        for k in range(self.tdim + 1):
            # S is a nonlinear function of the ions: from their vertex values
            conc_k = {s: transport.vertex_value(conc_hat[s], msh, k) for s in conc_hat}
            value: Expr = 0.0
            if z != 0 and phi_hat is not None:
                value = z * transport.vertex_value(phi_hat, msh, k)
            steric = self._steric_potential(conc_k)
            if steric is not None:
                value = value + steric
            c_v.append(conc_k[name])
            psi.append(value)
        # The integrand is constant per cell (times 2πr), so a one-point rule would
        # do; but FFCx 0.11 miscompiles a kernel that mixes a one-point rule with
        # the vertex rule of the lumped charge (wrong rows in 1D and 2D; guarded by
        # tests/test_pnp.py), hence the solver's usual measure.
        return transport.edge_averaged_flux_form(c_v, psi, test, dhat, msh, self.w, self.dx)

    def _poisson_form(self, conc: Mapping[str, Expr], phi_hat: Expr, ex: Any) -> Any:
        """Scaled Poisson equation (see :mod:`confine.physics.potential`), tested with
        the φ component: interior part kept in ``poisson_interior`` (for the
        consistent wall charge), charged walls added."""
        case = self.case
        assert phi_hat is not None
        wphi = _part(self.v, self.unknowns.index("phi"))
        #: Σ z² c_bulk (mol/m³) and the Debye length (m).
        self.strength = potential.ionic_strength_sum(case)
        self.debye = potential.debye_length(case)
        self.debye_ratio = self.L / self.debye
        self.rho_hat = potential.space_charge_hat(self.charges, conc, self.strength)
        form = potential.poisson_form(
            phi_hat, wphi, self.rho_hat, self.debye_ratio, self.w, self.dx, self._dx_lumped()
        )
        if ex is not None:
            form -= self._mms_poisson_source(ex) * wphi * self.w * self.dx
        self.poisson_interior = form
        for wall in case.walls:
            ds = self.ds(tag(wall.name))
            if wall.condition == "charge":
                form += potential.wall_charge_form(self.wall_value[wall.name], wphi, self.w, ds)
            elif wall.condition == "stern":
                k = self._stern_conductance(wall)
                form += potential.stern_form(
                    k, self.wall_value[wall.name], phi_hat, wphi, self.w, ds
                )
        return form

    def _mms_poisson_source(self, ex: Mapping[str, Any]) -> Expr:
        """g = −∇̂²φ̂ − (L/λ_D)² ρ̂ of the exact fields (scaled)."""
        phi_hat = ex["phi"] / self.vt
        lap = transport.divergence(ufl.grad(phi_hat), self.x, self.axisymmetric)
        rho = potential.space_charge_hat(self.charges, ex["conc"], self.strength)
        return -lap - self.debye_ratio**2 * rho

    def _adsorbate_form(
        self,
        conc: Mapping[str, Expr],
        cov: Mapping[str, Expr],
        phi: Expr,
        nu: Mapping[str, Mapping[str, float]],
        ex: Any,
    ) -> Any:
        """Site balances: Γ D_s ∇²θ + Σ ν r = 0, rates not ramped (homogeneous in s)."""
        case = self.case
        assert self.theta is not None
        meas = self.dx_layer if self.catalyst == "layer" else self.ds_surface
        gamma = self.gamma
        rates1 = self._rates(conc, cov, phi, ramp=False)
        scales = self._adsorbate_rate_scales()
        form = 0
        for j, a in enumerate(self.adsorbed):
            qa = _part(self.q, j)
            Rs = scales[a]
            prod = 0
            for r in case.reactions:
                c = nu[r.name].get(a, 0.0)
                if c:
                    prod = prod + c * rates1[r.name]
            if ex is not None:
                prod = prod + self._mms_adsorbate_source(a, ex, nu)
            term = -(prod / Rs) * qa * self.w * meas
            if self.transient:  # Γ ∂θ/∂t
                dtheta = (cov[a] - self.cov_old[a]) / self.dt
                term += (gamma / Rs) * dtheta * qa * self.w * meas
            ds_ = case.species_named(a).surface_diffusivity
            if ds_ > 0.0:
                if self.catalyst != "layer":
                    raise NotImplementedError("surface diffusion on an areal catalyst")
                # Γ D_s ∇θ·∇q / (L² R_s), divided by s like the rates it balances
                th = _part(self.theta, j)
                term += (
                    (gamma * ds_ / (self.L**2 * Rs))
                    / self.s
                    * ufl.inner(ufl.grad(th), ufl.grad(qa))
                    * self.w
                    * meas
                )
            form += term
        return form

    def _adsorbate_rate_scales(self) -> dict[str, float]:
        """Magnitude of each adsorbate's rate terms at bulk, θ = 0.1, φ = 0 (float)."""
        case = self.case
        vals: dict[str, float] = {
            s: max(case.species_named(s).bulk, self.c_ref[s]) for s in self.c_ref
        }
        cov = dict.fromkeys(self.adsorbed, 0.1)
        out = {}
        for a in self.adsorbed:
            total = 0.0
            for r in case.reactions:
                c = kinetics.stoichiometry(r).get(a, 0.0)
                if not c:
                    continue
                rate = kinetics.reaction_rate(
                    r,
                    {**vals, **cov},
                    cov,
                    k=self._k(r),
                    kb=None,
                    potential=case.electrode.potential,
                    phi=0.0,
                    temperature=self.temperature,
                )
                total += abs(c * rate)
            out[a] = total if total > 0 and math.isfinite(total) else 1.0
        return out

    def bath_facets(self) -> np.ndarray:
        """Facets holding the bath condition: outer_boundary, and a cylinder-pore's ends."""
        ft = self.meshdata.facet_tags
        names = ["outer_boundary"]
        if self.case.geometry.kind == "cylinder-pore":
            names += ["end_a", "end_b"]
        return np.sort(ft.indices[np.isin(ft.values, [tag(n) for n in names])])

    def _build_bcs(self, ex: Any) -> None:
        self.bcs: list[Any] = []
        #: (component, dofs, wall name or None for the bath) of every Dirichlet condition.
        self._bc_dofs: list[tuple[int, np.ndarray, str | None]] = []
        fdim = self.tdim - 1
        ft = self.meshdata.facet_tags
        if self.poisson:
            iphi = self.unknowns.index("phi")
            sub = _sub(self.V, iphi)
            for wall in self.case.walls:
                if wall.condition != "potential":
                    continue
                wf = ft.indices[ft.values == tag(wall.name)]
                dofs = fem.locate_dofs_topological(sub, fdim, wf)
                self.bcs.append(fem.dirichletbc(self.wall_value[wall.name], dofs, sub))
                self._bc_dofs.append((iphi, dofs, wall.name))
        if self.case.geometry.bath_boundary != "bulk":
            return
        facets = self.bath_facets()
        voltage = self.case.geometry.end_voltage is not None
        for i, name in enumerate(self.unknowns):
            sub = _sub(self.V, i)
            if ex is not None:
                Vi, _ = sub.collapse()
                g = fem.Function(Vi)
                target = (
                    ex["phi"] / self.vt
                    if name == "phi"
                    else ex["conc"][name] / self.c_ref[name] - self.bulk_hat[name]
                )
                g.interpolate(fem.Expression(target, Vi.element.interpolation_points))
                dofs = fem.locate_dofs_topological((sub, Vi), fdim, facets)
                self.bcs.append(fem.dirichletbc(g, dofs, sub))
                continue
            if name == "phi" and voltage:  # ±V/2 at the two ends of a cylinder pore
                for end, end_phi in self.end_value.items():
                    ef = ft.indices[ft.values == tag(end)]
                    edofs = fem.locate_dofs_topological(sub, fdim, ef)
                    self._bc_dofs.append((i, edofs, None))
                    self.bcs.append(fem.dirichletbc(end_phi, edofs, sub))
                continue
            dofs = fem.locate_dofs_topological(sub, fdim, facets)
            self._bc_dofs.append((i, dofs, None))
            # the bath holds the bulk: zero deviation (φ = 0)
            self.bcs.append(fem.dirichletbc(0.0, dofs, sub))

    # ------------------------------------------------------------------ MMS
    def _manufactured_fields(self) -> dict[str, Any] | None:
        m = self.manufactured
        if m is None:
            return None
        x = self.x
        conc = {s: m.concentration[s](x) for s in m.concentration}
        if self.eliminated is not None and self.eliminated not in conc:
            conc[self.eliminated] = potential.eliminated_concentration(
                self.charges, conc, self.eliminated, self.charges[self.eliminated]
            )
        cov = {a: m.coverage[a](x) for a in m.coverage}
        phi = m.potential(x) if m.potential is not None else 0.0
        rates = self._rates(conc, cov, phi)
        return {"conc": conc, "cov": cov, "phi": phi, "rates": rates}

    def _mms_species_source(
        self, name: str, ex: Mapping[str, Any], nu: Mapping[str, Mapping[str, float]]
    ) -> Expr:
        """f = ∇·N(exact) − R(exact), physical (mol/(m³ s)), with ∇ in mesh units / L."""
        c = ex["conc"][name]
        phi_hat = ex["phi"] / self.vt
        grad_steric = self._steric({s: ex["conc"][s] / self.c_ref[s] for s in ex["conc"]})
        flux = transport.nernst_planck_flux(
            c,
            ufl.grad(c),
            self.diffusivity[name] * self._diffusivity_hat(name),
            self.charges[name],
            ufl.grad(phi_hat) if self.has_phi else None,
            None if grad_steric is None else grad_steric,
        )
        div = transport.divergence(flux, self.x, self.axisymmetric) / self.L**2
        react: Expr = 0.0
        for r in self.case.reactions:
            coef = nu[r.name].get(name, 0.0)
            if coef and r.where != "surface":
                chi = 1.0 if r.where == "electrolyte" else self.chi_layer
                react = react + coef * chi * ex["rates"][r.name]
        return div - react

    def _mms_phi_source(self, ex: Mapping[str, Any]) -> Expr:
        """g = −∇·(κ∇φ) + F Σ n r (exact), divided by κ (V/m²)."""
        kappa = potential.conductivity(self.case)
        phi = ex["phi"]
        lap = transport.divergence(ufl.grad(phi), self.x, self.axisymmetric) / self.L**2
        src: Expr = 0.0
        for r in self.case.reactions:
            if r.type == "electrochemical" and r.where == "layer":
                src = src + r.electrons * self.chi_layer * ex["rates"][r.name]
        return -kappa * lap / FARADAY + src

    def _mms_adsorbate_source(
        self, a: str, ex: Mapping[str, Any], nu: Mapping[str, Mapping[str, float]]
    ) -> Expr:
        """h = −Σ ν r(exact) − Γ D_s ∇²θ(exact) (unramped rates)."""
        rates = self._rates(ex["conc"], ex["cov"], ex["phi"], ramp=False)
        total: Expr = 0.0
        for r in self.case.reactions:
            c = nu[r.name].get(a, 0.0)
            if c:
                total = total + c * rates[r.name]
        sp = self.case.species_named(a)
        if sp.surface_diffusivity > 0.0:
            gamma = self.gamma
            th = ex["cov"][a]
            lap = transport.divergence(ufl.grad(th), self.x, self.axisymmetric) / self.L**2
            total = total + gamma * sp.surface_diffusivity / self.s * lap
        return -total

    # ------------------------------------------------------------------ SNES
    def _options(self) -> dict[str, Any]:
        s = self.case.solver
        opts: dict[str, Any] = {
            "snes_type": "newtonls",
            "snes_linesearch_type": "bt",
            "snes_rtol": s.rtol,
            "snes_atol": s.atol,
            "snes_stol": 0.0,
            "snes_max_it": s.max_iterations,
            "snes_divergence_tolerance": -1,
        }
        opts.update(DIRECT_OPTIONS if self._direct() else self._iterative_options())
        opts.update(s.petsc_options)
        opts.update(self._extra_options)
        return opts

    def _direct(self) -> bool:
        if self.linear_solver != "auto":
            return self.linear_solver == "direct"
        if self.tdim < 3:
            return True
        k = len(self.unknowns)
        return self.mesh.topology.index_map(0).size_global * k**3 <= DIRECT_MAX_WORK

    def _iterative_options(self) -> dict[str, Any]:
        """:data:`ITERATIVE_OPTIONS` with one :data:`FIELD_AMG` block per unknown on the
        full mesh (species, φ): inside the "c" split with adsorbates, at the top
        level (the splits named "0", "1", ... by :meth:`_split_fields`) without."""
        n = len(self.unknowns)
        if self.adsorbed:
            out = dict(ITERATIVE_OPTIONS)
            out["fieldsplit_c_pc_fieldsplit_block_size"] = n
            prefix = "fieldsplit_c_fieldsplit_"
        else:
            out = {k: v for k, v in ITERATIVE_OPTIONS.items() if not k.startswith("fieldsplit")}
            out["pc_fieldsplit_type"] = "additive"
            prefix = "fieldsplit_"
        for i in range(n):
            out.update({f"{prefix}{i}_{k}": v for k, v in FIELD_AMG.items()})
        return out

    def _build_solver(self) -> None:
        fs: Any = self.F if self.adsorbed else self.F[0]
        us: Any = [self.u, self.theta] if self.adsorbed else self.u
        self._prefix = f"confine_{id(self)}_"
        self.nlp = fem_petsc.NonlinearProblem(
            fs,
            us,
            bcs=self.bcs,
            petsc_options_prefix=self._prefix,
            petsc_options=self._options(),
            kind=None,
            entity_maps=self.entity_maps or None,
        )
        snes = self.nlp.solver
        # the factorisation's own options are read only by a first LU: mark them read,
        # so that a run that never factorises (converged at its start) does not end
        # with PETSc's "unused option" warning (a case's petsc_options still do)
        opts: Any = PETSc.Options()
        for k in DIRECT_OPTIONS:
            opts.hasName(f"{self._prefix}{k}")
        self.history: list[float] = []
        monitor, converged = self._callbacks()
        snes.setMonitor(monitor)
        self._base_type = snes.getType()
        self._vi: Any = None
        snes.setConvergenceTest(converged)
        self._masks = self._field_masks()
        #: Smallest size of each field in the step test: 1 (one RT/F) for φ under the
        #: poisson models, whose walls ramp from s = 1e-8 (φ̂ ~ 1e-8 there), else 0.
        self._size_floor = np.zeros(len(self._masks))
        if self.poisson:
            self._size_floor[self.unknowns.index("phi")] = 1.0
        self._bounds: tuple[Any, Any] | None = None
        self._set_bounds()
        self._drop_structural_zeros()
        self.dofs = self._global_dofs()
        pc = snes.getKSP().getPC()
        if pc.getType() == "fieldsplit":
            self._split_fields(pc)

    def _drop_structural_zeros(self) -> None:
        """Keep only the field couplings that exist in the Jacobian's sparsity pattern.

        dolfinx allocates every component pair of the blocked space at every pair
        of neighbouring nodes: n² entries per node pair, of which the urea network
        couples about a quarter (a species to itself, to φ, to its reaction
        partners). The others are structural zeros that assembly inserts, the
        linear solver multiplies and MUMPS factorises. One assembly at a generic
        state (every field positive and perturbed at random, so no coupling
        vanishes by accident) tells which pairs of fields (i, j) couple anywhere;
        the new pattern keeps every node pair of dolfinx's pattern for those pairs
        (a per-entry test would drop the stiffness entries that vanish by mesh
        geometry, e.g. on structured meshes, and come back as round-off) and the
        diagonal. Assembly then ignores zero entries; an entry outside the pattern
        (a coupling not seen at that state) is still inserted, with a malloc, so
        the Jacobian stays exact. Where it can (a blocked space, PETSc's BAIJ array
        reachable), the species block is assembled by block insertion and gathered
        into such a pattern instead (:class:`confine.assembly.BlockedJacobian`: the
        couplings read off the species block at the generic state, the coverage
        blocks with dolfinx's pattern; dolfinx's assembly takes over if an uncoupled
        pair becomes nonzero).
        """
        A = self.nlp.A
        saved = self._state()
        self._generic_state()
        funcs: Any = [self.u, self.theta] if self.theta is not None else self.u
        snes = self.nlp.solver
        if assembly.available(len(self.unknowns)):  # block insertion (confine.assembly)
            # it assembles the species block at this state and reads the couplings off it
            jac = assembly.BlockedJacobian(self.nlp.J, funcs, self.bcs, A)
            self._restore(saved)
            snes.setJacobian(jac, jac.matrix, None)
            A.destroy()
            self.nlp._A = jac.matrix  # what NonlinearProblem.A returns
            return
        x = self.nlp.x
        fem_petsc.assign(funcs, x)
        snes.computeJacobian(x, A)
        self._restore(saved)
        pattern = self._coupled_pattern(A)
        # block sizes kept: with one blocked form dolfinx inserts blocks
        B = assembly.matrix_like(A, lambda M: M.setPreallocationCSR(pattern))
        option: Any = PETSc.Mat.Option
        B.setOption(option.IGNORE_ZERO_ENTRIES, True)
        B.setOption(option.NEW_NONZERO_ALLOCATION_ERR, False)
        jacobian: Any = snes.getJacobian()
        assemble, args, kargs = jacobian[2]
        snes.setJacobian(assemble, B, None, args=args, kargs=kargs)
        A.destroy()
        self.nlp._A = B  # what NonlinearProblem.A returns

    def _coupled_pattern(self, A: Any) -> tuple[np.ndarray, np.ndarray]:
        """CSR pattern (local rows, global columns) of ``A``'s entries whose pair of
        fields has a nonzero entry on some rank, and of its diagonal."""
        ia, ja, va = A.getValuesCSR()
        start = A.getOwnershipRange()[0]
        nf = len(self.unknowns) + len(self.adsorbed)
        local = np.zeros((nf, nf), dtype=np.int32)
        for _, sl, fr, fc in self._entry_chunks(A, ia, ja):
            nz = va[sl] != 0.0
            local[fr[nz], fc[nz]] = 1
        del va
        coupled = np.zeros_like(local)
        self.comm.Allreduce(local, coupled, op=MPI.MAX)
        keep = np.zeros(len(ja), dtype=bool)
        counts = np.zeros(len(ia) - 1, dtype=np.int64)
        for rows, sl, fr, fc in self._entry_chunks(A, ia, ja):
            k = (coupled[fr, fc] > 0) | (start + rows == ja[sl])
            keep[sl] = k
            counts += np.bincount(rows[k], minlength=len(counts))
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(PETSc.IntType)
        return indptr, ja[keep].astype(PETSc.IntType)

    def _entry_chunks(
        self, A: Any, ia: np.ndarray, ja: np.ndarray
    ) -> Iterator[tuple[np.ndarray, slice, np.ndarray, np.ndarray]]:
        """``A``'s owned CSR (``ia``, ``ja``: global columns) in chunks of rows (bounded
        temporaries on big meshes): each entry's local row, the chunk's slice of
        ``ja``, and the fields of each entry's row and column. Collective."""
        start = A.getOwnershipRange()[0]
        ranges = np.asarray(A.getOwnershipRanges())
        n0 = np.asarray(
            self.comm.allgather(self.V.dofmap.index_map.size_local * len(self.unknowns))
        )
        nrows = len(ia) - 1
        step = max(1, nrows // 64)
        for r0 in range(0, nrows, step):
            r1 = min(r0 + step, nrows)
            rows = np.repeat(np.arange(r0, r1), np.diff(ia[r0 : r1 + 1]))
            sl = slice(ia[r0], ia[r1])
            fields = self._field_of(start + rows, ranges, n0), self._field_of(ja[sl], ranges, n0)
            yield rows, sl, *fields

    def _field_of(self, index: np.ndarray, ranges: np.ndarray, n0: np.ndarray) -> np.ndarray:
        """Field (unknown, then coverage) of global indices of the solution vector: each
        rank owns its u block (``n0`` entries: nodes × unknowns, interleaved), then its
        θ block; ``ranges``: the ownership ranges."""
        nu, na = len(self.unknowns), max(len(self.adsorbed), 1)
        owner = np.searchsorted(ranges, index, side="right") - 1
        local = index - ranges[owner]
        return np.where(local < n0[owner], local % nu, nu + (local - n0[owner]) % na)

    def _generic_state(self) -> None:
        """The bulk state, every value scaled by a random factor in [0.75, 1.25] and
        raised by 0.5e-3 to 1.5e-3 (products start at zero), the coverages' sum kept
        at most 0.9."""
        rng = np.random.default_rng(self.comm.rank)
        self.set_bulk_state()
        for f in (self.u, self.theta):
            if f is None:
                continue
            a = f.x.array
            a[:] = a * (0.75 + 0.5 * rng.random(a.size)) + 1e-3 * (0.5 + rng.random(a.size))
        if self.theta is not None:
            th = self.theta.x.array.reshape(-1, len(self.adsorbed))
            th /= np.maximum(1.0, th.sum(axis=1, keepdims=True) / 0.9)
        for f in (self.u, self.theta):
            if f is not None:
                f.x.scatter_forward()

    def _split_fields(self, pc: Any) -> None:
        """Name the blocks of a fieldsplit preconditioner: "c" (species and φ) and
        "theta" (coverages), or one split per unknown ("0", "1", ...) without
        adsorbates."""
        start = self.nlp.A.getOwnershipRange()[0]
        bs0 = len(self.unknowns)
        n0 = self.V.dofmap.index_map.size_local * bs0
        if self.theta is None:
            splits = []
            for i in range(bs0):  # named by index: species names are no option prefixes
                idx = start + np.arange(i, n0, bs0, dtype=np.int32)
                splits.append((str(i), _index_set(idx, self.comm)))
            pc.setFieldSplitIS(*splits)
            return
        n1 = self.W.dofmap.index_map.size_local * len(self.adsorbed)
        is0 = _index_set(start + np.arange(n0, dtype=np.int32), self.comm)
        is0.setBlockSize(bs0)
        is1 = _index_set(start + n0 + np.arange(n1, dtype=np.int32), self.comm)
        pc.setFieldSplitIS(("c", is0), ("theta", is1))

    def _field_masks(self) -> list[np.ndarray]:
        """Index arrays into the owned part of the solution vector, one per field."""
        bs0 = len(self.unknowns)
        n0 = self.V.dofmap.index_map.size_local * bs0
        masks = [np.arange(i, n0, bs0) for i in range(bs0)]
        if self.theta is not None:
            bs1 = len(self.adsorbed)
            n1 = self.W.dofmap.index_map.size_local * bs1
            masks += [n0 + np.arange(j, n1, bs1) for j in range(bs1)]
        return masks

    def _convergence_test(self, snes: Any, it: int, norms: tuple[float, float, float]) -> int:
        """Converged when every field's Newton step is below √rtol of that field's size
        (φ̂ of the poisson models: of max(size, 1)) and the residual fell by
        :data:`RESIDUAL_DROP`.

        A global residual norm mixes fields of very different sizes (a trace
        product next to the supporting electrolyte), so PETSc's default test
        can stop before small fields are resolved; this test asks each field
        (each species, φ, each coverage) separately. Nothing in it is absolute
        (``solver.atol`` is 0 unless a case sets it): an absolute residual
        tolerance stops a problem of small scale before it is solved.
        """
        _, _, fnorm = norms
        x = snes.getSolution().array_r
        if it == 0:
            self._xprev = x.copy()
            self._fnorm0 = self._fprev = fnorm
            # already solved (e.g. pure diffusion from the bulk state): a Newton
            # step from a zero residual would only fail its line search
            if fnorm <= self.case.solver.atol:
                return int(PETSc.SNES.ConvergedReason.CONVERGED_FNORM_ABS)
            return 0
        if not math.isfinite(fnorm):
            return int(PETSc.SNES.ConvergedReason.DIVERGED_FUNCTION_NANORINF)
        dx = x - self._xprev
        self._xprev = x.copy()
        # Newton converges quadratically (exact Jacobian): a step below √rtol of every
        # field leaves an error of order rtol, so the next step need not be taken
        small = self._small_step(dx, x, math.sqrt(self.case.solver.rtol))
        # a small step only counts with a residual that fell too: an inexact or
        # failed linear solve, or a line search damping a step at a local minimum of
        # the residual (Galerkin asked for negative concentrations), also gives small
        # steps. A residual at its round-off floor from the start is recognised where
        # its line search fails (_snes_solve: the undamped Newton correction).
        reduced = fnorm <= max(RESIDUAL_DROP * self._fnorm0, 1e3 * self.case.solver.atol)
        stalled = fnorm > STALL_RATIO * self._fprev
        self._fprev = fnorm
        small = small and (reduced or (stalled and self._at_round_off(snes)))
        if small or fnorm <= self.case.solver.atol:
            return int(
                PETSc.SNES.ConvergedReason.CONVERGED_SNORM_RELATIVE
                if small
                else PETSc.SNES.ConvergedReason.CONVERGED_FNORM_ABS
            )
        if it >= snes.getTolerances()[3]:
            return int(PETSc.SNES.ConvergedReason.DIVERGED_MAX_IT)
        return 0

    def _at_round_off(self, snes: Any) -> bool:
        """The undamped Newton correction at the current state is below rtol of every
        field (collective): the residual is at its round-off floor, not at a local
        minimum, where a line search damps a large correction into small steps.

        One more linear solve with the last Jacobian; the bounded (VI) solver,
        whose linear system is a reduced one, is never judged so.
        """
        if snes.getType().startswith("vi"):
            return False
        f = snes.getFunction()[0]
        y = f.duplicate()
        ksp = snes.getKSP()
        ksp.solve(f, y)
        ok = int(ksp.getConvergedReason()) > 0 and self._small_step(
            y.array_r, snes.getSolution().array_r
        )
        y.destroy()
        return ok

    def _small_step(self, dx: np.ndarray, x: np.ndarray, rtol: float | None = None) -> bool:
        """Every field's step below ``rtol`` (default ``solver.rtol``) of its size
        (collective).

        A field's size is that of ĉ (deviation + bulk), θ or φ̂ (the poisson
        models' φ̂ at least 1).
        """
        off = np.zeros(len(self._masks))
        off[: len(self.unknowns)] = self.bulk_offsets()
        loc = np.array(
            [
                [np.abs(dx[m]).max(initial=0.0), np.abs(x[m] + o).max(initial=0.0)]
                for m, o in zip(self._masks, off, strict=True)
            ]
        )
        glob = np.empty_like(loc)
        self.comm.Allreduce(loc, glob, op=MPI.MAX)
        size = np.maximum(glob[:, 1], self._size_floor)
        tol = self.case.solver.rtol if rtol is None else rtol
        return bool(np.all(glob[:, 0] <= tol * size))

    def _set_bounds(self) -> None:
        """Bounds of the variational-inequality solver: c ≥ 0 (a deviation ≥ −bulk),
        θ in [0, 1]; φ free. Filled again by :meth:`update` (the bulk may change)."""
        big = PETSc.INFINITY if hasattr(PETSc, "INFINITY") else 1e300
        funcs = [self.u] + ([self.theta] if self.theta is not None else [])
        lo = [fem.Function(f.function_space) for f in funcs]
        hi = [fem.Function(f.function_space) for f in funcs]
        bs = len(self.unknowns)
        lo0 = lo[0].x.array.reshape(-1, bs)
        hi0 = hi[0].x.array.reshape(-1, bs)
        lo0[:] = -self.bulk_offsets()
        for i, name in enumerate(self.unknowns):
            if name == "phi":
                lo0[:, i] = -big
        hi0[:] = big
        if self.theta is not None:
            lo[1].x.array[:] = 0.0
            hi[1].x.array[:] = 1.0
        if self._bounds is None:
            self._bounds = (self.nlp.x.duplicate(), self.nlp.x.duplicate())
        xl, xu = self._bounds  # filled in place: a VI solver holds these vectors
        target_lo: Any = lo if self.adsorbed else lo[0]
        target_hi: Any = hi if self.adsorbed else hi[0]
        fem_petsc.assign(target_lo, xl)
        fem_petsc.assign(target_hi, xu)
        if self.nlp.solver.getType().startswith("vi"):
            self.nlp.solver.setVariableBounds(xl, xu)

    def bulk_offsets(self) -> np.ndarray:
        """ĉ_bulk of each unknown on the full mesh (0 for φ): ĉ = offset + unknown."""
        return np.array(
            [0.0 if n == "phi" else float(self.bulk_hat[n].value) for n in self.unknowns]
        )

    def scaled_values(self) -> np.ndarray:
        """The unknowns on the full mesh as ĉ = c / c_ref (φ̂ for φ), one row per node
        (this rank's local and ghost nodes): the deviations plus the bulk."""
        bs = len(self.unknowns)
        return self.u.x.array.reshape(-1, bs) + self.bulk_offsets()

    def _global_dofs(self) -> int:
        n = self.V.dofmap.index_map.size_global * self.V.dofmap.index_map_bs
        if self.theta is not None:
            n += self.W.dofmap.index_map.size_global * self.W.dofmap.index_map_bs
        return int(n)

    # ------------------------------------------------------------------ state
    def set_bulk_state(self) -> None:
        """Bulk concentrations everywhere, φ = 0, coverages at their initial values."""
        bs = len(self.unknowns)
        arr = self.u.x.array.reshape(-1, bs)
        arr[:] = 0.0  # no deviation from the bulk, φ = 0
        if self.theta is not None:
            tarr = self.theta.x.array.reshape(-1, len(self.adsorbed))
            theta0 = self.initial_coverages()
            for j, a in enumerate(self.adsorbed):
                tarr[:, j] = theta0[a]

    def initial_coverages(self) -> dict[str, float]:
        """Coverages that balance the site kinetics at bulk concentrations and φ = 0.

        With every catalytic rate scaled by s, the site balances do not depend
        on s, so bulk concentrations with these coverages solve s → 0 exactly;
        starting from θ = 0 instead would make the Jacobian singular (every
        rate then sees only Σθ through θ_free). Starts from ``species.initial``.
        """
        from scipy.optimize import least_squares

        case = self.case
        vals = {s: case.species_named(s).bulk for s in self.c_ref}
        scales = self._adsorbate_rate_scales()
        nus = {r.name: kinetics.stoichiometry(r) for r in case.reactions}

        def residual(th: np.ndarray) -> np.ndarray:
            cov = dict(zip(self.adsorbed, th.tolist(), strict=True))
            out = np.zeros(len(self.adsorbed))
            for r in case.reactions:
                if not any(a in nus[r.name] for a in self.adsorbed):
                    continue
                rate = kinetics.reaction_rate(
                    r,
                    {**vals, **cov},
                    cov,
                    k=self._k(r),
                    kb=r.backward_rate_constant,
                    potential=case.electrode.potential,
                    phi=0.0,
                    temperature=self.temperature,
                )
                for j, a in enumerate(self.adsorbed):
                    out[j] += nus[r.name].get(a, 0.0) * rate / scales[a]
            return out

        start = np.array([case.species_named(a).initial for a in self.adsorbed], dtype=float)
        start = np.clip(start, 1e-6, 1.0 - 1e-6) / max(1.0, start.sum() + 1e-3)
        fit = least_squares(residual, start, bounds=(0.0, 1.0), xtol=1e-15, ftol=1e-15, gtol=1e-15)
        return dict(zip(self.adsorbed, fit.x.tolist(), strict=True))

    def _state(self) -> list[np.ndarray]:
        out = [self.u.x.array.copy()]
        if self.theta is not None:
            out.append(self.theta.x.array.copy())
        return out

    def _restore(self, state: Sequence[np.ndarray]) -> None:
        self.u.x.array[:] = state[0]
        if self.theta is not None:
            self.theta.x.array[:] = state[1]

    def copy_state(self, other: Problem, state: Sequence[np.ndarray]) -> None:
        """Warm start from another problem's state on the same mesh and unknowns."""
        if (
            other.unknowns != self.unknowns
            or other.adsorbed != self.adsorbed
            or other.mesh is not self.mesh
        ):
            raise ValueError("cannot warm-start from a problem with other unknowns or mesh")
        self._restore(state)

    def _newton(self) -> tuple[int, int, int]:
        """One SNES solve from the current state: (reason, iterations, linear iterations).

        Newton (line search) first; if it converges to a state with negative
        concentrations or coverages outside [0, 1], the step is redone from
        the same start as a variational inequality (``vinewtonrsls``) with
        those bounds.
        """
        saved = self._state()
        reason, its, lits = self._snes_solve()
        if reason > 0 and not self._admissible() and not self._base_type.startswith("vi"):
            self._restore(saved)
            r2, i2, l2 = self._snes_solve(self._vi_solver())
            reason, its, lits = r2, its + i2, lits + l2
        return reason, its, lits

    def _callbacks(self) -> tuple[Any, Any]:
        """SNES monitor and convergence test that hold the problem weakly.

        A PETSc object keeps its Python callbacks where the cyclic garbage
        collector cannot see them: a bound method would keep the problem (and
        its mesh, forms and MPI communicators) alive for ever, and a process
        running a few hundred cases would run out of communicators.
        """
        ref = weakref.ref(self)

        def monitor(_snes: Any, _it: int, norm: float) -> None:
            problem = ref()
            if problem is not None:
                problem.history.append(float(norm))

        def converged(snes: Any, it: int, norms: Any) -> Any:
            problem = ref()
            return problem._convergence_test(snes, it, norms) if problem is not None else 0

        return monitor, converged

    def _vi_solver(self) -> Any:
        """A second SNES (``vinewtonrsls``, bounds) on the same callbacks and matrices.

        A separate object because PETSc does not let a SNES drop its bounds
        once set, and the line-search Newton must stay unbounded.
        """
        if self._vi is not None:
            return self._vi
        main: Any = self.nlp.solver
        snes: Any = PETSc.SNES().create(cast(Any, self.comm))
        snes.setOptionsPrefix(f"{self._prefix}vi_")
        _, (fn, fargs, fkargs) = main.getFunction()
        _, _, (jfn, jargs, jkargs) = main.getJacobian()
        snes.setFunction(fn, self.nlp.b, args=fargs, kargs=fkargs)
        snes.setJacobian(jfn, self.nlp.A, self.nlp.P_mat, args=jargs, kargs=jkargs)
        opts: Any = PETSc.Options()
        values = {**self._options(), "snes_type": "vinewtonrsls"}
        for k, v in values.items():
            opts[f"{self._prefix}vi_{k}"] = v
        snes.setFromOptions()
        for k in values:
            del opts[f"{self._prefix}vi_{k}"]
        assert self._bounds is not None
        snes.setVariableBounds(*self._bounds)
        monitor, converged = self._callbacks()
        snes.setConvergenceTest(converged)
        snes.setMonitor(monitor)
        if snes.getKSP().getPC().getType() == "fieldsplit":
            self._split_fields(snes.getKSP().getPC())
        self._vi = snes
        return snes

    def _snes_solve(self, snes: Any = None) -> tuple[int, int, int]:
        """Run a SNES (default the line-search Newton) from the current functions."""
        self.history.clear()
        if snes is None:
            snes = self.nlp.solver
            self.nlp.solve()
        else:  # what NonlinearProblem.solve does, on another SNES
            funcs: Any = [self.u, self.theta] if self.theta is not None else self.u
            x: Any = self.nlp.x
            assign: Any = fem_petsc.assign
            assign(funcs, x)
            snes.solve(None, x)
            x.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
            assign(x, funcs)
        reason = int(cast(Any, snes.getConvergedReason()))
        h = self.history
        if (
            reason == int(PETSc.SNES.ConvergedReason.DIVERGED_LINE_SEARCH)
            and len(h) >= 2
            and h[-1] <= RESIDUAL_DROP * h[0]
        ):
            # the residual already fell by RESIDUAL_DROP and the line search finds no
            # descent: it sits at its round-off floor, which is relative to the largest
            # terms of the balances (a fast buffer in equilibrium), not to the step's
            # first residual (a tiny first continuation step: 2e-8 of it, measured).
            # The state is converged; the quality gate checks what it implies.
            reason = int(PETSc.SNES.ConvergedReason.CONVERGED_FNORM_RELATIVE)
        elif reason == int(PETSc.SNES.ConvergedReason.DIVERGED_LINE_SEARCH) and self._at_round_off(
            snes
        ):
            # the state is already the solution, its residual at round-off from the
            # start (a step dominated by terms the continuation does not ramp: a
            # homogeneous decay, an exchange): no step can decrease it
            reason = int(PETSc.SNES.ConvergedReason.CONVERGED_SNORM_RELATIVE)
        return (
            reason,
            int(snes.getIterationNumber()),
            int(snes.getLinearSolveIterations()),
        )

    def _admissible(self, tol: float = BOUND_TOLERANCE) -> bool:
        """No field far outside its bounds: min c ≥ −tol·max c, θ in [−tol, 1 + tol].

        P1 Galerkin has no discrete maximum principle, so a trace species may
        undershoot zero slightly next to a steep layer; that is discretisation
        error, and bounding it would break the discrete conservation at the
        active nodes. Only a real excursion (an unphysical Newton branch)
        sends the step to the bounded solver.
        """
        bs = len(self.unknowns)
        arr = self.scaled_values()
        lo = np.array(
            [
                arr[:, i].min(initial=np.inf) if n != "phi" else np.inf
                for i, n in enumerate(self.unknowns)
            ]
        )
        hi = np.array([np.abs(arr[:, i]).max(initial=0.0) for i in range(bs)])
        glo, ghi = np.empty_like(lo), np.empty_like(hi)
        self.comm.Allreduce(lo, glo, op=MPI.MIN)
        self.comm.Allreduce(hi, ghi, op=MPI.MAX)
        ok = bool(np.all(glo >= -tol * ghi))
        if self.theta is not None:
            th = self.theta.x.array
            t_lo = self.comm.allreduce(th.min(initial=np.inf), op=MPI.MIN)
            t_hi = self.comm.allreduce(th.max(initial=-np.inf), op=MPI.MAX)
            ok = ok and t_lo >= -tol and t_hi <= 1.0 + tol
        return ok

    def solve(self, warm: bool = False) -> Solution:
        """Continuation from the bulk state (or a warm start) to s = 1.

        Raises:
            SolverError: a step failed even after halving.
        """
        if self.transient:
            return self._march()
        t0 = time.perf_counter()
        n_steps = self.case.solver.continuation_steps
        newton = linear = 0
        history: list[float] = []
        reached: list[float] = []
        if warm:
            saved = self._state()
            self.set_multiplier(1.0)
            reason, its, lits = self._newton()
            newton += its
            linear += lits
            history += self.history
            if reason > 0 and self._finite():
                return self._result(t0, newton, linear, history, [1.0], [its])
            failed = its
            self._restore(saved)  # fall back to the cold path from the warm state
        else:
            failed = 0
            self.set_bulk_state()
        per_step: list[int] = []
        logs = np.linspace(math.log10(S_START), 0.0, n_steps + 1)
        log_done: float | None = None
        step = 0
        target_idx = 0
        log_target = float(logs[0])
        halvings = 0
        attempts = 0
        max_attempts = 4 * (n_steps + MAX_HALVINGS)
        while True:
            attempts += 1
            saved = self._state()
            self.set_multiplier(10.0**log_target)
            reason, its, lits = self._newton()
            newton += its
            linear += lits
            history += self.history
            if reason > 0 and self._finite():
                reached.append(10.0**log_target)
                per_step.append(its)
                last_increment = None if log_done is None else log_target - log_done
                log_done = log_target
                step += 1
                if log_target >= 0.0:
                    break
                halvings = 0
                while target_idx < len(logs) - 1 and logs[target_idx] <= log_target + 1e-12:
                    target_idx += 1
                log_target = float(logs[target_idx])
                # a step that needed many (damped) iterations: the next, equally long
                # one would likely crawl into the iteration cap, so take half of it
                if its > SLOW_STEP_ITERATIONS and last_increment is not None:
                    half = max(0.5 * last_increment, MIN_LOG_STEP)
                    log_target = min(log_target, log_done + half)
                continue
            self._restore(saved)
            failed += its
            halvings += 1
            if log_done is None or halvings > MAX_HALVINGS or attempts >= max_attempts:
                raise SolverError(
                    "Newton did not converge",
                    history=self.history,
                    step=step,
                    multiplier=10.0**log_target,
                    converged_multiplier=None if log_done is None else 10.0**log_done,
                    reason=reason,
                )
            log_target = 0.5 * (log_done + log_target)
        return self._result(t0, newton, linear, history, reached, per_step, failed)

    def _march(self) -> Solution:
        """Backward Euler from the bulk state to end_time (steps halved on failure)."""
        t0 = time.perf_counter()
        sv = self.case.solver
        end = float(sv.end_time or 0.0)
        dt_max = float(sv.time_step or end)
        self.set_bulk_state()
        if self.theta is not None:  # a transient starts from the declared coverages
            tarr = self.theta.x.array.reshape(-1, len(self.adsorbed))
            for j, a in enumerate(self.adsorbed):
                tarr[:, j] = self.case.species_named(a).initial
        self.set_multiplier(1.0)
        t, dt = 0.0, dt_max
        newton = linear = 0
        history: list[float] = []
        times = [0.0]
        while t < end * (1 - 1e-12):
            step = min(dt, end - t)
            self.u_old.x.array[:] = self.u.x.array
            if self.theta_old is not None and self.theta is not None:
                self.theta_old.x.array[:] = self.theta.x.array
            saved = self._state()
            _assign(self.dt, step)
            reason, its, lits = self._newton()
            newton += its
            linear += lits
            history += self.history
            if reason > 0 and self._finite():
                t += step
                times.append(t)
                dt = min(2 * dt, dt_max) if its <= 4 else dt
                continue
            self._restore(saved)
            dt = step / 2
            if dt < 1e-9 * dt_max:
                raise SolverError(
                    f"time step collapsed at t = {t:.6g} s",
                    history=self.history,
                    step=len(times) - 1,
                    multiplier=1.0,
                    converged_multiplier=None,
                    reason=reason,
                )
        sol = self._result(t0, newton, linear, history, [1.0])
        sol.times = times
        return sol

    def _finite(self) -> bool:
        ok = bool(np.all(np.isfinite(self.u.x.array)))
        if self.theta is not None:
            ok = ok and bool(np.all(np.isfinite(self.theta.x.array)))
        return bool(self.comm.allreduce(ok, op=MPI.LAND))

    def _result(
        self,
        t0: float,
        newton: int,
        linear: int,
        history: list[float],
        reached: list[float],
        per_step: Sequence[int] = (),
        failed: int = 0,
    ) -> Solution:
        return Solution(
            case=self.case,
            meshdata=self.meshdata,
            problem=self,
            converged=True,
            newton_iterations=newton,
            linear_iterations=linear,
            residual_history=history,
            multipliers=reached,
            wall_time_s=time.perf_counter() - t0,
            dofs=self.dofs,
            state=self._state(),
            step_iterations=list(per_step),
            failed_iterations=failed,
        )

    # ------------------------------------------------------------------ evaluation
    def form(self, expr: Any) -> Any:
        """Compile a form (with the catalyst entity maps when there are adsorbates).

        Kept per problem: the metrics of every point of a warm-started chain
        assemble the same few hundred functionals, and each fresh ``fem.form``
        costs a look-up in the JIT cache directory (slow when it is large).
        UFL forms hash and compare structurally, coefficients by identity.
        """
        cached = self._forms.get(expr)
        if cached is None:
            cached = fem.form(expr, entity_maps=self.entity_maps or None)
            self._forms[expr] = cached
        return cached

    def integrate(self, expr: Any) -> float:
        """Assemble a scalar form and sum over ranks."""
        local = fem.assemble_scalar(self.form(expr))
        return float(self.comm.allreduce(local, op=MPI.SUM))

    def rate_integral(self, name: str) -> float:
        """∫ r dV (or dA) over where the reaction happens, mol/s per cell (not × multiplicity)."""
        r = self.case.reaction_named(name)
        meas = self._measure(r)
        if meas is None:
            return 0.0
        dim = self.d - 1 if r.where == "surface" else self.d
        return self.integrate(self.rates[name] * self.w * meas) * self.L**dim

    def outward_flux(self, name: str, group: str | None = None) -> float:
        """Outward flux (mol/s per cell) through the bath faces from the assembled residual.

        The residual of the species balance tested with the P1 function that is
        1 on the faces' nodes and 0 elsewhere (the consistent flux), so it
        is exact to the solver tolerance, unlike −D∇c·n of the P1 field.

        Args:
            name: a solution species.
            group: one facet group (e.g. ``end_a``); default every bath face
                (:meth:`bath_facets`).
        """
        key = (name, group)
        g = self._flux_tests.get(key)
        if g is None:  # one test function per species and faces: its functional compiles once
            g = fem.Function(self.V)
            fdim = self.tdim - 1
            if group is None:
                facets = self.bath_facets()
            else:
                ft = self.meshdata.facet_tags
                facets = ft.indices[ft.values == tag(group)]
            comp = self.eq_test[name]
            sub = _sub(self.V, comp)
            Vi = sub.collapse()[0] if sub.component() else sub  # one unknown: V is scalar
            dofs = fem.locate_dofs_topological((sub, Vi), fdim, facets)[0]
            g.x.array[dofs] = 1.0
            g.x.scatter_forward()
            self._flux_tests[key] = g
        functional = ufl.replace(self.eq_forms[name], {self.v: g})
        return -self.integrate(functional) * self.eq_scale[name]

    def cell_peclet(self) -> float:
        """Largest cell Péclet number of migration, max |z| · max over edges |Δφ̂|.

        Galerkin ion fluxes need it below about 2 (a larger value calls for
        ``solver.stabilization = "eafe"``); 0 without φ or ions.
        """
        charges = [abs(z) for z in self.charges.values() if z != 0]
        if not self.has_phi or not charges:
            return 0.0
        Q = fem.functionspace(self.mesh, ("DG", 0))
        jump = fem.Function(Q)
        if "_peclet" not in self._expressions:  # compiled once per problem
            phi_hat = _part(self.u, self.unknowns.index("phi"))
            expr = transport.edge_peclet(phi_hat, self.mesh)
            self._expressions["_peclet"] = fem.Expression(expr, Q.element.interpolation_points)
        jump.interpolate(self._expressions["_peclet"])
        local = jump.x.array.max(initial=0.0)
        return max(charges) * float(self.comm.allreduce(local, op=MPI.MAX))

    # ------------------------------------------------------------------ walls (poisson)
    def _wall_indicator(self, name: str) -> fem.Function:
        """Function in V whose φ component is 1 on the wall's nodes, 0 elsewhere."""
        g = fem.Function(self.V)
        ft = self.meshdata.facet_tags
        facets = ft.indices[ft.values == tag(name)]
        sub = _sub(self.V, self.unknowns.index("phi"))
        Vi, _ = sub.collapse()
        dofs = fem.locate_dofs_topological((sub, Vi), self.tdim - 1, facets)[0]
        g.x.array[dofs] = 1.0
        g.x.scatter_forward()
        return g

    def _wall_area_hat(self, name: str) -> float:
        return self.integrate(self.w * self.ds(tag(name)))

    def wall_potential(self, name: str) -> float:
        """Area mean of φ over a wall (V, relative to the bath)."""
        if not self.poisson:
            raise ValueError("wall potentials need a poisson potential model")
        phi_hat = _part(self.u, self.unknowns.index("phi"))
        return (
            self.vt
            * self.integrate(phi_hat * self.w * self.ds(tag(name)))
            / (self._wall_area_hat(name))
        )

    def wall_charge(self, name: str) -> float:
        """Area mean surface charge density of a wall (C/m²).

        A wall of given charge returns it; otherwise (given potential, Stern
        layer, or an uncharged wall) the consistent flux: Poisson's residual tested with the
        function that is 1 on the wall's nodes, which is ∮ ε ∂φ/∂n = the wall's
        charge to solver tolerance (Gauss's law for the discrete solution).
        """
        if not self.poisson:
            raise ValueError("wall charges need a poisson potential model")
        wall = self.case.wall_named(name)
        if wall is not None and wall.condition == "charge":
            return float(self.wall_value[name].value) * self.charge_scale
        g = self._wall_indicator(name)
        q = self.integrate(ufl.replace(self.poisson_interior, {self.v: g}))
        return q / self._wall_area_hat(name) * self.charge_scale

    def physical_functions(self) -> dict[str, fem.Function]:
        """P1 Functions on the whole mesh in mol/m³ (species), V (phi) and coverage
        (adsorbates on a layer, 0 elsewhere); higher degrees are interpolated to P1."""
        P1 = fem.functionspace(self.mesh, ("Lagrange", 1))
        pts = P1.element.interpolation_points
        cache = self._expressions  # metrics of every sweep point call this

        def to_p1(expr: Any, name: str) -> fem.Function:
            if name not in cache:
                cache[name] = fem.Expression(expr, pts)
            f = fem.Function(P1, name=name)
            f.interpolate(cache[name])
            return f

        out: dict[str, fem.Function] = {}
        for name in self.c_ref:
            out[name] = to_p1(self.conc[name], name)
        if self.has_phi:
            out["phi"] = to_p1(self.phi, "phi")
        if self.poisson:  # ρ = F Σ z c (C/m³)
            out["space_charge"] = to_p1(FARADAY * self.strength * self.rho_hat, "space_charge")
        if self.theta is not None and self.catalyst == "layer":
            tdim = self.tdim
            sub = self.submesh
            assert sub is not None
            imap = sub.topology.index_map(tdim)
            sub_cells = np.arange(imap.size_local + imap.num_ghosts, dtype=np.int32)
            cells = self.entity_maps[0].sub_topology_to_topology(sub_cells, inverse=False)
            Wp = fem.functionspace(sub, ("Lagrange", 1))
            for j, a in enumerate(self.adsorbed):
                key = f"theta:{a}"
                if key not in cache:
                    theta_j = _part(self.theta, j)
                    cache[key] = fem.Expression(theta_j, Wp.element.interpolation_points)
                th = fem.Function(Wp)
                th.interpolate(cache[key])
                f = fem.Function(P1, name=a)
                f.interpolate(th, cells0=sub_cells, cells1=np.asarray(cells, dtype=np.int32))
                f.x.scatter_forward()
                out[a] = f
        return out

    # ------------------------------------------------------------------ public names (issue 21)
    # what confine.metrics reads, under the names the solver split keeps public
    def measure_of(self, r: Reaction) -> Any:
        return self._measure(r)

    @property
    def bc_dofs(self) -> list[tuple[int, np.ndarray, str | None]]:
        return self._bc_dofs

    def stern_conductance(self, wall: Wall) -> float:
        return self._stern_conductance(wall)

    def wall_indicator(self, name: str) -> fem.Function:
        return self._wall_indicator(name)

    def wall_area_hat(self, name: str) -> float:
        return self._wall_area_hat(name)
