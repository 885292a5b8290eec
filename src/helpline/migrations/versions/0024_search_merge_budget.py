"""search: the message index merges in small steps of the writer's, never inside an insert (SQLite)

FTS5 merges its index segments as part of each write by default (`automerge` 4, and a full
merge of a level once it holds `crisismerge` 16 segments). On the message index that merge ran
inside the backlog step of the message writer, in the event loop: most steps took under a
millisecond, but one in a hundred 14 to 50 ms, and the messages arriving meanwhile waited
(scenario 1's p99 went from ~7 to ~17 ms with the index). With `automerge` 0 an insert only
adds its segment; the writer then merges a bounded amount (`helpline.search.backlog.MERGE_PAGES`)
after each step, ~1-4 ms. `crisismerge` 64 stays as the backstop if nobody merges for a while
(a process without the writer, such as the CLI): queries still work with more segments.

Options of an FTS5 table are stored in the database (its `_config` table), so this is a
migration. PostgreSQL: nothing to do.

Revision ID: 0024_search_merge_budget
Revises: 0023_search_backlog
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0024_search_merge_budget"
down_revision: str | None = "0023_search_backlog"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _set(option: str, value: int) -> None:
    op.execute(
        f"INSERT INTO search_chat_events(search_chat_events, rank) VALUES('{option}', {value})"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _set("automerge", 0)
        _set("crisismerge", 64)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _set("automerge", 4)  # FTS5's defaults
        _set("crisismerge", 16)
