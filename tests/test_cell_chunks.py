"""The species block's form split by cells (confine.solver.cell_chunks): the whole is
dolfinx's own form, the chunks sum to it; on 1 and 2 ranks."""

from __future__ import annotations

import numpy as np
import pytest
import ufl

from confine.env import import_dolfinx
from confine.solver.cell_chunks import EVERYWHERE, ChunkedForm, explicit_ids, splittable

import_dolfinx()

from dolfinx import fem, mesh  # noqa: E402
from dolfinx.fem import petsc as fem_petsc  # noqa: E402
from mpi4py import MPI  # noqa: E402

COMM = MPI.COMM_WORLD


def _problem(interior: bool) -> tuple[ufl.Form, object]:
    """A nonlinear 3-component Jacobian on a tagged unit cube: default and tagged cell
    integrals, a tagged and a default boundary integral, and (``interior``) a jump
    term on the interior facets."""
    ghosts = mesh.GhostMode.shared_facet
    m = mesh.create_unit_cube(COMM, 5, 4, 3, ghost_mode=ghosts)
    tdim = m.topology.dim
    left = mesh.locate_entities(m, tdim, lambda x: x[0] < 0.45)
    tags = mesh.meshtags(m, tdim, left, np.full(len(left), 3, dtype=np.int32))
    m.topology.create_connectivity(tdim - 1, tdim)
    top = mesh.locate_entities_boundary(m, tdim - 1, lambda x: np.isclose(x[2], 1.0))
    ftags = mesh.meshtags(m, tdim - 1, top, np.full(len(top), 5, dtype=np.int32))
    V = fem.functionspace(m, ("Lagrange", 1, (3,)))
    u = fem.Function(V)
    u.interpolate(lambda x: np.vstack([1 + x[0], x[1] ** 2 + 0.5, 1 + x[2] * x[0]]))
    v = ufl.TestFunction(V)
    dx = ufl.Measure("dx", domain=m, subdomain_data=tags)
    ds = ufl.Measure("ds", domain=m, subdomain_data=ftags)
    F = (
        ufl.inner(ufl.grad(u), ufl.grad(v)) * dx
        + ufl.inner(ufl.elem_mult(u, u), v) * dx(3)
        + u[0] * u[1] * v[2] * ds(5)
        + ufl.inner(u, v) * ds
    )
    if interior:
        n = ufl.FacetNormal(m)
        F += ufl.inner(ufl.jump(ufl.grad(u), n), ufl.avg(v)) * ufl.dS
    return ufl.derivative(F, u), V


def _matrix(form: object) -> object:
    A = fem_petsc.assemble_matrix(form)
    A.assemble()
    return A


@pytest.mark.parametrize("interior", [False, True])
def test_whole_is_dolfinx_form_and_chunks_sum_to_it(interior: bool) -> None:
    _check(interior)


@pytest.mark.mpi
def test_whole_is_dolfinx_form_and_chunks_sum_to_it_in_parallel() -> None:
    """Owned cells and facets only: ghost cells are integrated by their owners."""
    if COMM.size < 2:
        pytest.skip("needs mpiexec -n 2")
    _check(interior=False)
    _check(interior=True)


def _check(interior: bool) -> None:
    J, _ = _problem(interior)
    assert splittable(J)
    assert all(i.subdomain_id() != "everywhere" for i in explicit_ids(J).integrals())
    assert EVERYWHERE in {i.subdomain_id() for i in explicit_ids(J).integrals()}
    ref = _matrix(fem.form(J))
    scale = ref.norm()
    chunked = ChunkedForm(J)
    whole = _matrix(chunked.whole)
    whole.axpy(-1.0, ref)
    assert whole.norm() <= 1e-14 * scale
    parts = chunked.split(4)
    cells = np.concatenate([p.cells for p in parts])
    n_cells = chunked.mesh.topology.index_map(3).size_local
    assert np.array_equal(cells, np.arange(n_cells))  # each owned cell in one chunk
    assert (len(np.concatenate([p.across for p in parts])) > 0) == interior
    total = ref.duplicate()
    total.zeroEntries()
    for part in parts:
        total.axpy(1.0, _matrix(part.form))
    total.axpy(-1.0, ref)
    assert total.norm() <= 1e-14 * scale


def test_only_cell_and_facet_integrals_split() -> None:
    m = mesh.create_unit_square(MPI.COMM_SELF, 2, 2)
    V = fem.functionspace(m, ("Lagrange", 1))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    assert splittable(u * v * ufl.dx + u * v * ufl.ds(2))
    assert not splittable(u * v * ufl.dP)  # vertex integrals
