#!/usr/bin/env bash
# Create .venv and install the pinned dependencies and the project (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
req=${1:-requirements.txt}
PY=${PYTHON:-python3}
if ! command -v uv >/dev/null 2>&1; then
  "$PY" -m pip install -q --disable-pip-version-check uv >/dev/null 2>&1 || true
fi
# A new environment runs on $PYTHON when it is set, else on the system's own Python 3.11 when there
# is one holding what the tracker needs: Debian's build runs the tracker's Python code 20-30% faster
# than a plain build from source (pyenv's), e.g. `tracker check` of a 300-product shop in 0.79-0.89 s
# against 0.99-1.05 s, and pytest in 394-420 s against 433-442 s. Only with uv: the system's Python
# may lack ensurepip, which `python -m venv` needs. Else python3.
SYSTEM_PY=/usr/bin/python3.11
if [ -z "${PYTHON:-}" ] && [ -x "$SYSTEM_PY" ] && command -v uv >/dev/null 2>&1 \
  && "$SYSTEM_PY" -c 'import ctypes, lzma, sqlite3, ssl, zoneinfo' >/dev/null 2>&1; then
  PY=$SYSTEM_PY
fi
# The project is installed as a plain path entry (a .pth line naming this folder), not through an
# import hook: the hook module loads pathlib and importlib.util in every Python process the tracker
# starts (the CLI, its page readers, workers, the dashboard), 14-17 ms each before any of its code.
editable="--config-settings editable_mode=compat"
# Set up from the same requirements, pyproject.toml and this script as last time: the packages and the
# project's entry are in place and compiled, and only the project's own code is compiled again (about
# 5 s less before each run.sh and test.sh: the installer rebuilds the project's entry every time).
stamp=".venv/.set-up-from-$(basename "$req")"
want=$(cat requirements*.txt pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  .venv/bin/python -m compileall -q tracker db dashboard >/dev/null 2>&1 || true
  exit 0
fi
if command -v uv >/dev/null 2>&1; then
  [ -x .venv/bin/python ] || uv venv -q --python "$PY" .venv
  uv pip install -q --python .venv/bin/python -r "$req" -e . $editable
else
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check -r "$req" -e . $editable
fi
# Compile the installed packages once: without .pyc files every process (the CLI, each worker,
# the dashboard, the alert sender) would compile Streamlit, SQLAlchemy and the rest on each start
# (the few files some packages ship that are not Python 3 are skipped).
.venv/bin/python -m compileall -q -j 0 .venv/lib/python*/site-packages tracker db dashboard >/dev/null 2>&1 || true
echo "$want" > "$stamp"
