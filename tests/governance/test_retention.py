"""Retention with the controllable clock: what closed longer ago than its queue's policy goes,
with its events, files (bytes too) and outbox mail; reports keep their totals; several
sweepers run it once; the dry run changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from helpline.config import Settings
from helpline.governance import retention
from helpline.governance.models import RetentionRun
from helpline.kit.clock import FrozenClock, now
from helpline.sweeper import Sweeper
from tests.fixtures.factories import accepted_chat, ctx_of, make_queue, make_user, start_chat
from tests.governance.support import audit_entries, dump, history, search, stored_files

pytestmark = pytest.mark.asyncio
DAY = 86400


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "retention_days": 30,
        "retention_interval_s": 3600,
        "retention_batch": 2,  # several batches even for a handful of chats
        "session_idle_s": 3650 * DAY,
        "session_max_s": 3650 * DAY,
    }


async def _runs(app: FastAPI) -> list[RetentionRun]:
    async with ctx_of(app).db.read() as session:
        return list((await session.execute(select(RetentionRun))).scalars())


async def test_queue_retention_days_is_set_and_bounded(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_user(app, "admin")
    q = await make_queue(app, "Support")
    for bad in (0, -1, 36501, 10**12, "soon", 1.5):
        r = await client.patch(
            f"/api/v1/queues/{q}", json={"retention_days": bad}, headers=admin.headers
        )
        assert r.status_code == 422, (bad, r.text)
    r = await client.patch(
        f"/api/v1/queues/{q}", json={"retention_days": 90}, headers=admin.headers
    )
    assert r.status_code == 200 and r.json()["retention_days"] == 90
    policy = (await client.get("/api/v1/retention", headers=admin.headers)).json()
    assert policy["retention_days"] == 30 and policy["last_run"] is None
    assert {"id": q, "name": "Support", "retention_days": 90, "effective_days": 90} in policy[
        "queues"
    ]
    r = await client.patch(
        f"/api/v1/queues/{q}", json={"retention_days": None}, headers=admin.headers
    )
    assert r.json()["retention_days"] is None
    agent = await make_user(app, "agent", queues=[q])
    assert (await client.get("/api/v1/retention", headers=agent.headers)).status_code == 403


async def test_closed_chats_and_requests_past_retention_are_removed(
    app: FastAPI, client: httpx.AsyncClient, frozen_clock: FrozenClock, data_dir: Path
) -> None:
    q = await make_queue(app, "Support")
    long_q = await make_queue(app, "Legal", retention_days=365)
    old = await history(app, client, q, tag="Oldtimer")
    ref = old.request["reference"]
    r = await client.patch(
        f"/api/v1/requests/{ref}", json={"status": "cancelled"}, headers=old.agent.headers
    )
    assert r.status_code == 200, r.text
    kept_long = await history(app, client, long_q, tag="Legalhold")
    open_chat = await start_chat(client, await make_user(app, "customer"), q)
    assert await search(client, old.admin, old.secret)
    frozen_clock.advance(29 * DAY)
    recent = await history(app, client, q, tag="Recent")
    ctx = ctx_of(app)

    assert await retention.run(ctx, "test") is not None  # nothing is 30 days closed yet
    assert (
        await client.get(f"/api/v1/chats/{old.chat['id']}", headers=old.admin.headers)
    ).status_code == 200

    frozen_clock.advance(1800)
    assert await retention.run(ctx, "test") is None  # not due again within the interval
    frozen_clock.advance(2 * DAY)
    removed = await retention.run(ctx, "test")
    assert removed is not None
    assert removed.as_dict() == {"chats": 1, "events": removed.events, "files": 1, "requests": 1}
    assert removed.events >= 8

    admin = old.admin
    cid = old.chat["id"]
    assert (await client.get(f"/api/v1/chats/{cid}", headers=admin.headers)).status_code == 404
    assert (
        await client.get(f"/api/v1/chats/{cid}/events", headers=admin.headers)
    ).status_code == 404
    assert (
        await client.get(f"/api/v1/chats/{cid}/transcript", headers=admin.headers)
    ).status_code == 404
    assert (
        await client.get(f"/api/v1/files/{old.file_id}", headers=admin.headers)
    ).status_code == 404
    assert (await client.get(f"/api/v1/requests/{ref}", headers=admin.headers)).status_code == 404
    assert old.file_bytes not in stored_files(data_dir)
    assert await search(client, admin, old.secret) == []
    assert await search(client, admin, recent.secret)
    dumped = await dump(app)
    assert old.secret.lower() not in dumped
    # The customer account stays (retention removes conversations, not people).
    assert (await client.get("/api/v1/me", headers=old.customer.headers)).status_code == 200
    # Younger, longer-kept and open chats stay.
    for h in (recent, kept_long):
        assert (
            await client.get(f"/api/v1/chats/{h.chat['id']}", headers=admin.headers)
        ).status_code == 200
        assert h.file_bytes in stored_files(data_dir)
    assert (
        await client.get(f"/api/v1/chats/{open_chat['id']}", headers=admin.headers)
    ).status_code == 200

    runs = await audit_entries(client, admin, "retention.run")
    assert [e["details"] for e in runs] == [removed.as_dict(), dict.fromkeys(removed.as_dict(), 0)]
    assert runs[0]["actor"] is None and runs[0]["target"]["type"] == "retention_run"
    policy = (await client.get("/api/v1/retention", headers=admin.headers)).json()
    assert {k: policy["last_run"][k] for k in ("chats", "files", "requests")} == {
        "chats": 1,
        "files": 1,
        "requests": 1,
    }


async def test_reports_keep_their_totals_after_retention(
    app: FastAPI, client: httpx.AsyncClient, frozen_clock: FrozenClock
) -> None:
    q = await make_queue(app, "Support")
    h = await history(app, client, q)
    agent2 = await make_user(app, "agent", queues=[q])
    for _ in range(3):
        c = await accepted_chat(client, await make_user(app, "customer"), agent2, q)
        assert (
            await client.post(f"/api/v1/chats/{c['id']}/solve", headers=agent2.headers)
        ).is_success
    day = now().date().isoformat()

    async def report() -> dict[str, Any]:
        r = await client.get(
            "/api/v1/reports/summary", params={"from": day, "to": day}, headers=h.admin.headers
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    before = await report()
    assert before["totals"]["chats"] == 4 and before["totals"]["requests_raised"] == 1
    frozen_clock.advance(31 * DAY)
    removed = await retention.run(ctx_of(app), "test")
    assert removed is not None and removed.chats == 4
    assert await report() == before


async def test_several_sweepers_run_retention_once(
    app: FastAPI, client: httpx.AsyncClient, frozen_clock: FrozenClock
) -> None:
    q = await make_queue(app, "Support")
    await history(app, client, q)
    frozen_clock.advance(31 * DAY)
    ctx = ctx_of(app)
    sweepers = [Sweeper(ctx) for _ in range(3)]
    for s in sweepers:
        await s.run_once()
    runs = await _runs(app)
    assert len(runs) == 1 and runs[0].chats == 1
    frozen_clock.advance(3601)
    for s in sweepers:
        await s.run_once()
    assert len(await _runs(app)) == 2


async def test_the_background_pass_looks_at_retention_at_start_then_once_a_minute(
    app: FastAPI, client: httpx.AsyncClient, frozen_clock: FrozenClock, monkeypatch: Any
) -> None:
    """Runs are an interval (an hour) apart: a pass looks at the lease at start, then at most
    once a minute, and a due run starts within that minute."""
    from helpline import sweeper as sweeper_mod

    q = await make_queue(app, "Support")
    await history(app, client, q)
    frozen_clock.advance(31 * DAY)
    ticks = [1000.0]
    monkeypatch.setattr(sweeper_mod, "monotonic", lambda: ticks[0])
    sweeper = Sweeper(ctx_of(app))
    await sweeper._pass()
    assert len(await _runs(app)) == 1  # at start
    frozen_clock.advance(3601)  # the next run is due
    ticks[0] += 59
    await sweeper._pass()
    assert len(await _runs(app)) == 1  # looked less than a minute ago
    ticks[0] += 1
    await sweeper._pass()
    assert len(await _runs(app)) == 2


async def test_dry_run_prints_what_would_go_and_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, frozen_clock: FrozenClock
) -> None:
    frozen_clock.advance(-40 * DAY)  # made 40 days ago; the command runs on the real clock
    q = await make_queue(app, "Support Desk")
    h = await history(app, client, q)
    await history(app, client, q, tag="Second")
    before = await dump(app, merged=True)
    env = {
        **os.environ,
        "HELPLINE_DATA_DIR": str(settings.data_dir),
        "HELPLINE_DATABASE_URL": settings.resolved_database_url,
        "HELPLINE_RETENTION_DAYS": "30",
    }
    cmd = [sys.executable, "-m", "helpline.cli", "retention", "--dry-run"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert "HELPLINE_RETENTION_DAYS: 30 days" in out.stdout
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("Support Desk"))
    chats, _, files, requests = (int(x) for x in line.split()[-4:])
    assert (chats, files, requests) == (2, 2, 0)  # requests are still open
    assert await dump(app, merged=True) == before
    assert (
        await client.get(f"/api/v1/chats/{h.chat['id']}", headers=h.admin.headers)
    ).status_code == 200
    # Without --dry-run the command removes them.
    cmd.remove("--dry-run")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert "2 chats" in out.stdout
    assert (
        await client.get(f"/api/v1/chats/{h.chat['id']}", headers=h.admin.headers)
    ).status_code == 404
