#!/usr/bin/env bash
# Set up (if needed) and run the assistant: scripts/run.sh [sottovoce run options]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The language model answers open questions; converting it once takes ~10 s (idempotent).
if ! .venv/bin/sottovoce models prepare >/tmp/sottovoce-prepare.log 2>&1; then
  echo "run: could not prepare the language model (see /tmp/sottovoce-prepare.log);" \
    "open questions will get a short apology."
fi
exec .venv/bin/sottovoce run "$@"
