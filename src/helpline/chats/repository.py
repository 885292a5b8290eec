"""Every query of the chat domain. Visibility is decided here, once, for HTTP and WebSocket."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Row,
    ScalarSelect,
    Select,
    Table,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value

from helpline.accounts.models import User
from helpline.chats.models import (
    Attachment,
    AwayLink,
    Chat,
    ChatEvent,
    ChatParticipant,
    ChatRead,
)
from helpline.kit.enums import Availability, ChatStatus, Role, RoutingMode
from helpline.queues.models import Queue, QueueMember
from helpline.queues.scope import case_visible
from helpline.tags.models import ChatTag

Customer = aliased(User, name="customer")
Agent = aliased(User, name="agent")


@dataclass
class ChatRow:
    chat: Chat
    customer: User
    agent: User | None
    queue: Queue
    # The chat's tags as {id, name, color}, when the reader loaded them (`with_tags`).
    tags: list[dict[str, Any]] | None = None


@dataclass(slots=True, frozen=True)
class Ref:
    """Someone or something a chat names: its id and name, read as columns."""

    id: str
    name: str


@dataclass(slots=True)
class ChatView:
    """A chat read to be shown, not changed: its columns in a Core row (`chat.id`, ...) and
    what it names. No ORM objects: a handshake at a shift start shapes a thousand of these."""

    chat: Row[*tuple[Any, ...]]
    customer: Ref
    agent: Ref | None
    queue: Ref
    routing_mode: str
    tags: list[dict[str, Any]] | None = None


def visible_clause(user: User) -> ColumnElement[bool]:
    """Who may see which chat: customers their own; agents their queues' and their own;
    supervisors and admins all."""
    return case_visible(user, customer=Chat.customer_id, queue=Chat.queue_id, handler=Chat.agent_id)


def _rows() -> Select[Chat, User, User, Queue]:
    return (
        select(Chat, Customer, Agent, Queue)
        .join(Customer, Customer.id == Chat.customer_id)
        .outerjoin(Agent, Agent.id == Chat.agent_id)
        .join(Queue, Queue.id == Chat.queue_id)
    )


def _row(r: Any) -> ChatRow:
    return ChatRow(chat=r[0], customer=r[1], agent=r[2], queue=r[3])


async def get_visible(session: AsyncSession, user: User, chat_id: str) -> ChatRow | None:
    result = await session.execute(_rows().where(Chat.id == chat_id, visible_clause(user)))
    r = result.first()
    return _row(r) if r else None


async def get_row(session: AsyncSession, chat_id: str) -> ChatRow | None:
    r = (await session.execute(_rows().where(Chat.id == chat_id))).first()
    return _row(r) if r else None


async def list_visible(
    session: AsyncSession,
    user: User,
    *,
    statuses: list[str] | None,
    queue_id: str | None,
    agent_id: str | None,
    q: str | None,
    offset: int,
    limit: int,
    tag_id: str | None = None,
) -> list[ChatRow]:
    stmt = _rows().where(visible_clause(user))
    if tag_id:
        tagged = select(ChatTag.chat_id).where(ChatTag.tag_id == tag_id)
        stmt = stmt.where(Chat.id.in_(tagged))
    if statuses:
        stmt = stmt.where(Chat.status.in_(statuses))
    if queue_id:
        stmt = stmt.where(Chat.queue_id == queue_id)
    if agent_id:
        stmt = stmt.where(Chat.agent_id == agent_id)
    if q:
        term = q.strip()
        like = f"%{term.lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(Chat.reference) == term.lower(),
                func.lower(Chat.reference).like(like),
                func.lower(Customer.name).like(like),
                func.lower(Customer.email).like(like),
            )
        )
    # Waiting chats first, oldest first; then the rest, most recently changed first.
    waiting_first = case((Chat.status == ChatStatus.waiting, 0), else_=1)
    stmt = stmt.order_by(
        waiting_first,
        case((Chat.status == ChatStatus.waiting, Chat.waiting_since), else_=None).asc(),
        Chat.updated_at.desc(),
        Chat.id,
    )
    result = await session.execute(stmt.offset(offset).limit(limit))
    return [_row(r) for r in result.all()]


async def customer_chats(
    session: AsyncSession, user: User, customer_id: str, limit: int
) -> tuple[list[Chat], float | None]:
    """A customer's chats that `user` may see, newest first, and the average of their
    ratings (over all of those chats, not only the `limit` returned)."""
    where = and_(Chat.customer_id == customer_id, visible_clause(user))
    stmt = select(Chat).where(where).order_by(Chat.created_at.desc(), Chat.id).limit(limit)
    chats = list((await session.execute(stmt)).scalars())
    avg = (await session.execute(select(func.avg(Chat.rating_score)).where(where))).scalar()
    return chats, (float(avg) if avg is not None else None)


async def open_chat_of(session: AsyncSession, customer_id: str) -> Chat | None:
    stmt = select(Chat).where(
        Chat.customer_id == customer_id,
        Chat.status.in_([ChatStatus.waiting, ChatStatus.in_progress]),
    )
    return (await session.execute(stmt.limit(1))).scalar_one_or_none()


async def advance(
    session: AsyncSession,
    chat: Chat,
    *,
    from_statuses: Iterable[ChatStatus],
    events: int,
    extra_where: ColumnElement[bool] | None = None,
    **values: Any,
) -> int | None:
    """Change the chat and reserve `events` sequence numbers in one conditional UPDATE.

    Returns the first reserved seq, or None when the chat was not in `from_statuses` (someone
    else changed it first). The row lock this takes orders concurrent writers of one chat.
    """
    where = and_(Chat.id == chat.id, Chat.status.in_([str(s) for s in from_statuses]))
    if extra_where is not None:
        where = and_(where, extra_where)
    values["last_seq"] = Chat.last_seq + events
    result = await session.execute(
        update(Chat)
        .where(where)
        .values(**values)
        .returning(Chat.last_seq)
        .execution_options(synchronize_session=False)
    )
    last = result.scalar_one_or_none()
    if last is None:
        return None
    for key, value in values.items():
        if key != "last_seq":
            set_committed_value(chat, key, value)
    set_committed_value(chat, "last_seq", last)
    return int(last) - events + 1


async def reload(session: AsyncSession, chat: Chat) -> Chat:
    await session.refresh(chat)
    return chat


async def add_events(session: AsyncSession, events: list[ChatEvent]) -> None:
    session.add_all(events)
    await session.flush()


async def event_by_client_id(
    session: AsyncSession, chat_id: str, client_id: str
) -> ChatEvent | None:
    stmt = select(ChatEvent).where(ChatEvent.chat_id == chat_id, ChatEvent.client_id == client_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def events_after(
    session: AsyncSession, chat_id: str, after: int, limit: int | None = None
) -> list[ChatEvent]:
    stmt = (
        select(ChatEvent)
        .where(ChatEvent.chat_id == chat_id, ChatEvent.seq > after)
        .order_by(ChatEvent.seq)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return list((await session.execute(stmt)).scalars())


async def waiting_in_queue(session: AsyncSession, queue_id: str) -> list[Chat]:
    stmt = (
        select(Chat)
        .where(Chat.queue_id == queue_id, Chat.status == ChatStatus.waiting)
        .order_by(Chat.waiting_since, Chat.id)
    )
    return list((await session.execute(stmt)).scalars())


# The columns `chat_dict` reads, and routing's `offered_to_id`: a view carries no others
# (tests/chats/test_offers_view.py shapes both kinds of row and compares).
_SHOWN = (
    "id", "reference", "status", "queue_id", "customer_id", "agent_id", "subject",
    "created_at", "waiting_since", "accepted_at", "closed_at", "updated_at", "last_seq",
    "rating_score", "rating_comment", "context", "offered_to_id",
    "sla_due_at", "sla_first_response_at", "sla_breached", "sla_warn_at",
)  # fmt: skip


def waiting_ids(queue_ids: list[str]) -> Select[str]:
    """The ids of the chats waiting in these queues, as a subquery."""
    return select(Chat.id).where(Chat.queue_id.in_(queue_ids), Chat.status == ChatStatus.waiting)


def _waiting_views() -> Select[Any]:
    chats, users = cast(Table, Chat.__table__), cast(Table, User.__table__)
    queues = cast(Table, Queue.__table__)
    customer, agent = users.alias("customer"), users.alias("agent")
    return (
        select(
            *(chats.c[name] for name in _SHOWN),
            customer.c.name.label("customer_name_"),
            agent.c.name.label("agent_name_"),
            queues.c.name.label("queue_name_"),
            queues.c.routing_mode.label("routing_mode_"),
        )
        .select_from(chats)
        .join(customer, customer.c.id == chats.c.customer_id)
        .outerjoin(agent, agent.c.id == chats.c.agent_id)
        .join(queues, queues.c.id == chats.c.queue_id)
        .where(
            chats.c.queue_id.in_(bindparam("queue_ids", expanding=True)),
            chats.c.status == ChatStatus.waiting,
        )
        .order_by(chats.c.waiting_since, chats.c.id)
    )


# Built once: every agent's handshake reads it, mostly to find nothing (accounts.repository).
_WAITING_VIEWS = _waiting_views()


async def waiting_views_in_queues(session: AsyncSession, queue_ids: list[str]) -> list[ChatView]:
    """The chats waiting in these queues, oldest first; one Core query, no ORM objects (a
    connecting agent is offered each of them)."""
    if not queue_ids:
        return []
    return [
        ChatView(
            chat=r,
            customer=Ref(r.customer_id, r.customer_name_),
            agent=Ref(r.agent_id, r.agent_name_) if r.agent_id is not None else None,
            queue=Ref(r.queue_id, r.queue_name_),
            routing_mode=r.routing_mode_,
        )
        for r in (await session.execute(_WAITING_VIEWS, {"queue_ids": queue_ids})).all()
    ]


async def position(session: AsyncSession, chat: Chat) -> int:
    stmt = select(func.count(Chat.id)).where(
        Chat.queue_id == chat.queue_id,
        Chat.status == ChatStatus.waiting,
        or_(
            Chat.waiting_since < chat.waiting_since,
            and_(Chat.waiting_since == chat.waiting_since, Chat.id < chat.id),
        ),
    )
    return int((await session.execute(stmt)).scalar_one()) + 1


async def recent_waits(session: AsyncSession, queue_id: str, since: datetime) -> list[float]:
    """Seconds from waiting to accepted for the queue's latest accepts."""
    stmt = (
        select(Chat.waiting_since, Chat.accepted_at)
        .where(
            Chat.queue_id == queue_id,
            Chat.accepted_at.is_not(None),
            Chat.accepted_at >= since,
            Chat.waiting_since.is_not(None),
        )
        .order_by(Chat.accepted_at.desc())
        .limit(20)
    )
    out: list[float] = []
    for waiting_since, accepted_at in (await session.execute(stmt)).all():
        if waiting_since is None or accepted_at is None:
            continue
        delta: timedelta = accepted_at - waiting_since
        out.append(max(0.0, delta.total_seconds()))
    return out


async def add_attachment(session: AsyncSession, attachment: Attachment) -> None:
    session.add(attachment)
    await session.flush()


async def get_attachment(session: AsyncSession, attachment_id: str) -> Attachment | None:
    return await session.get(Attachment, attachment_id)


async def lock_user(session: AsyncSession, user_id: str) -> User | None:
    """Serialise one agent's accepts so the capacity check holds under concurrency."""
    stmt = select(User).where(User.id == user_id).with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def in_progress_count(session: AsyncSession, agent_id: str) -> int:
    stmt = select(func.count(Chat.id)).where(
        Chat.agent_id == agent_id, Chat.status == ChatStatus.in_progress
    )
    return int((await session.execute(stmt)).scalar_one())


async def ties(session: AsyncSession, chat: Chat, user_id: str) -> tuple[bool, bool]:
    """Whether the user has joined the chat to help, and is a member of its queue: one query."""
    helper = (
        select(ChatParticipant.user_id)
        .where(
            ChatParticipant.chat_id == chat.id,
            ChatParticipant.user_id == user_id,
            ChatParticipant.left_at.is_(None),
        )
        .exists()
    )
    member = (
        select(QueueMember.user_id)
        .where(QueueMember.queue_id == chat.queue_id, QueueMember.user_id == user_id)
        .exists()
    )
    found = (await session.execute(select(helper, member))).one()
    return bool(found[0]), bool(found[1])


async def is_member(session: AsyncSession, queue_id: str, user_id: str) -> bool:
    stmt = select(QueueMember.user_id).where(
        QueueMember.queue_id == queue_id, QueueMember.user_id == user_id
    )
    return (await session.execute(stmt)).first() is not None


async def helpers(session: AsyncSession, chat_id: str) -> list[User]:
    stmt = (
        select(User)
        .join(ChatParticipant, ChatParticipant.user_id == User.id)
        .where(ChatParticipant.chat_id == chat_id, ChatParticipant.left_at.is_(None))
        .order_by(ChatParticipant.joined_at)
    )
    return list((await session.execute(stmt)).scalars())


async def add_helper(session: AsyncSession, chat_id: str, user_id: str, at: datetime) -> None:
    existing = await session.get(ChatParticipant, (chat_id, user_id))
    if existing is None:
        session.add(ChatParticipant(chat_id=chat_id, user_id=user_id, joined_at=at))
    else:
        existing.joined_at = at
        existing.left_at = None
    await session.flush()


async def remove_helpers(
    session: AsyncSession, chat_id: str, at: datetime, user_id: str | None = None
) -> None:
    stmt = update(ChatParticipant).where(
        ChatParticipant.chat_id == chat_id, ChatParticipant.left_at.is_(None)
    )
    if user_id is not None:
        stmt = stmt.where(ChatParticipant.user_id == user_id)
    await session.execute(stmt.values(left_at=at).execution_options(synchronize_session=False))


async def last_seqs(session: AsyncSession, chat_ids: list[str]) -> dict[str, tuple[int, datetime]]:
    """Each chat's last seq and when the chat last changed."""
    if not chat_ids:
        return {}
    rows = await session.execute(
        select(Chat.id, Chat.last_seq, Chat.updated_at).where(Chat.id.in_(chat_ids))
    )
    return {chat_id: (int(last), changed) for chat_id, last, changed in rows.all()}


# --- timers: what is due, as conditions the service re-checks in its conditional UPDATE ------


def unanswered_due(cutoff: datetime) -> ColumnElement[bool]:
    return Chat.waiting_since <= cutoff


def warning_due(cutoff: datetime) -> ColumnElement[bool]:
    return and_(Chat.warned_at.is_(None), Chat.last_customer_at <= cutoff)


def inactive_due(cutoff: datetime) -> ColumnElement[bool]:
    return and_(Chat.warned_at.is_not(None), Chat.last_customer_at <= cutoff)


async def waiting_with_max_wait(session: AsyncSession) -> list[tuple[str, datetime | None, int]]:
    """Every waiting chat with when it started waiting and its queue's longest wait."""
    stmt = (
        select(Chat.id, Chat.waiting_since, Queue.max_wait_s)
        .join(Queue, Queue.id == Chat.queue_id)
        .where(Chat.status == ChatStatus.waiting)
    )
    return [(i, w, int(m)) for i, w, m in (await session.execute(stmt)).all()]


async def waiting_for_auto_reply(
    session: AsyncSession,
) -> list[tuple[str, datetime | None, dict[str, Any] | None]]:
    """Waiting chats not auto-replied yet, with their queue's `auto_reply` (None: it has none)."""
    stmt = (
        select(Chat.id, Chat.waiting_since, Queue.auto_reply)
        .join(Queue, Queue.id == Chat.queue_id)
        .where(Chat.status == ChatStatus.waiting, Chat.auto_replied_at.is_(None))
    )
    return [(r[0], r[1], r[2]) for r in (await session.execute(stmt)).all()]


def auto_reply_due(cutoff: datetime) -> ColumnElement[bool]:
    return and_(Chat.auto_replied_at.is_(None), Chat.waiting_since <= cutoff)


async def in_progress_ids(session: AsyncSession, due: ColumnElement[bool]) -> list[str]:
    stmt = select(Chat.id).where(Chat.status == ChatStatus.in_progress, due)
    return list((await session.execute(stmt)).scalars())


async def offers_due(session: AsyncSession, at: datetime) -> list[tuple[str, datetime]]:
    """Waiting chats of `assign` queues whose offer ran out by `at`, with its due time."""
    stmt = (
        select(Chat.id, Chat.offer_expires_at)
        .join(Queue, Queue.id == Chat.queue_id)
        .where(
            Chat.status == ChatStatus.waiting,
            Queue.routing_mode == RoutingMode.assign,
            Chat.offer_expires_at <= at,
        )
    )
    return [(i, d) for i, d in (await session.execute(stmt)).all() if d is not None]


async def claim_offer(
    session: AsyncSession, chat_id: str, due: datetime
) -> tuple[Chat, Queue] | None:
    """Only the process that clears this exact due time moves the offer on: the chat and its
    queue for the winner, None for everyone else."""
    claimed = await session.execute(
        update(Chat)
        .where(
            Chat.id == chat_id,
            Chat.offer_expires_at == due,
            Chat.status == ChatStatus.waiting,
        )
        .values(offer_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    chat = await session.get(Chat, chat_id, populate_existing=True)
    queue = await session.get(Queue, chat.queue_id) if chat else None
    if chat is None or queue is None:
        return None
    return chat, queue


# --- service levels --------------------------------------------------------------------------


def sla_pending(at: datetime) -> ColumnElement[bool]:
    """The chat's first-response clock still runs and needs a look at `at` (the sweeper's
    claim re-checks this with the exact `sla_next_at` it read)."""
    return and_(
        Chat.status.in_([ChatStatus.waiting, ChatStatus.in_progress]),
        Chat.sla_first_response_at.is_(None),
        Chat.sla_breached.is_(False),
        Chat.sla_next_at <= at,
    )


async def sla_due(session: AsyncSession, at: datetime) -> list[tuple[str, datetime]]:
    """Open chats whose warning or breach is due by `at`, with the `sla_next_at` read."""
    stmt = select(Chat.id, Chat.sla_next_at).where(sla_pending(at))
    return [(i, d) for i, d in (await session.execute(stmt)).all() if d is not None]


async def claim_sla_warning(session: AsyncSession, chat_id: str, next_at: datetime) -> Chat | None:
    """Only the process that moves `sla_next_at` from the warning to the due time warns."""
    claimed = await session.execute(
        update(Chat)
        .where(
            Chat.id == chat_id,
            Chat.sla_next_at == next_at,
            Chat.sla_warn_at == next_at,
            or_(Chat.sla_due_at.is_(None), Chat.sla_due_at != next_at),
            sla_pending(next_at),
        )
        .values(sla_next_at=Chat.sla_due_at)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return await session.get(Chat, chat_id, populate_existing=True)


# --- staffing: agents' load is their chats in progress --------------------------------------

STAFF = (Role.agent, Role.supervisor, Role.admin)


def _load() -> ScalarSelect[int]:
    return (
        select(func.count(Chat.id))
        .where(Chat.agent_id == User.id, Chat.status == ChatStatus.in_progress)
        .correlate(User)
        .scalar_subquery()
    )


async def available_counts(session: AsyncSession) -> dict[str, int]:
    """Per queue: members who are available, active and below their chat limit."""
    load = _load()
    stmt = (
        select(QueueMember.queue_id, func.count(User.id))
        .join(User, User.id == QueueMember.user_id)
        .where(
            and_(
                User.active.is_(True),
                User.status == Availability.available,
                User.role.in_(STAFF),
                load < User.max_chats,
            )
        )
        .group_by(QueueMember.queue_id)
    )
    return {qid: int(n) for qid, n in (await session.execute(stmt)).all()}


async def candidates(
    session: AsyncSession, queue_id: str, *, user_ids: list[str] | None = None
) -> list[tuple[User, int]]:
    """Members who may be offered a chat now, with their load: available, active, below limit."""
    load = _load().label("load")
    stmt = (
        select(User, load)
        .join(QueueMember, QueueMember.user_id == User.id)
        .where(
            QueueMember.queue_id == queue_id,
            User.active.is_(True),
            User.status == Availability.available,
            User.role.in_(STAFF),
        )
    )
    if user_ids is not None:
        stmt = stmt.where(User.id.in_(user_ids))
    rows = (await session.execute(stmt)).all()
    return [(u, int(n)) for u, n in rows if int(n) < u.max_chats]


async def eligible_ids(session: AsyncSession, queue_id: str, user_ids: list[str]) -> set[str]:
    """Which of these members `candidates` would give: only their ids, read as columns (each
    new chat asks it for every agent of its queue connected here)."""
    if not user_ids:
        return set()
    load = _load()
    stmt = (
        select(User.id)
        .join(QueueMember, QueueMember.user_id == User.id)
        .where(
            QueueMember.queue_id == queue_id,
            User.id.in_(user_ids),
            User.active.is_(True),
            User.status == Availability.available,
            User.role.in_(STAFF),
            load < User.max_chats,
        )
    )
    return set((await session.execute(stmt)).scalars())


async def queue_stats(session: AsyncSession) -> dict[str, dict[str, object]]:
    """Per queue: waiting and in-progress counts and the oldest waiting_since."""
    stmt = (
        select(
            Chat.queue_id,
            func.sum(case((Chat.status == ChatStatus.waiting, 1), else_=0)),
            func.sum(case((Chat.status == ChatStatus.in_progress, 1), else_=0)),
            func.min(case((Chat.status == ChatStatus.waiting, Chat.waiting_since), else_=None)),
        )
        .where(Chat.status.in_([ChatStatus.waiting, ChatStatus.in_progress]))
        .group_by(Chat.queue_id)
    )
    out: dict[str, dict[str, object]] = {}
    for qid, waiting, in_progress, oldest in (await session.execute(stmt)).all():
        out[qid] = {
            "waiting": int(waiting or 0),
            "in_progress": int(in_progress or 0),
            "oldest": oldest,
        }
    return out


async def agents_with_load(session: AsyncSession) -> list[tuple[User, int]]:
    load = _load().label("load")
    stmt = (
        select(User, load)
        .where(User.active.is_(True), User.role.in_((Role.agent, Role.supervisor)))
        .order_by(User.name)
    )
    return [(u, int(n)) for u, n in (await session.execute(stmt)).all()]


async def members_with_load(session: AsyncSession, queue_id: str) -> list[tuple[User, int]]:
    """The queue's active staff with their chats in progress, by name."""
    load = _load().label("load")
    stmt = (
        select(User, load)
        .join(QueueMember, QueueMember.user_id == User.id)
        .where(QueueMember.queue_id == queue_id, User.active.is_(True), User.role.in_(STAFF))
        .order_by(User.name, User.id)
    )
    return [(u, int(n)) for u, n in (await session.execute(stmt)).all()]


# --- read receipts ----------------------------------------------------------------------------


async def advance_read(
    session: AsyncSession, chat_id: str, user_id: str, *, is_customer: bool, seq: int, at: datetime
) -> bool:
    """Move the user's read position forward to `seq`; False (nothing written) when it is there
    already or further. One upsert: two tabs racing cannot move it back."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(ChatRead)
        .values(
            chat_id=chat_id, user_id=user_id, is_customer=is_customer, last_read_seq=seq, read_at=at
        )
        .on_conflict_do_update(
            index_elements=[ChatRead.chat_id, ChatRead.user_id],
            set_={"last_read_seq": seq, "read_at": at},
            where=ChatRead.last_read_seq < seq,
        )
        .returning(ChatRead.last_read_seq)
    )
    return (await session.execute(stmt)).first() is not None


async def read_positions(session: AsyncSession, chat_id: str) -> dict[str, int]:
    """How far each side has read: the customer, and the furthest of the staff."""
    stmt = (
        select(ChatRead.is_customer, func.max(ChatRead.last_read_seq))
        .where(ChatRead.chat_id == chat_id)
        .group_by(ChatRead.is_customer)
    )
    out = {"customer": 0, "agent": 0}
    for is_customer, seq in (await session.execute(stmt)).all():
        out["customer" if is_customer else "agent"] = int(seq or 0)
    return out


async def own_reads(session: AsyncSession, user_id: str, chat_ids: list[str]) -> dict[str, int]:
    if not chat_ids:
        return {}
    stmt = select(ChatRead.chat_id, ChatRead.last_read_seq).where(
        ChatRead.user_id == user_id, ChatRead.chat_id.in_(chat_ids)
    )
    return {c: int(s) for c, s in (await session.execute(stmt)).all()}


# --- replies while away -----------------------------------------------------------------------

# What an agent says to the customer: the messages and files an away mail is about.
AWAY_KINDS = ("message.posted", "file.shared")


def _agents_said_after(mailed_seq: Any, read_seq: Any) -> list[ColumnElement[bool]]:
    """An agent's message or file the customer can see, after both positions."""
    return [
        ChatEvent.seq > mailed_seq,
        ChatEvent.seq > read_seq,
        ChatEvent.type.in_(AWAY_KINDS),
        ChatEvent.internal.is_(False),
        ChatEvent.actor_role.is_not(None),
        ChatEvent.actor_role != Role.customer,
    ]


async def away_candidates(
    session: AsyncSession, *, unseen_before: datetime, mailed_before: datetime, since: datetime
) -> list[tuple[str, str, int]]:
    """(chat id, customer id, away_mailed_seq) of chats with an agent's message unread by the
    customer and not mailed yet, posted at or before `unseen_before`, whose customer has not
    been seen since then and was not mailed about the chat after `mailed_before`. Chats in
    progress, and closed ones started after `since` (an answer often ends the chat)."""
    read_seq = func.coalesce(ChatRead.last_read_seq, 0)
    closed = (ChatStatus.solved, ChatStatus.cancelled, ChatStatus.expired)
    stmt = (
        select(Chat.id, Chat.customer_id, Chat.away_mailed_seq)
        .join(User, User.id == Chat.customer_id)
        .outerjoin(
            ChatRead, and_(ChatRead.chat_id == Chat.id, ChatRead.user_id == Chat.customer_id)
        )
        .join(
            ChatEvent,
            and_(ChatEvent.chat_id == Chat.id, *_agents_said_after(Chat.away_mailed_seq, read_seq)),
        )
        .where(
            or_(
                Chat.status == ChatStatus.in_progress,
                and_(Chat.status.in_(closed), Chat.created_at >= since),
            ),
            User.active.is_(True),
            User.email != "",
            or_(User.last_seen_at.is_(None), User.last_seen_at <= unseen_before),
            or_(Chat.away_mailed_at.is_(None), Chat.away_mailed_at <= mailed_before),
        )
        .group_by(Chat.id, Chat.customer_id, Chat.away_mailed_seq)
        .having(func.min(ChatEvent.at) <= unseen_before)
    )
    return [(c, u, int(s)) for c, u, s in (await session.execute(stmt)).all()]


async def claim_away_mail(
    session: AsyncSession, chat_id: str, mailed_seq: int, mailed_before: datetime, at: datetime
) -> bool:
    """Take the chat's next away mail (one process wins): moves `away_mailed_seq` to the
    chat's last seq."""
    stmt = (
        update(Chat)
        .where(
            Chat.id == chat_id,
            Chat.away_mailed_seq == mailed_seq,
            or_(Chat.away_mailed_at.is_(None), Chat.away_mailed_at <= mailed_before),
        )
        .values(away_mailed_at=at, away_mailed_seq=Chat.last_seq)
        .execution_options(synchronize_session=False)
    )
    return int((await session.execute(stmt)).rowcount or 0) == 1  # type: ignore[attr-defined]


async def unread_agent_events(
    session: AsyncSession, chat_id: str, customer_id: str, after_seq: int
) -> list[ChatEvent]:
    """The agents' messages and files after `after_seq` the customer has not read."""
    read = (
        select(ChatRead.last_read_seq)
        .where(ChatRead.chat_id == chat_id, ChatRead.user_id == customer_id)
        .scalar_subquery()
    )
    stmt = (
        select(ChatEvent)
        .where(ChatEvent.chat_id == chat_id, *_agents_said_after(after_seq, func.coalesce(read, 0)))
        .order_by(ChatEvent.seq)
    )
    return list((await session.execute(stmt)).scalars())


async def add_away_link(session: AsyncSession, link: AwayLink) -> None:
    session.add(link)
    await session.flush()


async def get_away_link(session: AsyncSession, token_hash: str) -> AwayLink | None:
    return (
        await session.execute(select(AwayLink).where(AwayLink.token_hash == token_hash))
    ).scalar_one_or_none()


async def use_away_link(session: AsyncSession, link_id: str, at: datetime) -> bool:
    """Spend the link: one request wins, and only before it expires."""
    stmt = (
        update(AwayLink)
        .where(AwayLink.id == link_id, AwayLink.used_at.is_(None), AwayLink.expires_at > at)
        .values(used_at=at)
        .execution_options(synchronize_session=False)
    )
    return int((await session.execute(stmt)).rowcount or 0) == 1  # type: ignore[attr-defined]
