#!/usr/bin/env bash
# Set up (if needed) and run the assistant: scripts/run.sh [sottovoce run options]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/sottovoce run "$@"
