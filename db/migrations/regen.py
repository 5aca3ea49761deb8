"""Write a new migration from the models' difference to head: python -m db.migrations.regen "message".

Then set db.engine.HEAD to its id and write the new SQLite schema script (python -m
db.migrations.sqlite_schema); tests/test_cli_imports.py and tests/test_sqlite_schema.py check both.
"""

from __future__ import annotations

import sys
import tempfile

from alembic import command

from db.engine import alembic_config, make_engine


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/head.db")
        cfg = alembic_config(engine)
        command.revision(cfg, message=sys.argv[1] if len(sys.argv) > 1 else "change", autogenerate=True)


if __name__ == "__main__":
    main()
