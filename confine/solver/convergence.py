"""The per-field convergence test of a Newton solve.

Convergence is judged per field (each species, φ, each coverage): the Newton
step below √``solver.rtol`` of the field's size — quadratic convergence leaves
an error of order rtol —, and the residual fallen by :data:`RESIDUAL_DROP`, or
the undamped Newton correction below rtol where the residual sits at its
round-off floor. So trace products are resolved next to the supporting
electrolyte; every criterion is relative, so none depends on the problem's
scale (rates over many decades, baths from nm to µm).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from confine.env import import_dolfinx
from confine.fem.spaces import Spaces

import_dolfinx()
from mpi4py import MPI  # noqa: E402
from petsc4py import PETSc  # noqa: E402

#: A Newton solve converges only once its residual fell by this factor (besides the
#: per-field step test), or below the absolute tolerance (0 by default: none).
RESIDUAL_DROP = 1e-6
#: A Newton step that cuts the residual by less than this factor (Newton cuts it
#: quadratically near a root) has it stalled: at its round-off floor, or at a local
#: minimum of the residual; :meth:`FieldTest.at_round_off` tells which.
STALL_RATIO = 0.5
#: Smallest size a field is judged against (scaled units, where the bulk is ~1): far
#: below any concentration that matters, but far above the denormals a field that is
#: zero up to round-off holds (a product at 1e-316 of its scale: its step, 1e-320,
#: against rtol × 1e-316 underflows to 0 and could never pass).
SIZE_FLOOR = 1e-8


def field_masks(spaces: Spaces) -> list[np.ndarray]:
    """Index arrays into the owned part of the solution vector, one per field."""
    bs0 = len(spaces.unknowns)
    n0 = spaces.V.dofmap.index_map.size_local * bs0
    masks = [np.arange(i, n0, bs0) for i in range(bs0)]
    if spaces.theta is not None:
        bs1 = len(spaces.adsorbed)
        n1 = spaces.W.dofmap.index_map.size_local * bs1
        masks += [n0 + np.arange(j, n1, bs1) for j in range(bs1)]
    return masks


class FieldTest:
    """SNES convergence test on every field's step and the residual's fall.

    Args:
        spaces: the model's spaces (the fields' layout).
        rtol: ``solver.rtol``; atol: ``solver.atol``.
        offsets: the bulk offsets ĉ_bulk of the unknowns on the mesh, now (a field's
            size is that of ĉ = deviation + bulk).
    """

    def __init__(self, spaces: Spaces, rtol: float, atol: float, offsets: Callable[[], np.ndarray]):
        self.comm = spaces.comm
        self.rtol, self.atol = rtol, atol
        self.offsets = offsets
        self.n_unknowns = len(spaces.unknowns)
        self.masks = field_masks(spaces)
        #: Smallest size of each field in the step test: 1 (one RT/F) for φ under the
        #: poisson models, whose walls ramp from s = 1e-8 (φ̂ ~ 1e-8 there), else
        #: SIZE_FLOOR.
        self.size_floor = np.full(len(self.masks), SIZE_FLOOR)
        if spaces.poisson:
            self.size_floor[spaces.unknowns.index("phi")] = 1.0
        self._xprev: np.ndarray | None = None
        self._fnorm0 = self._fprev = 0.0

    def __call__(self, snes: Any, it: int, norms: tuple[float, float, float]) -> int:
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
            if fnorm <= self.atol:
                return int(PETSc.SNES.ConvergedReason.CONVERGED_FNORM_ABS)
            return 0
        if not math.isfinite(fnorm):
            return int(PETSc.SNES.ConvergedReason.DIVERGED_FUNCTION_NANORINF)
        dx = x - self._xprev
        self._xprev = x.copy()
        # Newton converges quadratically (exact Jacobian): a step below √rtol of every
        # field leaves an error of order rtol, so the next step need not be taken
        small = self.small_step(dx, x, math.sqrt(self.rtol))
        # a small step only counts with a residual that fell too: an inexact or
        # failed linear solve, or a line search damping a step at a local minimum of
        # the residual (Galerkin asked for negative concentrations), also gives small
        # steps. A residual at its round-off floor from the start is recognised where
        # its line search fails (Newton.snes_solve: the undamped Newton correction).
        reduced = fnorm <= max(RESIDUAL_DROP * self._fnorm0, 1e3 * self.atol)
        stalled = fnorm > STALL_RATIO * self._fprev
        self._fprev = fnorm
        small = small and (reduced or (stalled and self.at_round_off(snes)))
        if small or fnorm <= self.atol:
            return int(
                PETSc.SNES.ConvergedReason.CONVERGED_SNORM_RELATIVE
                if small
                else PETSc.SNES.ConvergedReason.CONVERGED_FNORM_ABS
            )
        if it >= snes.getTolerances()[3]:
            return int(PETSc.SNES.ConvergedReason.DIVERGED_MAX_IT)
        return 0

    def at_round_off(self, snes: Any) -> bool:
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
        ok = int(ksp.getConvergedReason()) > 0 and self.small_step(
            y.array_r, snes.getSolution().array_r
        )
        y.destroy()
        return ok

    def small_step(self, dx: np.ndarray, x: np.ndarray, rtol: float | None = None) -> bool:
        """Every field's step below ``rtol`` (default ``solver.rtol``) of its size
        (collective).

        A field's size is that of ĉ (deviation + bulk), θ or φ̂ (the poisson
        models' φ̂ at least 1).
        """
        off = np.zeros(len(self.masks))
        off[: self.n_unknowns] = self.offsets()
        loc = np.array(
            [
                [np.abs(dx[m]).max(initial=0.0), np.abs(x[m] + o).max(initial=0.0)]
                for m, o in zip(self.masks, off, strict=True)
            ]
        )
        glob = np.empty_like(loc)
        self.comm.Allreduce(loc, glob, op=MPI.MAX)
        size = np.maximum(glob[:, 1], self.size_floor)
        tol = self.rtol if rtol is None else rtol
        return bool(np.all(glob[:, 0] <= tol * size))
