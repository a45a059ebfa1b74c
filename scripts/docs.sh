#!/usr/bin/env bash
# Render the course site (index and every lesson, with their published outputs) into _site/ with nbconvert.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
.venv/bin/python tools/course_site.py "${1:-_site}"
