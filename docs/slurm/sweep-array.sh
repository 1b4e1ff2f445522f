#!/bin/bash
# One slice of a confine sweep per SLURM array task.
#
#   jid=$(sbatch --parsable docs/slurm/sweep-array.sh)
#   sbatch --dependency=afterany:$jid docs/slurm/sweep-merge.sh
#
# Task i of N runs every N-th chain of the sweep (a chain: the points along the
# warm-start axis, e.g. the potentials of one pore size), so every point is run
# by exactly one task. confine reads SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT
# and SLURM_ARRAY_TASK_MIN itself. Finished points (points/<hash>/DONE) are never
# redone: resubmit the same script to finish a sweep cut short by the time limit.
#
#SBATCH --job-name=confine-sweep
#SBATCH --array=0-7                 # N tasks; more tasks than chains leaves some idle
#SBATCH --ntasks=1                  # MPI ranks per task (see ranks_per_point below)
#SBATCH --cpus-per-task=1
#SBATCH --mem-per-cpu=4G
#SBATCH --time=04:00:00
#SBATCH --signal=TERM@180           # SIGTERM 3 min before the limit: the point under way
#                                   # is abandoned (no marker), results.csv is merged,
#                                   # the task exits 143
#SBATCH --output=logs/%x-%A_%a.out

set -euo pipefail
SWEEP=${SWEEP:-cases/sweeps/pore-size.sweep.toml}
OUT=${OUT:-results/pore-size}
mkdir -p logs "$OUT"

# Threads: one per rank (PETSc/BLAS), the parallelism is in points and ranks.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
# Compiled forms: one cache on the project file system shared by every task,
# pre-warmed by running one point first (see docs/sweeps.md), so that hundreds
# of tasks do not all compile the same forms at once.
export XDG_CACHE_HOME=${CONFINE_CACHE:-$PWD/.cache}
# Meshes: one cache for every task (a mesh is built once, under a lock; see
# docs/geometry.md#cache for what holds on NFS and Lustre).
export CONFINE_MESH_CACHE=${CONFINE_MESH_CACHE:-$PWD/meshes}

# With --ntasks > 1, srun starts an MPI job: confine splits it into groups of
# `ranks_per_point` ranks ([sweep] ranks_per_point in the sweep file, default 1),
# each group running its share of this task's chains.
srun confine sweep "$SWEEP" --out "$OUT"
