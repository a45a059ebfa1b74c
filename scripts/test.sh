#!/usr/bin/env bash
# Set up (if needed), then run every test: each notebook under nbdev_test in quick mode (timed, in teaching order: scripts/lessons.sh),
# then the plain pytest tests (library edges, README and notebook/library sync).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
export MINIAI_MODE=quick
# PyTorch's OpenMP threads spin while they wait; on a machine shared with other work that makes small models
# several times slower (lesson 06 measured 186 s against 29 s). Passive waiting avoids that. Set it yourself to override.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
passed=0; failed=0; failures=""
total_start=$(date +%s)
source scripts/lessons.sh
for name in $LESSONS; do
  nb=nbs/$name.ipynb
  start=$(date +%s)
  if .venv/bin/nbdev_test --path "$nb" --n_workers 0; then status=ok; passed=$((passed+1))
  else status=FAILED; failed=$((failed+1)); failures="$failures $nb"; fi
  printf '%-40s %-6s %4ds\n' "$nb" "$status" "$(( $(date +%s) - start ))"
done
echo "notebooks took $(( $(date +%s) - total_start ))s"
[ -n "$failures" ] && echo "failed notebooks:$failures"
echo "notebooks: $passed passed, $failed failed"
.venv/bin/python -m pytest -q tests
rc=$?
[ $failed -eq 0 ] && [ $rc -eq 0 ]
