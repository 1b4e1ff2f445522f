"""The discrete model of one case on one mesh: spaces, Constants, residual, conditions.

Built once per case structure and mesh (:func:`confine.fem.swept.form_signature`)
and reused across the points of a warm-started sweep: a new point only sets
Constants (:meth:`Model.update`). The model is not the solver: it holds no
SNES, no PETSc options, no matrices (those live in :mod:`confine.solver`),
and it is what a :class:`confine.solution.Solution` refers to. Metrics read
the names below (the public contract); :meth:`Model.load` puts a solution's
state and values into the Functions first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from confine.case import Case, Reaction, Wall
from confine.fem import evaluate, fields
from confine.fem.bcs import bath_facets, build_bcs
from confine.fem.parameters import Parameters
from confine.fem.residual import SourceHook, build_residual
from confine.fem.spaces import Spaces
from confine.mesh import MeshData

from confine.env import import_dolfinx  # isort: skip

import_dolfinx()
from dolfinx import fem  # noqa: E402
from mpi4py import MPI  # noqa: E402


class Model:
    """Spaces → Constants → residual → conditions, and the names metrics read.

    Attributes: every public attribute of :class:`~confine.fem.spaces.Spaces`
    (scales, measures, spaces, sites), the Constants metrics read (``wall_value``,
    ``charge_scale``, ``dt``), the residual's expressions (``F``, ``conc``, ``cov``,
    ``phi``, ``rates``, ``poisson_interior``, ``strength``, ``debye``, ``rho_hat``,
    ``conc_old``, ``cov_old``) and the conditions (``bcs``, ``bc_dofs``); the
    stages themselves as ``spaces``, ``params``, ``residual``, ``boundary``.
    """

    def __init__(
        self,
        case: Case,
        meshdata: MeshData,
        comm: MPI.Comm | None = None,
        *,
        manufactured: SourceHook | None = None,
    ):
        self.spaces = sp = Spaces(case, meshdata, comm)
        self.params = pa = Parameters(sp, case)
        sources = manufactured.sources(sp, pa) if manufactured is not None else None
        self.residual = res = build_residual(sp, pa, sources)
        self.boundary = build_bcs(sp, pa, sources.dirichlet if sources is not None else None)
        self.manufactured = manufactured
        # the spaces, scales and measures
        self.meshdata, self.mesh, self.comm = sp.meshdata, sp.mesh, sp.comm
        self.L, self.d, self.tdim, self.w, self.x = sp.L, sp.d, sp.tdim, sp.w, sp.x
        self.axisymmetric, self.vt, self.temperature = sp.axisymmetric, sp.vt, sp.temperature
        self.unknowns, self.adsorbed, self.eliminated = sp.unknowns, sp.adsorbed, sp.eliminated
        self.charges, self.diffusivity, self.c_ref = sp.charges, sp.diffusivity, sp.c_ref
        self.has_phi, self.poisson, self.potential_model = sp.has_phi, sp.poisson, sp.model
        self.dx, self.ds, self.dS = sp.dx, sp.ds, sp.dS
        self.dx_layer, self.ds_surface, self.layer_tags = sp.dx_layer, sp.ds_surface, sp.layer_tags
        self.catalyst, self.cell_groups = sp.catalyst, sp.cell_groups
        self.V, self.u, self.v, self.W, self.theta, self.q = sp.V, sp.u, sp.v, sp.W, sp.theta, sp.q
        self.submesh, self.entity_maps = sp.submesh, sp.entity_maps
        self.chi_pore, self.chi_layer, self.chi_interior = (
            sp.chi_pore,
            sp.chi_layer,
            sp.chi_interior,
        )
        self.site_factor, self.gamma = sp.site_factor, sp.gamma
        self.catalytic_area, self.sites_mol, self.site_scale = (
            sp.catalytic_area,
            sp.sites_mol,
            sp.site_scale,
        )
        # the Constants metrics read
        self.wall_value, self.charge_scale, self.dt = pa.wall_value, pa.charge_scale, pa.dt
        self.bulk_hat = pa.bulk_hat
        # the residual and its expressions
        self.F, self.conc, self.cov, self.phi, self.rates = (
            res.F,
            res.conc,
            res.cov,
            res.phi,
            res.rates,
        )
        self.backward_rates = res.backward_rates
        self.poisson_interior, self.rho_hat = res.poisson_interior, res.rho_hat
        self.strength, self.debye = res.strength, res.debye
        self.u_old, self.theta_old = res.u_old, res.theta_old
        self.conc_old: Any = res.conc_old
        self.cov_old: Any = res.cov_old
        # the conditions
        self.bcs, self.bc_dofs = self.boundary.bcs, self.boundary.bc_dofs
        self.transient = case.solver.transient
        self.dofs = sp.global_dofs()
        self._flux_tests: dict[tuple[str, str | None], fem.Function] = {}
        self._expressions: dict[str, Any] = {}  # interpolated fields, compiled once
        #: Per-cell integrals of families of expressions (few forms for the metrics).
        self.tables = sp.tables

    # ------------------------------------------------------------------ values
    @property
    def case(self) -> Case:
        """The case whose values the Constants hold now."""
        return self.params.case

    def update(self, case: Case) -> None:
        """Take a case that differs only in swept values (see :meth:`Parameters.update`).

        Raises:
            ValueError: the case differs in anything else (build a new model).
        """
        self.params.update(case)

    def set_multiplier(self, value: float) -> None:
        """Set the continuation multiplier (:meth:`Parameters.set_multiplier`)."""
        self.params.set_multiplier(value)

    def load(self, case: Case, state: Sequence[np.ndarray]) -> Model:
        """Put a solution's values (``case``, s = 1) and state into this model's
        Constants and Functions, for metrics and output; returns the model.

        Warm starts on the same mesh reuse one model (forms compile once), so a
        later solve overwrites its Functions: whatever reads a solution loads it first.
        """
        self.update(case)
        self.set_multiplier(1.0)
        self.restore(state)
        return self

    # ------------------------------------------------------------------ state
    def state(self) -> list[np.ndarray]:
        """Copies of the unknowns' arrays (u; θ with adsorbates)."""
        return self.spaces.state()

    def restore(self, state: Sequence[np.ndarray]) -> None:
        """Set the unknowns from arrays of :meth:`state`."""
        self.spaces.restore(state)

    def set_bulk_state(self) -> None:
        """Bulk concentrations everywhere, φ = 0, coverages at their initial values."""
        fields.set_bulk_state(self.spaces, self.case)

    def initial_coverages(self) -> dict[str, float]:
        """Coverages balancing the site kinetics at bulk (:func:`fields.initial_coverages`)."""
        return fields.initial_coverages(self.spaces, self.case)

    def bulk_offsets(self) -> np.ndarray:
        """ĉ_bulk of each unknown on the full mesh (0 for φ): ĉ = offset + unknown."""
        return self.params.bulk_offsets(self.unknowns)

    def scaled_values(self) -> np.ndarray:
        """The unknowns on the full mesh as ĉ = c / c_ref (φ̂ for φ), one row per node
        (this rank's local and ghost nodes): the deviations plus the bulk."""
        bs = len(self.unknowns)
        return self.u.x.array.reshape(-1, bs) + self.bulk_offsets()

    # ------------------------------------------------------------------ queries
    def form(self, expr: Any) -> Any:
        """Compile a form once per model (:meth:`Spaces.form`)."""
        return self.spaces.form(expr)

    def integrate(self, expr: Any) -> float:
        """Assemble a scalar form and sum over ranks."""
        return self.spaces.integrate(expr)

    def measure_of(self, r: Reaction) -> Any:
        """The measure a reaction's rate is integrated with (None: no such region)."""
        return self.spaces.measure_of(r.where)

    def stern_conductance(self, wall: Wall) -> float:
        """k = C_S L / ε of a Stern wall (scaled)."""
        return self.params.stern_conductance(wall)

    def bath_facets(self) -> np.ndarray:
        """Facets holding the bath condition (:func:`confine.fem.bcs.bath_facets`)."""
        return bath_facets(self.case, self.meshdata)

    def rate_integral(self, name: str) -> float:
        """∫ r dV (or dA), mol/s per cell (:func:`evaluate.rate_integral`)."""
        return evaluate.rate_integral(self.spaces, self.residual, name)

    def outward_flux(self, name: str, group: str | None = None) -> float:
        """Consistent outward flux, mol/s per cell (:func:`evaluate.outward_flux`)."""
        return evaluate.outward_flux(self.spaces, self.residual, self._flux_tests, name, group)

    def outward_fluxes(self, names: Sequence[str], group: str | None = None) -> dict[str, float]:
        """Several species' outward fluxes from one form (:func:`evaluate.outward_fluxes`)."""
        return evaluate.outward_fluxes(self.spaces, self.residual, self._flux_tests, names, group)

    def cell_peclet(self) -> float:
        """Largest cell Péclet number of migration (:func:`evaluate.cell_peclet`)."""
        return evaluate.cell_peclet(self.spaces, self._expressions)

    def wall_indicator(self, name: str) -> fem.Function:
        """1 on a wall's φ nodes (:func:`evaluate.wall_indicator`)."""
        return evaluate.wall_indicator(self.spaces, name)

    def wall_area_hat(self, name: str) -> float:
        """A wall's area in mesh units (:func:`evaluate.wall_area_hat`)."""
        return evaluate.wall_area_hat(self.spaces, name)

    def wall_potential(self, name: str) -> float:
        """Area mean of φ over a wall, V (:func:`evaluate.wall_potential`)."""
        return evaluate.wall_potential(self.spaces, name)

    def wall_charge(self, name: str) -> float:
        """Area mean charge density of a wall, C/m² (:func:`evaluate.wall_charge`)."""
        return evaluate.wall_charge(self.spaces, self.params, self.residual, name)

    def physical_functions(self) -> dict[str, fem.Function]:
        """P1 fields for output (:func:`evaluate.physical_functions`)."""
        return evaluate.physical_functions(self.spaces, self.residual, self._expressions)
