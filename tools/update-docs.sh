#!/usr/bin/env bash
# Regenerate docs/configuration.md from the binary's key table (tests/cli/readme.sh fails when it
# is stale). Usage: tools/update-docs.sh [BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/cfgan}
{
  echo "# Configuration reference"
  echo
  echo "Every key a config file (YAML sections) or \`--set section.key=value\` can set, generated from the key"
  echo "table by \`cfgan help config --markdown\` (\`tools/update-docs.sh\`; a test keeps this file in sync)."
  echo "Keys that can change the results are part of the config hash: \`--resume\` refuses a checkpoint"
  echo "written under other values. Debug hooks are environment variables, not keys:"
  echo "\`CFGAN_DEBUG_FAIL_AT_STEP=N\` (the last rank sees a non-finite loss at step N),"
  echo "\`CFGAN_DEBUG_CHECK_EVERY=N\` (compare the parameters across ranks every N steps) and"
  echo "\`CFGAN_DEBUG_DIVERGE_AT_STEP=N\` (the last rank changes a parameter of its own at step N)."
  echo
  "$bin" help config --markdown
} > docs/configuration.md
