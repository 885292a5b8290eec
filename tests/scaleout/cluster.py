"""Real Helpline server processes sharing one PostgreSQL and one Redis, for scale-out tests.

    cluster = Cluster(pg, redis, workdir)       # migrates a template database (+ demo data)
    pair = cluster.pair("t1")                   # a fresh database, processes A and B, running
    pair.a.kill()                               # SIGKILL, as a crashed machine would
    pair.close()

Each process is `python -m helpline serve` with its own port and public URL; both share the
database, the Redis bus and one data directory (uploaded files live under DATA_DIR/files, which
production shares between machines as a network volume). Everything the tests do goes through
the public HTTP and WebSocket contract, as a browser or a load balancer would.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import itertools
import os
import signal
import subprocess
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.fixtures import forkserver
from tests.fixtures.servers import PostgresServer, RedisServer, create_database, free_port

API = "/api/v1"
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "helpline-demo"  # the demo's published password
AGENT_PASSWORD = "scaleout-agent-pw"
TEMPLATE = "scaleout_template"
SECRET_KEY = "scaleout-test-secret-key-0123456789abcdef"  # the same on every process

_names = itertools.count(1)
_T = TypeVar("_T")
_running: set[HelplineProcess] = set()


@atexit.register
def _stop_leftovers() -> None:
    """An interrupted run leaves no server process behind."""
    for proc in list(_running):
        with contextlib.suppress(Exception):
            proc.stop(timeout=5)


def _tail(path: Path, n: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return ""


class HelplineProcess:
    """One `helpline serve` process on a free loopback port."""

    def __init__(
        self, name: str, env: dict[str, str], log_dir: Path, args: tuple[str, ...] = ()
    ) -> None:
        self.name = name
        self.args = args
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}{API}/ws"
        self.log = log_dir / f"helpline-{name}-{self.port}.log"
        self.env = {
            **env,
            "HELPLINE_PORT": str(self.port),
            "HELPLINE_PUBLIC_URL": self.base_url,
        }
        self.proc: forkserver.ForkedProcess | subprocess.Popen[bytes] | None = None

    def spawn(self) -> None:
        # Forked from the fork server (tests/fixtures/forkserver.py), or with --workers a new
        # interpreter. Its own process group: with --workers, a forced stop takes the workers.
        self.proc = forkserver.spawn(
            ["serve", *self.args], self.env, stdout=self.log, new_session=True
        )
        _running.add(self)

    def wait_ready(self, timeout: float = 60) -> None:
        """Until /readyz answers 200 (database and bus both reachable)."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2, trust_env=False) as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise AssertionError(
                        f"{self.name} exited ({self.proc.returncode}):\n{_tail(self.log)}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if http.get(self.base_url + "/readyz").status_code == 200:
                        return
                time.sleep(0.02)
        raise AssertionError(f"{self.name} not ready within {timeout} s:\n{_tail(self.log)}")

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, sockets die without a goodbye."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def interrupt(self) -> None:
        """Ask for a graceful shutdown (Ctrl+C); `stop()` waits for it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)

    def stop(self, timeout: float = 10) -> None:
        _running.discard(self)
        if self.proc is None or self.proc.poll() is not None:
            return
        self.interrupt()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def problems(self) -> list[str]:
        """Log lines that point at a server bug: tracebacks and ERROR records."""
        text = _tail(self.log, 2_000_000)
        return [
            line[:400]
            for line in text.splitlines()
            if "Traceback" in line or '"level": "ERROR"' in line or '"level":"ERROR"' in line
        ]


@dataclass
class Pair:
    """Processes A and B on one database; `close()` stops whatever still runs."""

    a: HelplineProcess
    b: HelplineProcess
    database_url: str
    data_dir: Path

    def close(self) -> None:
        for p in (self.a, self.b):
            p.interrupt()  # both at once: each takes a moment to close its connections
        for p in (self.a, self.b):
            p.stop()

    def problems(self) -> list[str]:
        return [f"{p.name}: {line}" for p in (self.a, self.b) for line in p.problems()]


class Cluster:
    """PostgreSQL + Redis + a migrated template database (with the demo data)."""

    def __init__(self, pg: PostgresServer, redis: RedisServer, workdir: Path) -> None:
        self.pg = pg
        self.redis = redis
        self.workdir = workdir
        self.template_url = create_database(pg.dsn, TEMPLATE)
        env = self._env(self.template_url, workdir / "template-data")
        # The documented way to prepare a database: the real CLI, not test helpers.
        for command in ("migrate", "demo"):
            self._cli(env, command)

    def _env(self, database_url: str, data_dir: Path) -> dict[str, str]:
        # Only our settings: a HELPLINE_* variable from the caller's shell must not leak in.
        base = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
        base.pop("PROMETHEUS_MULTIPROC_DIR", None)
        return {
            **base,
            "HELPLINE_DATABASE_URL": database_url,
            "HELPLINE_REDIS_URL": self.redis.url,
            "HELPLINE_DATA_DIR": str(data_dir),
            "HELPLINE_RATE_LIMITS": "off",
            "HELPLINE_PASSWORD_FAST_HASH": "true",
            "HELPLINE_SECRET_KEY": SECRET_KEY,
            "HELPLINE_LOG_LEVEL": "INFO",
        }

    def _cli(self, env: dict[str, str], *args: str) -> None:
        code, stdout, stderr = forkserver.run(list(args), env, timeout=120)
        log = self.workdir / f"cli-{args[0]}.log"
        log.write_text(stdout + stderr)
        assert code == 0, f"helpline {' '.join(args)} failed:\n{_tail(log)}"

    def database(self, label: str) -> tuple[str, Path]:
        """A fresh copy of the template database, and a data directory: (URL, directory)."""
        name = f"scaleout_{label}_{next(_names)}"
        database_url = create_database(self.pg.dsn, name, template=TEMPLATE)
        data_dir = self.workdir / name
        data_dir.mkdir()
        return database_url, data_dir

    def workers(self, label: str, n: int, extra_env: dict[str, str]) -> HelplineProcess:
        """`helpline serve --workers n` on a fresh database, ready."""
        database_url, data_dir = self.database(label)
        env = {**self._env(database_url, data_dir), **extra_env}
        proc = HelplineProcess("W", env, self.workdir, ("--workers", str(n)))
        proc.spawn()
        try:
            proc.wait_ready()
        except BaseException:
            proc.stop()
            raise
        return proc

    def pair(
        self, label: str, *, a_redis_url: str | None = None, storage: dict[str, str] | None = None
    ) -> Pair:
        """A fresh copy of the template database and two processes serving it, both ready.

        `a_redis_url` gives A its own way to Redis (e.g. through a `TcpProxy`). `storage`
        (HELPLINE_STORAGE_URL and the S3 settings) puts files in an object store, and then
        each process gets a data directory of its own: nothing is shared on disk."""
        database_url, data_dir = self.database(label)
        env = {**self._env(database_url, data_dir), **(storage or {})}
        b_env = env
        if storage:
            own = data_dir.with_name(data_dir.name + "-b")
            own.mkdir()
            b_env = {**env, "HELPLINE_DATA_DIR": str(own)}
        a_env = {**env, "HELPLINE_REDIS_URL": a_redis_url} if a_redis_url else env
        pair = Pair(
            HelplineProcess("A", a_env, self.workdir),
            HelplineProcess("B", b_env, self.workdir),
            database_url,
            data_dir,
        )
        try:
            # Started together: each takes a couple of seconds to import and connect.
            pair.a.spawn()
            pair.b.spawn()
            pair.a.wait_ready()
            pair.b.wait_ready()
        except BaseException:
            pair.close()
            raise
        return pair


class TcpProxy:
    """A loopback TCP forwarder that can cut the line: one process's own link to a server.

    It runs its own event loop in a thread, so it outlives any test's loop and can sit between
    a server process and Redis from before the process starts. `cut()` drops every open
    connection and refuses new ones (accepts and closes at once) until `restore()`.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._cut = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="tcp-proxy", daemon=True
        )
        self._thread.start()
        self._server = self._call(self._listen())

    def _call(self, coro: Coroutine[Any, Any, _T]) -> _T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _listen(self) -> asyncio.Server:
        return await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._cut:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def cut(self) -> None:
        async def _cut() -> None:
            self._cut = True
            for w in list(self._writers):
                w.transport.abort()  # a reset, as when a link fails

        self._call(_cut())

    def restore(self) -> None:
        async def _restore() -> None:
            self._cut = False

        self._call(_restore())

    def close(self) -> None:
        async def _close() -> None:
            self._server.close()
            for w in list(self._writers):
                w.transport.abort()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in others:
                t.cancel()
            await asyncio.gather(*others, return_exceptions=True)
            await self._server.wait_closed()

        self._call(_close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


# -- the public API, as a client sees it --------------------------------------------------


@dataclass
class Person:
    id: str
    name: str
    token: str
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.headers = {"Authorization": f"Bearer {self.token}"}


def http_client(timeout: float = 10) -> httpx.AsyncClient:
    # Bearer tokens only: a kept session cookie would make requests cookie-authenticated too.
    no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    return httpx.AsyncClient(
        timeout=timeout,
        trust_env=False,  # never route loopback traffic through a proxy from the environment
        cookies=no_cookies,
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
    )


def ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r.json()


class Api:
    """Set-up through the public API of any process: accounts, queues, chats."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.run = f"{os.getpid()}-{next(_names)}"
        self._n = itertools.count(1)

    async def login(self, base: str, email: str, password: str) -> Person:
        r = await self.http.post(
            base + API + "/auth/login", json={"email": email, "password": password}
        )
        body = ok(r)
        return Person(body["user"]["id"], body["user"]["name"], body["token"])

    async def admin(self, base: str) -> Person:
        return await self.login(base, ADMIN_EMAIL, ADMIN_PASSWORD)

    async def guest(self, base: str, name: str = "Guest") -> Person:
        n = next(self._n)
        r = await self.http.post(
            base + API + "/auth/guest",
            json={"name": f"{name} {n}", "email": f"guest-{self.run}-{n}@example.com"},
        )
        body = ok(r)
        return Person(body["user"]["id"], body["user"]["name"], body["token"])

    async def queue(self, base: str, admin: Person, name: str) -> str:
        r = await self.http.post(
            base + API + "/queues",
            json={"name": f"{name} {self.run}", "description": "scale-out test"},
            headers=admin.headers,
        )
        return str(ok(r, 201)["id"])

    async def agents(
        self, base: str, admin: Person, queue_id: str, n: int, *, max_chats: int = 3
    ) -> list[Person]:
        """n new agents, members of `queue_id` only, signed in (available by default)."""

        async def create(i: int) -> str:
            r = await self.http.post(
                base + API + "/users",
                json={
                    "email": f"agent-{self.run}-{queue_id[:6]}-{i}@example.com",
                    "name": f"Agent {i} of {queue_id[:6]}",
                    "role": "agent",
                    "password": AGENT_PASSWORD,
                    "max_chats": max_chats,
                },
                headers=admin.headers,
            )
            return str(ok(r, 201)["id"])

        ids = await asyncio.gather(*(create(i) for i in range(n)))
        r = await self.http.put(
            base + API + f"/queues/{queue_id}/members",
            json={"user_ids": list(ids)},
            headers=admin.headers,
        )
        ok(r)
        return list(
            await asyncio.gather(
                *(
                    self.login(
                        base, f"agent-{self.run}-{queue_id[:6]}-{i}@example.com", AGENT_PASSWORD
                    )
                    for i in range(n)
                )
            )
        )

    async def start_chat(self, base: str, customer: Person, queue_id: str, text: str) -> str:
        r = await self.http.post(
            base + API + "/chats",
            json={"queue_id": queue_id, "message": text},
            headers=customer.headers,
        )
        return str(ok(r, 201)["id"])

    async def accept(self, base: str, agent: Person, chat_id: str) -> None:
        ok(await self.http.post(base + API + f"/chats/{chat_id}/accept", headers=agent.headers))

    async def events(self, base: str, who: Person, chat_id: str) -> list[dict[str, Any]]:
        """Every event of the chat that `who` may see, oldest first (following cursors)."""
        out: list[dict[str, Any]] = []
        after = 0
        while True:
            r = await self.http.get(
                base + API + f"/chats/{chat_id}/events",
                params={"after": after, "limit": 1000},
                headers=who.headers,
            )
            body = ok(r)
            out += body["items"]
            if not body["next"] or not body["items"]:
                return out
            after = out[-1]["seq"]


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout: float, what: str, interval: float = 0.05
) -> None:
    """Poll `check` until it holds; the assertion is the condition, the deadline only bounds it."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(interval)
