"""Every query of search: one per source, on the database's own full-text engine.

The indexes are kept by the database (migration 0011, decision 016): SQLite FTS5 tables whose
rowid is the source row's integer key, PostgreSQL `search_tsv` generated columns with GIN
indexes. Each query reads its source newest first by that key, so a page stops early, and
applies who may see what in the same statement (queues/scope.py, as chats and requests do). On
PostgreSQL, messages and subjects are walked for the newest keys first, then read through the
GIN index or walked on, by what the walk and a bounded probe found (`_newest`, decision 030).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Row,
    Select,
    any_,
    bindparam,
    func,
    literal,
    literal_column,
    select,
    table,
)
from sqlalchemy import column as sql_column
from sqlalchemy import text as sql_text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from helpline.accounts.models import User
from helpline.chats.models import Chat, ChatEvent
from helpline.kit.enums import Role
from helpline.queues.scope import case_visible
from helpline.search import backlog
from helpline.search.query import Filters, Term, fts5_match, owner_terms
from helpline.servicedesk.models import RequestEntry, ServiceRequest
from helpline.tags.models import ChatTag

Stmt = Select[*tuple[Any, ...]]
TEXT_EVENTS = {"message.posted": "message", "note.added": "note"}


@dataclass(frozen=True)
class Hit:
    source: str
    key: int
    kind: str
    chat_id: str | None
    reference: str
    seq: int | None
    at: datetime
    text: str


def _chat_visible(user: User) -> ColumnElement[bool]:
    return case_visible(user, customer=Chat.customer_id, queue=Chat.queue_id, handler=Chat.agent_id)


def _request_visible(user: User) -> ColumnElement[bool]:
    return case_visible(
        user,
        customer=ServiceRequest.customer_id,
        queue=ServiceRequest.team_id,
        handler=ServiceRequest.assignee_id,
    )


def _tagged(tag_id: str) -> Select[str]:
    return select(ChatTag.chat_id).where(ChatTag.tag_id == tag_id)


def _chat_filters(f: Filters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if f.queue_id is not None:
        where.append(Chat.queue_id == f.queue_id)
    if f.agent_id is not None:
        where.append(Chat.agent_id == f.agent_id)
    if f.status is not None:
        where.append(Chat.status == f.status)
    if f.tag_id is not None:
        where.append(Chat.id.in_(_tagged(f.tag_id)))
    return where


def _request_filters(f: Filters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if f.queue_id is not None:
        where.append(ServiceRequest.team_id == f.queue_id)
    if f.agent_id is not None:
        where.append(ServiceRequest.assignee_id == f.agent_id)
    if f.status is not None:
        where.append(ServiceRequest.status == f.status)
    if f.tag_id is not None:
        # Requests carry no tags: they are found by a tag through the chat they came from.
        where.append(ServiceRequest.chat_id.in_(_tagged(f.tag_id)))
    return where


def _between(at: Any, f: Filters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if f.start is not None:
        where.append(at >= f.start)
    if f.end is not None:
        where.append(at < f.end)
    return where


class _Engine:
    """How one backend matches terms against a source and orders it by its key."""

    def __init__(self, dialect: str, terms: list[Term]) -> None:
        self.sqlite = dialect == "sqlite"
        self.terms = terms

    def fts(
        self,
        name: str,
        column: str | None = None,
        *,
        owner: str | None = None,
        schema: str | None = None,
    ) -> tuple[Any, ColumnElement[bool]]:
        """(the FTS5 table, its MATCH condition) on SQLite; `owner`: only rows whose `owner`
        column holds that customer's token; `schema`: the attached file it lives in."""
        fts = table(name, sql_column("rowid"), schema=schema)
        expr = fts5_match(self.terms, column)
        if owner is not None:
            expr = f"{fts5_match(owner_terms(owner), 'owner')} AND {expr}"
        match = literal_column(name).op("MATCH")(literal(expr))
        return fts, match

    def tsquery(self) -> ColumnElement[Any]:
        """The terms as one tsquery, built from bound words (never parsed as query syntax but
        for the `:*` we add to a word of letters and digits)."""
        cfg: ColumnElement[Any] = literal_column("'simple'::regconfig")
        parts: list[ColumnElement[Any]] = []
        for term in self.terms:
            if term.prefix:
                last = func.to_tsquery(cfg, literal(f"{term.tokens[-1]}:*"))
                if len(term.tokens) > 1:
                    head = func.phraseto_tsquery(cfg, literal(" ".join(term.tokens[:-1])))
                    last = func.tsquery_phrase(head, last)
                parts.append(last)
            else:
                parts.append(func.phraseto_tsquery(cfg, literal(" ".join(term.tokens))))
        return reduce(lambda a, b: a.op("&&")(b), parts)

    def matches(self, tsv_table: str) -> ColumnElement[bool]:
        return literal_column(f"{tsv_table}.search_tsv").op("@@")(self.tsquery())


def _narrow(user: User) -> bool:
    """Whether to narrow to the caller's own rows rather than walk the whole index (SQLite).

    A customer's chats are a sliver of the desk: walking the index newest first would visit
    every match of a common word before finding theirs. Their events are narrowed by the
    owner token in the index; their chats and requests (few) are looked up one by one."""
    return user.role_enum is Role.customer


def _bounded(key: Any, bound: int | None) -> list[ColumnElement[bool]]:
    return [] if bound is None else [key < bound]


def _events(
    e: _Engine, user: User, f: Filters, bound: int | None, *extra: ColumnElement[bool]
) -> Stmt:
    cols = (
        ChatEvent.id,
        ChatEvent.chat_id,
        ChatEvent.seq,
        ChatEvent.at,
        ChatEvent.type,
        ChatEvent.data,
        Chat.reference,
    )
    where = [_chat_visible(user), *_chat_filters(f), *_between(ChatEvent.at, f)]
    types = ["message.posted"] if not user.role_enum.is_staff else list(TEXT_EVENTS)
    where.append(ChatEvent.type.in_(types))
    if e.sqlite:
        # A customer's own events carry their owner token (migration 0023): the match itself
        # narrows to them, however common the word is on the desk.
        owner = user.id if _narrow(user) else None
        fts, match = e.fts(backlog.TABLE, "body", owner=owner, schema=backlog.S)
        key = fts.c.rowid
        stmt = (
            select(*cols)
            .select_from(fts)
            .join(ChatEvent, ChatEvent.id == fts.c.rowid)
            .join(Chat, Chat.id == ChatEvent.chat_id)
            .where(match)
        )
    else:
        key = ChatEvent.id
        stmt = (
            select(*cols).join(Chat, Chat.id == ChatEvent.chat_id).where(e.matches("chat_events"))
        )
    return stmt.where(*where, *extra, *_bounded(key, bound)).order_by(key.desc())


def _chats(
    e: _Engine,
    user: User,
    f: Filters,
    bound: int | None,
    *extra: ColumnElement[bool],
    customer: bool,
) -> Stmt:
    cols = (
        Chat.number,
        Chat.id,
        Chat.reference,
        Chat.created_at,
        Chat.subject,
        User.name,
        User.email,
    )
    where = [_chat_visible(user), *_chat_filters(f), *_between(Chat.created_at, f)]
    stmt = select(*cols).join(User, User.id == Chat.customer_id)
    if e.sqlite:
        fts, match = e.fts("search_chats", "customer" if customer else "subject")
        key = fts.c.rowid
        stmt = (
            select(*cols)
            .select_from(fts)
            .join(Chat, Chat.number == fts.c.rowid)
            .join(User, User.id == Chat.customer_id)
            .where(match)
        )
        if _narrow(user):
            stmt = stmt.where(key.in_(select(Chat.number).where(Chat.customer_id == user.id)))
    else:
        key = Chat.number
        stmt = stmt.where(e.matches("users" if customer else "chats"))
    return stmt.where(*where, *extra, *_bounded(key, bound)).order_by(key.desc())


_REQUEST_COLS = (
    ServiceRequest.chat_id,
    ServiceRequest.reference,
    ServiceRequest.summary,
    ServiceRequest.description,
)


def _requests(e: _Engine, user: User, f: Filters, bound: int | None) -> Stmt:
    cols = (ServiceRequest.number, ServiceRequest.created_at, *_REQUEST_COLS)
    where = [
        _request_visible(user),
        *_request_filters(f),
        *_between(ServiceRequest.created_at, f),
    ]
    if e.sqlite:
        fts, match = e.fts("search_requests")
        key = fts.c.rowid
        stmt = (
            select(*cols)
            .select_from(fts)
            .join(ServiceRequest, ServiceRequest.number == fts.c.rowid)
            .where(match)
        )
        if _narrow(user):
            own = select(ServiceRequest.number).where(ServiceRequest.customer_id == user.id)
            stmt = stmt.where(key.in_(own))
    else:
        key = ServiceRequest.number
        stmt = select(*cols).where(e.matches("service_requests"))
    return stmt.where(*where, *_bounded(key, bound)).order_by(key.desc())


def _comments(e: _Engine, user: User, f: Filters, bound: int | None) -> Stmt:
    cols = (RequestEntry.id, RequestEntry.at, RequestEntry.data, *_REQUEST_COLS)
    where = [
        _request_visible(user),
        RequestEntry.type == "comment",
        *_request_filters(f),
        *_between(RequestEntry.at, f),
    ]
    if not user.role_enum.is_staff:
        where.append(RequestEntry.internal.is_(False))
    if e.sqlite:
        fts, match = e.fts("search_request_comments")
        key = fts.c.rowid
        stmt = (
            select(*cols)
            .select_from(fts)
            .join(RequestEntry, RequestEntry.id == fts.c.rowid)
            .join(ServiceRequest, ServiceRequest.id == RequestEntry.request_id)
            .where(match)
        )
        if _narrow(user):
            own = select(RequestEntry.id).join(
                ServiceRequest, ServiceRequest.id == RequestEntry.request_id
            )
            stmt = stmt.where(key.in_(own.where(ServiceRequest.customer_id == user.id)))
    else:
        key = RequestEntry.id
        stmt = (
            select(*cols)
            .join(ServiceRequest, ServiceRequest.id == RequestEntry.request_id)
            .where(e.matches("request_entries"))
        )
    return stmt.where(*where, *_bounded(key, bound)).order_by(key.desc())


WINDOW = 5000  # keys walked newest first before the GIN index is asked (PostgreSQL)
RARE = 2000  # matches below which the GIN index leads the rest of the walk (PostgreSQL)


async def _newest(
    session: AsyncSession,
    statement: Callable[..., Stmt],
    key: InstrumentedAttribute[int],
    matches: ColumnElement[bool],
    bound: int | None,
    limit: int,
) -> list[Row[Any]]:
    """PostgreSQL: the newest `limit` rows of `statement(*extra)` (a source's query, newest
    first by `key`, below `bound`), without trusting the planner to guess how common a word is.

    The statistics cannot tell a rare word from one in 0.5 % of the rows, and the planner's
    choice between walking `key` backwards (cheap when matches are dense) and reading every
    match through the GIN index first (cheap when they are few) is off by orders of magnitude
    either way (docs/performance.md, "Search"). So: walk the newest WINDOW keys; if they hold
    a page, done (a common word, the usual case). Otherwise read the keys of the matches below
    them through the GIN index, stopping at RARE: if there are fewer, look those rows up newest
    first, a few at a time, until the page is full; if not, walk on. `matches`: the source's
    own match condition on `key`'s table."""
    top = bound
    if top is None:
        newest = await session.scalar(select(func.max(key)))
        if newest is None:
            return []
        top = newest + 1
    low = top - WINDOW
    rows = list((await session.execute(statement(key >= low).limit(limit))).all())
    if len(rows) == limit or low <= 0:
        return rows
    probe = select(key).where(matches, key < low).limit(RARE).subquery()
    keys = sorted((await session.scalars(select(probe.c[0]))).all(), reverse=True)
    if len(keys) >= RARE:
        rest = statement(key < low).limit(limit - len(rows))
        rows.extend((await session.execute(rest)).all())
        return rows
    chunk = 4 * limit  # visibility and filters may drop some: a few more than a page
    while keys and len(rows) < limit:
        some, keys = keys[:chunk], keys[chunk:]
        them = key == any_(bindparam("keys", some, type_=ARRAY(key.type)))
        rows.extend((await session.execute(statement(them).limit(limit - len(rows)))).all())
        chunk *= 4
    return rows


async def _rows(
    session: AsyncSession,
    e: _Engine,
    user: User,
    statement: Callable[..., Stmt],
    source: tuple[InstrumentedAttribute[int], str] | None,
    bound: int | None,
    limit: int,
) -> Sequence[Row[Any]]:
    """The newest `limit` rows of a source. `source`: its key and the table whose `search_tsv`
    it matches, for the PostgreSQL walk of `_newest` (None: one statement, the planner's plan:
    small tables, and a customer's own rows, reached through their chats)."""
    if e.sqlite or source is None or _narrow(user):
        return (await session.execute(statement().limit(limit))).all()
    key, tsv_table = source
    return await _newest(session, statement, key, e.matches(tsv_table), bound, limit)


def _request_text(summary: str, description: str) -> str:
    return f"{summary} — {description}" if description else summary


async def find(
    session: AsyncSession,
    user: User,
    terms: list[Term],
    filters: Filters,
    bounds: dict[str, int | None],
    limit: int,
) -> dict[str, list[Hit]]:
    """Up to `limit` hits from each source asked for (`bounds`: source → key bound), each
    list newest first by the source's key."""
    e = _Engine(session.get_bind().dialect.name, terms)
    if not e.sqlite:
        # Plan each statement for its own words and ids: a prepared statement's generic plan
        # (chosen after five runs) cannot know how common a word is, and read every match of a
        # common word for each of a customer's chats (0.7 s instead of 1 ms at 1,000,000).
        await session.execute(sql_text("SET LOCAL plan_cache_mode = force_custom_plan"))
    found: dict[str, list[Hit]] = {}
    for source, bound in bounds.items():
        hits: list[Hit] = []
        if source == "events":

            def events(*extra: ColumnElement[bool], bound: int | None = bound) -> Stmt:
                return _events(e, user, filters, bound, *extra)

            by_id = (ChatEvent.id, "chat_events")
            for r in await _rows(session, e, user, events, by_id, bound, limit):
                hits.append(
                    Hit(
                        source,
                        r.id,
                        TEXT_EVENTS[r.type],
                        r.chat_id,
                        r.reference,
                        r.seq,
                        r.at,
                        str((r.data or {}).get("text") or ""),
                    )
                )
        elif source in ("subjects", "customers"):
            customer = source == "customers"

            def chats(
                *extra: ColumnElement[bool], bound: int | None = bound, customer: bool = customer
            ) -> Stmt:
                return _chats(e, user, filters, bound, *extra, customer=customer)

            # By customer: the users' GIN index leads (few users match; the planner knows).
            by_number = None if customer else (Chat.number, "chats")
            for r in await _rows(session, e, user, chats, by_number, bound, limit):
                text = (f"{r.name} <{r.email}>" if r.email else r.name) if customer else r.subject
                kind = "customer" if customer else "subject"
                hits.append(
                    Hit(source, r.number, kind, r.id, r.reference, None, r.created_at, text)
                )
        elif source == "requests":
            stmt = _requests(e, user, filters, bound).limit(limit)
            for r in (await session.execute(stmt)).all():
                text = _request_text(r.summary, r.description)
                hits.append(
                    Hit(
                        source,
                        r.number,
                        "request",
                        r.chat_id,
                        r.reference,
                        None,
                        r.created_at,
                        text,
                    )
                )
        elif source == "comments":
            stmt = _comments(e, user, filters, bound).limit(limit)
            for r in (await session.execute(stmt)).all():
                text = str((r.data or {}).get("text") or "")
                hits.append(Hit(source, r.id, "request", r.chat_id, r.reference, None, r.at, text))
        found[source] = hits
    return found
