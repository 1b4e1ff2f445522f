"""Foundation under MPI: every rank reads the same case, dolfinx runs on all ranks.

Run with ``mpiexec -n 2 python -m pytest -m mpi tests``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from confine.case import load_case
from confine.env import import_dolfinx

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.mpi


def test_case_identical_on_every_rank() -> None:
    import_dolfinx()
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    case = load_case(ROOT / "cases" / "mchs-7nm.toml", set={"electrode.potential": "-0.9 V"})
    hashes = comm.allgather(case.hash())
    assert len(set(hashes)) == 1
    assert comm.size >= 1


def test_doctor_assembles_on_all_ranks() -> None:
    import_dolfinx()
    import ufl
    from dolfinx import fem, mesh
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    msh = mesh.create_unit_square(comm, 8, 8)
    local = fem.assemble_scalar(fem.form(fem.Constant(msh, 2.0) * ufl.dx(domain=msh)))
    assert comm.allreduce(local, op=MPI.SUM) == pytest.approx(2.0, rel=1e-12)
    owned = msh.topology.index_map(2).size_local
    assert comm.allreduce(owned, op=MPI.SUM) == 2 * 8 * 8


def test_an_output_folder_rank_0_cannot_make_fails_on_every_rank(tmp_path_factory) -> None:
    """Its parent is a file: rank 0 cannot create the staging folder, and every rank
    raises the same one-line OSError instead of waiting for rank 0 for ever."""
    import_dolfinx()
    from mpi4py import MPI

    from confine import io

    comm = MPI.COMM_WORLD
    base = comm.bcast(str(tmp_path_factory.mktemp("out")) if comm.rank == 0 else None, root=0)
    blocker = Path(base) / "taken"
    if comm.rank == 0:
        blocker.write_text("a file, not a folder", encoding="utf-8")
    comm.barrier()
    with (
        pytest.raises(OSError, match="cannot create its folder"),
        io.output_dir(blocker / "run", comm),
    ):
        pass
