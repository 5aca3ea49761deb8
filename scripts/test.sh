#!/usr/bin/env bash
# Set up everything the tests need (packages, Chromium, a throwaway PostgreSQL), then run
# lint, type checks and the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || need_apt+=(postgresql)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing system packages: ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "missing system packages (install them as root): ${need_apt[*]}" >&2
    exit 1
  fi
fi

scripts/setup.sh requirements-dev.txt

# A throwaway PostgreSQL cluster for the storage tests, removed on exit.
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PGTMP=$(mktemp -d /tmp/tracker-pg.XXXXXX)
PGPORT=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_pg() { if [ "$(id -u)" = 0 ]; then chown -R postgres:postgres "$PGTMP"; runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() { as_pg "$PGBIN/pg_ctl" -D "$PGTMP/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$PGTMP"; }
trap cleanup EXIT
as_pg "$PGBIN/initdb" -D "$PGTMP/data" -U postgres -A trust -E UTF8 --no-sync >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/log" -w -o \
  "-p $PGPORT -k $PGTMP -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres tracker_test
export TEST_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:$PGPORT/tracker_test"
export TEST_PG_ADMIN_URL="postgresql+psycopg://postgres@127.0.0.1:$PGPORT/postgres"

# Pytest rewrites the asserts of each test file when it imports it, and keeps the result beside the
# file only when bytecode may be written: without it, each of the parallel test processes below
# rewrites all of them again at its start (about 7 s of CPU each, 4 at once on 2 cores). When a
# test file has no rewritten copy newer than itself, one collection of what this run selects
# writes them (and the test helpers' own .pyc) while mypy keeps the other core busy.
warm=
for f in tests/conftest.py tests/test_*.py; do
  pyc=$(ls -t tests/__pycache__/"$(basename "$f" .py)".*-pytest-*.pyc 2>/dev/null | head -1 || true)
  if [ -z "$pyc" ] || [ "$f" -nt "$pyc" ]; then
    env -u PYTHONDONTWRITEBYTECODE .venv/bin/python -m pytest --collect-only -q -p no:cacheprovider "$@" \
      >/dev/null 2>&1 &
    warm=$!
    break
  fi
done
echo "== ruff"; .venv/bin/ruff check tracker db dashboard tests bench
echo "== mypy"; .venv/bin/mypy
echo "== import contracts"; .venv/bin/lint-imports --no-cache
[ -z "$warm" ] || wait "$warm" || true  # a collection error shows again, with its cause, below
echo "== pytest"
set +e
# Tests run in parallel processes (TEST_WORKERS, default 4: most tests wait on servers and
# subprocesses, not on the CPU); a test file stays on one process so its servers start once, and
# files start longest first (tests/conftest.py), not in xdist's order of most tests first.
.venv/bin/python -m pytest -n "${TEST_WORKERS:-4}" --dist loadfile --no-loadscope-reorder "$@"
rc=$?
set -e
if [ $rc = 5 ]; then echo "no tests were collected: that is a failure" >&2; exit 1; fi
exit $rc
