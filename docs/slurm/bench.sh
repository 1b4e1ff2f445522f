#!/bin/bash
# confine benchmark records on a cluster: the full-3d particle, then a pore sweep,
# each point written as the same JSON record as `confine bench` writes locally
# (benchmarks/README.md explains the fields and how to compare records).
#
#   sbatch docs/slurm/bench.sh                              # defaults below
#   sbatch --ntasks=64 --export=ALL,PORES="4.18 7.55 11.12" docs/slurm/bench.sh
#
# Memory: `python -m confine validate CASE --set geometry.model=full-3d --estimate --ranks N`
# prints what the mesh build (rank 0) and the solve (per rank) need; docs/slurm/scaling.sh
# asks the scheduler for it by itself (multi-node strong and weak scaling).
#
# Strong scaling: submit the same script at several --ntasks (e.g. 16, 32, 64)
# with the same OUT; each record carries mpi_ranks, so the time per Newton step
# of the records of one case gives the speed-up and parallel efficiency.
#
#SBATCH --job-name=confine-bench
#SBATCH --nodes=1
#SBATCH --ntasks=32                 # MPI ranks (one per core)
#SBATCH --cpus-per-task=1
#SBATCH --mem-per-cpu=4G            # full-3d 4 nm meshes need ~16 GiB in gmsh (rank 0)
#SBATCH --time=04:00:00
#SBATCH --output=logs/%x-%j.out

set -euo pipefail
mkdir -p logs

# --- a site-installed dolfinx: pick one ------------------------------------------
# Environment modules / Lmod:
#   module load fenicsx/0.10 py-mpi4py py-petsc4py
# Spack:
#   spack load py-fenics-dolfinx@0.10 py-gmsh
# Conda (conda-forge fenics-dolfinx, mpich or openmpi as the site MPI):
#   source "$(conda info --base)/etc/profile.d/conda.sh" && conda activate fenicsx
# then, once, in that environment: pip install -e ".[dev]"   (confine without the wheel)
if [[ -n "${CONFINE_ENV_SETUP:-}" ]]; then
    eval "$CONFINE_ENV_SETUP"
fi
confine doctor | head -20

# One BLAS/OpenMP thread per rank; the parallelism is MPI.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
# Form cache on the project file system, warmed below by one serial run, so the
# ranks read compiled forms instead of all compiling them at once.
export XDG_CACHE_HOME=${CONFINE_CACHE:-$PWD/.cache}

CASE=${CASE:-cases/mchs-7nm.toml}
OUT=${OUT:-results/bench-cluster/$SLURM_JOB_ID}
PORES=${PORES:-"4.18 7.55 11.12"}
RANKS=${SLURM_NTASKS:-1}
mkdir -p "$OUT"

# Warm the form cache (and the mesh cache of the 7 nm particle) on one rank.
srun --ntasks=1 confine mesh "$CASE" --set geometry.model=full-3d --out "$OUT/mesh"

# 1. The full-3d particle (fields written, figures skipped: they are serial), Newton
#    started from the axisymmetric cell's solution (3 Newton steps on the 11 nm particle
#    here, against ~26 of the continuation from the bulk: benchmarks/README.md).
srun confine bench --case "$CASE" --name "full-3d-7nm-n${RANKS}" --out "$OUT" \
    --set geometry.model=full-3d --set solver.start=axisymmetric-cell --set output.figures=false

# 2. A pore sweep: one record per pore diameter, same ranks.
for d in $PORES; do
    srun confine bench --case "$CASE" --name "full-3d-${d}nm-n${RANKS}" --out "$OUT" \
        --set geometry.model=full-3d --set "geometry.pore_diameter=\"$d nm\"" \
        --set solver.start=axisymmetric-cell --set output.figures=false
done

# 3. Optional: the regression suite against the stored references (drift -> exit 1).
#    The references were made on the development machine: physics values must
#    agree; the Poisson-relative performance ratios say how this machine compares.
srun --ntasks=1 confine bench --check --out "$OUT/suite" || echo "bench check: drift (see above)"

echo "records in $OUT"
