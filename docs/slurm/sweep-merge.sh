#!/bin/bash
# Merge a sweep's point directories into results.csv (+ bands.csv, plots) after
# every array task has ended, whatever their exit state:
#
#   sbatch --dependency=afterany:$jid docs/slurm/sweep-merge.sh
#
# Each array task also merges at its end (atomically), but only the last one to
# finish sees every point: this job is the one to trust.
#
#SBATCH --job-name=confine-merge
#SBATCH --ntasks=1
#SBATCH --time=00:15:00
#SBATCH --output=logs/%x-%j.out

set -euo pipefail
SWEEP=${SWEEP:-cases/sweeps/pore-size.sweep.toml}
OUT=${OUT:-results/pore-size}
python - "$SWEEP" "$OUT" <<'PY'
import sys
from confine.sweeps import collect

table = collect(sys.argv[1], sys.argv[2])
print(table["status"].value_counts().to_string())
sys.exit(0 if (table["status"] == "done").all() else 1)
PY
