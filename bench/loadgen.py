"""Load generator: drives Helpline (or the baseline relay) through the public contract.

A run has C chats; each chat is a pair of WebSocket connections, a customer's and an agent's.
Both sides send `{"type":"message",...}` frames on a fixed schedule (R messages/s per chat in
all, half from each side) for D seconds. Latency is measured from the moment a frame is sent
to the moment the *other* side of the chat receives the matching `message.posted` event
(matched by `client_id`). Server CPU and RSS are read with psutil from the server's pids.

Setting Helpline up uses only the public HTTP API (see ARCHITECTURE.md): the admin creates a
bench queue and bench agents with a high `max_chats`; each customer signs in as a guest and
starts a chat; an agent accepts it. Everything is bounded: connections, counts and time.

Used by bench/run.py; usable alone against a running server:

    python bench/loadgen.py --url http://127.0.0.1:8000 --chats 20 --rate 5 --duration 10
    python bench/loadgen.py --relay ws://127.0.0.1:8765 --chats 20 --rate 5 --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import math
import os
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, TypeVar

import httpx
import psutil  # type: ignore[import-untyped]
from orjson import dumps, loads
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

import wsclient
from wsclient import LeanWebSocket

API = "/api/v1"
T = TypeVar("T")
A = TypeVar("A")


# -- measuring processes --------------------------------------------------------------------


class ProcMeter:
    """CPU seconds and RSS of some processes and their children (e.g. uvicorn workers)."""

    def __init__(self, pids: Iterable[int], *, children: bool = True) -> None:
        self.procs: list[psutil.Process] = []
        for pid in pids:
            with contextlib.suppress(psutil.Error):
                p = psutil.Process(pid)
                self.procs.append(p)
                if children:
                    self.procs.extend(p.children(recursive=True))
        self._t0 = 0.0
        self._cpu0 = 0.0
        self._wait0 = 0.0
        self._main_wait0 = 0.0
        self.peak_rss = 0

    def _cpu(self) -> float:
        total = 0.0
        for p in self.procs:
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                total += t.user + t.system
        return total

    def _waited(self, *, main: bool = False) -> float:
        """Seconds their threads (`main`: their main threads, a server's event loop) were
        ready to run and waited for a free CPU (Linux's per-thread schedstat; 0 elsewhere).
        Threads gone since are not counted."""
        total = 0
        for p in self.procs:
            with contextlib.suppress(OSError):
                for tid in [str(p.pid)] if main else os.listdir(f"/proc/{p.pid}/task"):
                    with contextlib.suppress(OSError, ValueError, IndexError):
                        with open(f"/proc/{p.pid}/task/{tid}/schedstat") as f:
                            total += int(f.read().split()[1])
        return total / 1e9

    def rss(self) -> int:
        total = 0
        for p in self.procs:
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        self.peak_rss = max(self.peak_rss, total)
        return total

    def start(self) -> None:
        self._t0 = time.perf_counter()
        self._cpu0 = self._cpu()
        self._wait0 = self._waited()
        self._main_wait0 = self._waited(main=True)
        self.peak_rss = self.rss()

    def cpu_percent(self) -> float:
        """CPU used since start(), in % of one core."""
        wall = time.perf_counter() - self._t0
        return 100.0 * (self._cpu() - self._cpu0) / wall if wall > 0 else 0.0

    def wait_percent(self, *, main: bool = False) -> float:
        """Time spent waiting for a CPU since start(), in % of the wall time (summed over the
        threads, or the main threads'): on a machine whose cores are all busy, every hop of a
        message can wait for one."""
        wall = time.perf_counter() - self._t0
        waited = self._waited(main=main) - (self._main_wait0 if main else self._wait0)
        return 100.0 * waited / wall if wall > 0 else 0.0


class StealMeter:
    """The share of the machine's CPU time its hypervisor gave to other guests (`steal` in
    /proc/stat) while a run lasted. On a shared virtual machine the same code measures
    differently from hour to hour; this says how much of that the host took."""

    def __init__(self) -> None:
        self._t0 = psutil.cpu_times()

    def percent(self) -> float:
        t1 = psutil.cpu_times()
        total = sum(t1) - sum(self._t0)
        steal = getattr(t1, "steal", 0.0) - getattr(self._t0, "steal", 0.0)
        return round(100.0 * steal / total, 1) if total > 0 else 0.0


STEAL_NOTE_PCT = 2.0  # above this the run says so beside its numbers


# -- results --------------------------------------------------------------------------------


async def watch_loop(lag: list[float], every_s: float = 0.005) -> None:
    """How late the generator's loop runs a timer, into `lag` (seconds) until cancelled: its
    own stalls (or a busy machine) inflate every latency it measures."""
    while True:
        t = time.perf_counter()
        await asyncio.sleep(every_s)
        lag.append(max(0.0, time.perf_counter() - t - every_s))


def percentiles_ms(samples: Sequence[float]) -> dict[str, float | None]:
    if not samples:
        return {"p50": None, "p90": None, "p99": None, "p999": None, "max": None, "mean": None}
    s = sorted(samples)

    def pct(q: float) -> float:
        return round(1000 * s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))], 3)

    return {
        "p50": pct(0.50),
        "p90": pct(0.90),
        "p99": pct(0.99),
        "p999": pct(0.999),
        "max": round(1000 * s[-1], 3),
        "mean": round(1000 * sum(s) / len(s), 3),
    }


@dataclass
class LoadResult:
    target: str
    chats: int
    connections: int
    rate_per_chat: float
    target_msgs_per_s: float
    duration_s: float
    senders: str = "customer"
    agent_sockets: str = "per-agent"
    text_size: int = 0
    load_average: float = 0.0  # the machine's 1-minute load average as the run started
    sent: int = 0
    delivered: int = 0
    duplicates: int = 0
    acked: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    disconnects: int = 0
    frames_received: dict[str, int] = field(default_factory=dict)
    msgs_per_s: float = 0.0
    delivery_ratio: float = 0.0
    latency_ms: dict[str, float | None] = field(default_factory=dict)
    ack_latency_ms: dict[str, float | None] = field(default_factory=dict)
    send_lag_ms: dict[str, float | None] = field(default_factory=dict)
    loadgen_loop_lag_ms: dict[str, float | None] = field(default_factory=dict)
    server_cpu_pct: float = 0.0
    server_rss_mb: float = 0.0
    server_rss_peak_mb: float = 0.0
    infra_cpu_pct: float | None = None
    loadgen_cpu_pct: float = 0.0
    steal_pct: float = 0.0  # the machine's CPU time taken by its hypervisor meanwhile (StealMeter)
    # Time ready to run but waiting for a free CPU, in % of the run (ProcMeter.wait_percent).
    server_cpu_wait_pct: float = 0.0
    server_loop_cpu_wait_pct: float = 0.0  # the servers' main threads: their event loops
    infra_cpu_wait_pct: float | None = None
    loadgen_cpu_wait_pct: float = 0.0
    # With `windows` (sizes in s): per window of the run, by size, the latency percentiles of
    # the messages sent in it and the servers' RSS at its end.
    windows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # about the generator: a run that fails
    server_notes: list[str] = field(default_factory=list)  # what the server itself saw
    client_sched: str = "other"  # how the generator (and a burst's driver) were scheduled

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class IdleResult:
    target: str
    connections: int
    rss_before_mb: float = 0.0
    rss_after_mb: float = 0.0
    rss_per_connection_kb: float = 0.0
    connect_s: float = 0.0
    pings: int = 0
    pongs: int = 0
    liveness_ms: dict[str, float | None] = field(default_factory=dict)
    server_cpu_pct: float = 0.0
    steal_pct: float = 0.0
    failed_connections: int = 0
    # The generator's own stalls while it pings (a 5 ms timer's lateness) and its collector's
    # pauses then: each delays the pongs it times as much as a stall of the server would.
    loadgen_loop_lag_ms: dict[str, float | None] = field(default_factory=dict)
    loadgen_gc_pauses_ms: dict[str, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- targets --------------------------------------------------------------------------------


@dataclass
class Side:
    ws_url: str
    headers: dict[str, str]
    after: int = 0  # resume from here, as a reconnecting client does (no full replay per step)


@dataclass
class Pair:
    chat_id: str
    customer: Side
    agent: Side
    # The agent serving the chat: with one socket per agent (a console), its chats share it.
    agent_key: str = ""


@dataclass
class Target:
    """What to drive. `kind` "helpline" (HTTP base URLs) or "relay" (a ws:// URL)."""

    name: str
    kind: str
    customer_base: str
    agent_base: str
    server_pids: list[int] = field(default_factory=list)
    infra_pids: list[int] = field(default_factory=list)

    def ws_url(self, base: str) -> str:
        if self.kind == "relay":
            return base
        return base.replace("http://", "ws://").replace("https://", "wss://") + API + "/ws"


async def map_limited(n: int, fn: Callable[[A], Awaitable[T]], items: Iterable[A]) -> list[T]:
    """fn(item) for every item, at most n at once, results in order."""
    sem = asyncio.Semaphore(n)

    async def one(item: A) -> T:
        async with sem:
            return await fn(item)

    return await asyncio.gather(*(one(item) for item in items))


class SetupError(RuntimeError):
    pass


def _check(resp: httpx.Response, what: str, ok: Iterable[int] = (200, 201)) -> Any:
    if resp.status_code not in set(ok):
        raise SetupError(f"{what}: HTTP {resp.status_code} {resp.text[:500]}")
    return resp.json()


class HelplineSetup:
    """Creates what a run needs through the public API, once per run (unique names)."""

    def __init__(
        self,
        customer_base: str,
        agent_base: str,
        *,
        admin_email: str = "admin@example.com",
        admin_password: str = "helpline-demo",
        per_agent: int = 50,
        concurrency: int = 16,
    ) -> None:
        self.customer_base = customer_base
        self.agent_base = agent_base
        self.admin_email = admin_email
        self.admin_password = admin_password
        self.per_agent = per_agent
        self.concurrency = concurrency
        self.run_id = uuid.uuid4().hex[:8]
        limits = httpx.Limits(
            max_connections=concurrency * 2, max_keepalive_connections=concurrency
        )
        # Bearer tokens only: a kept session cookie would make the server demand CSRF tokens.
        no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
        # trust_env=False: never route loopback traffic through a proxy from the environment.
        self.http = httpx.AsyncClient(
            timeout=30, limits=limits, trust_env=False, cookies=no_cookies
        )
        self.presence: list[ClientConnection] = []
        self._presence_readers: list[asyncio.Task[None]] = []
        self.presence_frames: dict[str, int] = {}
        self.retries: dict[str, int] = {}  # transient errors the setup had to retry
        self.queue_id: str | None = None
        self.shift_queue_id: str | None = None  # the queue of `create_agents`' agents

    async def aclose(self) -> None:
        await close_all(self.presence)
        for task in self._presence_readers:
            task.cancel()
        await self.http.aclose()

    async def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One API call; a transient `409 conflict` or `503` is retried (bounded) and counted."""
        for attempt in range(6):
            r = await self.http.request(method, url, **kwargs)
            transient = r.status_code == 503 or (r.status_code == 409 and '"conflict"' in r.text)
            if not transient or attempt == 5:
                return r
            key = f"{method} {url.rsplit(API, 1)[-1]} {r.status_code}"
            self.retries[key] = self.retries.get(key, 0) + 1
            await asyncio.sleep(0.01 * 2**attempt)
        raise AssertionError("unreachable")

    async def login(self, base: str, email: str, password: str) -> str:
        r = await self._call(
            "POST", base + API + "/auth/login", json={"email": email, "password": password}
        )
        return str(_check(r, f"login {email}")["token"])

    async def guest(self, i: int) -> str:
        r = await self._call(
            "POST",
            self.customer_base + API + "/auth/guest",
            json={"name": f"Bench Customer {i}", "email": f"bench-{self.run_id}-c{i}@example.com"},
        )
        return str(_check(r, "guest sign-in")["token"])

    async def _agents(self, n: int) -> list[str]:
        """Create n bench agents in a fresh bench queue, available; returns their tokens."""
        admin = await self.login(self.agent_base, self.admin_email, self.admin_password)
        h = {"Authorization": f"Bearer {admin}"}
        q = await self._call(
            "POST",
            self.agent_base + API + "/queues",
            headers=h,
            json={"name": f"Bench {self.run_id}", "description": "load test"},
        )
        self.queue_id = str(_check(q, "create queue")["id"])
        password = "bench-" + self.run_id + "-pw"

        async def make(i: int) -> str:
            r = await self._call(
                "POST",
                self.agent_base + API + "/users",
                headers=h,
                json={
                    "email": f"bench-{self.run_id}-a{i}@example.com",
                    "name": f"Bench Agent {i}",
                    "role": "agent",
                    "password": password,
                    "max_chats": self.per_agent,
                },
            )
            return str(_check(r, "create agent")["id"])

        ids = await map_limited(self.concurrency, make, range(n))
        r = await self._call(
            "PUT",
            self.agent_base + API + f"/queues/{self.queue_id}/members",
            headers=h,
            json={"user_ids": ids},
        )
        _check(r, "set queue members")

        async def sign_in(i: int) -> str:
            token = await self.login(
                self.agent_base, f"bench-{self.run_id}-a{i}@example.com", password
            )
            r = await self._call(
                "PUT",
                self.agent_base + API + "/me/status",
                headers={"Authorization": f"Bearer {token}"},
                json={"status": "available"},
            )
            _check(r, "set status")
            return token

        tokens = await map_limited(self.concurrency, sign_in, range(n))
        # One console tab per agent for the whole run, so nobody turns offline (grace period).
        for token in tokens:
            ws = await open_ws(
                Side(
                    self.agent_base.replace("http", "ws", 1) + API + "/ws",
                    {"Authorization": f"Bearer {token}"},
                )
            )
            self.presence.append(ws)
            self._presence_readers.append(asyncio.create_task(self._drain(ws)))
        return tokens

    async def create_agents(self, n: int, password: str, *, tag: str = "shift") -> list[str]:
        """n agents in a queue of their own, not signed in; their e-mails (scenario 5)."""
        admin = await self.login(self.agent_base, self.admin_email, self.admin_password)
        h = {"Authorization": f"Bearer {admin}"}
        q = await self._call(
            "POST",
            self.agent_base + API + "/queues",
            headers=h,
            json={"name": f"Bench {tag} {self.run_id}", "description": "load test"},
        )
        queue_id = self.shift_queue_id = str(_check(q, "create queue")["id"])
        emails = [f"bench-{self.run_id}-{tag}{i}@example.com" for i in range(n)]

        async def make(email: str) -> str:
            r = await self._call(
                "POST",
                self.agent_base + API + "/users",
                headers=h,
                json={"email": email, "name": email.split("@")[0], "role": "agent",
                      "password": password, "max_chats": self.per_agent},
            )  # fmt: skip
            return str(_check(r, "create agent")["id"])

        # Few at once: each creation hashes a password at the production cost.
        ids = await map_limited(4, make, emails)
        r = await self._call(
            "PUT",
            self.agent_base + API + f"/queues/{queue_id}/members",
            headers=h,
            json={"user_ids": ids},
        )
        _check(r, "set queue members")
        return emails

    async def _drain(self, ws: ClientConnection) -> None:
        """Read a console tab's frames (offers, taken, ...) and count them by type."""
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                kind = str(json.loads(raw).get("type"))
                self.presence_frames[kind] = self.presence_frames.get(kind, 0) + 1

    async def pairs(self, chats: int) -> list[Pair]:
        n_agents = max(1, math.ceil(chats / self.per_agent))
        agent_tokens = await self._agents(n_agents)
        assert self.queue_id is not None
        queue_id = self.queue_id

        async def start_chat(i: int) -> tuple[str, str]:
            token = await self.guest(i)
            r = await self._call(
                "POST",
                self.customer_base + API + "/chats",
                headers={"Authorization": f"Bearer {token}"},
                json={"queue_id": queue_id, "message": f"bench chat {i}"},
            )
            return str(_check(r, "start chat")["id"]), token

        started = await map_limited(self.concurrency, start_chat, range(chats))

        async def accept(i: int) -> None:
            chat_id = started[i][0]
            token = agent_tokens[i % n_agents]
            r = await self._call(
                "POST",
                self.agent_base + API + f"/chats/{chat_id}/accept",
                headers={"Authorization": f"Bearer {token}"},
            )
            _check(r, f"accept {chat_id}")

        await map_limited(self.concurrency, accept, range(chats))
        c_ws = self.customer_base.replace("http", "ws", 1) + API + "/ws"
        a_ws = self.agent_base.replace("http", "ws", 1) + API + "/ws"
        return [
            Pair(
                chat_id,
                Side(c_ws, {"Authorization": f"Bearer {ctoken}"}),
                Side(a_ws, {"Authorization": f"Bearer {agent_tokens[i % n_agents]}"}),
                agent_key=f"a{i % n_agents}",
            )
            for i, (chat_id, ctoken) in enumerate(started)
        ]

    async def guests(self, n: int) -> list[Side]:
        tokens = await map_limited(self.concurrency, self.guest, range(n))
        ws = self.customer_base.replace("http", "ws", 1) + API + "/ws"
        return [Side(ws, {"Authorization": f"Bearer {t}"}) for t in tokens]


def relay_pairs(ws_url: str, chats: int, per_agent: int = 3) -> list[Pair]:
    """The relay's chats, grouped by agent the way HelplineSetup.pairs groups Helpline's."""
    run = uuid.uuid4().hex[:8]
    n_agents = max(1, math.ceil(chats / per_agent))
    return [
        Pair(f"{run}-{i}", Side(ws_url, {}), Side(ws_url, {}), agent_key=f"a{i % n_agents}")
        for i in range(chats)
    ]


# -- the load -------------------------------------------------------------------------------


class Stats:
    def __init__(self) -> None:
        # client_id -> (perf_counter at send, sender connection id, after the warm-up)
        self.inflight: dict[str, tuple[float, int, bool]] = {}
        self.measure_from = math.inf
        self.ack_pending: dict[str, float] = {}
        self.latencies: list[float] = []
        self.latency_at: list[float] = []  # when each measured message was sent
        self.ack_latencies: list[float] = []
        self.send_lag: list[float] = []
        self.delivered: set[str] = set()
        self.sent = 0
        self.acked = 0
        self.duplicates = 0
        self.errors: dict[str, int] = {}
        self.disconnects = 0
        self.frames: dict[str, int] = {}  # frames received, by type: unexpected traffic shows
        self.all_delivered = asyncio.Event()
        self.sending_done = False
        self.closing = False

    def check_done(self) -> None:
        if self.sending_done and len(self.delivered) >= self.sent:
            self.all_delivered.set()


class Conn:
    """One WebSocket connection of the run, the chats it subscribes to, and its reader task.

    A customer's connection has one chat; an agent's has one (a socket per chat) or all the
    agent's chats (one socket per agent, as the console holds)."""

    _ids = itertools.count(1)

    def __init__(self, sides: dict[str, Side], stats: Stats) -> None:
        self.id = next(self._ids)
        self.ws: LeanWebSocket | None = None
        self.sides = sides  # chat_id -> where that chat resumes (its `after`)
        self.chat_ids = list(sides)
        self.stats = stats
        self.waiting = set(sides)  # chats not yet `subscribed`
        self.subscribed = asyncio.Event()
        self.reader: asyncio.Task[None] | None = None
        self.text = ""  # the message text, padded to the run's size

    async def open(self) -> None:
        first = next(iter(self.sides.values()))
        self.ws = await wsclient.connect(first.ws_url, first.headers, self.on_frame)

    def send(self, frame: dict[str, Any]) -> None:
        assert self.ws is not None
        self.ws.send(dumps(frame).decode())

    async def read(self) -> None:
        """Until the connection is gone (its frames go to `on_frame` as they arrive)."""
        assert self.ws is not None
        await self.ws.done
        if not self.stats.closing:
            self.stats.disconnects += 1  # the server closed it mid-run

    def on_frame(self, raw: bytes) -> None:
        now = time.perf_counter()
        stats = self.stats
        frame = loads(raw)
        kind = frame.get("type")
        stats.frames[kind] = stats.frames.get(kind, 0) + 1
        if kind == "event":
            ev = frame["event"]
            side = self.sides.get(ev.get("chat_id"))
            if side is not None and ev.get("seq", 0) > side.after:
                side.after = ev["seq"]
            if ev.get("type") != "message.posted":
                return
            cid = str((ev.get("data") or {}).get("client_id"))
            entry = stats.inflight.get(cid)
            if entry is None or entry[1] == self.id:
                return  # not ours, or the echo to the sender
            if cid in stats.delivered:
                stats.duplicates += 1
                return
            stats.delivered.add(cid)
            if entry[2]:
                stats.latencies.append(now - entry[0])
                stats.latency_at.append(entry[0])
                if TRACE is not None:
                    TRACE.append((cid, entry[0], now))
            if stats.sending_done:
                stats.check_done()
        elif kind == "ack":
            t = stats.ack_pending.pop(frame.get("client_id"), None)
            if t is not None:
                stats.acked += 1
                if t >= stats.measure_from:
                    stats.ack_latencies.append(now - t)
        elif kind == "error":
            code = str((frame.get("error") or {}).get("code", "unknown"))
            stats.errors[code] = stats.errors.get(code, 0) + 1
        elif kind == "subscribed" and frame.get("chat_id") in self.waiting:
            self.waiting.discard(frame["chat_id"])
            if not self.waiting:
                self.subscribed.set()

    def send_message(self, slot: int, n: int) -> None:
        """Message n of this connection's chat number `slot`."""
        client_id = f"b{self.id}x{slot}x{n}"
        now = time.perf_counter()
        # Sends during the warm-up count for delivery but not for latency.
        self.stats.inflight[client_id] = (now, self.id, now >= self.stats.measure_from)
        self.stats.ack_pending[client_id] = now
        self.stats.sent += 1
        self.send(
            {
                "type": "message",
                "chat_id": self.chat_ids[slot],
                "text": f"bench message {n} from {self.id}: {self.text}",
                "client_id": client_id,
            }
        )


def _text(size: int) -> str:
    """Filler for a message of about `size` characters (0: the short round-one text)."""
    base = "lorem ipsum dolor sit amet"
    if size <= len(base):
        return base
    return (base + " ") * (size // (len(base) + 1)) + base[: size % (len(base) + 1)]


async def open_ws(side: Side, *, max_queue: int | None = 64) -> ClientConnection:
    return await connect(
        side.ws_url,
        additional_headers=side.headers or None,
        compression=None,  # neither target gets compression: it would dominate CPU
        proxy=None,
        ping_interval=None,
        open_timeout=30,
        max_queue=max_queue,
        close_timeout=2,
    )


# How the generator's thread, and what it starts while it loads a server (scenario 5's burst
# driver), are scheduled (`bench/run.py --clients-sched`): "other", Linux's default, or "batch"
# (SCHED_BATCH), which never takes the CPU from the task running when it wakes. On this 2-core
# host every frame a server writes wakes its client at once, which then preempts the server's
# loop until it has read it (docs/performance.md, "What a write to a client on the same host
# costs"); clients on other machines do not. Servers keep the default either way: they are
# started outside the load.
CLIENT_SCHED = "other"

# `bench/run.py --trace`: each measured message's client_id, when it was sent and when the
# other side got it (perf_counter: the servers' traces use the same clock).
TRACE: list[tuple[str, float, float]] | None = None


@contextlib.contextmanager
def client_sched() -> Iterator[str]:
    if CLIENT_SCHED != "batch" or not hasattr(os, "SCHED_BATCH"):
        yield "other"
        return
    policy, param = os.sched_getscheduler(0), os.sched_getparam(0)
    os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    try:
        yield "batch"
    finally:
        os.sched_setscheduler(0, policy, param)


async def run_load(target: Target, pairs: Sequence[Pair], **kwargs: Any) -> LoadResult:
    """`_run_load` under the clients' scheduling policy (`CLIENT_SCHED`)."""
    with client_sched() as sched:
        result = await _run_load(target, pairs, **kwargs)
    result.client_sched = sched
    return result


async def _run_load(
    target: Target,
    pairs: Sequence[Pair],
    *,
    rate_per_chat: float,
    duration: float,
    senders: str = "customer",
    agent_sockets: str = "per-agent",
    text_size: int = 0,
    drain_s: float = 5.0,
    warmup_s: float = 1.0,
    connect_concurrency: int = 64,
    windows: Sequence[float] = (),
    on_ready: Callable[[], Awaitable[None]] | None = None,
) -> LoadResult:
    """Connect every pair, subscribe, send on schedule for `duration`, wait for stragglers.

    `senders`: "customer" (the outside view of issue 19: customers send, the agent side
    times), "agent", or "both" (each side half the rate: round one's scenarios).
    `agent_sockets`: "per-agent" (one socket per agent subscribed to all its chats, as the
    console does) or "per-chat" (one agent socket per chat: round one).
    Latency counts messages sent after the first `warmup_s` (at most a quarter of the run):
    connection set-up and cold caches are not what is measured. Delivery counts them all.
    `on_ready` is awaited once every connection is subscribed, just before the sending starts
    (scenario 5 starts its burst there, not during the connections' own set-up).
    """
    stats = Stats()
    chats = len(pairs)
    text = _text(text_size)

    async def open_conn(sides: dict[str, Side]) -> Conn:
        conn = Conn(sides, stats)
        conn.text = text
        await conn.open()
        return conn

    customers = await map_limited(
        connect_concurrency, open_conn, [{p.chat_id: p.customer} for p in pairs]
    )
    if agent_sockets == "per-agent":
        by_agent: dict[str, dict[str, Side]] = {}
        for p in pairs:
            by_agent.setdefault(p.agent_key or p.chat_id, {})[p.chat_id] = p.agent
        groups = list(by_agent.values())
    else:
        groups = [{p.chat_id: p.agent} for p in pairs]
    agents = await map_limited(connect_concurrency, open_conn, groups)
    conns = customers + agents
    result = LoadResult(
        target=target.name,
        chats=chats,
        connections=len(conns),
        rate_per_chat=rate_per_chat,
        target_msgs_per_s=rate_per_chat * chats,
        duration_s=duration,
    )
    result.senders, result.agent_sockets, result.text_size = senders, agent_sockets, text_size
    result.load_average = round(os.getloadavg()[0], 2)
    try:
        for c in conns:
            c.reader = asyncio.create_task(c.read())
            for chat_id, side in c.sides.items():
                c.send({"type": "subscribe", "chat_id": chat_id, "after": side.after})
        try:
            await asyncio.wait_for(
                asyncio.gather(*(c.subscribed.wait() for c in conns)), timeout=60
            )
        except TimeoutError:
            missing = sum(not c.subscribed.is_set() for c in conns)
            raise SetupError(f"{missing} connections got no 'subscribed' within 60 s") from None

        if on_ready is not None:
            await on_ready()
        meter = ProcMeter(target.server_pids)
        infra = ProcMeter(target.infra_pids) if target.infra_pids else None
        me = ProcMeter([os.getpid()], children=False)  # the servers may be our children
        meter.start()
        if infra:
            infra.start()
        me.start()
        steal = StealMeter()

        # Senders: per chat `rate_per_chat` in all, split between the sides, phases spread.
        side_conns: list[tuple[Conn, int, float]] = []
        for c in customers:
            if senders in ("both", "customer"):
                side_conns.append((c, 0, rate_per_chat / (2 if senders == "both" else 1)))
        for a in agents:
            if senders in ("both", "agent"):
                for slot in range(len(a.chat_ids)):
                    side_conns.append((a, slot, rate_per_chat / (2 if senders == "both" else 1)))
        t0 = time.perf_counter() + 0.5
        end = t0 + duration
        stats.measure_from = t0 + min(warmup_s, duration / 4)

        async def sender(conn: Conn, slot: int, rate: float) -> None:
            interval = 1.0 / rate
            phase = t0 + random.random() * interval  # spread the senders' phases
            k = 0
            while (t := phase + k * interval) < end:
                # A late sender still yields once a message, so the replies keep being read.
                await asyncio.sleep(max(0.0, t - time.perf_counter()))
                # How late this send is: a saturated generator would blame the server wrongly.
                stats.send_lag.append(max(0.0, time.perf_counter() - t))
                try:
                    conn.send_message(slot, k)
                except wsclient.Closed:
                    return
                k += 1

        rss_at: list[tuple[float, int]] = []  # (seconds since t0, servers' RSS)

        async def sample_rss() -> None:
            while True:
                await asyncio.sleep(0.5)
                rss_at.append((time.perf_counter() - t0, meter.rss()))

        loop_lag: list[float] = []

        sampler = asyncio.create_task(sample_rss())
        watcher = asyncio.create_task(watch_loop(loop_lag))
        # No cyclic GC pauses in the generator while it measures (the run is bounded), up to
        # the last delivery: the first collection after re-enabling walks every record the
        # sending kept (one a message: 1.8 million in the soak took 0.11 s on a quiet core),
        # and the messages still on their way would count that pause as theirs.
        gc.collect()
        gc.freeze()
        gc.disable()
        try:
            await asyncio.gather(*(sender(c, slot, r) for c, slot, r in side_conns))
            watcher.cancel()
            send_wall = time.perf_counter() - t0
            stats.sending_done = True
            stats.check_done()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stats.all_delivered.wait(), drain_s)
        finally:
            gc.enable()
            gc.unfreeze()
        sampler.cancel()
        result.server_cpu_pct = round(meter.cpu_percent(), 1)
        result.server_rss_mb = round(meter.rss() / 2**20, 1)
        result.server_rss_peak_mb = round(meter.peak_rss / 2**20, 1)
        result.infra_cpu_pct = round(infra.cpu_percent(), 1) if infra else None
        result.loadgen_cpu_pct = round(me.cpu_percent(), 1)
        result.steal_pct = steal.percent()
        result.server_cpu_wait_pct = round(meter.wait_percent(), 1)
        result.server_loop_cpu_wait_pct = round(meter.wait_percent(main=True), 1)
        result.infra_cpu_wait_pct = round(infra.wait_percent(), 1) if infra else None
        result.loadgen_cpu_wait_pct = round(me.wait_percent(), 1)
        result.sent = stats.sent
        result.delivered = len(stats.delivered)
        result.duplicates = stats.duplicates
        result.acked = stats.acked
        result.errors = dict(stats.errors)
        result.disconnects = stats.disconnects
        result.frames_received = dict(stats.frames)
        result.delivery_ratio = round(result.delivered / stats.sent, 6) if stats.sent else 0.0
        result.msgs_per_s = round(result.delivered / send_wall, 1) if send_wall > 0 else 0.0
        result.latency_ms = percentiles_ms(stats.latencies)
        result.ack_latency_ms = percentiles_ms(stats.ack_latencies)
        result.send_lag_ms = percentiles_ms(stats.send_lag)
        result.loadgen_loop_lag_ms = percentiles_ms(loop_lag)
        for size in windows:
            result.windows[f"{size:g}"] = _windows(stats, rss_at, t0, duration, size)
        dump = os.environ.get("BENCH_DUMP_LATENCIES")
        if dump:  # each measured message, for bench/timeline.py: when were the slow ones?
            path = f"{dump}.{datetime.now(UTC):%H%M%S}.json"
            with open(path, "w") as f:
                json.dump(
                    {
                        "t0": t0,
                        "t0_wall": time.time() - (time.perf_counter() - t0),
                        "at": stats.latency_at,
                        "lat": stats.latencies,
                    },
                    f,
                )
            result.notes.append(f"latencies in {path}")
        lag_p99 = result.send_lag_ms.get("p99")
        if lag_p99 is not None and lag_p99 > 20:
            result.notes.append(f"load generator late: send lag p99 {lag_p99} ms")
        if result.loadgen_cpu_pct > 85:
            # One Python process cannot use more than one core: past ~85 % its own queueing
            # shows in every latency it measures.
            result.notes.append(
                f"load generator near its limit: {result.loadgen_cpu_pct} % of a core"
            )
        stall = result.loadgen_loop_lag_ms.get("p99")
        if stall is not None and stall > 10:
            result.notes.append(f"generator loop stalled: lag p99 {stall} ms (busy machine?)")
        return result
    finally:
        stats.closing = True
        await asyncio.gather(*(c.ws.close() for c in conns if c.ws is not None))
        for c in conns:
            if c.reader is not None:
                c.reader.cancel()


def _windows(
    stats: Stats, rss_at: list[tuple[float, int]], t0: float, duration: float, window_s: float
) -> list[dict[str, Any]]:
    """Latency percentiles of the messages sent in each window, and the RSS at its end."""
    buckets: list[list[float]] = [[] for _ in range(max(1, math.ceil(duration / window_s)))]
    for lat, at in zip(stats.latencies, stats.latency_at, strict=True):
        i = min(len(buckets) - 1, max(0, int((at - t0) // window_s)))
        buckets[i].append(lat)
    out = []
    for i, b in enumerate(buckets):
        end = min(duration, (i + 1) * window_s)
        rss = [r for t, r in rss_at if t <= end]
        out.append(
            {
                "from_s": i * window_s,
                "to_s": end,
                "messages": len(b),
                **{k: v for k, v in percentiles_ms(b).items() if k in ("p50", "p99", "max")},
                "rss_mb": round(rss[-1] / 2**20, 1) if rss else None,
            }
        )
    return out


async def close_all(conns: Iterable[ClientConnection]) -> None:
    async def close(ws: ClientConnection) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), 3)

    await map_limited(256, close, conns)


async def run_idle(
    target: Target,
    sides: Sequence[Side],
    *,
    settle_s: float = 3.0,
    liveness_s: float = 10.0,
    sample: int = 200,
    connect_concurrency: int = 100,
    connected: Callable[[], Awaitable[None]] | None = None,
    measured: Callable[[], Awaitable[None]] | None = None,
) -> IdleResult:
    """Open len(sides) idle connections, then measure RSS per connection and ping latency.
    `connected` is awaited once they are all open (before the settling and the pings),
    `measured` after the pings, before the connections close.

    The generator's own stalls while it pings are measured too (a 5 ms timer's lateness, and
    its collector's pauses): a stall of the generator delays the pongs it times as much as a
    stall of the server would (6 December 2026: p99 ~1.2 ms, collections ≤ 3.5 ms at 19,700
    connections, so the ping's tail is the server's)."""
    result = IdleResult(target=target.name, connections=len(sides))
    meter = ProcMeter(target.server_pids)
    steal = StealMeter()
    await asyncio.sleep(settle_s)
    result.rss_before_mb = round(meter.rss() / 2**20, 1)
    t = time.perf_counter()

    async def open_one(side: Side) -> ClientConnection | None:
        try:
            return await open_ws(side, max_queue=16)
        except Exception:
            return None

    opened = await map_limited(connect_concurrency, open_one, sides)
    conns = [ws for ws in opened if ws is not None]
    result.failed_connections = len(sides) - len(conns)
    result.connect_s = round(time.perf_counter() - t, 2)
    if connected is not None:
        await connected()
    pongs: dict[int, asyncio.Future[float]] = {}

    async def reader(i: int, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                if '"pong"' in str(raw):
                    fut = pongs.pop(i, None)
                    if fut is not None and not fut.done():
                        fut.set_result(time.perf_counter())

    readers = [asyncio.create_task(reader(i, ws)) for i, ws in enumerate(conns)]
    loop_lag: list[float] = []
    gc_pauses: list[float] = []
    gc_started = [0.0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            gc_pauses.append(time.perf_counter() - gc_started[0])

    watcher: asyncio.Task[None] | None = None
    try:
        await asyncio.sleep(settle_s)
        result.rss_after_mb = round(meter.rss() / 2**20, 1)
        if conns:
            result.rss_per_connection_kb = round(
                (result.rss_after_mb - result.rss_before_mb) * 1024 / len(conns), 1
            )
        meter.start()
        watcher = asyncio.create_task(watch_loop(loop_lag))
        gc.callbacks.append(on_gc)
        lat: list[float] = []
        end = time.perf_counter() + liveness_s
        loop = asyncio.get_running_loop()
        while time.perf_counter() < end and conns:
            batch = random.sample(range(len(conns)), min(sample, len(conns)))
            waits = []
            for i in batch:
                fut: asyncio.Future[float] = loop.create_future()
                pongs[i] = fut
                sent_at = time.perf_counter()
                result.pings += 1
                with contextlib.suppress(ConnectionClosed):
                    await conns[i].send('{"type":"ping"}')
                waits.append((sent_at, fut))
                await asyncio.sleep(0.005)  # spread the pings: liveness, not a burst test
            for sent_at, fut in waits:
                with contextlib.suppress(TimeoutError):
                    got = await asyncio.wait_for(fut, 5)
                    lat.append(got - sent_at)
                    result.pongs += 1
        result.liveness_ms = percentiles_ms(lat)
        result.server_cpu_pct = round(meter.cpu_percent(), 1)
        result.steal_pct = steal.percent()  # from the first connection to the last ping
        result.loadgen_loop_lag_ms = percentiles_ms(loop_lag)
        result.loadgen_gc_pauses_ms = {**percentiles_ms(gc_pauses), "count": len(gc_pauses)}
        if measured is not None:
            await measured()
        return result
    finally:
        if watcher is not None:
            watcher.cancel()
        if on_gc in gc.callbacks:
            gc.callbacks.remove(on_gc)
        await close_all(conns)
        for r in readers:
            r.cancel()


# -- printing -------------------------------------------------------------------------------


def _fmt(v: float | None, nd: int = 2) -> str:
    return "-" if v is None else f"{v:.{nd}f}"


def print_load_table(rows: Sequence[LoadResult]) -> None:
    head = (
        f"{'target':<22} {'conns':>6} {'rate/s':>7} {'sent':>7} {'deliv%':>7} {'msg/s':>7} "
        f"{'p50ms':>7} {'p99ms':>7} {'p99.9':>7} {'maxms':>7} {'srvCPU%':>8} {'RSS MB':>7} "
        f"{'infCPU%':>8} {'genCPU%':>8} {'load':>5} {'steal%':>6}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        lat = r.latency_ms
        print(
            f"{r.target:<22} {r.connections:>6} {r.target_msgs_per_s:>7.0f} {r.sent:>7} "
            f"{100 * r.delivery_ratio:>7.2f} {r.msgs_per_s:>7.0f} {_fmt(lat.get('p50')):>7} "
            f"{_fmt(lat.get('p99')):>7} {_fmt(lat.get('p999')):>7} {_fmt(lat.get('max')):>7} "
            f"{r.server_cpu_pct:>8.1f} {r.server_rss_mb:>7.1f} "
            f"{_fmt(r.infra_cpu_pct, 1):>8} {r.loadgen_cpu_pct:>8.1f} {r.load_average:>5.2f} "
            f"{r.steal_pct:>6.1f}"
        )
        extra = []
        if r.errors:
            extra.append(f"errors={r.errors}")
        if r.duplicates:
            extra.append(f"duplicates={r.duplicates}")
        if r.disconnects:
            extra.append(f"disconnects={r.disconnects}")
        extra += r.notes + r.server_notes
        if r.client_sched != "other":
            extra.append(f"clients at SCHED_{r.client_sched.upper()}")
        if extra:
            print(f"{'':<22} " + "; ".join(extra))
        waits = [
            f"server {r.server_cpu_wait_pct} % (its event loop {r.server_loop_cpu_wait_pct} %)"
        ]
        if r.infra_cpu_wait_pct is not None:
            waits.append(f"PostgreSQL + Redis {r.infra_cpu_wait_pct} %")
        waits.append(f"generator {r.loadgen_cpu_wait_pct} %")
        print(f"{'':<22} waited for a free CPU: " + ", ".join(waits) + " of the run")


def print_idle_table(rows: Sequence[IdleResult]) -> None:
    head = (
        f"{'target':<22} {'conns':>6} {'failed':>6} {'RSS0 MB':>8} {'RSS1 MB':>8} {'KB/conn':>8} "
        f"{'ping p50':>9} {'ping p99':>9} {'srvCPU%':>8} {'genLag99':>8} {'genLagMax':>9}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r.target:<22} {r.connections:>6} {r.failed_connections:>6} {r.rss_before_mb:>8.1f} "
            f"{r.rss_after_mb:>8.1f} {r.rss_per_connection_kb:>8.1f} "
            f"{_fmt(r.liveness_ms.get('p50')):>9} {_fmt(r.liveness_ms.get('p99')):>9} "
            f"{r.server_cpu_pct:>8.1f} {_fmt(r.loadgen_loop_lag_ms.get('p99')):>8} "
            f"{_fmt(r.loadgen_loop_lag_ms.get('max')):>9}"
        )
        pauses = r.loadgen_gc_pauses_ms
        print(
            f"{'':<22} the generator's own collections while it pinged: "
            f"{pauses.get('count', 0)}, max {_fmt(pauses.get('max'))} ms"
        )
        if r.steal_pct > STEAL_NOTE_PCT:
            print(f"{'':<22} the hypervisor took {r.steal_pct} % of the machine (steal)")


# -- standalone use -------------------------------------------------------------------------


async def _main(args: argparse.Namespace) -> None:
    if args.relay:
        target = Target("relay", "relay", args.relay, args.relay, server_pids=args.pid or [])
        pairs = relay_pairs(args.relay, args.chats)
        result = await run_load(target, pairs, rate_per_chat=args.rate, duration=args.duration)
    else:
        target = Target("helpline", "helpline", args.url, args.url, server_pids=args.pid or [])
        setup = HelplineSetup(args.url, args.url)
        try:
            pairs = await setup.pairs(args.chats)
            result = await run_load(target, pairs, rate_per_chat=args.rate, duration=args.duration)
        finally:
            await setup.aclose()
    print_load_table([result])
    print(json.dumps(result.as_dict(), indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="Helpline base URL, e.g. http://127.0.0.1:8000")
    where.add_argument("--relay", help="relay URL, e.g. ws://127.0.0.1:8765")
    parser.add_argument("--chats", type=int, default=20)
    parser.add_argument("--rate", type=float, default=5.0, help="messages/s per chat")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--pid", type=int, action="append", help="server pid(s) to measure")
    asyncio.run(_main(parser.parse_args()))
