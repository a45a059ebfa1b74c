#!/usr/bin/env bash
# Build the site and look at it in a real browser: headless Chromium screenshots of the index and two lessons.
#   scripts/check_docs.sh [LESSON ...]   (default: 10_karras 11_samplers); PNGs in _site/screenshots/
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/docs.sh
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then echo "no chromium: apt-get install chromium (Debian's package), then run this again"; exit 2; fi
mkdir -p _site/screenshots
[ $# -eq 0 ] && set -- 10_karras 11_samplers
for page in index "$@"; do
  "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,1800 \
    --screenshot="$PWD/_site/screenshots/$page.png" "file://$PWD/_site/$page.html" 2>/dev/null
  echo "screenshot: _site/screenshots/$page.png"
done
