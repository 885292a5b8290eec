"""search: full-text indexes kept in step by the database itself (decision 016)

SQLite: external-content FTS5 tables whose triggers follow every insert, update and delete
of the indexed rows. PostgreSQL: generated tsvector columns ('simple' configuration) with GIN
indexes. Both index the rows that exist when this runs.

A later migration that recreates one of the indexed tables on SQLite (a batch "move and
copy") drops its triggers with it and must create them again.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEXT_EVENTS = "('message.posted', 'note.added')"

# SQLite's unicode61 splits on spaces and punctuation; these ASCII symbols are split on too,
# so words match as PostgreSQL's parser (and the query parser) cut them.
TOKENIZE = "unicode61 remove_diacritics 0 separators '$+<=>^`|~'"

# (fts table, content source, content rowid, {column: expression over the row `R`})
# The same expressions feed the content view, the triggers and 'rebuild', so what a trigger
# removes from the index is exactly what was put in.
EVENT_BODY = "json_extract(R.data, '$.text')"
COMMENT_BODY = "json_extract(R.data, '$.text')"


def _sqlite_upgrade() -> None:
    x = op.execute
    # chat_events: message and note texts.
    x(
        "CREATE VIEW search_chat_events_src AS SELECT R.id AS id, "
        f"{EVENT_BODY} AS body FROM chat_events R WHERE R.type IN {TEXT_EVENTS}"
    )
    x(
        "CREATE VIRTUAL TABLE search_chat_events USING fts5(body, "
        f"content='search_chat_events_src', content_rowid='id', tokenize=\"{TOKENIZE}\")"
    )
    ins = "INSERT INTO search_chat_events(rowid, body) SELECT {r}.id, {body} WHERE {r}.type IN {t};"
    dele = (
        "INSERT INTO search_chat_events(search_chat_events, rowid, body) "
        "SELECT 'delete', {r}.id, {body} WHERE {r}.type IN {t};"
    )

    def ev(r: str, stmt: str) -> str:
        return stmt.format(r=r, body=EVENT_BODY.replace("R.", f"{r}."), t=TEXT_EVENTS)

    x(
        f"CREATE TRIGGER search_chat_events_ai AFTER INSERT ON chat_events BEGIN {ev('NEW', ins)} END"
    )
    x(
        f"CREATE TRIGGER search_chat_events_ad AFTER DELETE ON chat_events BEGIN {ev('OLD', dele)} END"
    )
    x(
        "CREATE TRIGGER search_chat_events_au AFTER UPDATE OF type, data ON chat_events BEGIN "
        f"{ev('OLD', dele)} {ev('NEW', ins)} END"
    )

    # chats: the subject, and the customer's name and e-mail (one row per chat, keyed by the
    # chat's number: a user's own rowid is not stable across VACUUM).
    x(
        "CREATE VIEW search_chats_src AS SELECT c.number AS number, c.subject AS subject, "
        "u.name || ' ' || u.email AS customer FROM chats c JOIN users u ON u.id = c.customer_id"
    )
    x(
        "CREATE VIRTUAL TABLE search_chats USING fts5(subject, customer, "
        f"content='search_chats_src', content_rowid='number', tokenize=\"{TOKENIZE}\")"
    )
    chat_ins = (
        "INSERT INTO search_chats(rowid, subject, customer) SELECT {r}.number, {r}.subject, "
        "u.name || ' ' || u.email FROM users u WHERE u.id = {r}.customer_id;"
    )
    chat_del = (
        "INSERT INTO search_chats(search_chats, rowid, subject, customer) SELECT 'delete', "
        "{r}.number, {r}.subject, u.name || ' ' || u.email FROM users u WHERE u.id = {r}.customer_id;"
    )
    x(f"CREATE TRIGGER search_chats_ai AFTER INSERT ON chats BEGIN {chat_ins.format(r='NEW')} END")
    x(f"CREATE TRIGGER search_chats_ad AFTER DELETE ON chats BEGIN {chat_del.format(r='OLD')} END")
    x(
        "CREATE TRIGGER search_chats_au AFTER UPDATE OF subject, customer_id, number ON chats BEGIN "
        f"{chat_del.format(r='OLD')} {chat_ins.format(r='NEW')} END"
    )
    x(
        "CREATE TRIGGER search_users_au AFTER UPDATE OF name, email ON users BEGIN "
        "INSERT INTO search_chats(search_chats, rowid, subject, customer) SELECT 'delete', "
        "c.number, c.subject, OLD.name || ' ' || OLD.email FROM chats c "
        "WHERE c.customer_id = OLD.id; "
        "INSERT INTO search_chats(rowid, subject, customer) SELECT c.number, c.subject, "
        "NEW.name || ' ' || NEW.email FROM chats c WHERE c.customer_id = NEW.id; END"
    )

    # service_requests: summary and description (columns of the table itself).
    x(
        "CREATE VIRTUAL TABLE search_requests USING fts5(summary, description, "
        f"content='service_requests', content_rowid='number', tokenize=\"{TOKENIZE}\")"
    )
    req_ins = (
        "INSERT INTO search_requests(rowid, summary, description) "
        "VALUES ({r}.number, {r}.summary, {r}.description);"
    )
    req_del = (
        "INSERT INTO search_requests(search_requests, rowid, summary, description) "
        "VALUES ('delete', {r}.number, {r}.summary, {r}.description);"
    )
    x(
        f"CREATE TRIGGER search_requests_ai AFTER INSERT ON service_requests BEGIN {req_ins.format(r='NEW')} END"
    )
    x(
        f"CREATE TRIGGER search_requests_ad AFTER DELETE ON service_requests BEGIN {req_del.format(r='OLD')} END"
    )
    x(
        "CREATE TRIGGER search_requests_au AFTER UPDATE OF number, summary, description "
        f"ON service_requests BEGIN {req_del.format(r='OLD')} {req_ins.format(r='NEW')} END"
    )

    # request_entries: comment texts (public and internal alike; the query filters).
    x(
        "CREATE VIEW search_request_comments_src AS SELECT R.id AS id, "
        f"{COMMENT_BODY} AS body FROM request_entries R WHERE R.type = 'comment'"
    )
    x(
        "CREATE VIRTUAL TABLE search_request_comments USING fts5(body, "
        f"content='search_request_comments_src', content_rowid='id', tokenize=\"{TOKENIZE}\")"
    )
    c_ins = (
        "INSERT INTO search_request_comments(rowid, body) SELECT {r}.id, {body} "
        "WHERE {r}.type = 'comment';"
    )
    c_del = (
        "INSERT INTO search_request_comments(search_request_comments, rowid, body) "
        "SELECT 'delete', {r}.id, {body} WHERE {r}.type = 'comment';"
    )

    def cm(r: str, stmt: str) -> str:
        return stmt.format(r=r, body=COMMENT_BODY.replace("R.", f"{r}."))

    x(
        f"CREATE TRIGGER search_request_comments_ai AFTER INSERT ON request_entries BEGIN {cm('NEW', c_ins)} END"
    )
    x(
        f"CREATE TRIGGER search_request_comments_ad AFTER DELETE ON request_entries BEGIN {cm('OLD', c_del)} END"
    )
    x(
        "CREATE TRIGGER search_request_comments_au AFTER UPDATE OF type, data ON request_entries "
        f"BEGIN {cm('OLD', c_del)} {cm('NEW', c_ins)} END"
    )

    for table in (
        "search_chat_events",
        "search_chats",
        "search_requests",
        "search_request_comments",
    ):
        x(f"INSERT INTO {table}({table}) VALUES ('rebuild')")


# PostgreSQL: the 'simple' configuration matches words as typed (lower-cased, no stemming, no
# stop words), like SQLite's unicode61. Punctuation that the default parser would keep inside
# one token (e-mail addresses, host names, paths, decimals, hyphenated words) becomes a space,
# so "ana@example.com" is the words ana, example, com on both backends.
PUNCT = "@.-_/:+#&<>=~$^`|"


def _tsv(expr: str) -> str:
    spaces = " " * len(PUNCT)
    return (
        f"to_tsvector('simple'::regconfig, translate(coalesce({expr}, ''), '{PUNCT}', '{spaces}'))"
    )


DATA_TEXT = "data ->> 'text'"
PG_COLUMNS = {
    "chat_events": f"CASE WHEN type IN {TEXT_EVENTS} THEN {_tsv(DATA_TEXT)} END",
    "chats": _tsv("subject"),
    "users": _tsv("name || ' ' || email"),
    "service_requests": _tsv("summary || ' ' || description"),
    "request_entries": f"CASE WHEN type = 'comment' THEN {_tsv(DATA_TEXT)} END",
}


def _pg_upgrade() -> None:
    for table, expr in PG_COLUMNS.items():
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN search_tsv tsvector GENERATED ALWAYS AS ({expr}) STORED"
        )
        op.execute(f"CREATE INDEX ix_{table}_search_tsv ON {table} USING gin (search_tsv)")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_upgrade()
    else:
        _pg_upgrade()


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in (
            "search_chat_events",
            "search_chats",
            "search_requests",
            "search_request_comments",
        ):
            op.execute(f"DROP TABLE IF EXISTS {table}")
        for view in ("search_chat_events_src", "search_chats_src", "search_request_comments_src"):
            op.execute(f"DROP VIEW IF EXISTS {view}")
        for trigger in (
            "search_chat_events_ai", "search_chat_events_ad", "search_chat_events_au",
            "search_chats_ai", "search_chats_ad", "search_chats_au", "search_users_au",
            "search_requests_ai", "search_requests_ad", "search_requests_au",
            "search_request_comments_ai", "search_request_comments_ad", "search_request_comments_au",
        ):  # fmt: skip
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        return
    for table in PG_COLUMNS:
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_search_tsv")
        op.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS search_tsv")
