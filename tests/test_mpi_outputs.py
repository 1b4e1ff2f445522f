"""An MPI run writes the serial run's files and figures, and frees its solver on every rank.

Run: mpiexec -n 2 python -m pytest -m mpi tests/test_mpi_outputs.py. The
section is cut on rank 0 from the fields of every rank, the maps are shared out
between the ranks and rank 0 draws the profiles. Drawing once left reference
cycles on rank 0 alone that held the solver, so rank 0 destroyed it
(collective) at interpreter exit while rank 1 had destroyed it with the result:
the run hung at exit. A hang would stop this session at exit; the solver check
below names the cause.
"""

from __future__ import annotations

import weakref
from pathlib import Path

import pytest
from mpi4py import MPI

import confine
from confine.solver import continuation

ROOT = Path(__file__).resolve().parent.parent
COARSE = {"mesh.cells_per_pore_diameter": 3, "mesh.cells_across_layer": 1}


@pytest.mark.mpi
def test_two_ranks_draw_the_figures_and_free_the_solver(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    world = MPI.COMM_WORLD
    if world.size < 2:
        pytest.skip("needs mpiexec -n 2")
    base = tmp_path_factory.mktemp("mpi") if world.rank == 0 else None
    out = Path(world.bcast(str(base), root=0)) / "run"
    case = confine.load_case(ROOT / "cases" / "mchs-7nm.toml", set=COARSE)
    result = confine.run(case, out=out, comm=world)
    model = weakref.ref(next(iter(continuation._SOLVERS)))
    del result
    alive = world.allgather(model() is not None)  # freed with the result, on every rank
    world.barrier()
    figures = {p.name for p in (out / "figures").glob("*.png")}
    assert {"CO2.png", "urea.png", "phi.png", "profiles.png", "overview.png"} <= figures
    assert (out / "vtk" / "revolved.vtp").is_file()
    assert (out / "fields.xdmf").is_file() and (out / "metrics.json").is_file()
    assert (out / "fields.meshio.xdmf").is_file() and (out / "facet_tags.meshio.xdmf").is_file()
    assert alive == [False] * world.size, alive
