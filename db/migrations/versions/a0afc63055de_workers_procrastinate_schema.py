"""workers on several machines: Procrastinate's job queue and the shared schedule (PostgreSQL only)

Revision ID: a0afc63055de
Revises: c49a21b2843a
Create Date: 2026-12-01 09:00:00.000000

SQLite is one process's database: nothing is created there. On PostgreSQL this applies
Procrastinate 3.10.0's schema (a frozen copy, db/migrations/sql/procrastinate-3.10.0.sql; a later
Procrastinate needs a migration applying its own migration files) and the tables the clock and
the workers share: the schedule, one ticket per due check, the workers' registry, the leading
clock, the published config and the per-host politeness gates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = 'a0afc63055de'
down_revision: str | None = 'c49a21b2843a'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROCRASTINATE_SQL = Path(__file__).parent.parent / "sql" / "procrastinate-3.10.0.sql"

TABLES = """
CREATE TABLE check_schedule (
    source text PRIMARY KEY,
    queue text NOT NULL DEFAULT 'default',
    next_due timestamptz NOT NULL,
    interval_s double precision NOT NULL,
    jitter_s double precision NOT NULL DEFAULT 0,
    drop_mode boolean NOT NULL DEFAULT false,
    failures integer NOT NULL DEFAULT 0,
    last_deferred timestamptz
);
CREATE INDEX ix_check_schedule_next_due ON check_schedule (next_due);

CREATE TABLE check_jobs (
    source text NOT NULL,
    due_at timestamptz NOT NULL,
    job_id bigint,
    run_id integer REFERENCES check_runs (id) ON DELETE SET NULL,
    worker text,
    started_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 1,
    PRIMARY KEY (source, due_at)
);
CREATE INDEX ix_check_jobs_started ON check_jobs (started_at);

CREATE TABLE workers (
    name text PRIMARY KEY,
    queues text NOT NULL,
    concurrency integer NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    last_seen timestamptz NOT NULL DEFAULT now(),
    stopped_at timestamptz,
    jobs_done bigint NOT NULL DEFAULT 0,
    jobs_failed bigint NOT NULL DEFAULT 0,
    clock_offset_ms double precision
);

CREATE TABLE clock_leader (
    id integer PRIMARY KEY CHECK (id = 1),
    name text NOT NULL,
    since timestamptz NOT NULL,
    last_pass timestamptz NOT NULL,
    deferred bigint NOT NULL DEFAULT 0,
    config_version bigint NOT NULL DEFAULT 0
);

CREATE TABLE config_versions (
    version bigserial PRIMARY KEY,
    digest text NOT NULL,
    body text NOT NULL,
    origin text NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE host_gates (
    host text PRIMARY KEY,
    next_start timestamptz NOT NULL DEFAULT 'epoch',
    paused_until timestamptz NOT NULL DEFAULT 'epoch'
);

CREATE TABLE host_slots (
    host text NOT NULL REFERENCES host_gates (host) ON DELETE CASCADE,
    slot integer NOT NULL,
    held_until timestamptz NOT NULL DEFAULT 'epoch',
    holder text,
    PRIMARY KEY (host, slot)
);
"""

OUR_TABLES = (
    "host_slots", "host_gates", "config_versions", "clock_leader", "workers", "check_jobs", "check_schedule"
)


def _run_script(sql: str) -> None:
    # The raw driver connection runs a multi-statement script as is (no parameter markers: the
    # functions' bodies contain '%'), inside Alembic's transaction.
    raw = op.get_bind().connection.dbapi_connection
    assert raw is not None
    with raw.cursor() as cur:
        cur.execute(sql)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _run_script(PROCRASTINATE_SQL.read_text(encoding="utf-8"))
    _run_script(TABLES)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    sql = PROCRASTINATE_SQL.read_text(encoding="utf-8")
    drops = [f"DROP TABLE IF EXISTS {name} CASCADE;" for name in OUR_TABLES]
    drops += [f"DROP TABLE IF EXISTS {name} CASCADE;" for name in re.findall(r"CREATE TABLE (\w+)", sql)[::-1]]
    drops += [f"DROP FUNCTION IF EXISTS {name} CASCADE;" for name in re.findall(r"CREATE FUNCTION (\w+)", sql)]
    drops += [f"DROP TYPE IF EXISTS {name} CASCADE;" for name in re.findall(r"CREATE TYPE (\w+)", sql)]
    _run_script("\n".join(drops))
