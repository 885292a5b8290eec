"""Signing in: login limits that count failures only, per account and address (CONTRACT-2
"Login limits"); no timing difference between known and unknown accounts; password hashing
off the event loop."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher, extract_parameters
from fastapi import FastAPI
from sqlalchemy import select, text, update

from helpline import observability as metrics
from helpline.accounts import passwords
from helpline.accounts import repository as accounts_repo
from helpline.accounts.models import User
from helpline.app import create_app
from helpline.config import Settings
from tests.fixtures.factories import PASSWORD, ctx_of, make_user

pytestmark = pytest.mark.asyncio

LOGIN = "/api/v1/auth/login"


@asynccontextmanager
async def client_from(app: FastAPI, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests come from `address` (what the limits key on)."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def login(c: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    c.cookies.clear()
    return await c.post(LOGIN, json={"email": email, "password": password})


@pytest.fixture
def verified(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every (hash, password) that the real `verify_password` checks from now on."""
    calls: list[tuple[str, str]] = []
    real = passwords.verify_password

    def recording(password_hash: str, password: str) -> bool:
        calls.append((password_hash, password))
        return real(password_hash, password)

    monkeypatch.setattr(passwords, "verify_password", recording)
    return calls


async def test_login_limit_defaults_follow_the_contract() -> None:
    fields = Settings.model_fields
    assert fields["rate_limit_login_failures"].default == "10/minute"
    assert fields["rate_limit_login_address_failures"].default == "100/minute"


class TestLoginLimits:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"rate_limits": "on"}

    async def test_eleven_colleagues_from_one_address_all_sign_in(self, app: FastAPI) -> None:
        people = [await make_user(app, "agent") for _ in range(11)]
        async with client_from(app, "198.51.100.10") as office:
            codes = [(await login(office, p.email, PASSWORD)).status_code for p in people]
        assert codes == [200] * 11

    async def test_signing_in_correctly_again_and_again_is_never_limited(
        self, app: FastAPI
    ) -> None:
        agent = await make_user(app, "agent")
        async with client_from(app, "198.51.100.11") as c:
            codes = [(await login(c, agent.email, PASSWORD)).status_code for _ in range(15)]
        assert codes == [200] * 15

    async def test_failures_from_other_addresses_never_stop_the_real_user(
        self, app: FastAPI
    ) -> None:
        agent = await make_user(app, "agent")
        for n in range(3):
            async with client_from(app, f"203.0.113.{n}") as attacker:
                codes = [
                    (await login(attacker, agent.email, "guess")).status_code for _ in range(12)
                ]
            assert codes == [401] * 10 + [429] * 2
        async with client_from(app, "198.51.100.12") as own:
            assert (await login(own, agent.email, PASSWORD)).status_code == 200

    async def test_ten_failures_lock_that_account_at_that_address_before_hashing(
        self, app: FastAPI, verified: list[tuple[str, str]]
    ) -> None:
        agent = await make_user(app, "agent")
        other = await make_user(app, "agent")
        async with client_from(app, "203.0.113.50") as c:
            codes = [(await login(c, agent.email, f"guess-{i}")).status_code for i in range(10)]
            assert codes == [401] * 10
            assert len(verified) == 10
            # Even the right password is refused now, and nothing is hashed for it.
            r = await login(c, agent.email, PASSWORD)
            assert r.status_code == 429
            assert r.json()["error"]["code"] == "rate_limited"
            assert r.json()["error"]["message"]
            assert int(r.headers["retry-after"]) >= 1
            assert len(verified) == 10
            # Another account from the same address is not locked.
            assert (await login(c, other.email, PASSWORD)).status_code == 200

    async def test_unknown_accounts_count_like_known_ones(self, app: FastAPI) -> None:
        async with client_from(app, "203.0.113.51") as c:
            codes = [(await login(c, "nobody@example.com", "x")).status_code for _ in range(11)]
        assert codes == [401] * 10 + [429]

    async def test_a_burst_of_parallel_guesses_gets_no_more_than_the_limit(
        self, app: FastAPI
    ) -> None:
        agent = await make_user(app, "agent")
        async with client_from(app, "203.0.113.52") as c:
            answers = await asyncio.gather(
                *(c.post(LOGIN, json={"email": agent.email, "password": "x"}) for _ in range(25))
            )
        codes = sorted(r.status_code for r in answers)
        assert codes.count(401) <= 10
        assert codes.count(401) + codes.count(429) == 25

    async def test_lockout_is_logged_without_password_or_email(
        self, app: FastAPI, caplog: pytest.LogCaptureFixture
    ) -> None:
        agent = await make_user(app, "agent", email="lena@example.com")
        caplog.set_level(logging.WARNING, logger="helpline.accounts")
        async with client_from(app, "203.0.113.53") as c:
            for i in range(10):
                await login(c, agent.email, f"secret-guess-{i}")
            await login(c, agent.email, "secret-guess-x")
        locked = [r for r in caplog.records if r.name == "helpline.accounts"]
        assert len(locked) == 1
        record = locked[0]
        assert record.levelno == logging.WARNING
        assert record.__dict__["user_id"] == agent.id
        assert record.__dict__["scope"] == "account"
        assert record.__dict__["address"] == "203.0.113.53"
        text = record.getMessage() + repr(record.__dict__)
        assert "lena@example.com" not in text and "secret-guess" not in text


class TestAddressCeiling:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        # The ceiling's own setting, lowered so the test stays short.
        return {"rate_limits": "on", "rate_limit_login_address_failures": "12/minute"}

    async def test_failures_on_many_accounts_from_one_address_hit_the_ceiling(
        self, app: FastAPI
    ) -> None:
        people = [await make_user(app, "agent") for _ in range(4)]
        async with client_from(app, "203.0.113.60") as c:
            codes = [(await login(c, p.email, "x")).status_code for p in people for _ in range(3)]
            assert codes == [401] * 12
            assert (await login(c, people[0].email, PASSWORD)).status_code == 429
        async with client_from(app, "198.51.100.60") as elsewhere:
            assert (await login(elsewhere, people[0].email, PASSWORD)).status_code == 200


async def test_with_rate_limits_off_nothing_is_limited(app: FastAPI) -> None:
    assert not ctx_of(app).settings.rate_limits_on
    agent = await make_user(app, "agent")
    async with client_from(app, "203.0.113.70") as c:
        codes = [(await login(c, agent.email, "x")).status_code for _ in range(15)]
        assert codes == [401] * 15
        assert (await login(c, agent.email, PASSWORD)).status_code == 200


class TestHashUpgrade:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"password_fast_hash": False}  # production hashing: what the upgrade is about

    async def test_a_hash_with_older_parameters_is_upgraded_at_the_next_sign_in(
        self, app: FastAPI
    ) -> None:
        agent = await make_user(app, "agent")
        older = PasswordHasher().hash(PASSWORD)  # argon2-cffi's defaults: 64 MiB, t=3, p=4
        await _set_hash(app, agent.id, older)
        async with client_from(app, "203.0.113.80") as c:
            assert (await login(c, agent.email, "wrong")).status_code == 401
            assert await _hash_of(app, agent.id) == older  # no password, no upgrade
            assert (await login(c, agent.email, PASSWORD)).status_code == 200
            upgraded = await _hash_of(app, agent.id)
            assert upgraded != older
            params = extract_parameters(upgraded)
            today = passwords.hasher()
            assert (params.time_cost, params.memory_cost, params.parallelism) == (
                today.time_cost,
                today.memory_cost,
                today.parallelism,
            )
            assert passwords.verify_password(upgraded, PASSWORD)
            assert (await login(c, agent.email, PASSWORD)).status_code == 200
            assert await _hash_of(app, agent.id) == upgraded  # once only

    async def test_a_password_changed_meanwhile_is_not_overwritten(self, app: FastAPI) -> None:
        agent = await make_user(app, "agent")
        older = PasswordHasher().hash(PASSWORD)
        changed = passwords.hash_password("a new password")
        await _set_hash(app, agent.id, changed)
        async with ctx_of(app).db.write() as uow:
            swapped = await accounts_repo.replace_password_hash(
                uow.session, agent.id, older, passwords.hash_password(PASSWORD)
            )
        assert not swapped
        assert await _hash_of(app, agent.id) == changed


async def _set_hash(app: FastAPI, user_id: str, value: str) -> None:
    async with ctx_of(app).db.write() as uow:
        await uow.session.execute(
            update(User).where(User.id == user_id).values(password_hash=value)
        )


async def _hash_of(app: FastAPI, user_id: str) -> str | None:
    async with ctx_of(app).db.read() as session:
        return await session.scalar(select(User.password_hash).where(User.id == user_id))


# --- timing does not tell which accounts exist ---------------------------------------------


async def test_dummy_hash_has_the_real_hashes_parameters() -> None:
    real = extract_parameters(passwords.hash_password("some password"))
    assert extract_parameters(passwords.dummy_hash()) == real
    hasher = passwords.hasher()
    assert (real.time_cost, real.memory_cost, real.parallelism) == (
        hasher.time_cost,
        hasher.memory_cost,
        hasher.parallelism,
    )
    # Never below OWASP's first Argon2id configuration (decision 032).
    assert real.type.name == "ID"
    assert (real.time_cost, real.memory_cost, real.parallelism) >= (2, 19 * 1024, 1)
    assert real.memory_cost >= 19 * 1024
    # The test setting lowers both alike.
    fast = extract_parameters(passwords.hash_password("x", fast=True))
    assert extract_parameters(passwords.dummy_hash(fast=True)) == fast


async def test_unknown_inactive_guest_and_wrong_password_answer_alike(
    app: FastAPI, client: httpx.AsyncClient, verified: list[tuple[str, str]]
) -> None:
    agent = await make_user(app, "agent")
    inactive = await make_user(app, "agent")
    admin = await make_user(app, "admin")
    r = await client.patch(
        f"/api/v1/users/{inactive.id}", json={"active": False}, headers=admin.headers
    )
    assert r.status_code == 200
    guest = await make_user(app, "customer", is_guest=True)
    answers = []
    for email, password in (
        (agent.email, "wrong"),
        ("nobody@example.com", "wrong"),
        (inactive.email, PASSWORD),
        (guest.email, "wrong"),
    ):
        client.cookies.clear()
        answers.append(await client.post(LOGIN, json={"email": email, "password": password}))
    assert {r.status_code for r in answers} == {401}
    assert all(r.json() == answers[0].json() for r in answers)
    assert not any("helpline_session=" in r.headers.get("set-cookie", "") for r in answers)
    # Every one of them verified a password hash with the same parameters.
    hashes = [h for h, _ in verified]
    assert len(hashes) == 4
    assert all(extract_parameters(h) == extract_parameters(hashes[0]) for h in hashes)


# --- hashing off the event loop ------------------------------------------------------------


class LoopWatch:
    """Proves the loop serves while a hash runs: each hash, in its worker thread, waits until
    a /healthz sent after it started has been answered. Run on the loop itself, it would wait
    in vain (bounded), as nothing else runs while it holds the loop."""

    def __init__(self, real: Callable[..., Any]) -> None:
        self.real = real
        self.waiting: list[threading.Event] = []
        self.progressed: list[bool] = []
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        answered = threading.Event()
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.waiting.append(answered)
        try:
            self.progressed.append(answered.wait(timeout=5))
            return self.real(*args, **kwargs)
        finally:
            with self.lock:
                self.running -= 1

    async def ping(self, client: httpx.AsyncClient, done: asyncio.Event) -> int:
        answered = 0
        while not done.is_set():
            with self.lock:
                started = list(self.waiting)
            r = await client.get("/healthz")
            assert r.status_code == 200
            answered += 1
            for event in started:
                event.set()
            await asyncio.sleep(0.005)
        return answered


async def watch_loop(
    client: httpx.AsyncClient, watch: LoopWatch, work: list[Any]
) -> tuple[list[Any], int]:
    done = asyncio.Event()
    pinger = asyncio.create_task(watch.ping(client, done))
    try:
        results = await asyncio.gather(*work)
    finally:
        done.set()
    return list(results), await pinger


async def test_logins_leave_the_loop_serving_and_hash_at_most_one_per_core(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = [await make_user(app, "agent") for _ in range(8)]
    watch = LoopWatch(passwords.verify_password)
    monkeypatch.setattr(passwords, "verify_password", watch)
    async with client_from(app, "198.51.100.80") as logins:
        work = [
            logins.post(LOGIN, json={"email": p.email, "password": PASSWORD if i % 2 else "wrong"})
            for i, p in enumerate(people)
        ]
        answers, pings = await watch_loop(client, watch, work)
    assert [r.status_code for r in answers] == [401, 200] * 4
    assert watch.progressed == [True] * 8
    assert pings >= 1
    assert 1 <= watch.most <= (os.cpu_count() or 1)


async def test_creating_users_and_changing_passwords_hash_off_the_loop(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = await make_user(app, "admin")
    agent = await make_user(app, "agent")
    watch = LoopWatch(passwords.hash_password)
    monkeypatch.setattr(passwords, "hash_password", watch)
    body = {"email": "new@example.com", "name": "New", "role": "agent", "password": "long-enough-1"}
    work = [
        client.post("/api/v1/users", json=body, headers=admin.headers),
        client.patch(
            f"/api/v1/users/{agent.id}", json={"password": "long-enough-2"}, headers=admin.headers
        ),
    ]
    answers, _ = await watch_loop(client, watch, work)
    assert [r.status_code for r in answers] == [201, 200]
    assert watch.progressed == [True, True]
    client.cookies.clear()
    r = await client.post(LOGIN, json={"email": agent.email, "password": "long-enough-2"})
    assert r.status_code == 200


# --- the hashing pool: bounded, first come first served, below the loop's priority ---------


class Gate:
    """Holds every password check in its worker thread until opened (bounded), recording the
    passwords in the order they were checked."""

    def __init__(self, real: Callable[..., Any]) -> None:
        self.real = real
        self.open = threading.Event()
        self.order: list[str] = []

    def __call__(self, password_hash: str, password: str) -> bool:
        assert self.open.wait(timeout=10), "the gate was never opened"
        self.order.append(password)
        return bool(self.real(password_hash, password))


_HASH_SAMPLES = [(phase, kind) for phase in ("wait", "run") for kind in ("count", "sum")]


def _hash_metric(phase: str, kind: str) -> float:
    name = f"helpline_password_hash_seconds_{kind}"
    return metrics.REGISTRY.get_sample_value(name, {"phase": phase}) or 0.0


async def pending(n: int) -> None:
    """Until the pool holds n hashes (running or waiting); bounded."""
    for _ in range(1000):
        if passwords.pool().pending == n:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"pool holds {passwords.pool().pending} hashes, not {n}")


class TestHashPool:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"password_hash_workers": 1, "password_hash_queue": 2, "rate_limits": "on"}

    async def test_sign_ins_beyond_the_queue_are_refused_busy_and_change_nothing(
        self, app: FastAPI, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        people = [await make_user(app, "agent") for _ in range(4)]
        gate = Gate(passwords.verify_password)
        monkeypatch.setattr(passwords, "verify_password", gate)
        async with client_from(app, "198.51.100.90") as c:
            held = []
            for n, p in enumerate(people[:3], start=1):  # one hashing, two waiting
                held.append(asyncio.create_task(login(c, p.email, PASSWORD)))
                await pending(n)
            refused = await login(c, people[3].email, PASSWORD)
            assert refused.status_code == 503
            assert refused.json()["error"]["code"] == "busy"
            assert refused.headers["Retry-After"] == "1"
            assert "token" not in refused.json()
            gate.open.set()
            assert [(await t).status_code for t in held] == [200, 200, 200]
            # Refused before any check: it was not counted as a failure, and works now.
            assert (await login(c, people[3].email, PASSWORD)).status_code == 200
        assert gate.order == [PASSWORD] * 4

    async def test_waiting_sign_ins_are_checked_in_the_order_they_came(
        self, app: FastAPI, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        people = [await make_user(app, "agent") for _ in range(3)]
        gate = Gate(passwords.verify_password)
        monkeypatch.setattr(passwords, "verify_password", gate)
        before = {k: _hash_metric(*k) for k in _HASH_SAMPLES}
        async with client_from(app, "198.51.100.91") as c:
            tasks = []
            for n, p in enumerate(people, start=1):
                tasks.append(asyncio.create_task(login(c, p.email, f"wrong-{n}")))
                await pending(n)
            gate.open.set()
            assert [(await t).status_code for t in tasks] == [401, 401, 401]
        assert gate.order == ["wrong-1", "wrong-2", "wrong-3"]
        # /metrics tells the pool's waits from its hashes: three of each.
        grew = {k: _hash_metric(*k) - v for k, v in before.items()}
        assert grew[("wait", "count")] == grew[("run", "count")] == 3
        assert grew[("wait", "sum")] > 0 and grew[("run", "sum")] > 0

    async def test_login_limits_still_refuse_before_the_pool(
        self, app: FastAPI, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        person = await make_user(app, "agent")
        async with client_from(app, "198.51.100.92") as c:
            for _ in range(10):
                assert (await login(c, person.email, "wrong")).status_code == 401
            gate = Gate(passwords.verify_password)  # closed: a hash would hang, bounded
            monkeypatch.setattr(passwords, "verify_password", gate)
            r = await login(c, person.email, PASSWORD)
        assert r.status_code == 429
        assert gate.order == []


def _this_thread() -> tuple[int, int]:
    """The scheduling policy and nice value of the thread that calls it (a hashing thread's,
    run through the pool)."""
    tid = threading.get_native_id()
    return os.sched_getscheduler(tid), os.getpriority(os.PRIO_PROCESS, tid)


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
async def test_hashing_threads_run_only_on_idle_cpu() -> None:
    """Decision 055: a hash gives its core up the moment the event loop wants it."""
    pool = passwords.HashPool(workers=1, queue=1)
    try:
        assert os.sched_getscheduler(0) != os.SCHED_IDLE
        assert (await pool.run(_this_thread))[0] == os.SCHED_IDLE
        assert os.sched_getscheduler(0) != os.SCHED_IDLE  # the caller's thread as it was
        assert pool.pending == 0
    finally:
        pool.shutdown()


async def test_hashing_threads_can_run_at_a_lower_nice_value_instead() -> None:
    """HELPLINE_PASSWORD_HASH_PRIORITY=low, for hosts whose cores never idle: a normal policy,
    a nice value `NICE` above the caller's (still a share of the CPU when it is all busy)."""
    pool = passwords.HashPool(workers=1, queue=1, priority="low")
    try:
        mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        policy, nice = await pool.run(_this_thread)
        assert nice == min(19, mine + passwords.NICE)
        assert policy == os.sched_getscheduler(0)
        assert pool.pending == 0
    finally:
        pool.shutdown()


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
async def test_hashes_that_get_no_idle_cpu_turn_to_the_fallback_threads(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Decision 055: on a host whose cores are never idle an idle-only hash starves; once one
    has waited `STARVED_S`, the hashes queued behind it and new ones run at nice +10 for
    `FALLBACK_S`, then idle CPU is tried again."""
    clock = [1000.0]
    pool = passwords.HashPool(workers=1, queue=4, clock=lambda: clock[0])
    starving = threading.Event()  # stands for a hash the scheduler never gets to

    policy = _this_thread

    def stuck() -> tuple[int, int]:
        assert starving.wait(10)
        return policy()

    fallback = (os.SCHED_OTHER, min(19, os.getpriority(os.PRIO_PROCESS, 0) + passwords.NICE))
    try:
        with caplog.at_level(logging.WARNING, logger="helpline.passwords"):
            first = asyncio.create_task(pool.run(stuck))
            queued = asyncio.create_task(pool.run(policy))  # behind it, on the idle thread
            await asyncio.sleep(0.05)
            assert not queued.done() and pool.fallbacks == 0
            clock[0] += passwords.STARVED_S
            # The check STARVED_S after the hand-over (real time) takes the queued one back.
            assert await asyncio.wait_for(queued, 10) == fallback
        assert pool.fallbacks == 1 and "HELPLINE_PASSWORD_HASH_PRIORITY=low" in caplog.text
        assert await asyncio.wait_for(pool.run(policy), 10) == fallback
        clock[0] += passwords.FALLBACK_S - 1
        assert await asyncio.wait_for(pool.run(policy), 10) == fallback
        assert not first.done() and pool.fallbacks == 1  # one turn, one warning

        starving.set()
        assert (await asyncio.wait_for(first, 10))[0] == os.SCHED_IDLE  # it ran on where it was
        clock[0] += 1
        assert (await asyncio.wait_for(pool.run(policy), 10))[0] == os.SCHED_IDLE
        assert pool.fallbacks == 1 and pool.pending == 0
    finally:
        starving.set()
        pool.shutdown()


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
async def test_a_backlog_behind_busy_threads_stays_on_idle_cpu() -> None:
    """A burst of sign-ins on a quiet host: hashes wait behind idle threads that are all busy
    and do get CPU. That is not starving; the pool does not turn to the fallback threads."""
    clock = [1000.0]
    pool = passwords.HashPool(workers=1, queue=4, clock=lambda: clock[0])
    began = [threading.Event(), threading.Event()]
    release = [threading.Event(), threading.Event()]

    def held(i: int) -> Callable[[], int]:
        def hash_() -> int:
            began[i].set()
            assert release[i].wait(10)
            return policy()

        return hash_

    def policy() -> int:
        return _this_thread()[0]

    try:
        first = asyncio.create_task(pool.run(held(0)))
        second = asyncio.create_task(pool.run(held(1)))  # both wait from 1000.0
        third = asyncio.create_task(pool.run(policy))
        assert await asyncio.to_thread(began[0].wait, 10)
        clock[0] += passwords.STARVED_S - 0.1
        release[0].set()  # the first took 0.4 s
        assert await asyncio.wait_for(first, 10) == os.SCHED_IDLE
        assert await asyncio.to_thread(began[1].wait, 10)
        # The second has run 0.2 s; the third has waited 0.6 s, behind a busy thread.
        clock[0] += 0.2
        fourth = asyncio.create_task(pool.run(policy))
        await asyncio.sleep(passwords.STARVED_S + 0.1)  # the check after the hand-over too
        assert pool.fallbacks == 0 and not third.done() and not fourth.done()
        release[1].set()
        assert await asyncio.wait_for(second, 10) == os.SCHED_IDLE
        assert await asyncio.wait_for(third, 10) == os.SCHED_IDLE
        assert await asyncio.wait_for(fourth, 10) == os.SCHED_IDLE
        assert pool.fallbacks == 0 and pool.pending == 0
    finally:
        for event in release:
            event.set()
        pool.shutdown()


async def test_a_hash_whose_caller_left_before_it_started_is_not_run() -> None:
    pool = passwords.HashPool(workers=1, queue=4)
    release = threading.Event()
    ran: list[str] = []
    try:
        first = asyncio.create_task(pool.run(lambda: release.wait(10)))
        second = asyncio.create_task(pool.run(lambda: ran.append("second")))
        await asyncio.sleep(0.05)
        assert pool.pending == 2
        second.cancel()
        await asyncio.sleep(0)
        release.set()
        assert await asyncio.wait_for(first, 10) is True
        assert await asyncio.wait_for(pool.run(lambda: "third"), 10) == "third"
        assert ran == [] and second.cancelled() and pool.pending == 0
    finally:
        release.set()
        pool.shutdown()


async def test_the_pool_takes_its_priority_from_the_settings(settings: Settings) -> None:
    """HELPLINE_PASSWORD_HASH_PRIORITY, "idle" unless set."""
    create_app(settings.model_copy(update={"password_hash_priority": "low"}))
    assert passwords.pool().priority == "low"
    create_app(settings)
    assert passwords.pool().priority == "idle"


async def test_an_account_is_found_by_its_address_in_any_case_through_an_index(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """A sign-in looks its account up by `lower(email)`; `ix_users_email_lower` serves that, so
    it does not read every user, guests included (migration 0027)."""
    person = await make_user(app, "agent", email="Mixed.Case@Example.com")
    r = await client.post(LOGIN, json={"email": "mixed.case@EXAMPLE.com", "password": PASSWORD})
    assert r.status_code == 200 and r.json()["user"]["id"] == person.id, r.text
    stmt = accounts_repo.registered_by_email("Mixed.Case@Example.com")
    async with ctx_of(app).db.read() as session:
        dialect = session.get_bind().dialect
        sql = str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        if dialect.name == "sqlite":
            plan = " ".join(
                str(row) for row in await session.execute(text(f"EXPLAIN QUERY PLAN {sql}"))
            )
        else:  # a table this small is read whole by choice: ask whether the index could serve
            await session.execute(text("SET LOCAL enable_seqscan = off"))
            plan = " ".join(str(row) for row in await session.execute(text(f"EXPLAIN {sql}")))
    assert "ix_users_email_lower" in plan, plan
