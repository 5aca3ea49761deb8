#!/usr/bin/env bash
# Create .venv and install the pinned dependencies and the project (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
req=${1:-requirements.txt}
PY=${PYTHON:-python3}
if ! command -v uv >/dev/null 2>&1; then
  "$PY" -m pip install -q --disable-pip-version-check uv >/dev/null 2>&1 || true
fi
if command -v uv >/dev/null 2>&1; then
  [ -x .venv/bin/python ] || uv venv -q --python "$PY" .venv
  uv pip install -q --python .venv/bin/python -r "$req" -e .
else
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check -r "$req" -e .
fi
# Compile the installed packages once: without .pyc files every process (the CLI, each worker,
# the dashboard, the alert sender) would compile Streamlit, SQLAlchemy and the rest on each start
# (the few files some packages ship that are not Python 3 are skipped).
.venv/bin/python -m compileall -q -j 0 .venv/lib/python*/site-packages tracker db dashboard >/dev/null 2>&1 || true
