"""Apps made in one process share their route objects (helpline.app._routes: FastAPI derives
each route's dependencies once per process, not once per app), and still each serves its own
settings and database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from helpline.app import create_app
from tests.fixtures.factories import app_settings, make_queue, make_user

pytestmark = pytest.mark.asyncio


async def test_two_apps_share_routes_and_keep_their_own_data(
    tmp_path: Path, fresh_database: Callable[[Path], str]
) -> None:
    first = create_app(app_settings(tmp_path / "a", fresh_database(tmp_path / "a")))
    second = create_app(
        app_settings(tmp_path / "b", fresh_database(tmp_path / "b"), metrics_open=True)
    )
    shared = {id(r) for r in first.router.routes} & {id(r) for r in second.router.routes}
    assert shared, "the second app derived its routes again"

    async with LifespanManager(first), LifespanManager(second):
        await make_queue(first, "Only in A")
        await make_queue(second, "Only in B")
        a_admin = await make_user(first, "admin")
        b_admin = await make_user(second, "admin")
        for app, admin, own, other in (
            (first, a_admin, "Only in A", "Only in B"),
            (second, b_admin, "Only in B", "Only in A"),
        ):
            async with serving_app(app) as client:
                r = await client.get("/api/v1/queues", headers=admin.headers)
                assert r.status_code == 200, r.text
                names = {q["name"] for q in r.json()["items"]}
                assert own in names and other not in names
        # A token of one app's database opens nothing in the other's.
        async with serving_app(first) as client:
            assert (await client.get("/api/v1/me", headers=a_admin.headers)).status_code == 200
            r = await client.get("/api/v1/me", headers=b_admin.headers)
            assert r.status_code == 401
        # Each app answers by its own settings: /metrics is open only where configured.
        async with serving_app(first) as client:
            assert (await client.get("/metrics")).status_code == 404
        async with serving_app(second) as client:
            assert (await client.get("/metrics")).status_code == 200


def serving_app(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_requests_take_no_trip_through_the_thread_pool(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FastAPI runs a plain `def` dependency or endpoint on a worker thread: ~0.5 ms of CPU a
    request, and the event loop's thread handing the interpreter lock back and forth
    (docs/performance.md). Ours are all `async`."""
    import fastapi.dependencies.utils
    import fastapi.routing

    trips: list[str] = []

    async def counted(func: Callable[..., object], *args: object, **kwargs: object) -> object:
        trips.append(getattr(func, "__qualname__", repr(func)))
        return func(*args, **kwargs)

    monkeypatch.setattr(fastapi.dependencies.utils, "run_in_threadpool", counted)
    monkeypatch.setattr(fastapi.routing, "run_in_threadpool", counted)
    queue = await make_queue(app, "Support")
    r = await client.post("/api/v1/auth/guest", json={"name": "Gus", "email": "gus@example.org"})
    assert r.status_code == 200, r.text
    headers = {"Authorization": f"Bearer {r.json()['token']}"}
    r = await client.post(
        "/api/v1/chats", json={"queue_id": queue, "message": "Hello"}, headers=headers
    )
    assert r.status_code == 201, r.text
    for path in ("/api/v1/me", "/api/v1/chats", f"/api/v1/chats/{r.json()['id']}/events"):
        assert (await client.get(path, headers=headers)).status_code == 200
    assert trips == []
