"""search: the message index moves to a file of its own, written beside the messages (SQLite)

SQLite has one writer per database file. With the message index in the same file, every
index step (and its merge, migration 0024) held the lock the message writer needs: ~20 ms in
every second at 2,000 messages a second, in steps of 1 to 5 ms that the messages arriving
meanwhile waited out. The index now lives in `<database>-search<suffix>` beside the database
(`helpline.db.search_file`), written by its own connection on a thread of its own
(`helpline.search.backlog.Indexer`), so the message writer never waits for it (decision 034).

What stays here: `search_changes`, the ids of indexed-kind events that changed or went away
(an erasure's redaction, retention, a chat given to the customer who signed in), written by
triggers in the same transaction as the change. The indexer applies them to the index file
and removes the rows it has applied. Only ids: no text is copied.

The index file is derived data: it is created empty when missing and filled from
`chat_events` (so a restored or copied database rebuilds its own). This migration drops the
old in-file index and deletes an index file left by an earlier upgrade. PostgreSQL: nothing
(its `search_tsv` columns are part of the rows).

Revision ID: 0025_search_file
Revises: 0024_search_merge_budget
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alembic import op

revision: str = "0025_search_file"
down_revision: str | None = "0024_search_merge_budget"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEXT_EVENTS = "('message.posted', 'note.added')"
OLD_TRIGGERS = (
    "search_chat_events_ai",
    "search_chat_events_ad",
    "search_chat_events_au",
    "search_chat_events_owner",
)
NEW_TRIGGERS = ("search_changes_ad", "search_changes_au", "search_changes_owner")
SUFFIXES = ("", "-wal", "-shm")


def _remove_index_file() -> None:
    """Delete the index file of this database, if any (same naming as helpline.db)."""
    rows = op.get_bind().exec_driver_sql("PRAGMA database_list").fetchall()
    main = next((str(r[2]) for r in rows if r[1] == "main"), "")
    if not main:
        return  # in memory
    root, ext = os.path.splitext(main)
    for suffix in SUFFIXES:
        try:
            os.remove(f"{root}-search{ext}{suffix}")
        except FileNotFoundError:
            pass


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    x = op.execute
    for name in OLD_TRIGGERS:
        x(f"DROP TRIGGER IF EXISTS {name}")
    x("DROP TABLE IF EXISTS search_chat_events")
    x("DROP VIEW IF EXISTS search_chat_events_src")
    x("DROP TABLE IF EXISTS search_indexed")
    x(
        "CREATE TABLE search_changes (id INTEGER PRIMARY KEY AUTOINCREMENT, event_id INTEGER NOT NULL)"
    )
    x(
        "CREATE TRIGGER search_changes_ad AFTER DELETE ON chat_events "
        f"WHEN OLD.type IN {TEXT_EVENTS} "
        "BEGIN INSERT INTO search_changes (event_id) VALUES (OLD.id); END"
    )
    x(
        "CREATE TRIGGER search_changes_au AFTER UPDATE OF type, data, chat_id ON chat_events "
        f"WHEN OLD.type IN {TEXT_EVENTS} OR NEW.type IN {TEXT_EVENTS} "
        "BEGIN INSERT INTO search_changes (event_id) VALUES (OLD.id); END"
    )
    # A chat given to another customer (a visitor who signs in): its events change owner.
    x(
        "CREATE TRIGGER search_changes_owner AFTER UPDATE OF customer_id ON chats BEGIN "
        "INSERT INTO search_changes (event_id) SELECT e.id FROM chat_events e "
        f"WHERE e.chat_id = NEW.id AND e.type IN {TEXT_EVENTS}; END"
    )
    _remove_index_file()


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in NEW_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE search_changes")
    _remove_index_file()
    # Back to 0024: 0023's in-file index, built from the rows, with 0024's options. 0023 drops
    # what it replaces, so give it a table and a view to drop.
    op.execute("CREATE TABLE search_chat_events (body)")
    op.execute("CREATE VIEW search_chat_events_src AS SELECT 1")
    _sibling("0023_search_backlog")._sqlite_upgrade()
    _sibling("0024_search_merge_budget").upgrade()


def _sibling(name: str) -> Any:
    """Another migration's module (their file names are not importable names)."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
