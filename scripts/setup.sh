#!/usr/bin/env bash
# Set up a machine for the course: a virtual environment in .venv with miniai and its dev tools
# (`pip install -e ".[dev]"`), and the Fashion-MNIST data. Safe to repeat: finished steps are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv with $($PYTHON --version)"
  $PYTHON -m venv .venv
fi
stamp=.venv/.miniai-setup
want=$(cat settings.ini setup.py pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat $stamp 2>/dev/null)" != "$want" ] || ! .venv/bin/python -c "import miniai, nbdev" 2>/dev/null; then
  echo "== installing miniai and its requirements (pip install -e \".[dev]\"; the first time brings PyTorch, which takes a few minutes)"
  .venv/bin/python -m pip install -q --upgrade pip
  # the distribution is miniai-course; a `miniai` one is this project under its old name, or the unrelated project of that name on
  # the package index: either installs `import miniai` too, so it goes
  if .venv/bin/python -m pip show -q miniai >/dev/null 2>&1; then .venv/bin/python -m pip uninstall -y -q miniai; fi
  .venv/bin/python -m pip install -q -e ".[dev]"
  echo "$want" > $stamp
fi

# Fashion-MNIST: the hub when reachable; otherwise the IDX files, which Debian packages as dataset-fashion-mnist.
have_fmnist() {
  .venv/bin/python - <<'PY'
import sys
from miniai.datasets import fashion_mnist_folders, _find_idx, _FMNIST_FILES, hub_reachable
ok = [f for f in fashion_mnist_folders() if f.is_dir() and all(_find_idx(f, s) for p in _FMNIST_FILES.values() for s in p)]
print(f"== Fashion-MNIST: {'files in ' + str(ok[0]) if ok else 'no local files'}; hub {'reachable' if hub_reachable() else 'not reachable'}")
sys.exit(0 if ok else 1)
PY
}
if ! have_fmnist; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
  if command -v apt-get >/dev/null && { [ -z "$SUDO" ] || sudo -n true 2>/dev/null; }; then
    echo "== installing the Debian package dataset-fashion-mnist"
    $SUDO apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q dataset-fashion-mnist >/dev/null; } || true
  fi
  have_fmnist || echo "== warning: no local Fashion-MNIST; lessons will use the hub if reachable, else stop with an error that lists the ways to get it"
fi
echo "== setup done"
