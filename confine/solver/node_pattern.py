"""The compacted Jacobian's pattern built from the node graph, and where its entries sit.

The species block of the Jacobian couples k fields at every pair of nodes that
share a cell; the compacted pattern keeps, at each node pair, the coupled
field pairs (a, b) only. It is built here without a COO set of its entries:

* :func:`node_graph`: the graph of node pairs (one entry per pair, ~1/60 of
  the Jacobian's entries on the urea network), the pairs of rows owned by
  other ranks sent to their owners (a small PETSc COO assembly);
* :func:`expanded_pattern`: that graph expanded by the kept field pairs, merged
  with the pattern of the coverage blocks, as the CSR the matrix is created
  from (sorted columns), in chunks of nodes;
* :func:`block_positions`: where each kept entry of the rank's own block rows
  sits in the value arrays of the matrix created from that CSR (its diagonal
  part first, then its off-diagonal part: PETSc keeps each part's columns in
  increasing global order), found by a search in the sorted rows.

Set-up memory: the CSR (4 bytes per entry, before the matrix copies it) and the
positions (4 bytes per owned entry); no per-entry map of the matrix's size.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from confine.env import import_dolfinx

import_dolfinx()
from petsc4py import PETSc  # noqa: E402

#: Nodes per chunk of the expansion and of the search: bounded temporaries (~80
#: kept pairs × ~14 neighbours per node on the urea network: ~20 MB per int64 array).
_CHUNK = 1 << 11


def node_graph(comm: Any, n_owned: int, rows: np.ndarray, cols: np.ndarray) -> list[np.ndarray]:
    """CSR (owned rows, global columns sorted in each row) of the node pairs
    (``rows``, ``cols``: global node indices; a rank owns ``n_owned`` consecutive
    nodes, in rank order), the pairs of nodes owned elsewhere sent to their owners."""
    sizes: Any = ((n_owned, None), (n_owned, None))
    A: Any = PETSc.Mat().createAIJ(sizes, comm=comm)
    A.setPreallocationCOO(rows.astype(PETSc.IntType), cols.astype(PETSc.IntType))
    A.setValuesCOO(np.ones(len(rows)), PETSc.InsertMode.INSERT_VALUES)
    A.assemble()
    ia, ja, _ = A.getValuesCSR()
    A.destroy()
    return [np.asarray(ia), np.asarray(ja)]


def base_of(nodes: np.ndarray, first: np.ndarray, ranges: np.ndarray, bs: int) -> np.ndarray:
    """The Jacobian's global index of field 0 at global ``nodes``: each rank owns its
    species block (nodes × ``bs`` fields, interleaved) from its ``ranges`` entry, then
    its coverages; ``first``: each rank's first node."""
    owner = np.searchsorted(first, nodes, side="right") - 1
    return ranges[owner] + (nodes - first[owner]) * bs


def expanded_pattern(
    nodes: list[np.ndarray],
    columns: np.ndarray,
    pairs: tuple[np.ndarray, np.ndarray],
    extra: list[np.ndarray],
    n_columns: int,
) -> list[np.ndarray]:
    """The CSR (owned rows, sorted global columns) of the compacted Jacobian.

    Args:
        nodes: the node graph (:func:`node_graph`).
        columns: the Jacobian index of field 0 at each node column of ``nodes``
            (:func:`base_of` of its columns).
        pairs: the kept field pairs (row fields, column fields), sorted by row field.
        extra: the CSR of the other entries (the coverage blocks) over the same owned
            rows (species rows first, ``bs`` per node), no entry in common with the
            expansion.
        n_columns: the Jacobian's global size.
    """
    nia, _ = nodes
    fa, fb = pairs
    bs = int(fa.max()) + 1
    n_nodes = len(nia) - 1
    tia, tja = extra
    counts = np.diff(tia).astype(np.int64)
    per_field = np.bincount(fa, minlength=bs)
    counts[: n_nodes * bs] += (np.diff(nia)[:, None] * per_field[None, :]).ravel()
    ia = np.concatenate([[0], np.cumsum(counts)])
    if ia[-1] >= np.iinfo(PETSc.IntType).max:
        raise OverflowError("more entries on one rank than PETSc's index type holds")
    ia = ia.astype(PETSc.IntType)
    ja = np.empty(int(ia[-1]), dtype=PETSc.IntType)
    deg = np.diff(nia)
    for i0 in range(0, n_nodes, _CHUNK):
        i1 = min(i0 + _CHUNK, n_nodes)
        r0, r1 = i0 * bs, i1 * bs
        node = np.repeat(np.arange(i0, i1, dtype=np.int64), deg[i0:i1])
        base = columns[nia[i0] : nia[i1]]
        trows = np.repeat(np.arange(r1 - r0, dtype=np.int64), np.diff(tia[r0 : r1 + 1]))
        keys = np.concatenate(
            [
                ((node[:, None] - i0) * bs + fa) * n_columns + (base[:, None] + fb),
                trows * n_columns + tja[tia[r0] : tia[r1]],
            ],
            axis=None,
        )
        keys.sort()
        if len(keys) > 1 and not bool(np.all(np.diff(keys) > 0)):
            raise RuntimeError("an entry of the coverage blocks is also a species entry")
        ja[ia[r0] : ia[r1]] = keys % n_columns
    r0 = n_nodes * bs
    ja[ia[r0] :] = tja[tia[r0] :]
    return [ia, ja]


def block_positions(
    csr: list[np.ndarray],
    column_range: tuple[int, int],
    blocks: tuple[np.ndarray, np.ndarray],
    pairs: tuple[np.ndarray, np.ndarray],
    n_columns: int,
) -> tuple[np.ndarray, int]:
    """Where the kept entries of owned blocks sit in the value arrays of the matrix
    made from ``csr`` (:func:`expanded_pattern`), and how many entries its diagonal
    part (columns in ``column_range``) holds.

    Args:
        blocks: the owned row node of each block (sorted), and the Jacobian index of
            field 0 at its column node.
        pairs: the kept field pairs; entry ``b·k + j`` of the result is pair ``j`` of
            block ``b`` (``k`` pairs): its index in the diagonal part, or the number
            of diagonal entries plus its index in the off-diagonal part.
        n_columns: the Jacobian's global size.
    """
    ia, ja = csr
    block_rows, block_columns = blocks
    fa, fb = pairs
    bs, nk = int(fa.max()) + 1, len(fa)
    lo, hi = column_range
    step = _CHUNK * 64
    n_off = sum(
        int(np.count_nonzero((ja[s : s + step] < lo) | (ja[s : s + step] >= hi)))
        for s in range(0, len(ja), step)
    )
    n_diagonal = len(ja) - n_off
    out = np.empty(len(block_rows) * nk, dtype=np.int32 if len(ja) < 2**31 else np.int64)
    n_nodes = int(block_rows[-1]) + 1 if len(block_rows) else 0
    bounds = np.searchsorted(block_rows, np.arange(0, n_nodes + _CHUNK, _CHUNK))
    off_before = 0  # off-diagonal entries in the rows before the chunk
    for c, i0 in enumerate(range(0, n_nodes, _CHUNK)):
        r0, r1 = i0 * bs, min(i0 + _CHUNK, n_nodes) * bs
        e0, e1 = int(ia[r0]), int(ia[r1])
        cols = ja[e0:e1].astype(np.int64)
        rows = np.repeat(np.arange(r1 - r0, dtype=np.int64), np.diff(ia[r0 : r1 + 1]))
        keys = rows * n_columns + cols  # increasing: rows in order, columns sorted
        off = (cols < lo) | (cols >= hi)
        offs = np.cumsum(off) - off  # off-diagonal entries before each one in the chunk
        b0, b1 = int(bounds[c]), int(bounds[c + 1])
        query = (((block_rows[b0:b1, None] - i0) * bs + fa) * n_columns).astype(np.int64)
        query += block_columns[b0:b1, None] + fb
        query = query.ravel()
        slot = np.minimum(np.searchsorted(keys, query), max(len(keys) - 1, 0))
        if len(query) and not bool(np.all(keys[slot] == query)):
            raise RuntimeError("an owned entry is missing from the pattern")
        before = off_before + offs[slot]
        out[b0 * nk : b1 * nk] = np.where(off[slot], n_diagonal + before, e0 + slot - before)
        off_before += int(np.count_nonzero(off))
    return out, n_diagonal
