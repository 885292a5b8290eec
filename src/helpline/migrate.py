"""Alembic, driven from code: `helpline migrate`, and the start-up check."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from helpline.db import Database

HERE = Path(__file__).parent


class NotMigrated(RuntimeError):
    pass


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    # env.py runs its own event loop; a worker thread lets callers that are inside one migrate.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(command.upgrade, alembic_config(url), revision).result()


def head(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


async def check_current(db: Database) -> None:
    """Refuse to serve an unmigrated or outdated database, with the fix in the message."""
    expected = head(db.url)

    def _current(conn: Connection) -> str | None:
        return MigrationContext.configure(conn).get_current_revision()

    async with db.engine.connect() as conn:
        current = await conn.run_sync(_current)
    if current != expected:
        raise NotMigrated(
            f"The database is at migration {current or 'none'}, the code needs {expected}. "
            "Run `helpline migrate` first (`make run` does it for you)."
        )
