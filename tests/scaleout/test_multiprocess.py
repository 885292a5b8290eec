"""Two real server processes (A and B) on one PostgreSQL and one Redis.

Customers talk to one process and agents to the other, as behind a load balancer without
sticky sessions. The faults are real: Redis and PostgreSQL are stopped and started again, and
a server process is SIGKILLed. Each test is bounded by `asyncio.timeout`, and every wait polls
with a deadline: time bounds a test, it never decides one.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.fixtures.wsclient import WSClient
from tests.scaleout.clients import (
    Sockets,
    Talker,
    chat_across,
    readyz,
    send_all,
    wait_readyz,
)
from tests.scaleout.cluster import (
    API,
    Api,
    Cluster,
    HelplineProcess,
    Pair,
    Person,
    TcpProxy,
    eventually,
    http_client,
    ok,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.asyncio]


# Once with the shared data directory, once with files in S3 and a directory per process.
@pytest.mark.parametrize("pair", ["shared-dir", "s3"], indirect=True)
async def test_customer_on_a_and_agents_on_b_share_one_conversation(pair: Pair) -> None:
    a, b = pair.a, pair.b
    async with asyncio.timeout(60), http_client() as http, Sockets() as sockets:
        api = Api(http)
        admin = await api.admin(b.base_url)
        support = await api.queue(b.base_url, admin, "Support")
        billing = await api.queue(b.base_url, admin, "Billing")
        agents = await api.agents(b.base_url, admin, support, 10)
        (biller,) = await api.agents(b.base_url, admin, billing, 1)
        # Agents on both processes: offers and the accept race cross processes both ways.
        home = {agent.id: (a if i % 2 else b) for i, agent in enumerate(agents)}
        consoles = [await sockets.open(home[ag.id].ws_url, ag) for ag in agents]
        biller_ws = await sockets.open(a.ws_url, biller)

        customer = await api.guest(a.base_url, "Carla")
        chat_id = await api.start_chat(a.base_url, customer, support, "Hello from A")
        cust_ws = await sockets.subscribed(a.ws_url, customer, chat_id)
        for ws in consoles:
            offer = await ws.wait_for(
                lambda f: f["type"] == "chat.offered" and f["chat"]["id"] == chat_id
            )
            assert offer["chat"]["status"] == "waiting"

        # The race: ten agents accept at once, each through the process they are connected to.
        async def accept(agent: Person) -> httpx.Response:
            url = home[agent.id].base_url + API + f"/chats/{chat_id}/accept"
            return await http.post(url, headers=agent.headers)

        answers = await asyncio.gather(*(accept(agent) for agent in agents))
        winners = [ag for ag, r in zip(agents, answers, strict=True) if r.status_code == 200]
        losers = [r for r in answers if r.status_code != 200]
        assert len(winners) == 1, [(r.status_code, r.text) for r in answers]
        assert [r.status_code for r in losers] == [409] * 9, [r.text for r in losers]
        assert {r.json()["error"]["code"] for r in losers} == {"already_accepted"}
        agent = winners[0]
        for ws in consoles:
            taken = await ws.wait_for(
                lambda f: f["type"] == "chat.taken" and f["chat_id"] == chat_id
            )
            assert taken["agent"]["id"] == agent.id
        accepted = await cust_ws.event(chat_id, "chat.accepted")
        assert accepted["data"]["agent"]["id"] == agent.id

        # Messages both ways: customer on A, the winner on B (a second tab if theirs is on A).
        agent_ws = await sockets.subscribed(b.ws_url, agent, chat_id)
        from_customer = {f"c-{i}": f"customer says {i}" for i in range(15)}
        from_agent = {f"a-{i}": f"agent says {i}" for i in range(15)}
        acks_c, acks_a = await asyncio.gather(
            send_all(cust_ws, chat_id, from_customer), send_all(agent_ws, chat_id, from_agent)
        )
        assert list(acks_c.values()) == sorted(acks_c.values()), "seqs in sending order"
        assert list(acks_a.values()) == sorted(acks_a.values()), "seqs in sending order"
        last = max(*acks_c.values(), *acks_a.values())
        for ws, theirs in ((cust_ws, from_agent), (agent_ws, from_customer)):
            await ws.wait_for(
                lambda f: (
                    f["type"] == "event"
                    and f["event"]["chat_id"] == chat_id
                    and f["event"]["seq"] >= last
                )
            )
            got = [
                e["data"]["text"]
                for e in ws.events(chat_id)
                if e["type"] == "message.posted" and e["data"]["client_id"] in theirs
            ]
            assert got == list(theirs.values()), "the other side's messages, once, in order"

        # A file shared on B downloads byte for byte from A (shared directory, or the store).
        payload = os.urandom(48 * 1024).hex().encode()  # text, which the type policy accepts
        r = await http.post(
            b.base_url + API + f"/chats/{chat_id}/files",
            files={"file": ("diagnostics.txt", payload, "text/plain")},
            headers=agent.headers,
        )
        shared = ok(r, 201)
        seen = await cust_ws.event(chat_id, "file.shared")
        assert seen["seq"] == shared["seq"]
        attachment = seen["data"]["attachment"]
        assert attachment["size"] == len(payload)
        r = await http.get(a.base_url + attachment["url"], headers=customer.headers)
        assert r.status_code == 200, r.text
        assert r.content == payload
        if pair.a.env.get("HELPLINE_STORAGE_URL"):  # in the store, on neither machine's disk
            dirs = {Path(p.env["HELPLINE_DATA_DIR"]) for p in (a, b)}
            assert len(dirs) == 2
            assert not [f for d in dirs for f in d.rglob("*") if f.parent.name != d.name]

        # A request raised on B, then a move to Billing on B: both seen on A.
        r = await http.post(
            b.base_url + API + f"/chats/{chat_id}/requests",
            json={"summary": "Replace the router"},
            headers=agent.headers,
        )
        request = ok(r, 201)
        raised = await cust_ws.event(chat_id, "request.raised")
        assert raised["data"]["request"]["reference"] == request["reference"]
        r = await http.post(
            b.base_url + API + f"/chats/{chat_id}/move",
            json={"queue_id": billing, "note": "billing question"},
            headers=agent.headers,
        )
        ok(r)
        moved = await cust_ws.event(chat_id, "chat.moved")
        assert moved["data"]["to_queue_id"] == billing
        assert "note" not in moved["data"], "the note is for agents only"
        offered = await biller_ws.wait_for(
            lambda f: f["type"] == "chat.offered" and f["chat"]["id"] == chat_id
        )
        assert offered["chat"]["queue_id"] == billing

        # The customer on A received exactly the log, each event once, in order.
        log = await api.events(b.base_url, customer, chat_id)
        await cust_ws.wait_for(
            lambda f: f["type"] == "event" and f["event"]["seq"] >= log[-1]["seq"]
        )
        assert [e["seq"] for e in cust_ws.events(chat_id)] == [e["seq"] for e in log]
        agent_seqs = [e["seq"] for e in agent_ws.events(chat_id)]
        assert agent_seqs == sorted(set(agent_seqs))
    assert not pair.problems(), pair.problems()


async def _two_chats_across(api: Api, pair: Pair, sockets: Sockets) -> list[Talker]:
    """Chat X: customer on A, agent on B. Chat Y: customer on B, agent on A. One talker per
    side, subscribed from the start."""
    a, b = pair.a, pair.b
    admin = await api.admin(a.base_url)
    queue = await api.queue(a.base_url, admin, "Support")
    agent_b, agent_a = await api.agents(a.base_url, admin, queue, 2)
    cust_a = await api.guest(a.base_url)
    cust_b = await api.guest(b.base_url)
    x = await api.start_chat(a.base_url, cust_a, queue, "X starts")
    y = await api.start_chat(b.base_url, cust_b, queue, "Y starts")
    await api.accept(b.base_url, agent_b, x)
    await api.accept(a.base_url, agent_a, y)
    sides = [
        (cust_a, a, x, "cx"),
        (agent_b, b, x, "ax"),
        (cust_b, b, y, "cy"),
        (agent_a, a, y, "ay"),
    ]
    return [
        Talker(who, await sockets.subscribed(proc.ws_url, who, chat_id), chat_id, prefix, 0.05)
        for who, proc, chat_id, prefix in sides
    ]


async def test_redis_restart_mid_conversation_loses_and_doubles_nothing(
    pair: Pair, cluster: Cluster
) -> None:
    a, b = pair.a, pair.b
    async with asyncio.timeout(60), http_client() as http, Sockets() as sockets:
        api = Api(http)
        talkers = await _two_chats_across(api, pair, sockets)
        for t in talkers:
            t.start()
        await asyncio.sleep(0.5)  # some traffic before the outage

        cluster.redis.stop()
        for proc in (a, b):
            body = await wait_readyz(http, proc.base_url, 503, timeout=10)
            assert body["checks"] == {"database": "ok", "bus": "unavailable"}, body
        # The database still takes every message: acks keep coming while Redis is away.
        acked = [len(t.acks()) for t in talkers]

        async def acks_flow() -> bool:
            return all(len(t.acks()) >= n + 5 for t, n in zip(talkers, acked, strict=True))

        await eventually(acks_flow, 10, "acks during the Redis outage")
        assert not any(t.ws.closed.done() for t in talkers), "a Redis outage closes nothing"

        cluster.redis.start()
        for proc in (a, b):
            await wait_readyz(http, proc.base_url, 200, timeout=15)
        await asyncio.sleep(0.5)  # and some traffic after it
        for t in talkers:
            await t.stop()

        async def all_acked() -> bool:
            return not any(t.unacked() for t in talkers)

        await eventually(all_acked, 10, "every message acknowledged")
        for t in talkers:
            assert not t.errors(), t.errors()
            await eventually(partial(t.caught_up, api, a.base_url), 10, f"{t.prefix} caught up")
            await t.check_against_log(api, a.base_url)
    assert not pair.problems(), pair.problems()


async def test_news_one_process_could_not_publish_reaches_the_other_within_seconds(
    pair_a_via_link: Pair, redis_link_of_a: TcpProxy
) -> None:
    """Only A loses its link to Redis, so its publish fails while B's subscription never
    drops: B has no resync to run, and only the periodic gap check brings the news."""
    pair = pair_a_via_link
    async with asyncio.timeout(40), http_client() as http, Sockets() as sockets:
        api = Api(http)
        customer, agent, chat_id = await chat_across(api, pair)
        cust_ws = await sockets.subscribed(pair.a.ws_url, customer, chat_id)
        agent_ws = await sockets.subscribed(pair.b.ws_url, agent, chat_id)

        redis_link_of_a.cut()
        await wait_readyz(http, pair.a.base_url, 503, timeout=10)
        assert (await readyz(http, pair.b.base_url))[0] == 200, "B keeps its link"
        acks = await send_all(cust_ws, chat_id, {"while-cut": "anyone there?"})
        redis_link_of_a.restore()
        await wait_readyz(http, pair.a.base_url, 200, timeout=15)

        # The bound: a lost publish waits for the chat's next event or the periodic
        # check (HELPLINE_GAP_CHECK_S, 2 s); 5 s leaves room for a loaded machine.
        await agent_ws.wait_for(
            lambda f: f["type"] == "event" and f["event"]["seq"] == acks["while-cut"], timeout=5
        )


async def test_while_redis_is_down_messages_still_reach_both_processes(
    pair: Pair, cluster: Cluster
) -> None:
    """No bus at all: each process still finds the news in the database (the gap check)."""
    async with asyncio.timeout(40), http_client() as http, Sockets() as sockets:
        api = Api(http)
        customer, agent, chat_id = await chat_across(api, pair)
        cust_ws = await sockets.subscribed(pair.a.ws_url, customer, chat_id)
        agent_ws = await sockets.subscribed(pair.b.ws_url, agent, chat_id)

        cluster.redis.stop()
        for proc in (pair.a, pair.b):
            await wait_readyz(http, proc.base_url, 503, timeout=10)
        acks = await send_all(cust_ws, chat_id, {"during": "is anyone there?"})
        # On the sender's process and on the other one, each within a check period or two.
        for ws in (cust_ws, agent_ws):
            await ws.wait_for(
                lambda f: f["type"] == "event" and f["event"]["seq"] == acks["during"], timeout=5
            )


async def test_a_chat_started_while_redis_is_down_is_offered_once_it_is_back(
    pair: Pair, cluster: Cluster
) -> None:
    """Offers are not in any chat's log, so the resync after an outage offers again."""
    a, b = pair.a, pair.b
    async with asyncio.timeout(40), http_client() as http, Sockets() as sockets:
        api = Api(http)
        admin = await api.admin(a.base_url)
        queue = await api.queue(a.base_url, admin, "Support")
        (agent,) = await api.agents(a.base_url, admin, queue, 1)
        console = await sockets.open(b.ws_url, agent)

        cluster.redis.stop()
        for proc in (a, b):
            await wait_readyz(http, proc.base_url, 503, timeout=10)
        customer = await api.guest(a.base_url)
        chat_id = await api.start_chat(a.base_url, customer, queue, "anyone?")
        cluster.redis.start()
        for proc in (a, b):
            await wait_readyz(http, proc.base_url, 200, timeout=15)

        await console.wait_for(
            lambda f: f["type"] == "chat.offered" and f["chat"]["id"] == chat_id, timeout=5
        )


async def test_kill_9_under_load_clients_resume_on_the_other_process(pair: Pair) -> None:
    a, b = pair.a, pair.b
    chats, per_agent = 20, 4
    async with asyncio.timeout(90), http_client() as http, Sockets() as sockets:
        api = Api(http)
        admin = await api.admin(b.base_url)
        queue = await api.queue(b.base_url, admin, "Support")
        agents = await api.agents(b.base_url, admin, queue, chats // per_agent, max_chats=per_agent)
        customers = await asyncio.gather(*(api.guest(a.base_url) for _ in range(chats)))
        chat_ids = await asyncio.gather(
            *(api.start_chat(a.base_url, c, queue, "help") for c in customers)
        )
        for i, chat_id in enumerate(chat_ids):
            await api.accept(b.base_url, agents[i // per_agent], chat_id)

        # Customers on A, one connection each; agents on B, one connection for all their chats.
        customer_side = [
            Talker(c, await sockets.subscribed(a.ws_url, c, cid), cid, f"c{i}", 0.2)
            for i, (c, cid) in enumerate(zip(customers, chat_ids, strict=True))
        ]
        agent_side = []
        for j, agent in enumerate(agents):
            ws = await sockets.open(b.ws_url, agent)
            for i in range(j * per_agent, (j + 1) * per_agent):
                assert (await ws.subscribe(chat_ids[i]))["type"] == "subscribed"
                agent_side.append(Talker(agent, ws, chat_ids[i], f"a{i}", 0.2))
        talkers = customer_side + agent_side
        for t in talkers:
            t.start()

        async def flowing() -> bool:  # every chat has traffic both ways before the crash
            return all(len(t.acks()) >= 3 for t in talkers)

        await eventually(flowing, 15, "traffic on every chat")
        # SIGKILL while every customer has messages in flight: some reached the database,
        # some not, none was acknowledged.
        before = sum(len(t.acks()) for t in customer_side)
        await asyncio.gather(*(t.burst(5) for t in customer_side))

        async def a_is_busy() -> bool:  # A has started acking the burst
            return sum(len(t.acks()) for t in customer_side) > before

        await eventually(a_is_busy, 5, "A acks part of the burst", interval=0.001)
        a.kill()

        async def all_dropped() -> bool:
            return all(t.ws.closed.done() for t in customer_side)

        await eventually(all_dropped, 10, "A's connections are gone")
        # Each customer reconnects to B from the last seq it saw and resends what was not acked.
        await asyncio.gather(*(t.reconnect(sockets, b.ws_url) for t in customer_side))
        await asyncio.sleep(1.0)  # load goes on against B alone
        for t in talkers:
            await t.stop()

        async def all_acked() -> bool:
            return not any(t.unacked() for t in talkers)

        await eventually(all_acked, 15, "every message acknowledged")
        for t in talkers:
            assert not t.errors(), t.errors()
            await eventually(partial(t.caught_up, api, b.base_url), 15, f"{t.prefix} caught up")
            await t.check_against_log(api, b.base_url)
        for chat_id in chat_ids:
            log = await api.events(b.base_url, admin, chat_id)
            ids = [e["data"]["client_id"] for e in log if e["type"] == "message.posted"]
            dupes = [c for c, n in collections.Counter(ids).items() if c and n > 1]
            assert not dupes, f"{chat_id}: posted twice: {dupes}"
    assert b.alive
    assert not b.problems(), b.problems()


def _connections_per_worker(server: HelplineProcess, clients: list[WSClient]) -> dict[int, int]:
    """How many of these WebSocket clients each worker process of `server` holds."""
    ours = {ws.conn.local_address[1] for ws in clients}
    out = {}
    for child in psutil.Process(server.pid).children():
        if "resource_tracker" in " ".join(child.cmdline()):
            continue  # multiprocessing's helper, not a worker
        conns = child.net_connections(kind="tcp")
        out[child.pid] = sum(1 for c in conns if c.raddr and c.raddr.port in ours)
    return out


async def test_serve_workers_share_one_port_one_bus_and_one_metrics_view(
    cluster: Cluster, tmp_path: Path
) -> None:
    """`helpline serve --workers 2`: connections on either worker see each other's news, and
    with PROMETHEUS_MULTIPROC_DIR every scrape adds up all workers."""
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    server = cluster.workers("workers", 2, {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)})
    base = server.base_url
    try:
        async with asyncio.timeout(60), http_client() as http, Sockets() as sockets:
            api = Api(http)
            admin = await api.admin(base)
            queue = await api.queue(base, admin, "Support")
            (agent,) = await api.agents(base, admin, queue, 1)
            customer = await api.guest(base)
            chat_id = await api.start_chat(base, customer, queue, "hello")
            await api.accept(base, agent, chat_id)
            # The kernel picks the worker for each connection: open them until both have some.
            clients: list[WSClient] = []
            for i in range(40):
                who = customer if i % 2 else agent
                clients.append(await sockets.subscribed(server.ws_url, who, chat_id))
                spread = _connections_per_worker(server, clients)
                if len(clients) >= 4 and min(spread.values()) > 0:
                    break
            assert len(spread) == 2 and min(spread.values()) > 0, spread

            acks = await send_all(clients[1], chat_id, {"w-1": "one port, two workers"})
            for ws in clients:
                await ws.wait_for(
                    lambda f: f["type"] == "event" and f["event"]["seq"] == acks["w-1"]
                )
            for _ in range(4):  # whichever worker answers, it reports them all
                r = await http.get(base + "/metrics")
                assert r.status_code == 200
                gauge = [
                    ln for ln in r.text.splitlines() if ln.startswith("helpline_ws_connections ")
                ]
                assert gauge == [f"helpline_ws_connections {float(len(clients))}"], gauge
    finally:
        server.stop()
    assert not server.problems(), server.problems()


def _error_format(r: httpx.Response) -> bool:
    """The contract's {"error": {"code": …, "message": …}}."""
    try:
        error = r.json()["error"]
    except (ValueError, KeyError, TypeError):
        return False
    return isinstance(error.get("code"), str) and isinstance(error.get("message"), str)


class Hammer:
    """Requests a browser would make, round and round on both processes, every answer kept
    with the phase it was given in."""

    def __init__(self, calls: dict[str, Callable[[], Any]]) -> None:
        self.calls = calls
        self.phase = "before"
        self.answers: list[tuple[str, str, httpx.Response]] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while not self._stop.is_set():
            for name, call in self.calls.items():
                phase = self.phase
                self.answers.append((phase, name, await call()))
            await asyncio.sleep(0.01)

    def names(self, phase: str, ok: Callable[[int], bool]) -> set[str]:
        return {n for p, n, r in self.answers if p == phase and ok(r.status_code)}


async def test_postgres_restart_answers_503_then_recovers_by_itself(
    pair: Pair, cluster: Cluster
) -> None:
    a, b = pair.a, pair.b
    pids = (a.pid, b.pid)
    async with asyncio.timeout(60), http_client() as http, Sockets() as sockets:
        api = Api(http)
        admin = await api.admin(a.base_url)
        queue = await api.queue(a.base_url, admin, "Support")
        (agent,) = await api.agents(a.base_url, admin, queue, 1)
        customer = await api.guest(a.base_url)
        chat_id = await api.start_chat(a.base_url, customer, queue, "hello")
        await api.accept(b.base_url, agent, chat_id)
        cust_ws = await sockets.subscribed(a.ws_url, customer, chat_id)
        cust = Talker(customer, cust_ws, chat_id, "c", interval=1)
        ag = Talker(agent, await sockets.subscribed(b.ws_url, agent, chat_id), chat_id, "a", 1)

        n = itertools.count()
        hammer = Hammer(
            {
                "chat": lambda: http.get(
                    a.base_url + API + f"/chats/{chat_id}", headers=customer.headers
                ),
                "post": lambda: http.post(
                    b.base_url + API + f"/chats/{chat_id}/messages",
                    json={"text": "over HTTP", "client_id": f"h-{next(n)}"},
                    headers=agent.headers,
                ),
                "me": lambda: http.get(b.base_url + API + "/me", headers=agent.headers),
                "queues": lambda: http.get(a.base_url + API + "/queues"),
                "guest": lambda: http.post(
                    b.base_url + API + "/auth/guest",
                    json={"name": "Late", "email": f"late-{next(n)}@example.com"},
                ),
            },
        )
        hammer.start()
        try:
            await asyncio.sleep(0.3)  # some answers before the outage
            cluster.pg.stop("fast")
            hammer.phase = "down"

            async def each_refused() -> bool:
                return hammer.names("down", lambda code: code == 503) == set(hammer.calls)

            await eventually(each_refused, 10, "every kind of request answered 503")
            for proc in (a, b):
                code, body = await readyz(http, proc.base_url)
                assert code == 503 and body["checks"]["bus"] == "ok", body
                assert body["checks"]["database"].startswith("unavailable"), body
                # Metrics matter most now: each process still serves its own.
                r = await http.get(proc.base_url + "/metrics")
                assert r.status_code == 200 and "helpline_ws_connections" in r.text, r.text
            # A WebSocket command needs the database too: the connection closes, and the
            # client resends with the same client_id once it is back (below).
            await ag.burst(1)

            async def agent_dropped() -> bool:
                return ag.ws.closed.done()

            await eventually(agent_dropped, 10, "the agent's connection closed")

            cluster.pg.start()
            hammer.phase = "after"

            async def each_served() -> bool:
                return hammer.names("after", lambda code: code < 300) == set(hammer.calls)

            await eventually(each_served, 15, "every kind of request served again")
            for proc in (a, b):
                await wait_readyz(http, proc.base_url, 200, timeout=10)
        finally:
            await hammer.stop()

        odd = [(p, nm, r.status_code, r.text[:200]) for p, nm, r in hammer.answers]
        odd = [o for o in odd if o[2] >= 300]
        assert all(code == 503 for _, _, code, _ in odd), f"only 503s, never a 500: {odd}"
        assert all(_error_format(r) for _, _, r in hammer.answers if r.status_code == 503), odd
        assert (a.pid, b.pid) == pids and a.alive and b.alive, "Helpline was not restarted"

        # The clients reconnect where needed and resend: everything once, nothing half-written.
        await ag.reconnect(sockets, b.ws_url)
        if cust.ws.closed.done():  # e.g. a gap repair that met the outage
            await cust.reconnect(sockets, a.ws_url)

        async def resent_acked() -> bool:
            return not ag.unacked()

        await eventually(resent_acked, 10, "the resent message acknowledged")
        for t in (cust, ag):
            await eventually(partial(t.caught_up, api, b.base_url), 10, f"{t.prefix} caught up")
            await t.check_against_log(api, b.base_url)
        log = await api.events(b.base_url, agent, chat_id)
        ids = collections.Counter(
            e["data"]["client_id"] for e in log if e["type"] == "message.posted"
        )
        del ids[None]  # the opening message and the greeting
        created = [
            r.json()["data"]["client_id"]
            for _, name, r in hammer.answers
            if name == "post" and r.status_code == 201
        ]
        assert all(ids[c] == 1 for c in created), "every 201 is in the log"
        assert max(ids.values()) == 1, "and nothing is there twice"


async def test_websocket_command_during_a_postgres_outage_gets_an_error_frame_then_1013(
    pair: Pair, cluster: Cluster
) -> None:
    async with asyncio.timeout(40), http_client() as http, Sockets() as sockets:
        api = Api(http)
        customer, _, chat_id = await chat_across(api, pair)
        cust_ws = await sockets.subscribed(pair.a.ws_url, customer, chat_id)

        cluster.pg.stop("fast")
        await wait_readyz(http, pair.a.base_url, 503, timeout=10)
        answer = await cust_ws.request(
            {"type": "message", "chat_id": chat_id, "text": "hello?", "client_id": "dark-1"},
            lambda f: f["type"] in ("ack", "error"),
        )
        assert answer["type"] == "error" and answer["error"]["code"] == "unavailable", answer
        assert answer["client_id"] == "dark-1"
        code, _ = await asyncio.wait_for(cust_ws.closed, 5)
        assert code == 1013, "try again later: the client reconnects and resends"
