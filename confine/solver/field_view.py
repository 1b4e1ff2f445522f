"""The fieldsplit preconditioner's matrix without PETSc's copy of the species block.

The iterative solver's preconditioner (:data:`~confine.solver.options.ITERATIVE_OPTIONS`)
splits the Jacobian into the species block "c" and the coverages "theta", and "c"
again into one block per field. PETSc's fieldsplit extracts the "c" block from
the Jacobian (a copy of ~97 % of it on the urea network) only to extract the
field blocks from that copy; the "c" block itself is never multiplied (its
solver is ``preonly``, its fields are combined additively).

:class:`FieldView` is the preconditioner's matrix (``Pmat``) instead: a PETSc
Python matrix over the Jacobian whose "c" block is another view (no values),
whose other blocks, and the field blocks of the "c" view, are extracted from
the Jacobian itself, with the same index sets mapped to the Jacobian's
numbering. The blocks and so the preconditioner are the same, entry for entry
(the field blocks are the same rows and columns of the same matrix); only the
~600 bytes per unknown of the copy go. The Jacobian stays the operator GMRES
multiplies (``Amat``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from confine.env import import_dolfinx

import_dolfinx()
from mpi4py import MPI  # noqa: E402
from petsc4py import PETSc  # noqa: E402


class FieldView:
    """Context of a PETSc Python matrix: the rows and columns ``index`` of ``J``.

    Args:
        J: the Jacobian (assembled AIJ).
        index: the global indices of ``J`` this view's owned rows stand for (sorted).
        virtual: the index set (of this view's numbering) whose block is returned as
            a view too, not extracted; None: every block is extracted.
    """

    def __init__(self, J: Any, index: np.ndarray, virtual: Any = None) -> None:
        self.J, self.index, self.virtual = J, index, virtual
        self.start = 0  # this view's first owned row (set by :func:`view_matrix`)
        #: whether this view is the Jacobian itself on every rank (the same numbering)
        self.identity = False
        self._maps: dict[int, Any] = {}
        self._pattern = _pattern_state(J)

    def _mapped(self, iset: Any) -> Any:
        """``iset`` (this view's numbering, owned rows) in ``J``'s numbering (cached)."""
        key = int(iset.handle)
        if key not in self._maps:
            local = np.asarray(iset.getIndices(), dtype=np.int64) - self.start
            out = PETSc.IS().createGeneral(
                self.index[local].astype(PETSc.IntType), comm=iset.getComm()
            )
            self._maps[key] = (iset, out)  # the IS kept alive: its handle stays unique
        return self._maps[key][1]

    def createSubMatrix(self, _mat: Any, isrow: Any, iscol: Any, submat: Any) -> Any:
        """The block (``isrow``, ``iscol``): a view for :attr:`virtual`, else extracted
        from ``J`` (into ``submat`` when given)."""
        if self.virtual is not None and int(isrow.handle) == int(self.virtual.handle):
            if submat is not None:
                submat.stateIncrease()  # J changed: the view's blocks must be taken again
                return submat
            local = np.asarray(isrow.getIndices(), dtype=np.int64) - self.start
            view = view_matrix(self.J, self.index[local], None, isrow.getComm())
            view.setBlockSize(max(isrow.getBlockSize(), 1))  # the fields per node
            return view
        if self.identity:  # the whole Jacobian: its own index sets
            rows, cols = isrow, iscol
        else:
            rows = self._mapped(isrow)
            same = iscol is None or int(iscol.handle) == int(isrow.handle)
            cols = rows if same else self._mapped(iscol)
        pattern = _pattern_state(self.J)
        if submat is None or pattern == self._pattern:
            return self.J.createSubMatrix(rows, cols, submat)
        # J's pattern grew (a coupling absent at set-up): PETSc's reuse of a block
        # assumes J's pattern unchanged, so extract afresh and copy the values over
        fresh = self.J.createSubMatrix(rows, cols)
        fresh.copy(submat, structure=PETSc.Mat.Structure.DIFFERENT_NONZERO_PATTERN)
        fresh.destroy()
        return submat


def _pattern_state(J: Any) -> int:
    """A number that changes when ``J``'s local pattern grows."""
    return int(J.getInfo(PETSc.Mat.InfoType.LOCAL)["nz_allocated"])


def view_matrix(J: Any, index: np.ndarray, virtual: Any, comm: Any) -> Any:
    """A PETSc Python matrix viewing the rows and columns ``index`` (owned, global) of ``J``."""
    n = len(index)
    context = FieldView(J, np.asarray(index, dtype=np.int64), virtual)
    sizes: Any = ((n, None), (n, None))
    M: Any = PETSc.Mat().createPython(sizes, context, comm=comm)
    M.setUp()
    context.start = start = M.getOwnershipRange()[0]
    same = n == 0 or (index[0] == start and index[-1] == start + n - 1)
    context.identity = bool(comm.tompi4py().allreduce(same, op=MPI.LAND))  # collective
    return M


def precondition_by_view(snes: Any, c_split: Any) -> None:
    """Make the SNES's preconditioner matrix a view of its Jacobian whose block
    ``c_split`` (the "c" split's index set) is not copied; its Jacobian callback
    must increase that matrix's state (:class:`~confine.solver.sparsity.BlockedJacobian`)."""
    J, _, (fn, args, kargs) = snes.getJacobian()
    start, end = J.getOwnershipRange()
    P = view_matrix(J, np.arange(start, end, dtype=np.int64), c_split, J.getComm())
    snes.setJacobian(fn, J, P, args=args, kargs=kargs)
    P.destroy()  # the SNES holds it
