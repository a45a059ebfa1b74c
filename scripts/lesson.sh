#!/usr/bin/env bash
# Set up (if needed), then run one lesson top to bottom; the executed notebook is written to data/runs/.
#   scripts/lesson.sh            # the default lesson, 01_datasets
#   scripts/lesson.sh 05         # a lesson by number, or by name: scripts/lesson.sh 05_resnet
#   MINIAI_MODE=quick|cpu|gpu scripts/lesson.sh 07   # force a run mode (default: gpu with CUDA, else cpu)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# PyTorch's OpenMP threads spin while they wait; on a machine shared with other work that makes small models
# several times slower (lesson 06 measured 186 s against 29 s). Passive waiting avoids that. Set it yourself to override.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
lesson=${1:-01_datasets}
lesson=${lesson%.ipynb}; lesson=${lesson#nbs/}
matches=(nbs/${lesson}*.ipynb)
if [ ! -f "${matches[0]}" ]; then echo "no lesson matches '$lesson'; the lessons are:"; ls nbs/[0-9]*.ipynb; exit 2; fi
nb=${matches[0]}
mkdir -p data/runs
out=data/runs/$(basename "$nb")
mode=$(.venv/bin/python -c "from miniai.core import run_mode; print(run_mode())")
echo "== running $nb in $mode mode -> $out"
start=$(date +%s)
(cd nbs && ../.venv/bin/exec_nb "../$nb" --dest "../$out" --exc_stop)
echo "== $nb finished in $(( $(date +%s) - start ))s; executed notebook: $out"
