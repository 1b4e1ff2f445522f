"""Many integrals from one compiled form: per-cell integrals against a blocked DG0 test function.

A scalar functional ∫ e w dx(tags) compiles one form per expression and per
region, and a cold start pays about 0.2 s of JIT per form. Tested instead with
a DG0 function of one component per expression, Σ_k e_k q_k dx assembles
every expression's integral over every cell at once (one form); a region's
integral is then the sum of its cells' rows (numpy over the cell tags). On
facets (ds, dS) the DG0 test function puts a facet's integral into its cell
('+' side on interior facets), so one form serves each facet measure.

The per-cell values are the same quadrature as the scalar form's; only the
order of the final sum differs (round-off). Forms are kept per model
(:meth:`confine.fem.spaces.Spaces.form`, which holds the tables as
``Spaces.tables``): a sweep reusing the model compiles them once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import ufl

from confine.env import import_dolfinx  # isort: skip

import_dolfinx()
from dolfinx import fem  # noqa: E402
from mpi4py import MPI  # noqa: E402


class CellTables:
    """Per-cell integrals of families of expressions, and their sums over cell groups.

    Rows are this rank's cells (owned and ghosts), columns the expressions.
    Every contribution lands in exactly one rank's row (dolfinx integrates
    owned entities only), so a sum over all local rows, summed over ranks,
    counts each cell and facet once.
    """

    def __init__(self, mesh: Any, cell_tags: Any, comm: Any, compile_form: Callable[[Any], Any]):
        """Args:
        mesh: the mesh.
        cell_tags: its cell tags (the groups sums are taken over).
        comm: its communicator.
        compile_form: UFL form -> compiled form, kept per model
            (:meth:`confine.fem.spaces.Spaces.form`).
        """
        self.mesh, self.comm, self.compile_form = mesh, comm, compile_form
        imap = mesh.topology.index_map(mesh.topology.dim)
        ncells = imap.size_local + imap.num_ghosts
        #: Tag of each local cell (-1: untagged).
        self.cell_tag = np.full(ncells, -1, dtype=np.int64)
        self.cell_tag[cell_tags.indices] = cell_tags.values
        self._tests: dict[int, Any] = {}

    def _test(self, n: int) -> Any:
        """The DG0 test function with n components (one space per n, so forms hash equal)."""
        q = self._tests.get(n)
        if q is None:
            Q = fem.functionspace(self.mesh, ("DG", 0, (n,) if n > 1 else ()))
            q = self._tests[n] = ufl.TestFunction(Q)
        return q

    def table(
        self, exprs: Sequence[Any], measure: Any | Sequence[Any], restrict: bool = False
    ) -> np.ndarray:
        """Per-cell integrals ∫ e_k dμ_k of each expression (rows: local cells, columns: k).

        Args:
            exprs: UFL expressions (or numbers), already weighted (e.g. × ``w``).
            measure: the measure (``dx``, ``dx(tags)``, ``ds(tags)``, ``dS(tags)``),
                or one per expression.
            restrict: interior facets: integrate ``e('+')`` into the '+' cell.
        """
        n = len(exprs)
        q = self._test(n)
        measures = list(measure) if isinstance(measure, list | tuple) else [measure] * n
        terms = []
        for k, (e, mu) in enumerate(zip(exprs, measures, strict=True)):
            qk = q[k] if n > 1 else q
            if restrict:
                e = e("+") if isinstance(e, ufl.core.expr.Expr) else e
                qk = qk("+")
            terms.append(e * qk * mu)
        form = sum(terms[1:], terms[0])
        vec = fem.assemble_vector(self.compile_form(form))
        return np.asarray(vec.array).reshape(-1, n)

    def rows(self, tags: Sequence[int] | None) -> np.ndarray:
        """Mask of the local cells with one of these tags (None: every cell)."""
        if tags is None:
            return np.ones(self.cell_tag.size, dtype=bool)
        return np.isin(self.cell_tag, np.asarray(tags, dtype=np.int64))

    def total(self, table: np.ndarray, tags: Sequence[int] | None = None) -> np.ndarray:
        """Column sums over the cells of these tags (None: all), summed over ranks."""
        local = table[self.rows(tags)].sum(axis=0)
        return np.asarray(self.comm.allreduce(local, op=MPI.SUM), dtype=float)
