"""RedisBus against a real redis-server (the session's `redis_server` fixture)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from redis.asyncio import Redis

from helpline.bus.messages import BusMessage, EventPosted
from helpline.bus.redis import PREFIX, RedisBus
from helpline.kit import frames
from tests.bus.examples import EXAMPLES
from tests.fixtures.servers import RedisServer, free_port
from tests.fixtures.waits import eventually

pytestmark = pytest.mark.redis


class Recorder:
    """A BusListener that keeps what it got, filtered to this test's topics."""

    def __init__(self, prefix: str, only: set[str] | None = None) -> None:
        self.prefix = prefix
        self.only = only  # the topics (without the prefix) it listens to; None: all of its own
        self.messages: list[tuple[str, BusMessage]] = []
        self.resyncs = 0
        self.loop = asyncio.get_running_loop()
        self.calls_off_loop = 0

    def wants(self, topic: str) -> bool:
        own = topic.startswith(self.prefix)
        return own and (self.only is None or topic.removeprefix(self.prefix) in self.only)

    def on_message(self, topic: str, message: BusMessage) -> None:
        if asyncio.get_running_loop() is not self.loop:
            self.calls_off_loop += 1
        if topic.startswith(self.prefix):
            self.messages.append((topic, message))

    def on_resync(self) -> None:
        self.resyncs += 1

    def on(self, topic: str) -> list[BusMessage]:
        return [m for t, m in self.messages if t == topic]


def news(**event: Any) -> EventPosted:
    return EventPosted(event)


@asynccontextmanager
async def running_bus(url: str, listener: Recorder, **options: Any) -> AsyncIterator[RedisBus]:
    bus = RedisBus(url, **options)
    await bus.start(listener)
    try:
        yield bus
    finally:
        await bus.close()


@asynccontextmanager
async def acl_user(url: str, name: str, *rules: str) -> AsyncIterator[str]:
    """A Redis user `name` with password `s3cret` and these ACL rules for the block; yields the
    URL that signs in as it."""
    admin = Redis.from_url(url)
    await admin.execute_command("ACL", "SETUSER", name, "on", ">s3cret", *rules)
    try:
        yield f"redis://{name}:s3cret@{url.removeprefix('redis://')}"
    finally:
        await admin.execute_command("ACL", "DELUSER", name)
        await admin.aclose()


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:8]}:"


@pytest.mark.asyncio
async def test_message_published_by_one_process_reaches_the_other(
    redis_server: RedisServer, prefix: str
) -> None:
    got_a, got_b = Recorder(prefix), Recorder(prefix)
    async with (
        running_bus(redis_server.url, got_a) as bus_a,
        running_bus(redis_server.url, got_b) as bus_b,
    ):
        assert bus_a.healthy
        assert bus_b.healthy
        await bus_a.publish(prefix + "chat:1", news(seq=1, text="héllo"))
        await eventually(lambda: bool(got_b.on(prefix + "chat:1")))
        assert got_b.on(prefix + "chat:1") == [news(seq=1, text="héllo")]
        # Every process, the publisher included, hears everything once: the publisher when it
        # publishes (the object itself), its copy from Redis dropped unread as its own.
        assert got_a.on(prefix + "chat:1") == [news(seq=1, text="héllo")]
        await bus_a.publish(prefix + "chat:1", news(seq=2))
        await eventually(lambda: len(got_b.on(prefix + "chat:1")) == 2)
        await eventually(lambda: bus_a.own == 2)
        assert len(got_a.on(prefix + "chat:1")) == 2
        assert bus_b.own == 0
        assert got_b.calls_off_loop == 0
        assert got_b.resyncs == 0


@pytest.mark.asyncio
async def test_news_nobody_here_listens_to_is_dropped_unread(
    redis_server: RedisServer, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Each process gets every process's news; what its listener does not want is skipped
    before decoding (even bytes that would not decode), the rest arrives as before."""
    listening = Recorder(prefix, only={"chat:1"})
    async with (
        running_bus(redis_server.url, Recorder(prefix, only=set())) as publisher,
        running_bus(redis_server.url, listening) as bus,
    ):
        raw = Redis.from_url(redis_server.url)
        try:
            await raw.publish(PREFIX + prefix + "chat:2", b"not json at all")
        finally:
            await raw.aclose()
        await publisher.publish(prefix + "chat:2", news(seq=1))
        await publisher.publish(prefix + "chat:1", news(seq=1))
        await publisher.publish(prefix + "chat:2", news(seq=2))
        await publisher.publish(prefix + "chat:1", news(seq=2))
        await eventually(lambda: len(listening.on(prefix + "chat:1")) == 2)
        assert listening.on(prefix + "chat:1") == [news(seq=1), news(seq=2)]
        assert listening.on(prefix + "chat:2") == []
        # One connection, in order: the three on chat:2 came before the last on chat:1.
        assert bus.skipped >= 3
        assert not [r for r in caplog.records if "malformed" in r.getMessage()]
        assert bus.healthy


@pytest.mark.asyncio
async def test_the_subscription_signs_in_with_the_urls_user_and_password(
    redis_server: RedisServer, prefix: str
) -> None:
    """A Redis that requires a password: the subscriber's own connection sends AUTH from the
    URL; a wrong password is refused and the bus says it is unhealthy."""
    user = f"bus-{prefix.strip(':')}"
    async with acl_user(redis_server.url, user, "~*", "&*", "+@all") as url:
        got = Recorder(prefix)
        async with running_bus(url, got) as bus, running_bus(url, Recorder(prefix)) as other:
            assert bus.healthy
            await other.publish(prefix + "chat:1", news(seq=1))
            await eventually(lambda: got.on(prefix + "chat:1") == [news(seq=1)])
        refused = RedisBus(url.replace(":s3cret@", ":wrong@"), connect_timeout_s=0.5)
        try:
            await refused.start(Recorder(prefix))
            assert not refused.healthy
        finally:
            await refused.close()


@pytest.mark.asyncio
async def test_a_redis_that_refuses_publish_leaves_the_bus_unhealthy(
    redis_server: RedisServer, prefix: str
) -> None:
    """An ACL that lets the bus subscribe but not publish: the refusal is counted as dropped
    news and the bus says it is unhealthy; this process still heard its own news."""
    user = f"nopub-{prefix.strip(':')}"
    async with acl_user(redis_server.url, user, "~*", "&*", "+@all", "-publish") as url:
        got = Recorder(prefix)
        async with running_bus(url, got) as bus:
            await bus.publish(prefix + "chat:1", news(seq=1))
            await eventually(lambda: not bus.healthy)
            assert bus.dropped == 1
            assert got.on(prefix + "chat:1") == [news(seq=1)]


@pytest.mark.asyncio
async def test_a_publish_redis_does_not_answer_times_out_and_the_next_goes_through(
    redis_server: RedisServer, prefix: str
) -> None:
    """Redis stops answering publishes (`CLIENT PAUSE ... WRITE`): the batch waiting for its
    answers gives up after the publish timeout (dropped, unhealthy); once Redis answers again
    (`UNPAUSE`) the bus publishes on a new connection and is healthy."""
    got = Recorder(prefix)
    admin = Redis.from_url(redis_server.url)
    try:
        async with (
            running_bus(redis_server.url, Recorder(prefix), publish_timeout_s=0.3) as bus,
            running_bus(redis_server.url, got),
        ):
            await bus.publish(prefix + "chat:1", news(seq=1))
            await eventually(lambda: got.on(prefix + "chat:1") == [news(seq=1)])
            await admin.execute_command("CLIENT", "PAUSE", "30000", "WRITE")
            try:
                await bus.publish(prefix + "chat:1", news(seq=2))
                await eventually(lambda: not bus.healthy)
                assert bus.dropped == 1
            finally:
                await admin.execute_command("CLIENT", "UNPAUSE")
            await bus.publish(prefix + "chat:1", news(seq=3))
            await eventually(lambda: news(seq=3) in got.on(prefix + "chat:1"), timeout=10)
            await eventually(lambda: bus.healthy)
            # seq 2 may have reached Redis before the timeout gave up on its answer.
            assert got.on(prefix + "chat:1")[0] == news(seq=1)
            assert got.on(prefix + "chat:1")[-1] == news(seq=3)
    finally:
        await admin.aclose()


@pytest.mark.asyncio
async def test_batches_go_out_without_waiting_for_the_answers_to_those_before(
    redis_server: RedisServer, prefix: str
) -> None:
    """While Redis holds its answers (`CLIENT PAUSE ... WRITE`), each new batch is still sent;
    once it answers, everything arrives in order and nothing is left in flight."""
    got = Recorder(prefix)
    admin = Redis.from_url(redis_server.url)
    try:
        async with (
            running_bus(redis_server.url, Recorder(prefix)) as bus,
            running_bus(redis_server.url, got),
        ):
            await bus.publish(prefix + "chat:1", news(seq=0))  # the connection is made
            await eventually(lambda: len(got.on(prefix + "chat:1")) == 1)
            await admin.execute_command("CLIENT", "PAUSE", "30000", "WRITE")
            try:
                for seq in (1, 2, 3):
                    await bus.publish(prefix + "chat:1", news(seq=seq))
                    await eventually(lambda seq=seq: bus.in_flight == seq)
            finally:
                await admin.execute_command("CLIENT", "UNPAUSE")
            await eventually(lambda: len(got.on(prefix + "chat:1")) == 4)
            assert got.on(prefix + "chat:1") == [news(seq=s) for s in range(4)]
            await eventually(lambda: bus.in_flight == 0)
            assert bus.dropped == 0
            assert bus.healthy
    finally:
        await admin.aclose()


@pytest.mark.asyncio
async def test_the_bus_works_over_a_unix_socket(prefix: str) -> None:
    """`unix:///path`: a Redis beside the server, reached without TCP (docs/operations.md)."""
    with RedisServer(unix_socket=True) as server:
        got = Recorder(prefix)
        async with (
            running_bus(server.unix_url, got) as bus,
            running_bus(server.unix_url, Recorder(prefix)) as other,
        ):
            assert bus.healthy
            await other.publish(prefix + "chat:1", news(seq=1))
            await eventually(lambda: got.on(prefix + "chat:1") == [news(seq=1)])


@pytest.mark.asyncio
async def test_many_concurrent_publishes_all_arrive_in_order_per_topic(
    redis_server: RedisServer, prefix: str
) -> None:
    topics = [f"{prefix}chat:{i}" for i in range(20)]
    per_topic = 100  # 2,000 messages in all

    got = Recorder(prefix)
    async with (
        running_bus(redis_server.url, Recorder(prefix)) as publisher,
        running_bus(redis_server.url, got),
    ):

        async def send(topic: str) -> None:
            for seq in range(1, per_topic + 1):
                await publisher.publish(topic, news(seq=seq))

        # All at once, from many coroutines: what broke redis-py's connection pool.
        await asyncio.gather(*(send(t) for t in topics))
        await eventually(lambda: len(got.messages) >= len(topics) * per_topic, timeout=30)
        assert len(got.messages) == len(topics) * per_topic
        for topic in topics:
            seqs = [m.event["seq"] for m in got.on(topic) if isinstance(m, EventPosted)]
            assert seqs == list(range(1, per_topic + 1))
        assert publisher.dropped == 0


@pytest.mark.asyncio
async def test_redis_restart_marks_unhealthy_then_recovers_and_resyncs(
    redis_server: RedisServer, prefix: str
) -> None:
    got = Recorder(prefix)
    async with running_bus(redis_server.url, got, ping_interval_s=0.5) as bus:
        assert bus.healthy
        try:
            redis_server.stop()
            await eventually(lambda: not bus.healthy)
            # An outage never reaches the caller: the database has the record.
            for seq in range(100):
                await bus.publish(prefix + "chat:1", news(seq=seq))
        finally:
            redis_server.start()
        await eventually(lambda: bus.healthy and got.resyncs >= 1, timeout=15)
        assert got.resyncs == 1
        # Both directions work again: what this bus publishes reaches another process, and
        # another process's news reaches this one.
        async with running_bus(redis_server.url, other := Recorder(prefix)) as other_bus:
            await bus.publish(prefix + "chat:2", news(seq=1))
            await eventually(lambda: other.on(prefix + "chat:2") == [news(seq=1)])
            await other_bus.publish(prefix + "chat:3", news(seq=1))
            await eventually(lambda: got.on(prefix + "chat:3") == [news(seq=1)])
        # The outage's news was heard here when published, whatever Redis missed.
        assert [m.event["seq"] for m in got.on(prefix + "chat:1")] == list(range(100))
        assert got.on(prefix + "chat:2") == [news(seq=1)]


@pytest.mark.asyncio
async def test_start_without_redis_serves_on_and_connects_later(prefix: str) -> None:
    server = RedisServer(port=free_port())  # not started yet: nothing listens on its port
    got = Recorder(prefix)
    bus = RedisBus(server.url, connect_timeout_s=0.5, backoff_max_s=0.2)
    try:
        await asyncio.wait_for(bus.start(got), timeout=5)
        assert not bus.healthy
        await bus.publish(prefix + "chat:1", news(seq=1))
        assert got.on(prefix + "chat:1") == [news(seq=1)]  # heard here without Redis
        with server:
            await eventually(lambda: bus.healthy and got.resyncs == 1)
            other = Recorder(prefix)
            async with running_bus(server.url, other) as other_bus:
                await bus.publish(prefix + "chat:1", news(seq=2))
                # The backlog (seq 1) may or may not have made it: only seq 2 is promised.
                await eventually(lambda: news(seq=2) in other.on(prefix + "chat:1"))
                await other_bus.publish(prefix + "chat:2", news(seq=1))
                await eventually(lambda: got.on(prefix + "chat:2") == [news(seq=1)])
            assert got.on(prefix + "chat:1") == [news(seq=1), news(seq=2)]
    finally:
        await bus.close()


@pytest.mark.asyncio
async def test_backlog_is_bounded_during_an_outage(prefix: str) -> None:
    bus = RedisBus(f"redis://127.0.0.1:{free_port()}/0", max_backlog=50, connect_timeout_s=0.2)
    got = Recorder(prefix)
    try:
        await bus.start(got)
        for seq in range(1_000):
            await bus.publish(prefix + "chat:1", news(seq=seq))
        assert bus.dropped >= 1_000 - 50
        assert not bus.healthy
    finally:
        await asyncio.wait_for(bus.close(), timeout=5)


@pytest.mark.asyncio
async def test_a_failing_listener_does_not_stop_delivery(
    redis_server: RedisServer, prefix: str
) -> None:
    class Flaky(Recorder):
        def on_message(self, topic: str, message: BusMessage) -> None:
            super().on_message(topic, message)
            if isinstance(message, EventPosted) and message.event.get("boom"):
                raise RuntimeError("listener bug")

    got = Flaky(prefix)
    async with (
        running_bus(redis_server.url, got) as bus,
        running_bus(redis_server.url, Recorder(prefix)) as other,
    ):
        # From the subscription...
        await other.publish(prefix + "chat:1", news(boom=True))
        await other.publish(prefix + "chat:1", news(seq=2))
        await eventually(lambda: len(got.on(prefix + "chat:1")) == 2)
        # ...and when published here: the publisher is not failed (its commit is done).
        await bus.publish(prefix + "chat:2", news(boom=True))
        await bus.publish(prefix + "chat:2", news(seq=2))
        assert len(got.on(prefix + "chat:2")) == 2
        await eventually(lambda: bus.own == 2)
        assert bus.healthy


@pytest.mark.asyncio
async def test_a_message_that_is_not_json_is_a_bug_and_raises(
    redis_server: RedisServer, prefix: str
) -> None:
    async with running_bus(redis_server.url, Recorder(prefix)) as bus:
        with pytest.raises(TypeError):
            await bus.publish(prefix + "chat:1", news(at=object()))


@pytest.mark.asyncio
async def test_every_kind_of_news_crosses_redis_as_itself(
    redis_server: RedisServer, prefix: str
) -> None:
    got = Recorder(prefix)
    async with (
        running_bus(redis_server.url, got),
        running_bus(redis_server.url, Recorder(prefix)) as other,
    ):
        for message in EXAMPLES:
            await other.publish(prefix + "user:1", message)
        await eventually(lambda: len(got.on(prefix + "user:1")) == len(EXAMPLES))
        assert got.on(prefix + "user:1") == EXAMPLES


@pytest.mark.asyncio
async def test_news_of_an_unknown_or_malformed_kind_is_dropped_and_delivery_goes_on(
    redis_server: RedisServer, prefix: str
) -> None:
    """A newer process may publish a kind this one does not know (a rolling upgrade)."""
    got = Recorder(prefix)
    async with (
        running_bus(redis_server.url, got) as bus,
        running_bus(redis_server.url, Recorder(prefix)) as other,
    ):
        raw = Redis.from_url(redis_server.url)
        try:
            for data in (b'{"kind":"later.kind","x":1}', b'{"kind":"typing"}', b"[1]"):
                await raw.publish(PREFIX + prefix + "chat:1", data)
            # An older process's news carries no mark: heard as any other process's.
            await raw.publish(PREFIX + prefix + "chat:1", frames.encode(news(seq=0).to_dict()))
        finally:
            await raw.aclose()
        await other.publish(prefix + "chat:1", news(seq=1))
        await eventually(lambda: len(got.on(prefix + "chat:1")) == 2)
        assert got.on(prefix + "chat:1") == [news(seq=0), news(seq=1)]
        assert bus.healthy
