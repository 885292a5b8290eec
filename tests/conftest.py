"""Fixtures: a fresh, migrated database per test (SQLite, or PostgreSQL when
HELPLINE_TEST_BACKEND=postgres), the app with its lifespan, an HTTP client, a live uvicorn
server for WebSocket tests, and factories."""

from __future__ import annotations

import itertools
import os
import shutil
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from helpline.app import create_app
from helpline.config import Settings
from helpline.kit.clock import FrozenClock
from helpline.migrate import upgrade
from tests.fixtures.factories import app_settings
from tests.fixtures.oidc import canaille  # noqa: F401 - fixture: the OpenID provider
from tests.fixtures.servers import (  # noqa: F401 - fixtures
    PostgresServer,
    create_database,
    postgres_dsn,
    postgres_server,
    redis_server,
    redis_url,
    s3_server,
)

BACKEND = os.environ.get("HELPLINE_TEST_BACKEND", "sqlite")
_counter = itertools.count()


def pytest_report_header() -> str:
    return f"helpline database backend: {BACKEND}"


# The fixtures through which a test reaches the database backend under test.
BACKEND_FIXTURES = frozenset({"fresh_database"})


def uses_backend(item: pytest.Item) -> bool:
    """Whether a test can reach the database backend under test (HELPLINE_TEST_BACKEND): it
    uses `fresh_database` (through `settings`, `app`, `client`, `live_server`, ... ), or its
    module or one of its fixtures' modules reads `BACKEND` (e.g. to ask for `postgres_dsn`
    itself), or it is marked `pytest.mark.backend`. Everything else runs the same on both
    backends and is left out of the PostgreSQL pass (docs/testing.md)."""
    if item.get_closest_marker("backend") is not None:
        return True
    if BACKEND_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    modules = {getattr(item, "module", None)}
    info = getattr(item, "_fixtureinfo", None)
    for defs in info.name2fixturedefs.values() if info is not None else ():
        modules.update(sys.modules.get(d.func.__module__) for d in defs)
    # This module defines BACKEND; its fixtures reach the backend only via fresh_database.
    modules.discard(sys.modules[__name__])
    return any(m is not None and "BACKEND" in vars(m) for m in modules)


def xdist_group_of(nodeid: str) -> str:
    """The tests that must share one pytest-xdist worker: a module (its module-scoped browser,
    server or fuzzed app start once), and all of tests/scaleout (its package-scoped cluster)."""
    module = nodeid.split("::", 1)[0]
    return "tests/scaleout" if module.startswith("tests/scaleout/") else module


def _cost_rank(item: pytest.Item) -> int:
    """The long groups go first, so no worker is left alone with one at the end."""
    group = xdist_group_of(item.nodeid)
    if group == "tests/scaleout":
        return 0
    # The fuzzer (~90 s on one worker) is as long as a browser module.
    return 1 if group.startswith(("tests/e2e/", "tests/fuzz/")) else 2


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL (HELPLINE_TEST_BACKEND=postgres) only the tests that reach the database
    backend run (`uses_backend`); the others ran in the SQLite pass already and are
    deselected, so the PostgreSQL pass repeats no backend-independent work.

    The long groups (tests/scaleout, then the browser modules) are put first; the order of the
    rest, and of the tests within each group, is kept."""
    if BACKEND != "sqlite":
        kept = [item for item in items if uses_backend(item)]
        if len(kept) != len(items):
            keep = set(kept)
            config.hook.pytest_deselected(items=[i for i in items if i not in keep])
            items[:] = kept
    items.sort(key=_cost_rank)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`make test` runs `-n 2 --dist loadgroup` (docs/testing.md): each group of
    `xdist_group_of` runs whole on one worker, in collection order. Grouping by our own rule
    rather than xdist_group marks: with pytest 9.2, xdist 3.8's worker can no longer tag node
    ids with a mark's group, so marks were silently ignored and modules split over workers."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleGroups(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_group_of(nodeid)

    config.option.loadscopereorder = False  # keep the cost order of pytest_collection_modifyitems
    return ModuleGroups(config, log)


@pytest.fixture(scope="session")
def fresh_database(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Callable[[Path], str]:
    """Returns a function that gives each test its own migrated database URL.

    Migrations run once into a template (so they are tested on every backend); each test gets a
    copy of it, which is far cheaper than migrating again."""
    if BACKEND == "postgres":
        dsn: str = request.getfixturevalue("postgres_dsn")
        template_dsn = create_database(dsn, "helpline_template")
        upgrade(template_dsn.replace("postgresql://", "postgresql+asyncpg://", 1))

        def make_pg(_: Path) -> str:
            name = f"t{os.getpid()}_{next(_counter)}"
            return create_database(dsn, name, template="helpline_template")

        return make_pg

    template = tmp_path_factory.mktemp("template") / "helpline.db"
    upgrade(f"sqlite+aiosqlite:///{template}")

    def make_sqlite(data_dir: Path) -> str:
        data_dir.mkdir(parents=True, exist_ok=True)
        target = data_dir / "helpline.db"
        shutil.copyfile(template, target)
        return f"sqlite+aiosqlite:///{target}"

    return make_sqlite


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "var"
    d.mkdir()
    return d


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Tests override settings by redefining this fixture or updating the dict."""
    return {}


@pytest.fixture
def settings(
    data_dir: Path, fresh_database: Callable[[Path], str], settings_overrides: dict[str, Any]
) -> Settings:
    return app_settings(data_dir, fresh_database(data_dir), **settings_overrides)


@pytest_asyncio.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest_asyncio.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


class LiveServer:
    def __init__(self, app: FastAPI, port: int) -> None:
        self.app = app
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}/api/v1/ws"


@pytest.fixture
def server_overrides() -> dict[str, object]:
    """uvicorn options a test module changes for its live server (e.g. the WebSocket code)."""
    return {}


@pytest_asyncio.fixture
async def live_server(
    settings: Settings, server_overrides: dict[str, object]
) -> AsyncIterator[LiveServer]:
    """A real uvicorn on a free loopback port, in this test's event loop."""
    from helpline.cli import serve_config
    from tests.fixtures.servers import free_port, serving

    port = free_port()
    settings = settings.model_copy(update={"port": port, "public_url": f"http://127.0.0.1:{port}"})
    application = create_app(settings)
    options = serve_config(settings)
    options.update(host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    options.update(server_overrides)
    async with serving(application, **options):
        yield LiveServer(application, port)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def frozen_clock() -> FrozenClock:
    """Time stands still unless the test moves it (`_reset_clock` puts the real one back)."""
    from helpline.kit.clock import set_clock

    c = FrozenClock()
    set_clock(c)
    return c


@pytest.fixture(autouse=True)
def _reset_clock() -> Iterator[None]:
    from helpline.kit import clock

    original = clock.clock
    yield
    clock.set_clock(original)
