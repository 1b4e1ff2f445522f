"""A converged state: a frozen value that metrics and output read.

A :class:`Solution` holds the case it solved, the mesh, the discrete model
it was solved on (spaces, measures, scales, UFL expressions:
:class:`confine.fem.model.Model`), its own read-only copies of the state
arrays and the iteration record. It holds no solver object and cannot write
into one; warm-started points of a sweep share one model, so whatever reads
a solution's fields loads it into that model first (:meth:`Solution.load`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from confine.case import Case
from confine.fem.model import Model
from confine.mesh import MeshData

Expr = Any


def frozen_state(state: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    """Read-only copies of state arrays."""
    out = []
    for a in state:
        c = np.array(a, copy=True)
        c.flags.writeable = False
        out.append(c)
    return tuple(out)


@dataclass(frozen=True, eq=False)  # identity: state arrays do not compare
class Solution:
    """A converged steady state (or the final state of a transient run).

    Attributes:
        case: the case solved.
        meshdata: its mesh.
        model: the discrete model (functions, forms, UFL expressions for metrics).
        converged: always True for a returned Solution (failures raise SolverError).
        newton_iterations: Newton iterations over all continuation steps.
        linear_iterations: Krylov iterations over all Newton steps (1 per LU solve).
        residual_history: residual norm at every Newton iteration, all steps.
        multipliers: the continuation multipliers that converged, in order.
        wall_time_s: time spent in solve.
        dofs: global number of unknowns.
        linear_solver: the linear solver that ran: "direct" (MUMPS LU) or "iterative".
        state: read-only copies of the unknowns' arrays (u; θ with adsorbates).
        times: the times reached (transient runs).
        step_iterations: Newton iterations of each converged continuation step
            (aligned with multipliers).
        failed_iterations: Newton iterations of failed (then halved) attempts.
    """

    case: Case
    meshdata: MeshData
    model: Model
    converged: bool
    newton_iterations: int
    linear_iterations: int
    residual_history: list[float]
    multipliers: list[float]
    wall_time_s: float
    dofs: int
    linear_solver: str = "direct"
    state: tuple[np.ndarray, ...] = field(default=(), repr=False)
    times: list[float] = field(default_factory=list)
    step_iterations: list[int] = field(default_factory=list)
    failed_iterations: int = 0

    def load(self) -> Model:
        """This solution's values and state in its model (which warm starts share), for
        metrics and output; returns the model."""
        return self.model.load(self.case, self.state)

    def concentration(self, name: str) -> Expr:
        """UFL expression of a solution species' concentration (mol/m³)."""
        return self.model.conc[name]

    def coverage(self, name: str) -> Expr:
        """UFL expression of an adsorbed species' coverage (on the catalyst submesh)."""
        return self.model.cov[name]

    @property
    def cell_tags(self) -> Any:
        """The mesh's cell tags (subdomains), for output."""
        return self.meshdata.cell_tags

    def fields(self) -> dict[str, Any]:
        """P-degree Functions on the whole mesh in mol/m³ (species), V (phi) and
        coverage (adsorbates, 0 off the catalyst), for output."""
        return self.load().physical_functions()
