#!/usr/bin/env bash
# Set up (if needed), then run one lesson top to bottom; the executed notebook is written to data/runs/.
#   scripts/lesson.sh            # the default lesson, 01_datasets
#   scripts/lesson.sh 05         # a lesson by number, or by name: scripts/lesson.sh 05_resnet
#   MINIAI_MODE=quick|cpu|gpu scripts/lesson.sh 07   # force a run mode (default: gpu with CUDA, else cpu)
#   scripts/lesson.sh 10 --publish   # then write the outputs into nbs/10_karras.ipynb with a record of the run (tools/publish.py);
#                                    # only from a committed tree, so that the record's commit is the code that ran
#   scripts/lesson.sh 11 --needs     # only list the earlier lessons' files it needs, where they are looked for, and whether they are there
set -euo pipefail
cd "$(dirname "$0")/.."
needs_only=0; [ "${2:-}" = --needs ] && needs_only=1
[ $needs_only = 1 ] || bash scripts/setup.sh
# PyTorch's OpenMP threads spin while they wait; on a machine shared with other work that makes small models
# several times slower (lesson 06 measured 186 s against 29 s). Passive waiting avoids that. Set it yourself to override.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
lesson=${1:-01_datasets}
publish=0; [ "${2:-}" = --publish ] && publish=1
lesson=${lesson%.ipynb}; lesson=${lesson#nbs/}
matches=(nbs/${lesson}*.ipynb)
if [ ! -f "${matches[0]}" ]; then echo "no lesson matches '$lesson'; the lessons are:"; ls nbs/[0-9]*.ipynb; exit 2; fi
nb=${matches[0]}
mkdir -p data/runs
mode=$(.venv/bin/python -c "from miniai.core import run_mode; print(run_mode())")
ckpt_dir=$(.venv/bin/python -c "from miniai.core import data_dir; print(data_dir('checkpoints', create=False))")   # follows MINIAI_DATA
source scripts/lessons.sh
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ $publish = 1 ]; then
  [ "$mode" = quick ] && { echo "--publish: lessons carry the outputs of cpu- or gpu-mode runs, not quick mode"; exit 2; }
  [ -n "$(git status --porcelain -- nbs miniai settings.ini 2>/dev/null)" ] && { echo "--publish: commit your changes first (the record names the commit the outputs come from)"; exit 2; }
fi
# the device for the run record; a CPU is named by its model too, as CPUs of one architecture differ (bf16 units or not)
device=$(.venv/bin/python - <<'PY'
import os, platform, torch
from miniai.core import def_device
def cpu_model():
    try: return next(l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name'))
    except (OSError, StopIteration): return platform.processor()
model = cpu_model()
print(torch.cuda.get_device_name() if def_device.type == 'cuda' else f"{os.cpu_count()}-core {platform.machine()} CPU" + (f" ({model})" if model else ''))
PY
)
# lesson 04's decision for this device (the training precision of diffusion_learner; compile is decided per run length and printed by the lessons)
precision=$(.venv/bin/python -c "from miniai.accel import precision_for; print(precision_for().name)")
run_one() {   # run_one NAME: execute nbs/NAME.ipynb into data/runs/, first running any lesson whose model it needs and lacks
  local name=$1 need file maker shipped
  for need in $NEEDS; do
    IFS=: read -r for_lesson file maker shipped <<< "$need"
    file=$ckpt_dir/${file/MODE/$mode}
    if [ -n "$shipped" ]; then shipped=miniai/weights/$shipped; [ -f "$shipped" ] || shipped=; fi   # the package's copy, if it has one
    local until=""; [ -n "$shipped" ] && until="; until then it uses the package's copy, $shipped"
    if [ $needs_only = 1 ] && [ "$for_lesson" = "$name" ]; then
      echo "$name needs $file: $([ -f "$file" ] && echo present || echo "missing, lesson $maker makes it$until")"
    elif [ "$for_lesson" = "$name" ] && [ ! -f "$file" ] && [ -n "$shipped" ]; then
      echo "== $name: no $file here, so it uses the package's copy, $shipped (lesson $maker's published cpu-mode run; run lesson $maker for your own)"
    elif [ "$for_lesson" = "$name" ] && [ ! -f "$file" ]; then
      echo "== $name needs $file, which lesson $maker makes: running $maker first ($mode mode)"
      run_one "$maker"
    fi
  done
  [ $needs_only = 1 ] && return
  echo "== running nbs/$name.ipynb in $mode mode -> data/runs/$name.ipynb"
  local start=$(date +%s)
  (cd nbs && ../.venv/bin/exec_nb "$name.ipynb" --dest "../data/runs/$name.ipynb" --exc_stop)
  local wall=$(( $(date +%s) - start ))
  echo "== nbs/$name.ipynb finished in ${wall}s; executed notebook: data/runs/$name.ipynb"
  if [ $publish = 1 ]; then   # every lesson this command ran, the ones it needed too
    .venv/bin/python tools/publish.py "data/runs/$name.ipynb" "nbs/$name.ipynb" --mode "$mode" --wall "$wall" --device "$device" --commit "$commit" --precision "$precision"
    .venv/bin/nbdev_clean --fname "nbs/$name.ipynb"
  fi
}
run_one "$(basename "$nb" .ipynb)"
