"""The Jacobian's sparsity: structural zeros dropped, block insertion of the species block.

:func:`drop_structural_zeros` keeps only the field couplings that exist; where
it can, the species block is assembled by block insertion
(:class:`BlockedJacobian`).

dolfinx inserts each cell's element matrix of the blocked species space (k
fields on n nodes: nk × nk values) into the AIJ Jacobian value by value, and
AIJ searches every value's column in its row. With 13 fields that search is
most of the Jacobian's time. Block insertion into BAIJ storage searches once
per node pair, but fieldsplit cannot take strided sub-matrices of BAIJ, and
BAIJ stores the structural zeros that :func:`drop_structural_zeros` drops. So:

* dolfinx assembles the species block into a per-rank BAIJ matrix over the
  rank's local and ghost nodes (block insertion, Dirichlet rows as dolfinx
  sets them);
* the coupled field pairs of each stored block (those with a nonzero at the
  generic state of set-up, and the diagonal) are copied from its value array
  into the compacted AIJ Jacobian: the owned rows straight into the AIJ's value
  arrays (:class:`~confine.solver.aij_values.DirectAIJ`: the pattern built from
  the node graph expanded by the coupled pairs, :mod:`~confine.solver.node_pattern`),
  the ghost rows through MatSetValues (added on their owners);
* the blocks of the coverages on the catalytic layer are assembled by dolfinx
  into that matrix as usual, in dolfinx's pattern (they are small).

Where the BAIJ would hold more than :data:`CHUNK_BYTES`, it is assembled and
gathered a chunk of cells at a time (:mod:`~confine.solver.cell_chunks`): the
same entries, summed in another order, with no more than about
:data:`CHUNK_BYTES` of BAIJ at once (the BAIJ of the whole is 1.25 KB per
unknown on the urea network).

With the lean storage (``lean``, :func:`~confine.solver.options.lean_jacobian`)
no BAIJ is kept: the couplings and the pattern are taken the same way, then
dolfinx assembles straight into the compacted matrix (value by value: less
memory, slower).

An entry of an uncoupled field pair that becomes nonzero (a coupling absent at
set-up, e.g. a rate constant that was zero) switches this Jacobian to dolfinx's
own assembly for good: the matrix then grows its pattern, and stays exact.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from functools import partial
from typing import Any

import numpy as np

from confine.case import Case
from confine.env import import_dolfinx
from confine.fem import jit
from confine.fem.fields import set_bulk_state
from confine.fem.spaces import Spaces
from confine.solver import node_pattern
from confine.solver.aij_values import FUNCTIONS, DirectAIJ, matrix_like, value_array
from confine.solver.cell_chunks import (
    BlockChunk,
    ChunkedForm,
    block_chunks,
    dirichlet_diagonal,
    key_csr,
    node_pairs,
    splittable,
)

import_dolfinx()

from dolfinx import cpp as _cpp  # noqa: E402
from dolfinx import fem  # noqa: E402
from dolfinx.fem import petsc as fem_petsc  # noqa: E402
from dolfinx.fem.forms import derivative_block  # noqa: E402
from mpi4py import MPI  # noqa: E402
from petsc4py import PETSc  # noqa: E402

log = logging.getLogger(__name__)

#: Blocks per chunk of the scans over the BAIJ values.
_CHUNK = 1 << 16
#: The most a block-insertion BAIJ holds (its values): larger species blocks are
#: assembled a chunk of cells at a time (:mod:`~confine.solver.cell_chunks`).
CHUNK_BYTES = 64 << 20


#: dolfinx's assembly into a given PETSc matrix (a singledispatch overload)
_assemble_matrix: Any = fem_petsc.assemble_matrix


def available(bs: int) -> bool:
    """Whether block insertion pays and can run: a blocked space and PETSc's array access."""
    return bs >= 2 and FUNCTIONS is not None


def _nonzero_positions(raw: np.ndarray) -> np.ndarray:
    """Which of the bs² positions of a block hold a nonzero in some block (``raw``:
    blocks × bs²), in chunks of blocks (no temporary of the matrix's size)."""
    out = np.zeros(raw.shape[1], dtype=bool)
    for r0 in range(0, len(raw), _CHUNK):
        out |= np.any(raw[r0 : r0 + _CHUNK] != 0.0, axis=0)
    return out


class BlockedJacobian:
    """SNES Jacobian callback: species block by block insertion, gathered into AIJ.

    Args:
        forms: the Jacobian forms, one form or the 2 × 2 blocks [[uu, uθ], [θu, θθ]].
        funcs: the functions the forms depend on (u, or [u, θ]), set from the iterate.
        bcs: Dirichlet conditions (rows and columns zeroed, diagonal 1).
        template: dolfinx's matrix for ``forms``, not yet assembled: sizes, maps and
            options prefix; the coverage blocks are assembled into it once, their
            entries (structural zeros too) taken over as they are.
        lean: keep no BAIJ: the couplings and the pattern are taken as above (the BAIJ
            assembled once at set-up), then dolfinx assembles every Jacobian straight
            into the compacted matrix, value by value (a coupling absent at set-up
            is inserted with a malloc: exact). Each Jacobian ~2.3× slower
            (benchmarks/README.md, "Memory by part").
        chunked: the species block's form split by cells (its ``whole`` in ``forms``):
            a BAIJ of more than ``chunk_bytes`` (:data:`CHUNK_BYTES`) is assembled by
            chunks of cells, at most about that much at once (same entries, summed).

    The functions must hold a generic state (no coupling vanishing by accident):
    the field pairs (a, b) with a nonzero anywhere in the species block assembled
    there are the couplings kept (``coupled``), with the diagonal.
    """

    def __init__(
        self,
        forms: Any,
        funcs: Any,
        bcs: Sequence[Any],
        template: Any,
        lean: bool = False,
        chunked: ChunkedForm | None = None,
        chunk_bytes: int | None = None,
    ) -> None:
        """Build the local BAIJ matrix, read the couplings off it and build the
        compacted matrix from the node graph (:mod:`~confine.solver.node_pattern`).

        Long because it is one pass whose index arrays (local nodes, stored
        blocks, global bases, kept field pairs) every later step reuses; split,
        they would travel as a dozen arguments.
        """
        self.forms, self.funcs, self.bcs = forms, funcs, list(bcs)
        self.blocked = isinstance(forms, Sequence)
        self.uu = forms[0][0] if self.blocked else forms
        V = self.uu.function_spaces[0]
        imap, bs = V.dofmap.index_map, V.dofmap.index_map_bs
        self.bs = bs
        comm = template.getComm().tompi4py()
        self.comm = comm
        self.fallback = False
        #: no BAIJ kept: dolfinx assembles into the compacted matrix (see the class)
        self.lean = lean

        option: Any = PETSc.Mat.Option
        # The block pattern: every pair of nodes that share a cell, local indices.
        n = imap.size_local + imap.num_ghosts
        dofs = V.dofmap.map()
        pairs = np.unique(node_pairs(dofs, n))
        n_chunks = -(-len(pairs) * bs * bs * 8 // (chunk_bytes or CHUNK_BYTES))
        n_chunks = comm.allreduce(n_chunks, op=MPI.MAX) if chunked is not None else 1
        #: the chunks of cells the species block is assembled by (none: all at once)
        self.chunks: list[BlockChunk] = []
        self.local: Any = None
        if n_chunks > 1:
            # by chunks, from the set-up on: no BAIJ of the whole, ever
            keys = np.union1d(pairs, chunked.facet_pairs(dofs, n))  # type: ignore[union-attr]
            del pairs
            self.chunks = block_chunks(chunked, n_chunks, dofs, n, imap.size_local, keys)  # type: ignore[arg-type]
            self._block_pattern = (n, None)
            local_nonzero = np.zeros(bs * bs, dtype=bool)
            for chunk in self.chunks:
                local = self._assemble_chunk(chunk)
                local_nonzero |= self._with_values(_nonzero_positions, local, len(chunk.full))
                local.destroy()
            rows, cols = keys // n, keys % n
        else:
            csr = key_csr(pairs, n)
            del pairs
            self.local = self._local_baij(n, csr)
            self.local.setOption(option.NEW_NONZERO_ALLOCATION_ERR, False)
            self._assemble_local()  # facet integrals across cells may add node pairs
            self.local.setOption(option.NEW_NONZERO_ALLOCATION_ERR, True)
            block_csr = self.local.getRowIJ(compressed=True)  # node pairs added
            self._block_pattern = (n, block_csr)
            rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(block_csr[0]))
            cols = np.asarray(block_csr[1], dtype=np.int64)
            local_nonzero = self._with_values(_nonzero_positions, self.local, len(rows))
            # the BAIJ's values are not needed while the pattern is built (the set-up's peak)
            self.local.destroy()
        self.n_blocks = len(rows)
        nonzero = np.zeros(bs * bs, dtype=np.int32)
        comm.Allreduce(local_nonzero.astype(np.int32), nonzero, op=MPI.MAX)
        #: (a, b): fields a (row) and b (column) couple; blocks are stored by columns
        self.coupled = nonzero.reshape(bs, bs).T > 0

        # Global index (in the Jacobian) of field 0 at each local node: each rank owns
        # its species block (nodes × fields, interleaved), then its coverage block.
        ranges = np.asarray(template.getOwnershipRanges(), dtype=np.int64)
        first = np.asarray(comm.allgather(imap.local_range[0]), dtype=np.int64)
        node = np.asarray(imap.local_to_global(np.arange(n, dtype=np.int32)), dtype=np.int64)
        base = node_pattern.base_of(node, first, ranges, bs)

        keep = self.coupled | np.eye(bs, dtype=bool)
        kept: Any = np.nonzero(keep)  # (row field, column field), sorted by row field
        fa, fb = kept
        #: positions of the kept pairs in a block: BAIJ stores it by columns, (a, b) at b·bs + a
        self.offsets = (fb * bs + fa).astype(np.intp)
        self.uncoupled = ~keep.T.ravel()  # positions b·bs + a of a block
        # owned rows first (blocks are stored by row node): written straight into the
        # matrix's arrays; the entries of ghost rows are added on their owners
        self.n_owned_blocks = int(np.searchsorted(rows, imap.size_local))
        own = slice(0, self.n_owned_blocks)
        ghost = slice(self.n_owned_blocks, None)
        self.ghost_rows, self.ghost_cols = (
            (base[at[ghost], None] + f).astype(PETSc.IntType).reshape(-1, 1)
            for at, f in ((rows, fa), (cols, fb))
        )
        # the pattern: the node graph (ghost rows' node pairs on their owners) × kept pairs
        graph = node_pattern.node_graph(comm, imap.size_local, node[rows], node[cols])
        size = int(ranges[-1])
        pattern = node_pattern.expanded_pattern(
            graph,
            node_pattern.base_of(graph[1].astype(np.int64), first, ranges, bs),
            kept,
            self._coverage_pattern(template),
            size,
        )
        del graph
        column_range = (int(ranges[comm.rank]), int(ranges[comm.rank + 1]))
        positions = None
        if not lean:
            positions = node_pattern.block_positions(
                pattern, column_range, (rows[own], base[cols[own]]), kept, size
            )
        if lean:
            self.chunks = []  # the set-up's: dolfinx assembles every Jacobian
        elif self.chunks:
            self._bc_diagonal = dirichlet_diagonal(self.bcs, V, rows * n + cols, n, kept)
        del rows, cols, base, node
        self.direct = DirectAIJ(template, pattern, positions, kept)
        # re-created at the first Jacobian, once dolfinx's matrix (``template``, held by
        # the SNES until the caller hands it this one) is freed; never when lean
        self.local = None
        A = self.direct.matrix
        A.setOption(option.IGNORE_ZERO_ENTRIES, True)
        # block insertion: a new entry would move the entries away from their positions;
        # lean: a coupling absent at set-up is inserted (exact, with a malloc)
        A.setOption(option.NEW_NONZERO_ALLOCATION_ERR, not lean)
        self.matrix = A

    def _assemble_local(self) -> None:
        if self.local is None:
            self.local = self._local_baij(*self._block_pattern)
            self.local.setOption(PETSc.Mat.Option.NEW_NONZERO_ALLOCATION_ERR, True)
        self.local.zeroEntries()
        _assemble_matrix(self.local, self.uu, bcs=self.bcs, diag=1.0)
        self.local.assemble()

    def _local_baij(self, n: int, csr: Any) -> Any:
        """The local BAIJ matrix on ``n`` local nodes, its block pattern ``csr``."""
        serial: Any = MPI.COMM_SELF
        local: Any = PETSc.Mat().createBAIJ(
            (n * self.bs, n * self.bs), self.bs, csr=csr, comm=serial
        )
        identity: Any = np.arange(n, dtype=PETSc.IntType)
        lgmap = PETSc.LGMap().create(identity, bsize=self.bs, comm=serial)
        local.setLGMap(lgmap, lgmap)
        return local

    def _coverage_pattern(self, template: Any) -> list[np.ndarray]:
        """CSR (owned rows, global columns) of dolfinx's pattern of the coverage blocks,
        zeros included (assembled into ``template`` once); no entries without them."""
        if not self.blocked:
            rows = template.getLocalSize()[0]
            return [np.zeros(rows + 1, dtype=PETSc.IntType), np.empty(0, dtype=PETSc.IntType)]
        spaces = [self.forms[i][i].function_spaces[0] for i in range(2)]
        self._is = _cpp.la.petsc.create_index_sets(
            [(W.dofmap.index_map, W.dofmap.index_map_bs) for W in spaces]
        )
        self._assemble_coverage_blocks(template)
        template.assemble()
        ia, ja, _ = template.getValuesCSR()
        return [np.asarray(ia), np.asarray(ja)]

    def _with_values(self, fn: Any, local: Any = None, n_blocks: int | None = None) -> Any:
        """``fn`` of a local BAIJ's values (a view: blocks × bs², each block by columns):
        the whole's (:attr:`local`), or ``local``'s of ``n_blocks`` blocks."""
        local = self.local if local is None else local
        n_blocks = self.n_blocks if n_blocks is None else n_blocks
        with value_array(local.handle, n_blocks * self.bs * self.bs, "BAIJ") as values:
            return fn(values.reshape(n_blocks, self.bs * self.bs))

    def _assemble_chunk(self, chunk: BlockChunk, consts: Any = None) -> Any:
        """A chunk's BAIJ assembled (Dirichlet rows and columns zeroed, no diagonal)."""
        local = self._local_baij(self._block_pattern[0], chunk.csr)
        local.setOption(PETSc.Mat.Option.NEW_NONZERO_ALLOCATION_ERR, True)
        consts = fem.pack_constants(chunk.form) if consts is None else consts
        bcs = [bc._cpp_object for bc in self.bcs]
        coefficients = fem.pack_coefficients(chunk.form)
        _cpp.fem.petsc.assemble_matrix(local, chunk.form._cpp_object, consts, coefficients, bcs)
        local.assemble()
        return local

    def __call__(self, _snes: Any, x: Any, J: Any, P: Any) -> None:
        """Assemble the Jacobian at ``x`` into ``J`` (this object's matrix); a
        preconditioner matrix ``P`` other than ``J`` is a view of it
        (:mod:`~confine.solver.field_view`): its state is increased."""
        if P is not None and P.handle != J.handle:
            P.stateIncrease()
        x.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
        fem_petsc.assign(x, self.funcs)
        if not (self.fallback or self.lean):
            J.zeroEntries()
            stray = self._species_block(J)
            if not self.comm.allreduce(stray, op=MPI.LOR):
                if self.blocked:
                    self._assemble_coverage_blocks(J)
                J.assemble()
                return
            log.info(
                "a field coupling absent at set-up appeared: the Jacobian is assembled "
                "by dolfinx from now on (exact, slower)"
            )
            self.fallback = True
            J.assemble()  # the ghost rows' stashed entries, before they are zeroed
            J.setOption(PETSc.Mat.Option.NEW_NONZERO_ALLOCATION_ERR, False)
        J.zeroEntries()  # what dolfinx's own callback does
        _assemble_matrix(J, self.forms, bcs=self.bcs, diag=1.0)
        J.assemble()

    def _species_block(self, J: Any) -> bool:
        """The species block's coupled entries added into ``J`` (zeroed), at once or
        by chunks of cells; whether an uncoupled pair held a nonzero on this rank."""
        if not self.chunks:
            self._assemble_local()
            return self._with_values(partial(self._write, J, None, self.n_owned_blocks))
        found = False
        consts = fem.pack_constants(self.chunks[0].form)  # the same Constants in each
        for chunk in self.chunks:
            local = self._assemble_chunk(chunk, consts)
            write = partial(self._write, J, chunk.full, chunk.n_owned)
            found = self._with_values(write, local, len(chunk.full)) or found
            local.destroy()
        block, pair = self._bc_diagonal
        at = self.direct.entry_positions(block, pair)
        with self.direct.arrays(J) as arrays:
            self.direct.add_at(arrays, at, np.ones(len(at)))
        return found

    def _write(self, J: Any, full: np.ndarray | None, n_owned: int, raw: np.ndarray) -> bool:
        """The coupled entries of BAIJ blocks ``raw`` (blocks × bs², by columns) added
        into ``J``: the owned rows' (the first ``n_owned`` blocks) straight into its
        arrays, in chunks of blocks, the ghost rows' on their owners at assembly.
        ``full``: each block's index among all blocks (None: the blocks are all).
        Whether an uncoupled field pair holds a nonzero in ``raw``."""
        nk = len(self.offsets)
        with self.direct.arrays(J) as arrays:
            for b0 in range(0, n_owned, _CHUNK):
                b1 = min(b0 + _CHUNK, n_owned)
                kept = np.take(raw[b0:b1], self.offsets, axis=1)
                blocks = slice(b0, b1) if full is None else full[b0:b1]
                self.direct.add(arrays, blocks, kept.ravel())
        ghost = raw[n_owned:]
        if len(ghost):
            values = np.take(ghost, self.offsets, axis=1).reshape(-1, 1)
            rows, cols = self.ghost_rows, self.ghost_cols
            if full is not None:
                at = (full[n_owned:] - self.n_owned_blocks)[:, None] * nk + np.arange(nk)
                rows, cols = rows[at.ravel()], cols[at.ravel()]
            J.setValuesRCV(rows, cols, values, PETSc.InsertMode.ADD_VALUES)
        return bool(np.any(_nonzero_positions(raw) & self.uncoupled))

    def _assemble_coverage_blocks(self, J: Any) -> None:
        """The blocks with a coverage row or column, as dolfinx assembles blocks."""
        bcs = [bc._cpp_object for bc in self.bcs]
        blocks = [(i, j) for i in range(2) for j in range(2) if (i, j) != (0, 0)]
        for i, j in blocks:
            a = self.forms[i][j]
            if a is None:
                continue
            sub = J.getLocalSubMatrix(self._is[i], self._is[j])
            _cpp.fem.petsc.assemble_matrix(
                sub, a._cpp_object, fem.pack_constants(a), fem.pack_coefficients(a), bcs, True
            )
            J.restoreLocalSubMatrix(self._is[i], self._is[j], sub)
        J.assemble(PETSc.Mat.AssemblyType.FLUSH)
        a = self.forms[1][1]
        if a is not None and a.function_spaces[0] is a.function_spaces[1]:
            sub = J.getLocalSubMatrix(self._is[1], self._is[1])
            _cpp.fem.petsc.insert_diagonal(sub, a.function_spaces[0], bcs, 1.0)
            J.restoreLocalSubMatrix(self._is[1], self._is[1], sub)


def jacobian_forms(F: Any, u: Any, entity_maps: Any) -> tuple[Any, Any]:
    """The Jacobian's forms for dolfinx's NonlinearProblem, and the species block
    compiled where :class:`BlockedJacobian` will assemble it (else None): a
    :class:`~confine.solver.cell_chunks.ChunkedForm` where it can be split by cells.

    With block insertion the species block of dolfinx's Jacobian is never
    assembled: it is left out of the forms NonlinearProblem allocates its matrix
    from (which then holds only the coverage blocks) and compiled apart (the same
    UFL, so the same kernel). dolfinx would allocate all bs² field pairs at every
    node pair, through a sparsity pattern of every entry: on the urea network
    (bs 13) that was the run's peak, ~8 KB per unknown at set-up, freed at once.
    :func:`drop_structural_zeros` puts the block back into the problem's forms.
    """
    if not isinstance(F, Sequence) or not available(u[0].function_space.dofmap.index_map_bs):
        return None, None
    J: Any = derivative_block(F, u)
    if J[0][1] is None or J[1][0] is None or J[0][1].empty() or J[1][0].empty():
        return None, None  # the matrix's layout needs a block in the species row and column
    if splittable(J[0][0]):
        return [[None, J[0][1]], J[1]], ChunkedForm(J[0][0], entity_maps)
    return [[None, J[0][1]], J[1]], jit.form(J[0][0], entity_maps=entity_maps)


# ---------------------------------------------------------------- compaction of the pattern
def drop_structural_zeros(
    nlp: Any, spaces: Spaces, case: Case, bcs: Sequence[Any], uu: Any = None, lean: bool = False
) -> None:
    """Keep only the field couplings that exist in the Jacobian's sparsity pattern.

    dolfinx allocates every component pair of the blocked space at every pair
    of neighbouring nodes: n² entries per node pair, of which the urea network
    couples about a quarter (a species to itself, to φ, to its reaction
    partners). The others are structural zeros that assembly inserts, the
    linear solver multiplies and MUMPS factorises. One assembly at a generic
    state (:func:`generic_state`: every field positive and perturbed at random,
    so no coupling vanishes by accident) tells which pairs of fields (i, j)
    couple anywhere; the new pattern keeps every node pair of dolfinx's pattern
    for those pairs (a per-entry test would drop the stiffness entries that
    vanish by mesh geometry, e.g. on structured meshes, and come back as
    round-off) and the diagonal. Assembly then ignores zero entries; an entry
    outside the pattern (a coupling not seen at that state) is still inserted,
    with a malloc, so the Jacobian stays exact. Where it can (a blocked space,
    PETSc's BAIJ array reachable), the species block is assembled by block
    insertion and gathered into such a pattern instead (:class:`BlockedJacobian`:
    the couplings read off the species block at the generic state, the coverage
    blocks with dolfinx's pattern; dolfinx's assembly takes over if an uncoupled
    pair becomes nonzero). The functions' state is kept. ``uu``: the species
    block compiled apart (:func:`jacobian_forms`), put back into ``nlp.J``.
    ``lean``: no block-insertion BAIJ kept (:class:`BlockedJacobian`).
    """
    chunked = uu if isinstance(uu, ChunkedForm) else None
    if uu is not None:
        nlp.J[0][0] = uu.whole if chunked is not None else uu
    A = nlp.A
    saved = spaces.state()
    generic_state(spaces, case)
    funcs: Any = [spaces.u, spaces.theta] if spaces.theta is not None else spaces.u
    snes = nlp.solver
    if available(len(spaces.unknowns)):  # block insertion
        # it assembles the species block at this state and reads the couplings off it
        jac = BlockedJacobian(nlp.J, funcs, bcs, A, lean=lean, chunked=chunked)
        spaces.restore(saved)
        snes.setJacobian(jac, jac.matrix, None)
        A.destroy()
        nlp._A = jac.matrix  # what NonlinearProblem.A returns
        return
    x = nlp.x
    fem_petsc.assign(funcs, x)
    snes.computeJacobian(x, A)
    spaces.restore(saved)
    pattern = _coupled_pattern(spaces, A)
    # block sizes kept: with one blocked form dolfinx inserts blocks
    B = matrix_like(A, lambda M: M.setPreallocationCSR(pattern))
    option: Any = PETSc.Mat.Option
    B.setOption(option.IGNORE_ZERO_ENTRIES, True)
    B.setOption(option.NEW_NONZERO_ALLOCATION_ERR, False)
    jacobian: Any = snes.getJacobian()
    assemble, args, kargs = jacobian[2]
    snes.setJacobian(assemble, B, None, args=args, kargs=kargs)
    A.destroy()
    nlp._A = B  # what NonlinearProblem.A returns


def _coupled_pattern(spaces: Spaces, A: Any) -> tuple[np.ndarray, np.ndarray]:
    """CSR pattern (local rows, global columns) of ``A``'s entries whose pair of
    fields has a nonzero entry on some rank, and of its diagonal."""
    ia, ja, va = A.getValuesCSR()
    start = A.getOwnershipRange()[0]
    nf = len(spaces.unknowns) + len(spaces.adsorbed)
    local = np.zeros((nf, nf), dtype=np.int32)
    for _, sl, fr, fc in _entry_chunks(spaces, A, ia, ja):
        nz = va[sl] != 0.0
        local[fr[nz], fc[nz]] = 1
    del va
    coupled = np.zeros_like(local)
    spaces.comm.Allreduce(local, coupled, op=MPI.MAX)
    keep = np.zeros(len(ja), dtype=bool)
    counts = np.zeros(len(ia) - 1, dtype=np.int64)
    for rows, sl, fr, fc in _entry_chunks(spaces, A, ia, ja):
        k = (coupled[fr, fc] > 0) | (start + rows == ja[sl])
        keep[sl] = k
        counts += np.bincount(rows[k], minlength=len(counts))
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(PETSc.IntType)
    return indptr, ja[keep].astype(PETSc.IntType)


def _entry_chunks(
    spaces: Spaces, A: Any, ia: np.ndarray, ja: np.ndarray
) -> Iterator[tuple[np.ndarray, slice, np.ndarray, np.ndarray]]:
    """``A``'s owned CSR (``ia``, ``ja``: global columns) in chunks of rows (bounded
    temporaries on big meshes): each entry's local row, the chunk's slice of
    ``ja``, and the fields of each entry's row and column. Collective."""
    start = A.getOwnershipRange()[0]
    ranges = np.asarray(A.getOwnershipRanges())
    n0 = np.asarray(
        spaces.comm.allgather(spaces.V.dofmap.index_map.size_local * len(spaces.unknowns))
    )
    nu, na = len(spaces.unknowns), max(len(spaces.adsorbed), 1)
    nrows = len(ia) - 1
    step = max(1, nrows // 64)
    for r0 in range(0, nrows, step):
        r1 = min(r0 + step, nrows)
        rows = np.repeat(np.arange(r0, r1), np.diff(ia[r0 : r1 + 1]))
        sl = slice(ia[r0], ia[r1])
        fields = _field_of(start + rows, ranges, n0, nu, na), _field_of(ja[sl], ranges, n0, nu, na)
        yield rows, sl, *fields


def _field_of(
    index: np.ndarray, ranges: np.ndarray, n0: np.ndarray, nu: int, na: int
) -> np.ndarray:
    """Field (unknown, then coverage) of global indices of the solution vector: each
    rank owns its u block (``n0`` entries: nodes × ``nu`` unknowns, interleaved), then
    its θ block (``na`` coverages); ``ranges``: the ownership ranges."""
    owner = np.searchsorted(ranges, index, side="right") - 1
    local = index - ranges[owner]
    return np.where(local < n0[owner], local % nu, nu + (local - n0[owner]) % na)


def generic_state(spaces: Spaces, case: Case) -> None:
    """The bulk state, every value scaled by a random factor in [0.75, 1.25] and
    raised by 0.5e-3 to 1.5e-3 (products start at zero), the coverages' sum kept
    at most 0.9."""
    rng = np.random.default_rng(spaces.comm.rank)
    set_bulk_state(spaces, case)
    for f in (spaces.u, spaces.theta):
        if f is None:
            continue
        a = f.x.array
        a[:] = a * (0.75 + 0.5 * rng.random(a.size)) + 1e-3 * (0.5 + rng.random(a.size))
    if spaces.theta is not None:
        th = spaces.theta.x.array.reshape(-1, len(spaces.adsorbed))
        th /= np.maximum(1.0, th.sum(axis=1, keepdims=True) / 0.9)
    for f in (spaces.u, spaces.theta):
        if f is not None:
            f.x.scatter_forward()
