"""Values written straight into an AIJ matrix's arrays, without PETSc's COO map.

PETSc's COO assembly (MatSetPreallocationCOO / MatSetValuesCOO) keeps two
8-byte maps per entry beside the matrix's 12 bytes, and its caller a values
array of 8 more: 36 bytes per stored entry where the matrix needs 12.
:class:`DirectAIJ` creates the matrix from a CSR pattern and the position of
each entry it writes in the matrix's value arrays (one array on one rank; the
diagonal and off-diagonal parts on several), both from
:mod:`~confine.solver.node_pattern`: where each block's run of each row field
starts (4 bytes per row field of an owned block).

Also :func:`matrix_like` (a matrix of another's layout) and the BAIJ array
access that block insertion reads.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from confine.env import import_dolfinx

import_dolfinx()
from petsc4py import PETSc  # noqa: E402

_ScalarPtr = ctypes.POINTER(ctypes.c_double)
#: Entries per chunk of a scan over a value array (bounded temporaries).
_CHUNK = 1 << 20


def _petsc_functions() -> dict[str, Any] | None:
    """PETSc's array access of (Seq)BAIJ/AIJ matrices through the library petsc4py
    links, or None (not found, or complex scalars)."""
    if np.dtype(PETSc.ScalarType) != np.float64:
        return None
    try:
        lib = ctypes.CDLL(PETSc.__file__)  # its dependencies' symbols resolve through it
        fns = {
            name: getattr(lib, name)
            for name in (
                "MatSeqBAIJGetArray",
                "MatSeqBAIJRestoreArray",
                "MatSeqAIJGetArray",
                "MatSeqAIJRestoreArray",
                "MatMPIAIJGetSeqAIJ",
            )
        }
    except (OSError, AttributeError):
        return None
    for fn in fns.values():
        fn.restype = ctypes.c_int
        fn.argtypes = [ctypes.c_void_p, ctypes.POINTER(_ScalarPtr)]
    fns["MatMPIAIJGetSeqAIJ"].argtypes = [ctypes.c_void_p] + [ctypes.POINTER(ctypes.c_void_p)] * 3
    return fns


#: PETSc's functions reached through ctypes (None: block insertion is not available).
FUNCTIONS = _petsc_functions()


@contextmanager
def value_array(handle: int, length: int, kind: str) -> Iterator[np.ndarray]:
    """The value array of a sequential matrix ``kind`` "BAIJ" or "AIJ" (a view of
    ``length`` scalars), restored (its state increased) on exit."""
    assert FUNCTIONS is not None
    ptr = _ScalarPtr()
    if FUNCTIONS[f"MatSeq{kind}GetArray"](handle, ctypes.byref(ptr)) != 0:
        raise RuntimeError(f"MatSeq{kind}GetArray failed")
    try:
        yield np.ctypeslib.as_array(ptr, shape=(length,)) if length else np.empty(0)
    finally:
        FUNCTIONS[f"MatSeq{kind}RestoreArray"](handle, ctypes.byref(ptr))


def matrix_like(template: Any, preallocate: Callable[[Any], None]) -> Any:
    """A matrix with ``template``'s sizes, type, block sizes, local-to-global maps and
    options prefix, its pattern set by ``preallocate`` (CSR or COO)."""
    A: Any = PETSc.Mat().create(comm=template.getComm())
    A.setSizes(template.getSizes())
    A.setType(template.getType())
    A.setBlockSizes(*template.getBlockSizes())
    preallocate(A)
    A.setLGMap(*template.getLGMap())
    A.setOptionsPrefix(template.getOptionsPrefix())
    return A


def _parts(A: Any) -> list[tuple[int, int]]:
    """(handle, stored entries) of the sequential parts of an assembled AIJ matrix: itself,
    or its diagonal and off-diagonal blocks."""
    local = PETSc.Mat.InfoType.LOCAL
    total = int(A.getInfo(local)["nz_allocated"])
    if A.getType() == "seqaij":
        return [(A.handle, total)]
    assert FUNCTIONS is not None
    d, o, colmap = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_void_p()
    if FUNCTIONS["MatMPIAIJGetSeqAIJ"](A.handle, d, o, colmap) != 0:
        raise RuntimeError("MatMPIAIJGetSeqAIJ failed")
    nd = int(A.getDiagonalBlock().getInfo(local)["nz_allocated"])
    return [(int(d.value or 0), nd), (int(o.value or 0), total - nd)]


class DirectAIJ:
    """An AIJ matrix of a given CSR pattern whose owned species entries (those of
    :func:`block_positions`) are later added straight into its value arrays.

    Args:
        template: the layout (:func:`matrix_like`).
        csr: the pattern (owned rows, global columns sorted in each row); emptied.
        positions: where each written entry sits in the value arrays (diagonal part
            first, then the off-diagonal part), and how many entries the diagonal
            part holds (:func:`block_positions`).
        pairs: the kept field pairs (row fields, column fields; sorted by row
            field, then column field) whose entries each block writes.

    A block's kept pairs of one row field sit side by side in the matrix (the
    node's fields are consecutive columns): each block keeps where its row fields'
    runs start (bs per block instead of one per kept pair, checked at set-up).
    """

    def __init__(
        self,
        template: Any,
        csr: list[np.ndarray],
        positions: tuple[np.ndarray, int] | None,
        pairs: tuple[np.ndarray, np.ndarray] | None = None,
    ):
        self.matrix = matrix_like(template, lambda M: M.setPreallocationCSR(tuple(csr)))
        csr.clear()  # the caller's only reference: freed once the matrix holds its copy
        if positions is None:  # not written directly (dolfinx assembles into it)
            positions = np.empty(0, dtype=np.int32), _parts(self.matrix)[0][1]
        flat, self.n_diagonal = positions
        if _parts(self.matrix)[0][1] != self.n_diagonal:
            raise RuntimeError("the matrix's diagonal part is not the pattern's")
        fa = np.zeros(1, dtype=np.intp) if pairs is None else np.asarray(pairs[0], dtype=np.intp)
        first = np.searchsorted(fa, np.arange(int(fa.max()) + 1))
        #: each kept pair's row field, and its place in that field's run
        self._fa, self._rank = fa, (np.arange(len(fa)) - first[fa]).astype(flat.dtype)
        by_block = flat.reshape(-1, len(fa))
        #: where each block's run of each row field starts (blocks × bs)
        self.starts = np.ascontiguousarray(by_block[:, first])
        step = max(1, _CHUNK // len(fa))
        for b0 in range(0, len(by_block), step):
            runs = self.starts[b0 : b0 + step][:, fa] + self._rank
            if not np.array_equal(runs, by_block[b0 : b0 + step]):
                raise RuntimeError("a block's entries of one row field are not consecutive")

    def positions(self, blocks: Any) -> np.ndarray:
        """The positions of the kept entries of owned ``blocks`` (a slice or indices),
        block by block."""
        return (self.starts[blocks][:, self._fa] + self._rank).ravel()

    def entry_positions(self, blocks: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        """The positions of kept pair ``pairs[i]`` of owned block ``blocks[i]``."""
        return self.starts[blocks, self._fa[pairs]] + self._rank[pairs]

    @contextmanager
    def arrays(self, J: Any) -> Iterator[list[np.ndarray]]:
        """The value arrays (views) of :attr:`matrix` or a duplicate, for :meth:`add`."""
        parts = _parts(J)
        with value_array(*parts[0], "AIJ") as a:
            if len(parts) == 1:
                yield [a]
                return
            with value_array(*parts[1], "AIJ") as b:
                yield [a, b]

    def add(self, arrays: list[np.ndarray], blocks: Any, values: np.ndarray) -> None:
        """Add the kept entries ``values`` of owned ``blocks`` (each block once)."""
        self.add_at(arrays, self.positions(blocks), values)

    def add_at(self, arrays: list[np.ndarray], p: np.ndarray, values: np.ndarray) -> None:
        """Add ``values`` at positions ``p`` (distinct) of the value arrays."""
        if len(arrays) == 1:
            arrays[0][p] += values
            return
        d = p < self.n_diagonal
        arrays[0][p[d]] += values[d]
        arrays[1][p[~d] - self.n_diagonal] += values[~d]
