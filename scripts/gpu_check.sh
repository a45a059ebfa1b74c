#!/usr/bin/env bash
# The GPU path in one short run (under 10 minutes on one GPU): every lesson in quick mode on CUDA (where diffusion_learner turns
# bf16 and torch.compile on, as gpu mode does), the Learner against a plain loop (lesson 04b's gpu preset: bf16, compile,
# channels-last, fused AdamW), and lesson 10's gpu-mode UNet trained by diffusion_learner against a plain loop (tools/bench_unet.py).
#   bash scripts/gpu_check.sh [OUT]     # logs and a summary go to OUT (default data/runs/gpu_check); needs CUDA
# Without CUDA it stops at once and says so. Each part has its own time limit, so one slow part cannot eat the others' time.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-data/runs/gpu_check}
mkdir -p "$out"
py=${PYTHON:-.venv/bin/python}
[ -x "$py" ] || { bash scripts/setup.sh || exit 1; }
if ! "$py" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "gpu_check: no CUDA device here; this script checks the GPU path and has nothing to run" | tee "$out/summary.txt"; exit 2
fi
"$py" -c "import torch; print('device:', torch.cuda.get_device_name(), '| torch', torch.__version__)" | tee "$out/summary.txt"
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)" | tee -a "$out/summary.txt"
source scripts/lessons.sh
export MINIAI_MODE=quick MINIAI_PROGRESS=0
status=0
for name in $LESSONS; do                        # 1. every lesson in quick mode, on CUDA
  start=$(date +%s)
  if timeout "${LESSON_LIMIT:-240}" "${NBDEV_TEST:-.venv/bin/nbdev_test}" --path "nbs/$name.ipynb" --n_workers 0 > "$out/$name.log" 2>&1; then s=ok
  else s=FAILED; status=1; fi
  printf '%-28s %-6s %4ds\n' "$name" "$s" "$(( $(date +%s) - start ))" | tee -a "$out/summary.txt"
done
unset MINIAI_MODE
echo "== Learner vs plain loop (lesson 04b, gpu preset)" | tee -a "$out/summary.txt"   # 2.
timeout 300 "$py" -m miniai.bench learner --preset gpu 2>&1 | tee "$out/bench_learner.log" | tail -2 | tee -a "$out/summary.txt" || status=1
echo "== lesson 10's gpu-mode UNet: diffusion_learner vs plain loop, bf16 + compile" | tee -a "$out/summary.txt"   # 3.
timeout 300 "$py" tools/bench_unet.py --device cuda --bf16 --compile 2>&1 | tee "$out/bench_unet.log" | tail -2 | tee -a "$out/summary.txt" || status=1
exit $status
