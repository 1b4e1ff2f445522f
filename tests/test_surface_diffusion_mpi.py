"""Surface diffusion on 1 and 2 MPI ranks (issue #23, item 4): the same metrics.

Run: mpiexec -n 2 python -m pytest -m mpi tests/test_surface_diffusion_mpi.py. Each
rank also solves cases/verification/pore-wall-surface-diffusion.toml alone on
COMM_SELF, so one run compares the distributed answer (the coverage's submesh split
across ranks, its diffusion term assembled over the cut) with the serial one.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mpi4py import MPI
from test_solve_mpi import leaves, mismatches

from confine.case import load_case
from confine.mesh import load_mesh
from confine.metrics import compute_metrics
from confine.solve import solve

CASE = (
    Path(__file__).resolve().parent.parent
    / "cases"
    / "verification"
    / "pore-wall-surface-diffusion.toml"
)
#: Residuals (zero up to the solver tolerance): the adsorbates' net production, and
#: with it the surface-diffusing coverage's leakage through the layer's no-flux edge.
RESIDUALS = (
    "species/*X/production_mol_s",
    "species/*S/production_mol_s",
    "species/*X/leakage_mol_s",
    "species/*X/leakage_fraction_of_production",
)


def metrics_on(comm: MPI.Comm, cache: Path) -> dict[str, tuple[float, str]]:
    case = load_case(CASE)
    md = load_mesh(case, comm, cache)
    return leaves(compute_metrics(case, md, solve(case, md, comm), comm))


@pytest.mark.mpi
def test_surface_diffusion_same_metrics_on_one_and_two_ranks(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    world = MPI.COMM_WORLD
    if world.size < 2:
        pytest.skip("needs mpiexec -n 2")
    base = tmp_path_factory.mktemp("meshes") if world.rank == 0 else None
    cache = Path(world.bcast(str(base), root=0))
    par = metrics_on(world, cache)
    ser = metrics_on(MPI.COMM_SELF, cache)
    assert par.keys() == ser.keys()
    fraction = "species/*X/leakage_fraction_of_production"
    assert abs(par[fraction][0]) < 1e-8 and abs(ser[fraction][0]) < 1e-8
    for k in RESIDUALS:
        del par[k], ser[k]
    bad = mismatches(par, ser)  # the fast exchange step's net rate is round-off
    assert not bad, sorted(bad.items())
    assert ser["species/*X/mean_coverage"][0] > 0.05  # the balance, 0.0526 (case file)
    assert len(ser) > 20
