"""The Redis bus: Redis pub/sub connects every server process.

Invariants (see "Real-time delivery" in ARCHITECTURE.md):

- One pattern subscription (`helpline:*`) per process, made eagerly in `start()`: a
  subscription per topic, made as a socket subscribes, would miss the news published before
  Redis confirmed it, and cost a round trip per subscribe (decision 045). It is read on a
  connection of its own by `_Subscription`, a protocol that feeds hiredis' reader and delivers
  each message from the loop's read callback: redis-py's `PubSub` spent ~20 µs of the loop per
  message (a timeout, a retry wrapper and a handler each) before the message was even looked
  at (docs/performance.md).
- One writer task publishes everything, in `publish()` order, pipelining whatever queued up
  meanwhile: many coroutines publishing directly would exhaust redis-py's connection pool
  (`MaxConnectionsError`) and could reorder messages of one topic.
- Pub/sub may lose news, never data. `publish()` never raises for an outage: it logs, marks
  the bus unhealthy and keeps a bounded backlog (oldest dropped first). When the subscription
  is lost, the reader reconnects with backoff and, once subscribed again, calls
  `listener.on_resync()` so that connections re-read what they missed from the database.
- `healthy` is False while either side (subscription or last publish) is failing.
- Every process gets every process's news, so each message's topic is put to
  `listener.wants()` first: news nobody here listens to is dropped before it is decoded.
- A process hears its own news when it publishes it, as with the memory bus, not when Redis
  echoes it back: its copy carries the process's mark (`{"o":"<random id>",` ahead of the
  message's keys) and is dropped unread when it comes back (decision 048). So a process's own
  sockets do not wait for a Redis round trip, and do not miss news while Redis is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import ssl
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import hiredis
from redis.connection import SSLConnection, parse_url

from helpline.bus import BusListener
from helpline.bus.messages import BusMessage, decode
from helpline.kit import frames

log = logging.getLogger(__name__)

PREFIX = "helpline:"
MAX_IN_FLIGHT = 64  # batches sent to Redis and not yet answered, at most

_C = TypeVar("_C", bound="_Connection")


class RedisBus:
    """Bus over Redis pub/sub. Create with a `redis://` URL; `start()` inside the event loop."""

    healthy: bool

    def __init__(
        self,
        url: str,
        *,
        max_backlog: int = 10_000,
        max_batch: int = 512,
        connect_timeout_s: float = 2.0,
        publish_timeout_s: float = 5.0,
        ping_interval_s: float = 5.0,
        backoff_min_s: float = 0.05,
        backoff_max_s: float = 2.0,
    ) -> None:
        self.url = url
        self.healthy = False
        self.dropped = 0  # messages dropped from the backlog or in failed sends, for diagnostics
        self.skipped = 0  # messages received for topics nobody here listens to (not decoded)
        self.own = 0  # our own messages come back from the subscription (heard already)
        # Each message this process has heard already starts with this mark: `{"o":"<id>",`.
        self._mark = b'{"o":"' + secrets.token_hex(8).encode() + b'",'
        self._max_batch = max_batch
        self._connect_timeout_s = connect_timeout_s
        self._publish_timeout_s = publish_timeout_s
        self._ping_interval_s = ping_interval_s
        self._backoff_min_s = backoff_min_s
        self._backoff_max_s = backoff_max_s
        self._pending: deque[tuple[str, bytes]] = deque(maxlen=max_backlog)
        self._wakeup: asyncio.Event | None = None
        self._listener: BusListener | None = None
        self._reader: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._publisher: _Publisher | None = None  # the writer's connection, when it has one
        self._write_delay = backoff_min_s  # the writer's next back-off after a failure
        self._reader_ok = False
        self._writer_ok = True
        self._attempted: asyncio.Event | None = None  # set once the first subscribe is decided
        self._started = False
        self._closing = False
        # Where both connections (`_Subscription`, `_Publisher`) go, and as whom.
        self._options: dict[str, Any] = parse_url(url)  # type: ignore[no-untyped-call]

    @property
    def in_flight(self) -> int:
        """Batches sent to Redis and not answered yet (for diagnostics and tests)."""
        return self._publisher.in_flight if self._publisher is not None else 0

    # -- Bus protocol -----------------------------------------------------------------------------

    async def start(self, listener: BusListener) -> None:
        """Subscribe (waiting up to the connect timeout) and start the writer.

        If Redis is unreachable the app still starts: `healthy` stays False, the reader keeps
        retrying in the background and calls `on_resync()` once it gets through.
        """
        if self._reader is not None:
            raise RuntimeError("RedisBus already started")
        self._listener = listener
        self._wakeup = asyncio.Event()
        self._attempted = asyncio.Event()
        self._reader = asyncio.create_task(self._read_loop(), name="helpline-bus-reader")
        self._writer = asyncio.create_task(self._write_loop(), name="helpline-bus-writer")
        if self._pending:
            self._wakeup.set()
        # Wait for the first attempt only: a refused connection need not hold up start-up.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._attempted.wait(), self._connect_timeout_s + 1.0)
        if not self._reader_ok:
            log.warning(
                "redis bus: not connected at start-up; serving from the database until it is",
                extra={"redis_url": _redacted(self.url)},
            )
        # From here on, every (re)subscription means news may have been missed.
        self._started = True

    async def publish(self, topic: str, message: BusMessage) -> None:
        self.publish_nowait(topic, message)

    def publish_nowait(self, topic: str, message: BusMessage) -> None:
        """Hand the news to this process's listener at once, and queue it for the writer;
        returns at once. Raises only for a non-JSON message (a bug)."""
        data = frames.encode(message.to_dict())  # orjson (helpline.kit.frames)
        listener = self._listener
        if listener is not None:
            # Heard here now, as the memory bus does: no Redis round trip for this process's
            # own sockets, and its copy from the subscription, marked as ours, is dropped
            # unread (decision 048). Other processes ignore the mark (unknown keys are).
            data = self._mark + data[1:]
            self._hear(listener, topic, message)  # after the commit: a failure is logged
        if len(self._pending) == self._pending.maxlen:
            self._count_dropped(1, "backlog full")
        self._pending.append((PREFIX + topic, data))
        if self._wakeup is not None:
            self._wakeup.set()

    async def close(self) -> None:
        """Flush what is queued (briefly), then stop both tasks and the connections."""
        if self._closing:
            return
        self._closing = True
        if self._writer is not None and self._wakeup is not None:
            # The writer sends what commits already announced, then returns (2 s at most).
            self._wakeup.set()
            await asyncio.wait({self._writer}, timeout=2.0)
        for task in (self._reader, self._writer):
            if task is not None:
                task.cancel()
        for task in (self._reader, self._writer):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._reader = self._writer = None
        self._listener = None
        if self._publisher is not None:
            self._publisher.close()
            self._publisher = None
        self._set_health(reader_ok=False)

    # -- internals --------------------------------------------------------------------------------

    def _set_health(self, *, reader_ok: bool | None = None, writer_ok: bool | None = None) -> None:
        if reader_ok is not None:
            self._reader_ok = reader_ok
        if writer_ok is not None:
            self._writer_ok = writer_ok
        healthy = self._reader_ok and self._writer_ok and not self._closing
        if healthy != self.healthy:
            self.healthy = healthy
            if healthy:
                log.info("redis bus: healthy", extra={"redis_url": _redacted(self.url)})
            elif not self._closing:
                log.warning("redis bus: unhealthy", extra={"redis_url": _redacted(self.url)})

    def _count_dropped(self, n: int, why: str) -> None:
        # Log the first drop of an outage and then every 1,000th: an outage must not flood logs.
        before = self.dropped
        self.dropped += n
        if before == 0 or before // 1000 != self.dropped // 1000:
            log.warning(
                "redis bus: dropped messages (%s); listeners resync from the database",
                why,
                extra={"dropped_total": self.dropped},
            )

    def _backoff(self, delay: float) -> float:
        return min(delay * 2, self._backoff_max_s)

    async def _sleep_jitter(self, delay: float) -> None:
        await asyncio.sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter, not crypto

    async def _write_loop(self) -> None:
        """Send what is queued, a batch per write, on a connection of its own, without waiting
        for Redis' answers before the next batch (at most `MAX_IN_FLIGHT` batches unanswered):
        a batch that waited for the one before it waited a Redis round trip, and the wake-ups
        of both ends, for nothing. A batch not answered in `publish_timeout_s`, a refusal or a
        lost connection drops what is unanswered, and the next batch connects again."""
        wakeup = self._wakeup
        assert wakeup is not None
        loop = asyncio.get_running_loop()
        while True:
            publisher = self._publisher
            if publisher is not None and publisher.lost.done():
                self._publisher = None
                if (due := publisher.unanswered()) and not await self._failed(
                    due, publisher.lost.result()
                ):
                    return
                continue
            if publisher is not None and publisher.answered_any:
                publisher.answered_any = False
                self._write_delay = self._backoff_min_s
                self._set_health(writer_ok=True)
            if self._pending and (publisher is None or publisher.in_flight < MAX_IN_FLIGHT):
                batch = [
                    self._pending.popleft() for _ in range(min(len(self._pending), self._max_batch))
                ]
                try:
                    if publisher is None:
                        publisher = await self._connect(_Publisher(wakeup.set))
                        self._publisher = publisher
                    publisher.send_batch(batch)
                except (OSError, TimeoutError) as exc:  # ConnectionError is an OSError
                    if not await self._failed(len(batch), str(exc) or repr(exc)):
                        return
                continue
            if self._closing and not self._pending and not self.in_flight:
                return
            # Wait for news to send, an answer, or the loss of the connection (each sets
            # `wakeup`); while answers are due, no longer than the oldest batch may wait.
            wakeup.clear()
            sent_at = publisher.oldest_sent_at() if publisher is not None else None
            if sent_at is None:
                await wakeup.wait()
                continue
            try:
                async with asyncio.timeout(sent_at + self._publish_timeout_s - loop.time()):
                    await wakeup.wait()
            except TimeoutError:
                if publisher is not None and publisher.oldest_sent_at() == sent_at:
                    # What is due is dropped when the loss is seen, at the top of the loop.
                    publisher.close(f"no answer in {self._publish_timeout_s:g} s")

    async def _failed(self, dropped: int, why: str) -> bool:
        """Publishing failed and `dropped` messages with it: the database has the record, and
        subscribers resync when their link is back. Waits the back-off; False when closing."""
        if self._writer_ok:
            log.warning("redis bus: publish failed: %s", why)
        self._set_health(writer_ok=False)
        self._count_dropped(dropped, "publish failed")
        if self._closing:
            return False
        await self._sleep_jitter(self._write_delay)
        self._write_delay = self._backoff(self._write_delay)
        return True

    async def _read_loop(self) -> None:
        assert self._attempted is not None
        delay = self._backoff_min_s
        while True:
            subscription: _Subscription | None = None
            try:
                subscription = await self._subscribe()
                delay = self._backoff_min_s
                # Redis answers again: the writer's last failure is no longer news.
                self._set_health(reader_ok=True, writer_ok=True)
                self._attempted.set()
                if self._started and self._listener is not None:
                    self._call_listener(self._listener.on_resync)
                await self._watch(subscription)
            except asyncio.CancelledError:
                raise
            except (OSError, TimeoutError) as exc:
                if self._reader_ok:
                    log.warning("redis bus: subscription lost: %s", exc)
            finally:
                self._attempted.set()
                self._set_health(reader_ok=False)
                if subscription is not None:
                    subscription.close()
            await self._sleep_jitter(delay)
            delay = self._backoff(delay)

    async def _connect(self, connection: _C) -> _C:
        """Connect `connection` where the URL says, and sign in if it says so."""
        loop = asyncio.get_running_loop()
        options = self._options
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                if "path" in options:
                    await loop.create_unix_connection(lambda: connection, options["path"])
                else:
                    tls = None
                    if options.get("connection_class") is SSLConnection:  # rediss://
                        tls = ssl.create_default_context(cafile=options.get("ssl_ca_certs"))
                    await loop.create_connection(
                        lambda: connection,
                        options.get("host", "localhost"),
                        options.get("port", 6379),
                        ssl=tls,
                    )
                if options.get("password") is not None:
                    user = options.get("username")
                    await connection.call("AUTH", *([user] if user else []), options["password"])
        except BaseException:
            connection.close()
            raise
        return connection

    async def _subscribe(self) -> _Subscription:
        """Connect, PSUBSCRIBE, and wait for Redis to confirm: only then are we sure to see
        news."""
        subscription = await self._connect(_Subscription(self._deliver))
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                subscription.send("PSUBSCRIBE", PREFIX + "*")
                await asyncio.shield(subscription.confirmed)
        except BaseException:
            subscription.close()
            raise
        return subscription

    async def _watch(self, subscription: _Subscription) -> None:
        """Return (raise) when the connection fails or goes silent past two pings; the news
        itself is delivered by the protocol meanwhile."""
        loop = asyncio.get_running_loop()
        interval = self._ping_interval_s
        while True:
            # `wait`, not `wait_for`: Python 3.11's `wait_for` can swallow a cancellation (the
            # bus closing) that comes as the connection is lost, and this task would go on.
            await asyncio.wait({subscription.lost}, timeout=interval)
            if subscription.lost.done():
                why = subscription.lost.result()
                raise ConnectionError(f"redis closed the subscription: {why}")
            silent = loop.time() - subscription.last_seen
            if silent > 3 * interval:
                raise TimeoutError("redis did not answer PING")
            if silent >= interval:
                # Silence: ask for a pong, so that a dead peer (whose RST never comes) is noticed.
                subscription.send("PING")

    def _deliver(self, channel: bytes, data: bytes) -> None:
        """One message of the subscription, in the loop's read callback."""
        listener = self._listener
        if listener is None:
            return
        if data.startswith(self._mark):
            self.own += 1  # heard when published
            return
        topic = channel[len(PREFIX) :].decode(errors="replace")
        if not listener.wants(topic):
            self.skipped += 1  # nobody here would hear it: not decoded at all
            return
        try:
            payload = frames.decode(data)
        except ValueError:
            log.warning("redis bus: dropped a malformed message", extra={"topic": topic})
            return
        news = decode(payload) if isinstance(payload, dict) else None
        if news is not None:
            self._hear(listener, topic, news)

    @staticmethod
    def _hear(listener: BusListener, topic: str, message: BusMessage) -> None:
        """Hand `message` to the listener. A failing listener must not take the subscription
        down for everyone else, nor fail a publish whose change is committed: it is logged."""
        try:
            listener.on_message(topic, message)
        except Exception:
            log.exception("redis bus: listener failed", extra={"topic": topic})

    def _call_listener(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:
            log.exception("redis bus: listener failed")


def _redacted(url: str) -> str:
    """The URL without its password, for logs."""
    if "@" not in url:
        return url
    scheme, rest = url.split("://", 1) if "://" in url else ("", url)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if scheme else f"{user}:***@{host}"


class _Connection(asyncio.Protocol):
    """A connection of our own to Redis: what arrives is fed to hiredis' reader (the C parser
    redis-py itself uses) and each reply handed to `on_reply`; replies to `call`'s commands
    resolve its futures in order. A protocol error or a refusal nobody waits for closes it."""

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.reader = hiredis.Reader()
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[str] = loop.create_future()
        self.last_seen = loop.time()
        self._loop = loop
        self._replies: deque[asyncio.Future[Any]] = deque()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports have the methods, not the class.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(str(exc) if exc else "closed")

    def send(self, *args: str) -> None:
        # hiredis' stub types `pack_command`'s argument as a 1-tuple; it takes any length.
        self.write(hiredis.pack_command(args))  # type: ignore[arg-type]

    def write(self, data: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            raise ConnectionError("redis connection is closed")
        self.transport.write(data)

    async def call(self, *args: str) -> Any:
        """A command and its reply; a refusal raises ConnectionError."""
        reply: asyncio.Future[Any] = self._loop.create_future()
        self._replies.append(reply)
        self.send(*args)
        return await asyncio.shield(reply)

    def data_received(self, data: bytes) -> None:
        self.last_seen = self._loop.time()
        reader = self.reader
        try:
            reader.feed(data)
            while (reply := reader.gets()) is not False:
                self.on_reply(reply)
        except (hiredis.ProtocolError, ConnectionError) as exc:
            self._fail(str(exc))
            self.close()

    def on_reply(self, reply: Any) -> None:
        if self._replies:
            waiter = self._replies.popleft()
            if isinstance(reply, hiredis.ReplyError):
                waiter.set_exception(ConnectionError(f"redis refused: {reply}"))
            else:
                waiter.set_result(reply)
        elif isinstance(reply, hiredis.ReplyError):
            raise ConnectionError(f"redis refused: {reply}")

    def waiters(self) -> list[asyncio.Future[Any]]:
        """What `_fail` fails: the futures someone may be waiting on."""
        return list(self._replies)

    def _fail(self, why: str) -> None:
        if not self.lost.done():
            self.lost.set_result(why)
        waiters = self.waiters()
        self._replies.clear()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(ConnectionError(f"redis connection lost: {why}"))
                waiter.exception()  # retrieved here: nobody may be waiting for it any more

    def close(self, why: str = "closed here") -> None:
        if self.transport is not None:
            self.transport.close()
        self._fail(why)


@dataclass(slots=True)
class _Sent:
    """A batch of PUBLISH commands sent: how many answers are still due, and when it went."""

    due: int
    at: float


class _Publisher(_Connection):
    """The writer's connection: each batch of PUBLISH commands goes out in one write, and the
    answers are counted as they come, batch by batch (how many heard a message is of no
    interest). redis-py's pipeline cost ~4 % of a process's loop at 2,000 msg/s (decision 048).
    `on_change` is called when a batch is answered or the connection is lost."""

    def __init__(self, on_change: Callable[[], None]) -> None:
        super().__init__()
        self._on_change = on_change
        self._due: deque[_Sent] = deque()  # the batches sent and not fully answered, in order
        self.answered_any = False  # a batch was answered since the writer last looked

    @property
    def in_flight(self) -> int:
        return len(self._due)

    def oldest_sent_at(self) -> float | None:
        return self._due[0].at if self._due else None

    def unanswered(self) -> int:
        return sum(sent.due for sent in self._due)

    def send_batch(self, batch: list[tuple[str, bytes]]) -> None:
        # hiredis' stub types `pack_command`'s argument as a 1-tuple; it takes any length.
        pack = cast(Callable[[tuple[str | bytes, ...]], bytes], hiredis.pack_command)
        self.write(b"".join([pack(("PUBLISH", channel, payload)) for channel, payload in batch]))
        self._due.append(_Sent(len(batch), self._loop.time()))

    def on_reply(self, reply: Any) -> None:
        if self._replies or not self._due:
            super().on_reply(reply)  # AUTH's answer, or an unasked one
            return
        if isinstance(reply, hiredis.ReplyError):  # e.g. an ACL without PUBLISH
            raise ConnectionError(f"redis refused: {reply}")
        head = self._due[0]
        head.due -= 1
        if head.due == 0:
            self._due.popleft()
            self.answered_any = True
            self._on_change()

    def _fail(self, why: str) -> None:
        first = not self.lost.done()
        super()._fail(why)
        if first:
            self._on_change()


class _Subscription(_Connection):
    """The subscriber's connection: each complete `pmessage` is handed to `deliver` at once,
    in the read callback."""

    def __init__(self, deliver: Callable[[bytes, bytes], None]) -> None:
        super().__init__()
        self.deliver = deliver
        self.confirmed: asyncio.Future[None] = self._loop.create_future()

    def on_reply(self, reply: Any) -> None:
        kind = reply[0] if type(reply) is list and reply else None
        if kind == b"pmessage":
            try:
                self.deliver(reply[2], reply[3])
            except Exception:  # a bug: the other messages of this read still count
                log.exception("redis bus: delivering a message failed")
        elif kind == b"psubscribe":
            if not self.confirmed.done():
                self.confirmed.set_result(None)
        elif kind != b"pong":
            super().on_reply(reply)

    def waiters(self) -> list[asyncio.Future[Any]]:
        return [self.confirmed, *super().waiters()]
