"""search: messages indexed a moment after they are written, and by their customer too (SQLite)

SQLite only (decision 029): the FTS5 index of chat events (`search_chat_events`) is no
longer written by a trigger inside each message's transaction. Rows up to the mark in
`search_indexed` are in the index; newer ones are added in batches (`helpline.search.backlog`:
by the message writer every few tenths of a second, and by every search before it reads), so
the hot path pays one integer comparison per message instead of a new index segment per
commit. Triggers still follow updates and deletes of rows already indexed (erasure,
retention), and index at once a row inserted below the mark (a reused rowid).

The index gains an `owner` column: the token `u<customer id>` of the chat's customer, so a
customer's search narrows inside the index (`owner : "u…" AND body : …`) instead of testing
each of their events against the match.

PostgreSQL keeps its generated `search_tsv` columns: nothing changes there.

Revision ID: 0023_search_backlog
Revises: 0022_request_warn
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0023_search_backlog"
down_revision: str | None = "0022_request_warn"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEXT_EVENTS = "('message.posted', 'note.added')"
TOKENIZE = "unicode61 remove_diacritics 0 separators '$+<=>^`|~'"
MARK = "(SELECT upto FROM search_indexed WHERE source = 'chat_events')"


def _row(r: str, chat: str) -> str:
    """The indexed columns of event `r` (body, owner), its chat's row named `chat`."""
    return f"json_extract({r}.data, '$.text'), 'u' || {chat}.customer_id"


INSERT_ONE = (
    "INSERT INTO search_chat_events(rowid, body, owner) SELECT {r}.id, "
    + _row("{r}", "c")
    + " FROM chats c WHERE c.id = {r}.chat_id;"
)
DELETE_ONE = (
    "INSERT INTO search_chat_events(search_chat_events, rowid, body, owner) "
    "SELECT 'delete', {r}.id, " + _row("{r}", "c") + " FROM chats c WHERE c.id = {r}.chat_id;"
)
INDEXED = f"{{r}}.type IN {TEXT_EVENTS} AND {{r}}.id <= {MARK}"

OLD_TRIGGERS = ("search_chat_events_ai", "search_chat_events_ad", "search_chat_events_au")
NEW_TRIGGERS = (*OLD_TRIGGERS, "search_chat_events_owner")


def _sqlite_upgrade() -> None:
    x = op.execute
    for name in OLD_TRIGGERS:
        x(f"DROP TRIGGER IF EXISTS {name}")
    x("DROP TABLE search_chat_events")
    x("DROP VIEW search_chat_events_src")
    x("CREATE TABLE search_indexed (source VARCHAR(40) PRIMARY KEY, upto INTEGER NOT NULL)")
    x(
        "INSERT INTO search_indexed (source, upto) "
        "SELECT 'chat_events', coalesce(max(id), 0) FROM chat_events"
    )
    # What the index holds: indexed events up to the mark ('rebuild' and FTS5's
    # integrity-check read this view; queries join the tables themselves).
    x(
        "CREATE VIEW search_chat_events_src AS SELECT R.id AS id, "
        "json_extract(R.data, '$.text') AS body, 'u' || c.customer_id AS owner "
        "FROM chat_events R JOIN chats c ON c.id = R.chat_id "
        f"WHERE R.type IN {TEXT_EVENTS} AND R.id <= {MARK}"
    )
    x(
        "CREATE VIRTUAL TABLE search_chat_events USING fts5(body, owner, "
        f"content='search_chat_events_src', content_rowid='id', tokenize=\"{TOKENIZE}\")"
    )

    def ev(r: str, stmt: str) -> str:
        return stmt.format(r=r)

    new, old = INDEXED.format(r="NEW"), INDEXED.format(r="OLD")
    # A row inserted at or below the mark (SQLite may reuse the highest rowid after a delete)
    # is indexed at once; above the mark, the backlog's next batch takes it.
    x(
        f"CREATE TRIGGER search_chat_events_ai AFTER INSERT ON chat_events WHEN {new} "
        f"BEGIN {ev('NEW', INSERT_ONE)} END"
    )
    x(
        f"CREATE TRIGGER search_chat_events_ad AFTER DELETE ON chat_events WHEN {old} "
        f"BEGIN {ev('OLD', DELETE_ONE)} END"
    )
    x(
        "CREATE TRIGGER search_chat_events_au AFTER UPDATE OF type, data, chat_id ON chat_events "
        f"BEGIN {ev('OLD', DELETE_ONE).replace(';', f' AND {old};')} "
        f"{ev('NEW', INSERT_ONE).replace(';', f' AND {new};')} END"
    )
    # A chat given to another customer (a visitor who signs in): its indexed events change owner.
    each = "FROM chat_events e WHERE e.chat_id = {c}.id AND " + INDEXED.format(r="e")
    x(
        "CREATE TRIGGER search_chat_events_owner AFTER UPDATE OF customer_id ON chats BEGIN "
        "INSERT INTO search_chat_events(search_chat_events, rowid, body, owner) "
        f"SELECT 'delete', e.id, {_row('e', 'OLD')} {each.format(c='OLD')}; "
        "INSERT INTO search_chat_events(rowid, body, owner) "
        f"SELECT e.id, {_row('e', 'NEW')} {each.format(c='NEW')}; END"
    )
    x("INSERT INTO search_chat_events(search_chat_events) VALUES ('rebuild')")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_upgrade()


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    x = op.execute
    for name in NEW_TRIGGERS:
        x(f"DROP TRIGGER IF EXISTS {name}")
    x("DROP TABLE search_chat_events")
    x("DROP VIEW search_chat_events_src")
    x("DROP TABLE search_indexed")
    body = "json_extract({r}.data, '$.text')"
    x(
        "CREATE VIEW search_chat_events_src AS SELECT R.id AS id, "
        f"{body.format(r='R')} AS body FROM chat_events R WHERE R.type IN {TEXT_EVENTS}"
    )
    x(
        "CREATE VIRTUAL TABLE search_chat_events USING fts5(body, "
        f"content='search_chat_events_src', content_rowid='id', tokenize=\"{TOKENIZE}\")"
    )
    ins = (
        "INSERT INTO search_chat_events(rowid, body) SELECT {r}.id, "
        + body
        + f" WHERE {{r}}.type IN {TEXT_EVENTS};"
    )
    dele = (
        "INSERT INTO search_chat_events(search_chat_events, rowid, body) SELECT 'delete', {r}.id, "
        + body
        + f" WHERE {{r}}.type IN {TEXT_EVENTS};"
    )
    x(
        "CREATE TRIGGER search_chat_events_ai AFTER INSERT ON chat_events "
        f"BEGIN {ins.format(r='NEW')} END"
    )
    x(
        "CREATE TRIGGER search_chat_events_ad AFTER DELETE ON chat_events "
        f"BEGIN {dele.format(r='OLD')} END"
    )
    x(
        "CREATE TRIGGER search_chat_events_au AFTER UPDATE OF type, data ON chat_events BEGIN "
        f"{dele.format(r='OLD')} {ins.format(r='NEW')} END"
    )
    x("INSERT INTO search_chat_events(search_chat_events) VALUES ('rebuild')")
