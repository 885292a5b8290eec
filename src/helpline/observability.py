"""Metrics (prometheus-client) and structured logs.

Metrics live in the default registry, served at GET /metrics by `metrics_response()`:

    helpline_ws_connections               gauge      open WebSocket connections
    helpline_events_published_total       counter    events announced on the bus after commit
    helpline_events_delivered_total       counter    events written to a WebSocket
    helpline_event_delivery_seconds       histogram  commit (event `at`) -> written to a socket
    helpline_http_request_seconds         histogram  by method, route template, status
    helpline_gc_pause_seconds             histogram  collector pauses, by generation
    helpline_event_loop_lag_seconds       histogram  how late the loop runs a 25 ms timer
    helpline_gc_young_checks_total        counter    collections the young list's length asked for
    helpline_chats_waiting{queue}         gauge      set by `set_chats_waiting()`
    helpline_sqlite_wal_bytes             gauge      SQLite's write-ahead log after a checkpoint
    helpline_sqlite_wal_restarts_total    counter    times the log was started over (decision 035)

Several processes: with PROMETHEUS_MULTIPROC_DIR set (an empty directory shared by the
processes, see prometheus-client's multiprocess mode), `/metrics` adds them all up.

Logs: `setup_logging(level, json=True)` writes one JSON object per line to stderr with `ts`,
`level`, `logger`, `message`, the current `request_id`, and any `extra={...}` fields
(`chat_id`, ...). `RequestIdMiddleware` sets `request_id` from `X-Request-ID` (or a new id)
and echoes it in the response. The HTTP client's loggers stay at WARNING: at INFO they would
write webhook URLs, credentials and all.
"""

from __future__ import annotations

import json as jsonlib
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.responses import Response
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# -- metrics ----------------------------------------------------------------------------------

# Fine low buckets: the delivery target is single-digit milliseconds.
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05,
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip

ws_connections = Gauge(
    "helpline_ws_connections",
    "Open WebSocket connections",
    multiprocess_mode="livesum",
)
events_published_total = Counter(
    "helpline_events_published",
    "Chat events announced on the bus after commit",
)
events_delivered_total = Counter(
    "helpline_events_delivered",
    "Chat events written to a WebSocket connection",
)
delivery_repairs_total = Counter(
    "helpline_delivery_repairs",
    "Gaps in a connection's events filled from the database (bus news lost or late)",
)
event_delivery_seconds = Histogram(
    "helpline_event_delivery_seconds",
    "Time from an event's commit (its `at`) to its write on a WebSocket (live events: a "
    "subscription's replay of what was committed before it is counted, not timed)",
    buckets=LATENCY_BUCKETS,
)
# Pauses and stalls of the event loop (helpline.gcpolicy): anything above ~50 ms is felt by
# every connection of the process at once.
STALL_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
gc_pause_seconds = Histogram(
    "helpline_gc_pause_seconds",
    "Pauses of Python's cyclic garbage collector, by generation (2 = full collection)",
    ["generation"],
    buckets=STALL_BUCKETS,
)
gc_young_checks_total = Counter(
    "helpline_gc_young_checks_total",
    "Collections made because the young generation's list outgrew HELPLINE_GC_YOUNG_LIMIT "
    "while CPython's count of it stayed low (frozen objects dying), by generation",
    ["generation"],
)
event_loop_lag_seconds = Histogram(
    "helpline_event_loop_lag_seconds",
    "How late the event loop ran a 25 ms timer (a stall delays every connection)",
    buckets=STALL_BUCKETS,
)
message_commit_wait_seconds = Histogram(
    "helpline_message_commit_wait_seconds",
    "How long the first message of each batch of the message writer waited for its commit "
    "(the writer's queue and lock, a busy database, the commit itself)",
    buckets=STALL_BUCKETS,
)
http_request_seconds = Histogram(
    "helpline_http_request_seconds",
    "HTTP request latency, by route template",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)
# The password hashing pool (helpline.accounts.passwords): waiting for a hashing thread, then
# hashing. A wait that grows while messages flow means the hashes get too little CPU.
password_hash_seconds = Histogram(
    "helpline_password_hash_seconds",
    "Password hashes: time waiting for a hashing thread (phase=wait) and hashing (phase=run)",
    ["phase"],
    buckets=LATENCY_BUCKETS,
)
password_hash_fallbacks_total = Counter(
    "helpline_password_hash_fallbacks",
    "Times password hashes found no idle CPU and turned to the fallback threads at nice +10 "
    "(HELPLINE_PASSWORD_HASH_PRIORITY=idle; a host whose cores are never idle)",
)
chats_waiting = Gauge(
    "helpline_chats_waiting",
    "Chats waiting for an agent, per queue",
    ["queue"],
    multiprocess_mode="livemax",
)

# SQLite only (helpline.db.WalCheckpointer): a log that keeps growing means readers never let
# it start over; every read then searches a longer log.
sqlite_wal_bytes = Gauge(
    "helpline_sqlite_wal_bytes",
    "Size of SQLite's write-ahead log after the last checkpoint",
    multiprocess_mode="livemax",
)
sqlite_wal_restarts_total = Counter(
    "helpline_sqlite_wal_restarts",
    "Times SQLite's write-ahead log was started over by a RESTART checkpoint",
)


_parsed: tuple[str, datetime] = ("", datetime.now(UTC))


def observe_delivery(event_at: datetime | str, *, replayed: bool = False) -> None:
    """Count one delivered event and its latency from commit (the event's `at`). A replay (a
    subscription catching up on what was committed before it, hours ago perhaps) is counted
    but not timed: its age is the client's absence, not the server's delay, and a client
    coming back after a while would otherwise put the histogram's p99 past its last bucket."""
    global _parsed
    events_delivered_total.inc()
    if replayed:
        return
    if isinstance(event_at, str):
        # An event reaches its recipients one after another: parse its time once.
        if _parsed[0] == event_at:
            event_at = _parsed[1]
        else:
            try:
                parsed = datetime.fromisoformat(event_at.replace("Z", "+00:00"))
            except ValueError:
                return
            _parsed = (event_at, parsed)
            event_at = parsed
    if event_at.tzinfo is None:
        event_at = event_at.replace(tzinfo=UTC)
    event_delivery_seconds.observe(max(0.0, (datetime.now(UTC) - event_at).total_seconds()))


def set_chats_waiting(counts: Mapping[str, int]) -> None:
    """Replace the per-queue waiting counts (queues absent from `counts` disappear)."""
    chats_waiting.clear()
    for queue, n in counts.items():
        chats_waiting.labels(queue=queue).set(n)


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


def process_exiting() -> None:
    """With several workers, drop this process's live gauges from the shared view."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def metrics_response() -> Response:
    """The body of GET /metrics, in the Prometheus text format."""
    return Response(generate_latest(_registry()), media_type=CONTENT_TYPE_LATEST)


def _route_template(scope: Scope, root_path: str) -> str:
    """The matched route's path template (`/api/v1/chats/{chat_id}`), never the raw path.

    Raw paths would make one time series per id. Starlette sets `scope["route"]` while routing;
    a route inside a mounted router gets the mount's prefix from the grown `root_path`.
    """
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not isinstance(path, str):
        return "<unmatched>"
    if isinstance(route, Mount):
        return path  # e.g. static files: one series for the whole mount
    # FastAPI keeps included routers whole, so the route knows only its own part of the path
    # ("/chats/{chat_id}"); the prefix is what precedes that part in the concrete path.
    concrete = path
    for name, value in (scope.get("path_params") or {}).items():
        concrete = concrete.replace("{" + name + "}", str(value))
    full = str(scope.get("path", ""))
    if full.endswith(concrete):
        return full[: len(full) - len(concrete)] + path
    return str(scope.get("root_path", ""))[len(root_path) :] + path


class MetricsMiddleware:
    """HTTP latency per (method, route template, status). Pure ASGI; WebSockets pass through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        root_path = str(scope.get("root_path", ""))
        status = 500  # what the client gets if the app raises before answering

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            http_request_seconds.labels(
                method=scope.get("method", ""),
                route=_route_template(scope, root_path),
                status=str(status),
            ).observe(time.perf_counter() - start)


# -- request ids ------------------------------------------------------------------------------

request_id: ContextVar[str | None] = ContextVar("helpline_request_id", default=None)

# Accept a caller's id only if it is short and plain, so it cannot forge log lines or headers.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")


def new_request_id() -> str:
    return uuid.uuid4().hex


def request_id_of(scope: Scope) -> str:
    """The caller's `X-Request-ID` if it is acceptable, else a new id."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if _VALID_REQUEST_ID.match(candidate):
                return candidate
            break
    return new_request_id()


class RequestIdMiddleware:
    """Sets `request_id` for the request (HTTP and WebSocket) and returns it as `X-Request-ID`."""

    header = b"x-request-id"

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        rid = request_id_of(scope)
        token = request_id.set(rid)
        raw = rid.encode("latin-1")

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", ()) if k.lower() != self.header
                ]
                headers.append((self.header, raw))
                message = {**message, "headers": headers}
            await send(message)

        try:
            # A WebSocket sends thousands of frames: leave its `send` unwrapped (the hot path).
            await self.app(scope, receive, send_wrapper if scope["type"] == "http" else send)
        finally:
            request_id.reset(token)


# -- logging ----------------------------------------------------------------------------------


def mask_email(address: str) -> str:
    """An address as logs may show it: enough to tell two apart, not to write to
    (`carla@example.com` → `c***@example.com`)."""
    local, at, domain = address.rpartition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _RECORD_ATTRS and k[0] != "_"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, request_id, extras, exc."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id.get()
        if rid is not None:
            out["request_id"] = rid
        for key, value in _extras(record).items():
            out.setdefault(key, value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return jsonlib.dumps(out, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Human-readable lines for a terminal, extras appended as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = _extras(record)
        rid = request_id.get()
        if rid is not None:
            fields.setdefault("request_id", rid)
        if fields:
            tail = " ".join(f"{k}={v}" for k, v in fields.items())
            first, nl, rest = line.partition("\n")
            line = f"{first} [{tail}]{nl}{rest}"
        return line


_HANDLER_NAME = "helpline"


def setup_logging(level: str = "INFO", json: bool = True) -> None:
    """Configure the root logger once (idempotent); uvicorn's loggers propagate to it.

    Run uvicorn with `log_config=None` so it keeps this configuration.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if json else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    # The HTTP client logs each request's full URL at INFO, with any credentials and query
    # token in it (a webhook URL may carry both): let only its warnings through.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # No per-request access lines (`serve` turns them off): latency is in /metrics, and a line
    # per request would dwarf the log. The load balancer's log has them if wanted.
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False
