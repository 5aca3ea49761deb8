#!/usr/bin/env bash
# Set up, then run the tracker on the embedded default: SQLite in ./data, the demo store,
# the scheduler and the dashboard. Extra arguments go to `tracker demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh requirements.txt
exec .venv/bin/tracker demo "$@"
