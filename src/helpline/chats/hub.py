"""The process-local fan-out: bus news → the WebSocket connections of this process.

Invariants, per connection and chat:
- events leave in `seq` order, each at most once (`last_seq` only grows);
- a gap (an event whose seq is not last_seq + 1) is filled before anything after it is sent:
  by the missing event itself when it arrives within REORDER_GRACE_S (processes publish
  independently, so news of consecutive events can cross on the bus), else from the database,
  so pub/sub loss delays but never loses;
- news arriving while a subscription replays or repairs is held and drained afterwards;
- customers never receive internal events or agent-only fields.
Fan-out never awaits a socket: each connection has a bounded frame queue and, while frames are
pending, a writer task; one that falls behind is closed (it resumes by seq) and never slows the
others.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from helpline import observability as metrics
from helpline.accounts import service as accounts
from helpline.bus.messages import (
    AccessChanged,
    AgentStatus,
    BusMessage,
    ChatAssigned,
    ChatOffered,
    ChatQueued,
    ChatTaken,
    ChatUpdated,
    ChatWithdrawn,
    CloseConnections,
    EventPosted,
    ReadMoved,
    RequestSlaWarning,
    SlaWarning,
    StatusChanged,
    Typing,
)
from helpline.chats import events as ev_mod
from helpline.chats import offers as routing
from helpline.chats import repository as repo
from helpline.db import Database, UnitOfWork
from helpline.kit.clock import now
from helpline.kit.enums import ChatStatus, Role
from helpline.kit.frames import encode as encode_frame
from helpline.queues import service as queues

log = logging.getLogger("helpline.hub")

# How long an event waits for a missing predecessor to arrive by bus before the database is
# asked. Two processes' news of one chat cross on Redis within ~1 ms; a loss costs this much.
REORDER_GRACE_S = 0.05
CLOSE_SLOW = 1013  # try again later: the client reconnects and resumes by seq
CLOSE_SIGNED_OUT = 4401
CLOSE_TOO_MANY = 4429  # the user has HELPLINE_WS_MAX_PER_USER connections open here already
# The role crossed the line between customer and staff: what the socket may hear is a different
# kind of thing, so it reconnects as the new role rather than being patched in place.
CLOSE_ROLE_CHANGED = 4403
# Why a subscription ended (the `reason` of `unsubscribed`; docs/protocol.md lists them).
NOT_VISIBLE = "not_visible"


@dataclass
class Subscription:
    chat_id: str
    last_seq: int
    queue_id: str
    agent_id: str | None
    status: str
    ready: bool = False
    repairing: bool = False
    held: list[tuple[dict[str, Any], bool]] = field(default_factory=list)
    position: tuple[int | None, int | None] | None = None
    repair_due: bool = False  # a gap is waiting out REORDER_GRACE_S


class Connection:
    """One WebSocket, as the hub sees it: a bounded queue of frames to write. The gateway owns
    the socket itself: its subclass writes the frames (`_wake`, `next_frames`)."""

    __slots__ = (
        "user_id",
        "_role",
        "is_customer",
        "_sees_all",
        "name",
        "session_id",
        "queue_ids",
        "subs",
        "close_code",
        "close_reason",
        "_frames",
        "_max",
    )

    def __init__(
        self,
        *,
        user_id: str,
        role: str,
        name: str,
        session_id: str,
        queue_ids: AbstractSet[str],
        max_queue: int,
    ) -> None:
        self.user_id = user_id
        self.role = Role(role)  # also sets is_customer
        self.name = name
        self.session_id = session_id
        self.queue_ids = queue_ids
        self.subs: dict[str, Subscription] = {}
        self.close_code: int | None = None
        self.close_reason = ""
        # Made when a frame comes and dropped once written: an idle connection keeps none.
        # A frame is a dict, or bytes already encoded (an event encoded once for everyone).
        self._frames: deque[dict[str, Any] | bytes] | None = None
        self._max = max_queue

    @property
    def role(self) -> Role:
        return self._role

    @role.setter
    def role(self, role: Role) -> None:
        # Asked for every event delivered: plain attributes, not enum properties.
        self._role = role
        self.is_customer = role is Role.customer
        self._sees_all = role.sees_all or self.is_customer

    def send(self, frame: dict[str, Any] | bytes) -> None:
        if self.close_code is not None:
            return
        frames = self._frames
        if frames is None:
            frames = self._frames = deque()
        elif len(frames) >= self._max:
            self.close(CLOSE_SLOW, "too slow; reconnect and resume", drop=True)
            return
        frames.append(frame)
        self._wake()

    def close(self, code: int, reason: str, *, drop: bool = False) -> None:
        """Close after the frames already queued (an error frame explains the close), or at
        once with `drop` (a consumer too slow to drain them resumes by seq)."""
        if self.close_code is not None:
            return
        self.close_code = code
        self.close_reason = reason
        if drop:
            self._frames = None
        self._wake()

    def _wake(self) -> None:
        """Frames or a close are pending: the gateway's subclass starts its writer here."""

    def next_frames(self, limit: int = 256) -> list[dict[str, Any] | bytes]:
        """Every frame waiting (up to `limit`), in order; empty once none is left. The writer
        sends them together (one TCP write where it can)."""
        frames = self._frames
        if not frames:
            self._frames = None
            return []
        if len(frames) <= limit:
            self._frames = None
            return list(frames)
        return [frames.popleft() for _ in range(limit)]

    def put_back(self, frames: Sequence[dict[str, Any] | bytes]) -> None:
        """Frames taken by `next_frames` but not written: first again, in their order."""
        rest = self._frames
        self._frames = deque(frames)
        if rest:
            self._frames.extend(rest)

    def has_pending(self) -> bool:
        return bool(self._frames)

    def sees(self, sub: Subscription) -> bool:
        if self._sees_all:
            return True
        return sub.queue_id in self.queue_ids or sub.agent_id == self.user_id


class Hub:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.topics: dict[str, set[Connection]] = defaultdict(set)
        self.connections: set[Connection] = set()
        # Connections with a subscription: what the periodic gap check walks. Idle ones (most,
        # with many connections held) have none, and walking all 19,700 of scenario 3's held
        # the loop ~7 ms every 2 s (docs/performance.md, 6 December 2026).
        self.subscribed: set[Connection] = set()
        self._users: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()
        self._refreshing: set[str] = set()
        self._refresh_again: set[str] = set()
        # Customers' subscriptions here by their chat's queue: whether a queue's news moves
        # anyone's position here, without walking every connection for each such news.
        self._customer_subs: Counter[str] = Counter()
        # Users whose access is being re-read, and why it was asked for again meanwhile.
        self._reloading: set[str] = set()
        self._reload_again: dict[str, str] = {}
        self.delivered = 0
        self.repairs = 0  # database reads to fill gaps, for tests and diagnostics
        self.opened = 0  # connections ever registered: their rate moves the collector's policy
        # The last event encoded, per audience (customer or not): its recipients follow one
        # another, so each event is encoded once for all of them (None: internal, not shown).
        self._encoded: tuple[dict[str, Any] | None, dict[bool, bytes | None]] = (None, {})

    # --- registry -----------------------------------------------------------------------------

    def register(self, conn: Connection) -> None:
        self.connections.add(conn)
        self.opened += 1
        self._users[conn.user_id] += 1
        metrics.ws_connections.inc()
        for topic in self._base_topics(conn):
            self.topics[topic].add(conn)

    def _base_topics(self, conn: Connection) -> list[str]:
        topics = [f"user:{conn.user_id}", f"session:{conn.session_id}"]
        topics += [f"queue:{q}" for q in conn.queue_ids]
        if conn.role.sees_all:
            topics += ["supervisors", "agents"]
        return topics

    def unregister(self, conn: Connection) -> None:
        if conn in self.connections:
            metrics.ws_connections.dec()
            self._users[conn.user_id] -= 1
            if self._users[conn.user_id] <= 0:
                del self._users[conn.user_id]
        self.connections.discard(conn)
        self.subscribed.discard(conn)
        for topic in self._base_topics(conn) + [f"chat:{c}" for c in conn.subs]:
            self._drop(topic, conn)
        for sub in conn.subs.values():
            self._count(conn, sub.queue_id, -1)
        conn.subs.clear()

    def _count(self, conn: Connection, queue_id: str, n: int) -> None:
        if conn.is_customer:
            counts = self._customer_subs
            counts[queue_id] += n
            if counts[queue_id] <= 0:
                del counts[queue_id]

    def _drop(self, topic: str, conn: Connection) -> None:
        members = self.topics.get(topic)
        if members is not None:
            members.discard(conn)
            if not members:
                del self.topics[topic]

    def set_access(
        self, conn: Connection, role: Role, queue_ids: AbstractSet[str], reason: str
    ) -> None:
        """The user's role or queues changed: move the connection to the topics of its new
        access and end every subscription it may no longer see, saying `reason`."""
        if conn not in self.connections:
            return
        if role.is_staff == conn.is_customer:
            conn.close(CLOSE_ROLE_CHANGED, reason)
            return
        before = set(self._base_topics(conn))
        conn.role = role
        conn.queue_ids = queue_ids
        after = set(self._base_topics(conn))
        for topic in before - after:
            self._drop(topic, conn)
        for topic in after - before:
            self.topics[topic].add(conn)
        for sub in list(conn.subs.values()):
            if not conn.sees(sub):
                self._lose(conn, sub.chat_id, reason)

    def _lose(self, conn: Connection, chat_id: str, reason: str) -> None:
        self.unsubscribe(conn, chat_id)
        conn.send({"type": "unsubscribed", "chat_id": chat_id, "reason": reason})

    def connected_users(self) -> set[str]:
        return set(self._users)

    def is_connected(self, user_id: str) -> bool:
        return user_id in self._users

    def connections_of(self, user_id: str) -> int:
        return self._users.get(user_id, 0)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for conn in list(self.connections):
            conn.close(1012, "server restarting")

    # --- subscriptions ------------------------------------------------------------------------

    async def subscribe(self, conn: Connection, row: repo.ChatRow, after: int) -> None:
        """Listen first, then replay from the database, so nothing falls in between."""
        chat = row.chat
        old = conn.subs.get(chat.id)
        if old is not None:
            after = min(after, old.last_seq)
        sub = Subscription(
            chat_id=chat.id,
            last_seq=after,
            queue_id=chat.queue_id,
            agent_id=chat.agent_id,
            status=chat.status,
        )
        if old is not None:
            self._count(conn, old.queue_id, -1)
        conn.subs[chat.id] = sub
        if conn in self.connections:
            self.subscribed.add(conn)
        self._count(conn, sub.queue_id, 1)
        self.topics[f"chat:{chat.id}"].add(conn)
        await self._fill(conn, sub, replay=True)
        sub.ready = True
        conn.send({"type": "subscribed", "chat_id": chat.id, "last_seq": sub.last_seq})
        if conn.is_customer and sub.status == ChatStatus.waiting:
            await self._send_position(conn, sub)

    def unsubscribe(self, conn: Connection, chat_id: str) -> None:
        sub = conn.subs.pop(chat_id, None)
        if sub is not None:
            self._count(conn, sub.queue_id, -1)
        if not conn.subs:
            self.subscribed.discard(conn)
        self._drop(f"chat:{chat_id}", conn)

    async def _fill(self, conn: Connection, sub: Subscription, *, replay: bool = False) -> None:
        """Read what is missing from the database, then drain what the bus brought meanwhile.
        `replay`: a new subscription catching up (its events counted, not timed, as delivered);
        otherwise a repair of live news the bus lost or delayed (timed)."""
        sub.repairing = True
        try:
            while True:
                async with self.db.read() as session:
                    rows = await repo.events_after(session, sub.chat_id, sub.last_seq)
                for r in rows:
                    self._emit(conn, sub, ev_mod.envelope(r), r.internal, replay=replay)
                self._drain_held(conn, sub)
                # What is still held lies beyond a gap: read again (unless the chat was dropped).
                if not sub.held or conn.subs.get(sub.chat_id) is not sub:
                    return
        finally:
            sub.repairing = False

    def _offer(
        self, conn: Connection, sub: Subscription, env: dict[str, Any], internal: bool
    ) -> None:
        if not sub.ready or sub.repairing:
            sub.held.append((env, internal))
            return
        seq = int(env["seq"])
        if seq <= sub.last_seq:
            return
        if seq == sub.last_seq + 1:
            self._emit(conn, sub, env, internal)
            if sub.held:
                self._drain_held(conn, sub)
            return
        sub.held.append((env, internal))
        if not sub.repair_due:
            sub.repair_due = True
            loop = asyncio.get_running_loop()
            loop.call_later(REORDER_GRACE_S, self._repair_if_still_behind, conn, sub)

    def _drain_held(self, conn: Connection, sub: Subscription) -> None:
        """Send what was held and now follows on; keep what is still beyond a gap."""
        held, sub.held = sorted(sub.held, key=lambda item: int(item[0]["seq"])), []
        for env, internal in held:
            seq = int(env["seq"])
            if seq <= sub.last_seq:
                continue
            if seq == sub.last_seq + 1 and conn.subs.get(sub.chat_id) is sub:
                self._emit(conn, sub, env, internal)
            else:
                sub.held.append((env, internal))

    def _repair_if_still_behind(self, conn: Connection, sub: Subscription) -> None:
        sub.repair_due = False
        if sub.held and conn.subs.get(sub.chat_id) is sub:
            self._spawn(self._repair(conn, sub))

    async def _repair(self, conn: Connection, sub: Subscription) -> None:
        if sub.repairing or conn.subs.get(sub.chat_id) is not sub:
            return
        self.repairs += 1
        metrics.delivery_repairs_total.inc()
        try:
            await self._fill(conn, sub)
        except Exception:
            log.exception(
                "repair failed; closing so the client resumes", extra={"chat_id": sub.chat_id}
            )
            conn.close(1011, "repair failed")

    def _emit(
        self,
        conn: Connection,
        sub: Subscription,
        env: dict[str, Any],
        internal: bool,
        *,
        replay: bool = False,
    ) -> None:
        if not conn.sees(sub):
            # Checked before the frame is queued: access taken away is never written after.
            self._lose(conn, sub.chat_id, NOT_VISIBLE)
            return
        sub.last_seq = int(env["seq"])
        self._track(conn, sub, env)
        text = self._encode(env, internal, conn.is_customer)
        if text is not None:
            conn.send(text)
            self.delivered += 1
            metrics.observe_delivery(env["at"], replayed=replay)
        if conn.is_customer and env["type"] == "chat.requeued":
            # Back in the queue: the customer hears their position again, even the same one.
            sub.position = None
            self._spawn(self._send_position(conn, sub))
        if not conn.sees(sub):
            # The chat moved away from this agent: they saw it go, and hear no more of it.
            self._lose(conn, sub.chat_id, NOT_VISIBLE)

    def _encode(self, env: dict[str, Any], internal: bool, customer: bool) -> bytes | None:
        """The event frame as this audience sees it, encoded once per event and audience."""
        held, texts = self._encoded
        if held is not env:
            texts = {}
            self._encoded = (env, texts)
        elif customer in texts:
            return texts[customer]
        shown = ev_mod.for_customer(env, internal) if customer else env
        text = None if shown is None else encode_frame({"type": "event", "event": shown})
        texts[customer] = text
        # Most events look the same to both audiences (a message): encoded once for both.
        if shown is env and (customer or ev_mod.for_customer(env, internal) is env):
            texts[not customer] = text
        return text

    def _track(self, conn: Connection, sub: Subscription, env: dict[str, Any]) -> None:
        data = env.get("data") or {}
        match env["type"]:
            case "chat.accepted":
                sub.status = ChatStatus.in_progress
                sub.agent_id = (data.get("agent") or {}).get("id")
            case "chat.transferred":
                sub.agent_id = (data.get("to_agent") or {}).get("id")
            case "chat.requeued":
                sub.status = ChatStatus.waiting
                sub.agent_id = None
            case "chat.moved":
                sub.status = ChatStatus.waiting
                self._count(conn, sub.queue_id, -1)  # a customer's position moves with it
                sub.queue_id = data.get("to_queue_id", sub.queue_id)
                self._count(conn, sub.queue_id, 1)
                sub.agent_id = None
            case "chat.solved":
                sub.status = ChatStatus.solved
            case "chat.cancelled":
                sub.status = ChatStatus.cancelled
            case "chat.expired":
                sub.status = ChatStatus.expired

    # --- bus listener -------------------------------------------------------------------------

    def wants(self, topic: str) -> bool:
        """Whether `on_message` would act: the topic has connections here, or it is a queue
        some customer here is subscribed in (their positions move)."""
        if self.topics.get(topic):
            return True
        return topic.startswith("queue:") and self._positions_here(topic.removeprefix("queue:"))

    def on_message(self, topic: str, message: BusMessage) -> None:
        """The one dispatcher: each kind of news has its handler (`_HANDLERS`), given the
        topic's connections here. News on a queue may also move customers' positions."""
        handler = _HANDLERS.get(type(message))
        if handler is None:
            return
        conns = self.topics.get(topic)
        if conns:
            handler(self, topic, list(conns), message)
        if topic.startswith("queue:"):
            self._schedule_positions(topic.removeprefix("queue:"))

    def _on_event(self, topic: str, conns: list[Connection], news: EventPosted) -> None:
        env = news.event
        for conn in conns:
            sub = conn.subs.get(env["chat_id"])
            if sub is not None:
                self._offer(conn, sub, env, news.internal)

    def _on_typing(self, topic: str, conns: list[Connection], news: Typing) -> None:
        user = news.user
        frame = {
            "type": "typing",
            "chat_id": news.chat_id,
            "user": {"id": user["id"], "name": user["name"]},
            "active": news.active,
        }
        for conn in conns:
            if conn.user_id == user["id"] or news.chat_id not in conn.subs:
                continue
            if conn.is_customer and user.get("role") == Role.customer:
                continue
            conn.send(frame)

    def _on_read(self, topic: str, conns: list[Connection], news: ReadMoved) -> None:
        """On the chat: the other side's subscribers hear how far this side read. On the
        reader's user topic: their own connections hear it (`own`), subscribed or not."""
        frame = {"type": "read", "chat_id": news.chat_id, "role": news.role, "seq": news.seq}
        if topic.startswith("user:"):
            _send_all(conns, {**frame, "own": True})
            return
        for conn in conns:
            if conn.user_id == news.user_id or news.chat_id not in conn.subs:
                continue
            if (news.role == "customer") != conn.is_customer:
                conn.send(frame)

    def _on_offered(self, topic: str, conns: list[Connection], news: ChatOffered) -> None:
        if topic.startswith("user:"):  # assign mode: to this agent alone
            _send_all(conns, {"type": "chat.offered", "chat": news.chat})
        elif topic.startswith("queue:"):
            staff = _staff(conns)
            if staff:
                self._spawn(self._offer_eligible(staff, news.chat))

    def _on_listed(
        self, topic: str, conns: list[Connection], news: ChatQueued | ChatUpdated
    ) -> None:
        if topic.startswith("queue:") or topic == "supervisors":
            _send_all(_staff(conns), {"type": "chat.updated", "chat": news.chat})

    def _on_taken(self, topic: str, conns: list[Connection], news: ChatTaken) -> None:
        if topic.startswith("queue:"):
            staff = _staff(conns)
            _send_all(
                staff, {"type": "chat.taken", "chat_id": news.chat["id"], "agent": news.agent}
            )
            _send_all(staff, {"type": "chat.updated", "chat": news.chat})

    def _on_assigned(self, topic: str, conns: list[Connection], news: ChatAssigned) -> None:
        if topic.startswith("user:"):
            staff = _staff(conns)
            if staff:
                self._spawn(self._send_assigned(staff, news.chat))

    async def _send_assigned(self, conns: list[Connection], chat: dict[str, Any]) -> None:
        """A chat handed to this agent: the chat with its whole history (staff see all of
        it), read once for all their connections here."""
        try:
            async with self.db.read() as session:
                rows = await repo.events_after(session, chat["id"], 0)
        except Exception:
            log.exception("reading a handed-over chat failed", extra={"chat_id": chat["id"]})
            rows = []
        frame = {
            "type": "chat.assigned",
            "chat": chat,
            "events": [ev_mod.envelope(r) for r in rows],
        }
        _send_all(conns, frame)

    def _on_withdrawn(self, topic: str, conns: list[Connection], news: ChatWithdrawn) -> None:
        if topic.startswith(("queue:", "user:")):
            _send_all(_staff(conns), {"type": "chat.withdrawn", "chat_id": news.chat_id})

    def _on_status(self, topic: str, conns: list[Connection], news: StatusChanged) -> None:
        for conn in conns:
            conn.send({"type": "status", "status": news.status})
            if news.status == "available" and not conn.is_customer:
                self._spawn(self._reoffer(conn))

    def _on_agent_status(self, topic: str, conns: list[Connection], news: AgentStatus) -> None:
        if topic == "agents":
            frame = {"type": "agent.status", "user_id": news.user_id, "status": news.status}
            _send_all(conns, frame)

    def _on_sla_warning(self, topic: str, conns: list[Connection], news: SlaWarning) -> None:
        """Staff who may see the chat, once each: supervisors and admins by `supervisors`,
        the queue's members by the queue, the chat's agent from outside the queue by user."""
        to = _warned(topic, conns, news.queue_id)
        _send_all(to, {"type": "sla.warning", "chat_id": news.chat_id, "due_at": news.due_at})

    def _on_request_sla_warning(
        self, topic: str, conns: list[Connection], news: RequestSlaWarning
    ) -> None:
        """Staff who may see the request, once each, as for a chat: the team's members, the
        assignee from outside the team, supervisors and admins."""
        frame = {
            "type": "sla.warning",
            "request_id": news.request_id,
            "reference": news.reference,
            "target": news.target,
            "due_at": news.due_at,
        }
        _send_all(_warned(topic, conns, news.team_id), frame)

    def _on_close(self, topic: str, conns: list[Connection], news: CloseConnections) -> None:
        for conn in conns:
            conn.close(CLOSE_SIGNED_OUT, news.reason)

    def on_resync(self) -> None:
        """The bus may have dropped news: re-read every subscription from the database, and
        offer agents again what is waiting for them (offers lost meanwhile are not in any
        chat's log)."""
        for conn in list(self.connections):
            for sub in list(conn.subs.values()):
                if sub.ready:
                    self._spawn(self._repair(conn, sub))
            if not conn.is_customer:
                self._spawn(self._reoffer(conn))
        for queue_id in {s.queue_id for c in self.connections for s in c.subs.values()}:
            self._schedule_positions(queue_id)

    async def check_gaps(self, settle_s: float = 0.5) -> int:
        """The periodic check: news another process failed to publish (its Redis link was down)
        reaches nobody's bus, so compare what each subscription delivered with the database and
        repair what is behind. Chats changed in the last `settle_s` are left to the next check:
        under load their latest news is normally still on its way, and the next event would
        show a real gap anyway. One indexed query per 500 subscribed chats."""
        behind = 0
        by_chat: dict[str, list[tuple[Connection, Subscription]]] = defaultdict(list)
        for conn in list(self.subscribed):
            for sub in conn.subs.values():
                if sub.ready and not sub.repairing:
                    by_chat[sub.chat_id].append((conn, sub))
        ids = list(by_chat)
        settled = now() - timedelta(seconds=settle_s)
        for start in range(0, len(ids), 500):
            async with self.db.read() as session:
                latest = await repo.last_seqs(session, ids[start : start + 500])
            for chat_id, (last, changed_at) in latest.items():
                if changed_at > settled:
                    continue
                for conn, sub in by_chat[chat_id]:
                    if last > sub.last_seq and conn.subs.get(chat_id) is sub:
                        behind += 1
                        self._spawn(self._repair(conn, sub))
        return behind

    async def _offer_eligible(self, conns: list[Connection], chat: dict[str, Any]) -> None:
        """Broadcast mode: only agents available and below their limit are offered the chat;
        the others only see the list change."""
        try:
            async with self.db.read() as session:
                ok = await routing.eligible_for_offer(
                    UnitOfWork(session), chat["queue_id"], list({c.user_id for c in conns})
                )
        except Exception:
            log.exception("offer eligibility check failed")
            ok = set()
        # Access may have been taken away while the database answered.
        members = self.topics.get(f"queue:{chat['queue_id']}", set())
        offered: list[Connection] = []
        updated: list[Connection] = []
        for conn in conns:
            if conn in members:
                (offered if conn.user_id in ok else updated).append(conn)
        _send_all(offered, {"type": "chat.offered", "chat": chat})
        _send_all(updated, {"type": "chat.updated", "chat": chat})

    async def _reoffer(self, conn: Connection) -> None:
        """An agent became available: offer what is waiting for them now."""
        try:
            async with self.db.read() as session:
                uow = UnitOfWork(session)
                user = await accounts.get_user(uow, conn.user_id)
                if user is None:
                    return
                offers = await routing.waiting_offers(uow, user)
        except Exception:
            log.exception("re-offer failed")
            return
        for chat in offers:
            conn.send({"type": "chat.offered", "chat": chat})

    def _on_access(self, topic: str, conns: list[Connection], news: AccessChanged) -> None:
        """A user's access changed (committed): take away at once what the news names, then
        settle from the database, which also grants what was added."""
        reason = news.reason
        removed = frozenset(news.queues_removed)
        role = Role(news.role) if news.role else None
        for conn in conns:
            self.set_access(conn, role or conn.role, conn.queue_ids - removed, reason)
        for user_id in {c.user_id for c in conns}:
            if user_id in self._reloading:
                self._reload_again[user_id] = reason
                continue
            self._reloading.add(user_id)
            self._spawn(self._reload_access(user_id, reason))

    async def _reload_access(self, user_id: str, reason: str) -> None:
        """Read the user's role, activity and queues (once per user, however many of their
        connections this process holds), and apply them; again if news came meanwhile."""
        try:
            while True:
                async with self.db.read() as session:
                    uow = UnitOfWork(session)
                    user = await accounts.get_user(uow, user_id)
                    staff = user is not None and user.role_enum.is_staff
                    ids = frozenset(await queues.member_queue_ids(uow, user_id) if staff else ())
                for conn in list(self.topics.get(f"user:{user_id}", ())):
                    if user is None or not user.active:
                        conn.close(CLOSE_SIGNED_OUT, "deactivated")
                    else:
                        self.set_access(conn, user.role_enum, ids, reason)
                if user_id not in self._reload_again:
                    return
                reason = self._reload_again.pop(user_id)
        except Exception:
            log.exception("reloading a user's access failed", extra={"user_id": user_id})
        finally:
            self._reloading.discard(user_id)
            self._reload_again.pop(user_id, None)

    # --- queue positions ----------------------------------------------------------------------

    def _positions_here(self, queue_id: str) -> bool:
        """Whether a customer here has a chat in the queue (its news may move their place)."""
        return bool(self._customer_subs.get(queue_id))

    def _schedule_positions(self, queue_id: str) -> None:
        if not self._positions_here(queue_id):
            return
        if queue_id in self._refreshing:
            self._refresh_again.add(queue_id)
            return
        self._refreshing.add(queue_id)
        self._spawn(self._refresh_positions(queue_id))

    async def _refresh_positions(self, queue_id: str) -> None:
        try:
            while True:
                self._refresh_again.discard(queue_id)
                await self._positions_once(queue_id)
                if queue_id not in self._refresh_again:
                    return
        except Exception:
            log.exception("queue position refresh failed")
        finally:
            self._refreshing.discard(queue_id)

    async def _positions_once(self, queue_id: str) -> None:
        async with self.db.read() as session:
            uow = UnitOfWork(session)
            waiting = await repo.waiting_in_queue(session, queue_id)
            positions = {c.id: i + 1 for i, c in enumerate(waiting)}
            estimates: dict[int, int | None] = {}
            for conn in list(self.connections):
                if not conn.is_customer:
                    continue
                for sub in conn.subs.values():
                    pos = positions.get(sub.chat_id)
                    if pos is None or sub.queue_id != queue_id:
                        continue
                    if pos not in estimates:
                        estimates[pos] = await routing.estimate_wait(uow, queue_id, pos)
                    self._position_frame(conn, sub, pos, estimates[pos])

    async def _send_position(self, conn: Connection, sub: Subscription) -> None:
        async with self.db.read() as session:
            row = await repo.get_row(session, sub.chat_id)
            if row is None or row.chat.status != ChatStatus.waiting:
                return
            pos, est = await routing.waiting_info(UnitOfWork(session), row.chat)
        if pos is not None:
            self._position_frame(conn, sub, pos, est)

    @staticmethod
    def _position_frame(conn: Connection, sub: Subscription, pos: int, est: int | None) -> None:
        if sub.position == (pos, est):
            return
        sub.position = (pos, est)
        conn.send(
            {
                "type": "queue.position",
                "chat_id": sub.chat_id,
                "position": pos,
                "estimated_wait_s": est,
            }
        )


def _staff(conns: list[Connection]) -> list[Connection]:
    return [c for c in conns if not c.is_customer]


def _warned(topic: str, conns: list[Connection], queue_id: str) -> list[Connection]:
    """Who takes a service-level warning from `topic`: supervisors and admins from
    `supervisors`, members from the queue, the handler from outside the queue by user."""
    if topic == "supervisors":
        return _staff(conns)
    if topic.startswith("queue:"):
        return [c for c in _staff(conns) if not c.role.sees_all]
    if topic.startswith("user:"):
        return [c for c in _staff(conns) if not c.role.sees_all and queue_id not in c.queue_ids]
    return []


def _send_all(conns: list[Connection], frame: dict[str, Any]) -> None:
    """The frame to each of them, encoded once for all (a queue's news goes to its agents)."""
    if len(conns) > 1:
        text = encode_frame(frame)
        for conn in conns:
            conn.send(text)
    elif conns:
        conns[0].send(frame)


# A Hub method taking (topic, the topic's connections here, news of its kind).
_Handler = Callable[[Hub, str, list[Connection], Any], None]
_HANDLERS: dict[type[BusMessage], _Handler] = {
    EventPosted: Hub._on_event,
    Typing: Hub._on_typing,
    ReadMoved: Hub._on_read,
    ChatOffered: Hub._on_offered,
    ChatQueued: Hub._on_listed,
    ChatUpdated: Hub._on_listed,
    ChatTaken: Hub._on_taken,
    ChatAssigned: Hub._on_assigned,
    SlaWarning: Hub._on_sla_warning,
    RequestSlaWarning: Hub._on_request_sla_warning,
    ChatWithdrawn: Hub._on_withdrawn,
    StatusChanged: Hub._on_status,
    AgentStatus: Hub._on_agent_status,
    CloseConnections: Hub._on_close,
    AccessChanged: Hub._on_access,
}
