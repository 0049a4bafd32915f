#!/usr/bin/env bash
# Regenerate the README's config reference from the binary's key table.
# Usage: tools/update-readme.sh [BINARY]   (tests/cli/readme.sh fails when the README is stale)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/cfgan}
/usr/bin/python3 - "$bin" <<'PY'
import subprocess, sys
table = subprocess.run([sys.argv[1], "help", "config", "--markdown"], check=True, capture_output=True, text=True).stdout
text = open("README.md").read()
begin, end = "<!-- config-keys:begin -->\n", "<!-- config-keys:end -->"
a, b = text.index(begin) + len(begin), text.index(end)
open("README.md", "w").write(text[:a] + table + text[b:])
PY
