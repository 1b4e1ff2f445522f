"""The Newton solver of a model: SNES set-up, bounds, admissibility, the VI retry.

Each solve is a line-search Newton (SNES ``newtonls``/``bt``; linear solver
options from :mod:`confine.solver.options`) judged per field
(:mod:`confine.solver.convergence`). If it converges to a state far outside
the bounds (c < 0, θ ∉ [0, 1]: a spurious root), the step is redone as a
variational inequality (``vinewtonrsls``). The solver works on the model's
Functions and forms but holds no reference to the model object itself (a
model lives as long as the solutions that read it; its solver with it).
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any, cast

import numpy as np

from confine.case import Case
from confine.env import import_dolfinx
from confine.fem import jit
from confine.fem.parameters import Parameters
from confine.fem.spaces import Spaces
from confine.quality import BOUND_TOLERANCE, bounds_of
from confine.solver import options as opt
from confine.solver.convergence import RESIDUAL_DROP, FieldTest
from confine.solver.field_view import precondition_by_view
from confine.solver.sparsity import drop_structural_zeros, jacobian_forms

import_dolfinx()
from dolfinx import fem  # noqa: E402
from dolfinx.fem import petsc as fem_petsc  # noqa: E402
from dolfinx.fem.forms import derivative_block  # noqa: E402
from mpi4py import MPI  # noqa: E402
from petsc4py import PETSc  # noqa: E402

#: SNES reason of a failed linear solve (the one failure "auto" retries with MUMPS).
DIVERGED_LINEAR_SOLVE = -3


class Newton:
    """SNES (and its bounded twin) for one model's residual.

    Args:
        spaces, params: the model's spaces and Constants.
        F: its residual forms; bcs: its Dirichlet conditions.
        petsc_options: extra options over the defaults and the case's.
        linear_solver: "auto", "direct" or "iterative" (default: the case's).
        jacobian: the species block's storage, "auto", "block" or "lean"
            (:func:`confine.solver.options.lean_jacobian`; default: ``CONFINE_JACOBIAN``).
    """

    def __init__(
        self,
        spaces: Spaces,
        params: Parameters,
        F: list[Any],
        bcs: list[Any],
        *,
        petsc_options: Mapping[str, Any] | None = None,
        linear_solver: str | None = None,
        jacobian: str | None = None,
    ):
        case = params.case
        linear_solver = linear_solver or case.solver.linear_solver
        if linear_solver not in opt.LINEAR_SOLVERS:
            raise ValueError(f"linear_solver must be auto, direct or iterative: {linear_solver!r}")
        #: The linear solver asked for ("auto", "direct", "iterative").
        self.linear_solver = linear_solver
        self.spaces, self.params, self.bcs = spaces, params, bcs
        self.comm = spaces.comm
        self._extra_options = dict(petsc_options or {})
        fs: Any = F if spaces.adsorbed else F[0]
        us: Any = [spaces.u, spaces.theta] if spaces.adsorbed else spaces.u
        self._prefix = f"confine_{id(self)}_"
        maps = spaces.entity_maps or None
        J, uu = jacobian_forms(fs, us, maps)
        if J is None:
            J = derivative_block(fs, us)
        # compiled here on every rank at once (dolfinx's own JIT loads rank after rank)
        self.nlp = fem_petsc.NonlinearProblem(
            jit.form(fs, entity_maps=maps),
            us,
            J=jit.form(J, entity_maps=maps),
            bcs=bcs,
            petsc_options_prefix=self._prefix,
            petsc_options=self.options(),
            kind=None,
            entity_maps=maps,
        )
        snes = self.nlp.solver
        # the factorisation's own options are read only by a first LU: mark them read,
        # so that a run that never factorises (converged at its start) does not end
        # with PETSc's "unused option" warning (a case's petsc_options still do)
        petsc_opts: Any = PETSc.Options()
        for k in opt.DIRECT_OPTIONS:
            petsc_opts.hasName(f"{self._prefix}{k}")
        self.history: list[float] = []
        #: Why the solver cannot be used again (a PETSc error inside a solve), or None.
        self.broken: str | None = None
        s = case.solver
        self.test = FieldTest(spaces, s.rtol, s.atol, lambda: params.bulk_offsets(spaces.unknowns))
        monitor, converged = self._callbacks()
        snes.setMonitor(monitor)
        self._base_type = snes.getType()
        self._vi: Any = None
        snes.setConvergenceTest(converged)
        self._bounds: tuple[Any, Any] | None = None
        self.set_bounds()
        lean = self._lean(jacobian)
        drop_structural_zeros(self.nlp, spaces, case, bcs, uu, lean)
        pc = snes.getKSP().getPC()
        if pc.getType() == "fieldsplit":
            c_split = self._split_fields(pc)
            callback: Any = snes.getJacobian()
            if c_split is not None and opt.view_fieldsplit(callback[2][0]):
                precondition_by_view(snes, c_split)  # no copy of the species block

    @property
    def snes(self) -> Any:
        """The line-search Newton SNES."""
        return self.nlp.solver

    # ------------------------------------------------------------------ options
    def is_direct(self) -> bool:
        """Whether the linear solves are MUMPS LU (else GMRES + field-by-field AMG)."""
        sp = self.spaces
        nodes = sp.mesh.topology.index_map(0).size_global
        return opt.is_direct(self.linear_solver, sp.tdim, nodes, len(sp.unknowns))

    def options(self) -> dict[str, Any]:
        """The SNES and linear solver options (:func:`confine.solver.options.newton_options`)."""
        return opt.newton_options(
            self.params.case,
            self.is_direct(),
            len(self.spaces.unknowns),
            bool(self.spaces.adsorbed),
            self._extra_options,
        )

    def _lean(self, kind: str | None) -> bool:
        """Whether the Jacobian's species block is stored lean, the same on every rank
        (:func:`confine.solver.options.lean_jacobian`)."""
        return bool(self.comm.allreduce(opt.lean_jacobian(kind), op=MPI.LOR))

    def _split_fields(self, pc: Any) -> Any:
        sp = self.spaces
        bs0 = len(sp.unknowns)
        n0 = sp.V.dofmap.index_map.size_local * bs0
        n1 = None if sp.theta is None else sp.W.dofmap.index_map.size_local * len(sp.adsorbed)
        start = self.nlp.A.getOwnershipRange()[0]
        return opt.split_fields(pc, start, n0, bs0, n1, self.comm)

    def _callbacks(self) -> tuple[Any, Any]:
        """SNES monitor and convergence test that hold the solver weakly.

        A PETSc object keeps its Python callbacks where the cyclic garbage
        collector cannot see them: a bound method would keep the solver (and
        its mesh, forms and MPI communicators) alive for ever, and a process
        running a few hundred cases would run out of communicators.
        """
        ref = weakref.ref(self)

        def monitor(_snes: Any, _it: int, norm: float) -> None:
            newton = ref()
            if newton is not None:
                newton.history.append(float(norm))

        def converged(snes: Any, it: int, norms: Any) -> Any:
            newton = ref()
            return newton.test(snes, it, norms) if newton is not None else 0

        return monitor, converged

    # ------------------------------------------------------------------ bounds
    def set_bounds(self) -> None:
        """Bounds of the variational-inequality solver: c ≥ 0 (a deviation ≥ −bulk),
        θ in [0, 1]; φ free. Filled again by :meth:`update` (the bulk may change)."""
        sp = self.spaces
        big = PETSc.INFINITY if hasattr(PETSc, "INFINITY") else 1e300
        funcs = [sp.u] + ([sp.theta] if sp.theta is not None else [])
        lo = [fem.Function(f.function_space) for f in funcs]
        hi = [fem.Function(f.function_space) for f in funcs]
        bs = len(sp.unknowns)
        lo0 = lo[0].x.array.reshape(-1, bs)
        hi0 = hi[0].x.array.reshape(-1, bs)
        lo0[:] = -self.params.bulk_offsets(sp.unknowns)
        for i, name in enumerate(sp.unknowns):
            if name == "phi":
                lo0[:, i] = -big
        hi0[:] = big
        if sp.theta is not None:
            lo[1].x.array[:] = 0.0
            hi[1].x.array[:] = 1.0
        if self._bounds is None:
            self._bounds = (self.nlp.x.duplicate(), self.nlp.x.duplicate())
        xl, xu = self._bounds  # filled in place: a VI solver holds these vectors
        target_lo: Any = lo if sp.adsorbed else lo[0]
        target_hi: Any = hi if sp.adsorbed else hi[0]
        fem_petsc.assign(target_lo, xl)
        fem_petsc.assign(target_hi, xu)
        if self.nlp.solver.getType().startswith("vi"):
            self.nlp.solver.setVariableBounds(xl, xu)

    def update(self, case: Case) -> None:
        """Take a case that differs only in swept values: the Constants, then the bounds.

        Raises:
            ValueError: the case differs in anything else.
        """
        self.params.update(case)
        self.set_bounds()  # c ≥ 0 is a deviation ≥ −bulk

    def admissible(self, tol: float = BOUND_TOLERANCE) -> bool:
        """No field far outside its bounds: min c ≥ −tol·max c, θ in [−tol, 1 + tol].

        P1 Galerkin has no discrete maximum principle, so a trace species may
        undershoot zero slightly next to a steep layer; that is discretisation
        error, and bounding it would break the discrete conservation at the
        active nodes. Only a real excursion (an unphysical Newton branch)
        sends the step to the bounded solver.
        """
        sp = self.spaces
        arr = sp.u.x.array.reshape(-1, len(sp.unknowns)) + self.params.bulk_offsets(sp.unknowns)
        theta = sp.theta.x.array if sp.theta is not None else None
        return not bounds_of(arr, sp.unknowns, theta, sp.adsorbed, self.comm).findings(tol)

    def finite(self) -> bool:
        """Every unknown finite on every rank (collective)."""
        sp = self.spaces
        ok = bool(np.all(np.isfinite(sp.u.x.array)))
        if sp.theta is not None:
            ok = ok and bool(np.all(np.isfinite(sp.theta.x.array)))
        return bool(self.comm.allreduce(ok, op=MPI.LAND))

    # ------------------------------------------------------------------ solves
    def step(self) -> tuple[int, int, int]:
        """One SNES solve from the current state: (reason, iterations, linear iterations).

        Newton (line search) first; if it converges to a state with negative
        concentrations or coverages outside [0, 1], the step is redone from
        the same start as a variational inequality (``vinewtonrsls``) with
        those bounds.
        """
        saved = self.spaces.state()
        try:
            reason, its, lits = self._snes_solve()
        except PETSc.Error as err:
            # an error inside SNESSolve (MUMPS on a numerically singular Jacobian) unwinds
            # past the KSP's VecLockReadPop: the residual vector stays read-only and every
            # later solve on these objects fails ("Object is in wrong state"). The step
            # failed, and so has this solver: the caller builds a new one or gives up.
            self.spaces.restore(saved)
            self.broken = f"PETSc error {getattr(err, 'ierr', err)} inside the solve"
            return int(PETSc.SNES.ConvergedReason.DIVERGED_LINEAR_SOLVE), 0, 0
        if reason > 0 and not self.admissible() and not self._base_type.startswith("vi"):
            self.spaces.restore(saved)
            r2, i2, l2 = self._snes_solve(self._vi_solver())
            reason, its, lits = r2, its + i2, lits + l2
        return reason, its, lits

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
        values = opt.with_vi_tolerance({**self.options(), "snes_type": "vinewtonrsls"})
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
            sp = self.spaces
            funcs: Any = [sp.u, sp.theta] if sp.theta is not None else sp.u
            x: Any = self.nlp.x
            assign: Any = fem_petsc.assign
            assign(funcs, x)
            snes.solve(None, x)
            x.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
            assign(x, funcs)
        reason = int(cast(Any, snes.getConvergedReason()))
        h = self.history
        line_search_failed = reason == int(PETSc.SNES.ConvergedReason.DIVERGED_LINE_SEARCH)
        if line_search_failed and len(h) >= 2 and h[-1] <= RESIDUAL_DROP * h[0]:
            # the residual already fell by RESIDUAL_DROP and the line search finds no
            # descent: it sits at its round-off floor, which is relative to the largest
            # terms of the balances (a fast buffer in equilibrium), not to the step's
            # first residual (a tiny first continuation step: 2e-8 of it, measured).
            # The state is converged; the quality gate checks what it implies.
            reason = int(PETSc.SNES.ConvergedReason.CONVERGED_FNORM_RELATIVE)
        elif line_search_failed and self.test.at_round_off(snes):
            # the state is already the solution, its residual at round-off from the
            # start (a step dominated by terms the continuation does not ramp: a
            # homogeneous decay, an exchange): no step can decrease it
            reason = int(PETSc.SNES.ConvergedReason.CONVERGED_SNORM_RELATIVE)
        return (
            reason,
            int(snes.getIterationNumber()),
            int(snes.getLinearSolveIterations()),
        )

    def jacobian(self) -> Any:
        """The assembled Newton Jacobian at the model's current state (a new matrix of
        the solver's layout and pattern; the caller destroys it)."""
        sp = self.spaces
        x = self.nlp.x.duplicate()
        funcs: Any = [sp.u, sp.theta] if sp.theta is not None else sp.u
        fem_petsc.assign(funcs, x)
        A = self.nlp.A.duplicate()
        self.nlp.solver.computeJacobian(x, A)
        x.destroy()
        return A
