"""The species block's Jacobian form split over chunks of cells: compiled once, one
dolfinx Form per chunk.

Block insertion (:class:`~confine.solver.sparsity.BlockedJacobian`) assembles the
species block into a BAIJ of all bs² field pairs at every node pair (1.25 KB per
unknown on the urea network, the largest thing a Newton step allocates after the
Jacobian itself). Assembled a chunk of cells at a time, only one chunk's BAIJ
exists at once.

dolfinx integrates a form's default integrals (UFL's "everywhere", id −1) over
every owned entity, whatever entities it is given. So the form is compiled with
those integrals under an explicit id (:data:`EVERYWHERE`), and every Form made
from it gets its entities: all of them (:attr:`ChunkedForm.whole`, the same
kernels over the same entities as :func:`dolfinx.fem.form` of the original: the
same matrix), or a chunk's (:meth:`ChunkedForm.split`): the owned cells of a
range, and the facets whose first cell is in it. :func:`block_chunks` gives each
chunk the block pattern of its BAIJ and where its blocks sit among the whole's.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import ufl

from confine.env import import_dolfinx
from confine.fem import jit

import_dolfinx()

from dolfinx import fem  # noqa: E402
from dolfinx import mesh as dmesh  # noqa: E402
from dolfinx.fem import IntegralType  # noqa: E402
from dolfinx.fem.forms import get_integration_domains  # noqa: E402
from petsc4py import PETSc  # noqa: E402

#: The id the default integrals are compiled under (no mesh tag of confine's reaches it).
EVERYWHERE = 2**30
_DEFAULT_IDS = ("everywhere", "otherwise")
#: UFL's integral types this module can split, as dolfinx's.
_TYPES = {
    "cell": IntegralType.cell,
    "exterior_facet": IntegralType.exterior_facet,
    "interior_facet": IntegralType.interior_facet,
}


def explicit_ids(form: ufl.Form) -> ufl.Form:
    """``form`` with its default integrals under the id :data:`EVERYWHERE`."""
    return ufl.Form(
        [
            itg.reconstruct(subdomain_id=EVERYWHERE) if itg.subdomain_id() in _DEFAULT_IDS else itg
            for itg in form.integrals()
        ]
    )


def splittable(form: ufl.Form) -> bool:
    """Whether :class:`ChunkedForm` can split ``form``: cell and facet integrals only,
    with integer ids (or the default)."""
    return all(
        itg.integral_type() in _TYPES
        and (itg.subdomain_id() in _DEFAULT_IDS or isinstance(itg.subdomain_id(), int))
        for itg in form.integrals()
    )


@dataclass(frozen=True)
class Part:
    """A chunk of cells and the form over it."""

    #: the form over the chunk's entities
    form: Any
    #: the chunk's owned cells
    cells: np.ndarray
    #: the two cells of each interior facet the chunk integrates (m × 2)
    across: np.ndarray


class ChunkedForm:
    """A bilinear form compiled once (default integrals under :data:`EVERYWHERE`),
    as one dolfinx Form over every entity (:attr:`whole`) or one per chunk of cells.

    Args:
        form: the UFL form (:func:`splittable`).
        entity_maps: as for :func:`dolfinx.fem.form` (mixed-domain coefficients).
    """

    def __init__(self, form: ufl.Form, entity_maps: Sequence[Any] | None = None):
        form = explicit_ids(form)
        self._ufl = form
        self._spaces = [arg.ufl_function_space() for arg in form.arguments()]
        #: the integration domain (the arguments' mesh: a block of the parent mesh)
        self.mesh: Any = self._spaces[0].mesh
        if self.mesh.ufl_domain() != form.ufl_domain():
            raise ValueError("the form is integrated over another mesh than its arguments'")
        self._entity_maps = entity_maps
        self._compiled = jit.compile_form(self.mesh.comm, form)
        self._domains = self._all_domains()
        #: the form over every entity dolfinx's own Form of the original integrates
        self.whole: Any = self._create(self._domains)

    def _all_domains(self) -> dict[Any, list[tuple[int, np.ndarray]]]:
        """Each integral type's (id, entities): tagged ids as :func:`dolfinx.fem.form`
        takes them, :data:`EVERYWHERE` as dolfinx's defaults (owned cells, owned
        exterior facets, owned facets between two cells)."""
        msh = self.mesh
        top = msh.topology
        tdim = top.dim
        data: dict[Any, dict[int, Any]] = {}
        for itg in self._ufl.integrals():
            data.setdefault(_TYPES[itg.integral_type()], {})[itg.subdomain_id()] = (
                itg.subdomain_data()
            )
        if any(t != IntegralType.cell for t in data):
            top.create_connectivity(tdim - 1, tdim)
            top.create_connectivity(tdim, tdim - 1)
        out: dict[Any, list[tuple[int, np.ndarray]]] = {}
        for itype, ids in data.items():
            pairs = []
            for i, sd in sorted(ids.items()):
                if i != EVERYWHERE:
                    pairs += get_integration_domains(itype, sd, [i])
                    continue
                if itype == IntegralType.cell:
                    entities = np.arange(top.index_map(tdim).size_local, dtype=np.int32)
                elif itype == IntegralType.exterior_facet:
                    entities = fem.compute_integration_domains(
                        itype, top, dmesh.exterior_facet_indices(top)
                    )
                else:
                    f_to_c = top.connectivity(tdim - 1, tdim)
                    owned = np.arange(top.index_map(tdim - 1).size_local, dtype=np.int32)
                    two = owned[np.diff(f_to_c.offsets)[: len(owned)] == 2]
                    entities = fem.compute_integration_domains(itype, top, two)
                pairs.append((i, np.asarray(entities, dtype=np.int32)))
            out[itype] = pairs
        return out

    def _create(self, domains: dict[Any, list[tuple[int, np.ndarray]]]) -> Any:
        coefficients = {c: c for c in ufl.algorithms.extract_coefficients(self._ufl)}
        constants = {c: c for c in ufl.algorithms.analysis.extract_constants(self._ufl)}
        return fem.create_form(
            self._compiled,
            self._spaces,
            self.mesh,
            {t: [(i, e.copy()) for i, e in pairs] for t, pairs in domains.items()},
            coefficients,
            constants,
            self._entity_maps,
        )

    def facet_pairs(self, dofs: np.ndarray, n: int) -> np.ndarray:
        """The keys (row · n + column) of the node pairs the interior facet integrals
        couple across their two cells (``dofs``: each cell's nodes, ``n`` nodes)."""
        across = [
            e.reshape(-1, 4)[:, [0, 2]]
            for i, e in self._domains.get(IntegralType.interior_facet, [])
        ]
        if not across:
            return np.empty(0, dtype=np.int64)
        return np.unique(across_pairs(dofs, np.concatenate(across), n))

    def split(self, n: int) -> list[Part]:
        """``n`` parts over consecutive ranges of the owned cells (dolfinx numbers
        cells for locality: a range's nodes are few), each facet with the range of
        its first cell: their forms sum to :attr:`whole`."""
        n_cells = self.mesh.topology.index_map(self.mesh.topology.dim).size_local
        bounds = np.linspace(0, n_cells, n + 1).round().astype(np.int64)
        width = {IntegralType.cell: 1, IntegralType.exterior_facet: 2}
        parts = []
        for lo, hi in itertools.pairwise(bounds):
            domains: dict[Any, list[tuple[int, np.ndarray]]] = {}
            across = [np.empty((0, 2), dtype=np.int32)]
            for itype, pairs in self._domains.items():
                domains[itype] = []
                for i, e in pairs:
                    rows = e.reshape(-1, width.get(itype, 4))
                    rows = rows[(rows[:, 0] >= lo) & (rows[:, 0] < hi)]
                    domains[itype].append((i, rows.ravel()))
                    if itype == IntegralType.interior_facet:
                        across.append(rows[:, [0, 2]])
            cells = np.arange(lo, hi, dtype=np.int32)
            parts.append(Part(self._create(domains), cells, np.concatenate(across)))
        return parts


@dataclass(frozen=True)
class BlockChunk:
    """A chunk of cells of the species block: its form, its BAIJ's block pattern
    (local nodes), each of its blocks' index among all blocks, its owned blocks."""

    form: Any
    csr: tuple[np.ndarray, np.ndarray]
    full: np.ndarray
    n_owned: int


def node_pairs(dofs: np.ndarray, n: int) -> np.ndarray:
    """The keys (row · n + column) of the node pairs within each row of ``dofs``."""
    width = dofs.shape[1]
    return (
        np.repeat(dofs, width, axis=1).ravel().astype(np.int64) * n
        + np.tile(dofs, (1, width)).ravel()
    )


def across_pairs(dofs: np.ndarray, cells: np.ndarray, n: int) -> np.ndarray:
    """The keys of the node pairs of each two cells (``cells``: m × 2) taken together."""
    return node_pairs(np.hstack([dofs[cells[:, 0]], dofs[cells[:, 1]]]), n)


def key_csr(keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The CSR block pattern (``n`` rows, PETSc's index type) of sorted keys row · n + column."""
    ai = np.concatenate([[0], np.cumsum(np.bincount(keys // n, minlength=n))])
    return ai.astype(PETSc.IntType), (keys % n).astype(PETSc.IntType)


def block_chunks(
    chunked: ChunkedForm, n_chunks: int, dofs: np.ndarray, n: int, n_owned: int, keys: np.ndarray
) -> list[BlockChunk]:
    """The species block's form split into ``n_chunks`` chunks of cells, each with the
    block pattern of its cells and interior facets. ``dofs``: the nodes of each cell
    (``n`` local nodes, the first ``n_owned`` owned); ``keys``: row · n + column of
    every block of the whole, sorted."""
    out = []
    for part in chunked.split(n_chunks):
        pairs = [node_pairs(dofs[part.cells], n)]
        if len(part.across):
            pairs.append(across_pairs(dofs, part.across, n))
        mine = np.unique(np.concatenate(pairs))
        full = np.searchsorted(keys, mine)
        if np.any(keys[np.minimum(full, len(keys) - 1)] != mine):
            raise RuntimeError("a chunk's node pair is not in the species block's pattern")
        owned = int(np.searchsorted(mine // n, n_owned))
        out.append(BlockChunk(part.form, key_csr(mine, n), full, owned))
    return out


def dirichlet_diagonal(
    bcs: Sequence[Any], V: Any, keys: np.ndarray, n: int, kept: Any
) -> tuple[np.ndarray, np.ndarray]:
    """The owned Dirichlet dofs of the blocked space ``V`` as (the block of its node's
    diagonal among ``keys``, row · n + column of every block, sorted; the kept field
    pair of its field among ``kept``): where a sum of chunks gets its 1.0."""
    bs = V.dofmap.index_map_bs
    mine = (bc.dof_indices() for bc in bcs if V.contains(bc.function_space))
    dofs = [np.asarray(indices[:owned], dtype=np.int64) for indices, owned in mine]
    dof = np.unique(np.concatenate(dofs)) if dofs else np.empty(0, dtype=np.int64)
    node, field = dof // bs, dof % bs
    pair = np.full(bs, -1, dtype=np.intp)
    fa, fb = kept
    pair[fa[fa == fb]] = np.nonzero(fa == fb)[0]
    return np.searchsorted(keys, node * n + node), pair[field]
