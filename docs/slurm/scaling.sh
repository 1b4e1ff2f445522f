#!/bin/bash
# Strong and weak scaling of confine on a cluster, as JSON records (benchmarks/scaling.py;
# benchmarks/README.md, "Scaling", says how to read them). Multi-node; the memory request
# comes from the case's estimated size (`confine validate --estimate`, confine/budget.py).
#
# Submit from a login node (this script works out the memory, then submits itself):
#
#   docs/slurm/scaling.sh                                  # 8 ranks, the sector at f = 1
#   RANKS=64 NODES=2 LEVEL=3 docs/slurm/scaling.sh         # 1..64 ranks on two nodes, f = 2
#   RINGS="0 1 2" RANKS_PER_PORE=2 docs/slurm/scaling.sh   # weak scaling to 38 ranks
#
# Variables (all optional): RANKS (largest rank count; strong scaling runs 1, 2, 4, ...
# RANKS), NODES, LEVEL (index into the problem's levels: sector-3d-urea is f = 0.5, 1, 1.5,
# 2), PROBLEM (a problem of scaling.py), RINGS and RANKS_PER_PORE (weak scaling on growing
# sectors), TIME, PARTITION, ACCOUNT, CONFINE_ENV_SETUP (commands that load dolfinx: see
# docs/slurm/bench.sh), MEM_MARGIN (factor on the estimate, default 1.5), OUT.
set -euo pipefail

RANKS=${RANKS:-8}
NODES=${NODES:-1}
LEVEL=${LEVEL:-1}
PROBLEM=${PROBLEM:-sector-3d-urea}
RINGS=${RINGS:-"0 1"}
RANKS_PER_PORE=${RANKS_PER_PORE:-1}
OUT=${OUT:-results/scaling}
MEM_MARGIN=${MEM_MARGIN:-1.5}
if [[ -n "${CONFINE_ENV_SETUP:-}" ]]; then
    eval "$CONFINE_ENV_SETUP"
fi

# The case and overrides of PROBLEM at LEVEL (and rings), as a JSON list of `confine
# validate` arguments.
problem_sets() {
    python - "$PROBLEM" "$LEVEL" "$@" <<'EOF'
import json, sys
sys.path.insert(0, "benchmarks")
import scaling
problem, level = sys.argv[1], int(sys.argv[2])
rings = int(sys.argv[3]) if len(sys.argv) > 3 else 0
case = scaling.PROBLEMS[problem][0]
sets = scaling.level_sets(problem, level, rings=rings)
print(json.dumps([str(case), *(f"--set={k}={v}" for k, v in sets.items())]))
EOF
}

if [[ -z "${SLURM_JOB_ID:-}" ]]; then
    # --- on the login node: estimate, then submit --------------------------------------
    # The largest memory on one node: the 1-rank point (the whole problem on one rank),
    # a node's share of the RANKS-rank point, the weak study's largest sector, and the
    # mesh build on rank 0 (gmsh's peak).
    per_node=$(python - "$RANKS" "$NODES" "$MEM_MARGIN" \
        "$(problem_sets)" "$(problem_sets "${RINGS##* }")" <<'EOF'
import json, math, subprocess, sys
ranks, nodes, margin = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
def estimate(args, n):
    out = subprocess.run([sys.executable, "-m", "confine", "-q", "validate", *json.loads(args), "--estimate",
                          "--ranks", str(n)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])
strong, weak = sys.argv[4], sys.argv[5]
one = estimate(strong, 1)
many = estimate(strong, ranks)
largest = estimate(weak, ranks)
per_node_ranks = math.ceil(ranks / nodes)
need = max(one["rank0_bytes"], many["per_rank_bytes"] * per_node_ranks,
           largest["per_rank_bytes"] * per_node_ranks, many["rank0_bytes"])
print(math.ceil(margin * need / 2**20))
EOF
)
    echo "memory per node: ${per_node} MiB (estimate x ${MEM_MARGIN})"
    extra=()
    [[ -n "${PARTITION:-}" ]] && extra+=(--partition="$PARTITION")
    [[ -n "${ACCOUNT:-}" ]] && extra+=(--account="$ACCOUNT")
    exec sbatch --job-name=confine-scaling --nodes="$NODES" --ntasks="$RANKS" \
        --cpus-per-task=1 --mem="${per_node}M" --time="${TIME:-04:00:00}" \
        --output="logs/%x-%j.out" "${extra[@]}" --export=ALL "$0"
fi

# --- inside the allocation --------------------------------------------------------------
mkdir -p logs "$OUT"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
export XDG_CACHE_HOME=${CONFINE_CACHE:-$PWD/.cache}    # the form cache, shared by the ranks
export CONFINE_MESH_CACHE=${CONFINE_MESH_CACHE:-$PWD/meshes}
export MPIEXEC=${MPIEXEC:-"srun --cpu-bind=cores --exact"}
confine doctor | head -20

ranks=()
for ((n = 1; n <= RANKS; n *= 2)); do ranks+=("$n"); done
[[ " ${ranks[*]} " == *" $RANKS "* ]] || ranks+=("$RANKS")

# 1. Strong scaling: the whole run (mesh built in the run, output written) at 1, 2, 4 ... ranks.
python benchmarks/scaling.py strong --problem "$PROBLEM" --level "$LEVEL" \
    --ranks "${ranks[@]}" --whole --out "$OUT/strong-$PROBLEM-L$LEVEL-$SLURM_JOB_ID.json"

# 2. Weak scaling: growing sectors on RANKS_PER_PORE ranks per pore.
# shellcheck disable=SC2086
python benchmarks/scaling.py weak --problem "$PROBLEM" --level "$LEVEL" --rings $RINGS \
    --ranks-per-pore "$RANKS_PER_PORE" --out "$OUT/weak-$PROBLEM-L$LEVEL-$SLURM_JOB_ID.json"

echo "records in $OUT"
