"""Forms compiled on every rank at once (confine/fem/jit.py).

A form compiles and assembles as dolfinx's own; a ``.c`` file left by a killed
compile (no module beside it) is removed after the wait and compiled again; a
compile that fails on one rank fails on every rank (2 ranks), so none goes on
into a collective alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import ufl
from mpi4py import MPI

from confine.env import import_dolfinx
from confine.fem import jit

import_dolfinx()
from dolfinx import fem, mesh  # noqa: E402

COMM = MPI.COMM_WORLD


def _unit_square() -> tuple[object, object]:
    msh = mesh.create_unit_square(COMM, 4, 4)
    return msh, ufl.SpatialCoordinate(msh)


def test_a_form_compiled_on_every_rank_assembles_as_dolfinx_own() -> None:
    msh, x = _unit_square()
    form = x[0] ** 2 * ufl.dx(domain=msh)
    ours = COMM.allreduce(fem.assemble_scalar(jit.form(form)), op=MPI.SUM)
    theirs = COMM.allreduce(fem.assemble_scalar(fem.form(form)), op=MPI.SUM)
    assert ours == pytest.approx(1.0 / 3.0, rel=1e-12)
    assert ours == pytest.approx(theirs, rel=1e-14)


def test_a_compile_left_unfinished_is_removed_and_done_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The state a killed compile leaves (the module's .c, empty, no module and no
    ".c.cached" beside it): FFCx waits for it until its timeout; then the file is
    removed and the form compiled again."""
    if COMM.size > 1:
        pytest.skip("one process: the cache is this test's own")
    monkeypatch.setattr(jit, "JIT_OPTIONS", {"timeout": 1, "cache_dir": str(tmp_path)})
    msh, x = _unit_square()
    form = x[0] ** 3 * ufl.dx(domain=msh)  # its own module in the fresh cache
    assert fem.assemble_scalar(jit.form(form)) == pytest.approx(0.25, rel=1e-12)
    (c_file,) = tmp_path.glob("*.c")
    for done in tmp_path.iterdir():
        if done != c_file:
            done.unlink()
    c_file.write_text("")  # what a compile killed at its start leaves
    again = jit.form(x[0] ** 3 * ufl.dx(domain=msh))
    assert fem.assemble_scalar(again) == pytest.approx(0.25, rel=1e-12)
    assert c_file.stat().st_size > 0 and c_file.with_suffix(".c.cached").exists()


@pytest.mark.mpi
def test_a_compile_failing_on_one_rank_fails_on_every_rank() -> None:
    if COMM.size < 2:
        pytest.skip("needs mpiexec -n 2")

    def compile_() -> int:
        if COMM.rank == 1:
            raise ValueError("rank 1's compile failed")
        return 0

    expected = "rank 1's compile failed" if COMM.rank == 1 else "failed on another rank"
    with pytest.raises((ValueError, RuntimeError), match=expected):
        jit.concurrently(COMM, compile_)
