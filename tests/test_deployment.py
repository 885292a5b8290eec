"""Settings every process must share: recorded in the database, a differing process flagged
in its start-up log and on /readyz (without failing readiness)."""

from __future__ import annotations

import logging

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import select

from helpline import deployment
from helpline.app import create_app
from helpline.config import Settings
from helpline.deployment import DeploymentSetting
from tests.fixtures.factories import ctx_of

pytestmark = pytest.mark.asyncio


async def _readyz(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        return await c.get("/readyz")


async def test_a_process_with_another_secret_key_is_flagged_not_taken_out(
    app: FastAPI, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    first = await _readyz(app)
    assert first.status_code == 200 and first.json()["settings"] == "ok"
    other_key = "another-secret-key-9876543210"
    # Built afresh: model_copy would keep the first one's cached resolved_secret_key.
    odd = Settings(**(settings.model_dump() | {"secret_key": other_key, "max_upload_mb": 5}))
    caplog.set_level(logging.WARNING, logger="helpline")
    second = create_app(odd)
    async with LifespanManager(second):
        r = await _readyz(second)
        assert r.status_code == 200, r.text  # flagged, still serving
        assert r.json()["settings"] == (
            "differs from the database: HELPLINE_SECRET_KEY, HELPLINE_MAX_UPLOAD_MB"
        )
        assert ctx_of(second).settings_drift == ["HELPLINE_SECRET_KEY", "HELPLINE_MAX_UPLOAD_MB"]
    warnings = [r.getMessage() for r in caplog.records if "settings differ" in r.getMessage()]
    assert len(warnings) == 2 and "HELPLINE_SECRET_KEY" in warnings[0]
    # Digests only: neither secret is in the database or the log.
    async with ctx_of(app).db.read() as session:
        rows = list((await session.execute(select(DeploymentSetting))).scalars())
    assert {r.name for r in rows} == set(deployment.SHARED)
    stored = " ".join(r.digest for r in rows) + " ".join(warnings)
    assert settings.secret_key not in stored and other_key not in stored
    # The first process, unchanged, still matches.
    assert (await _readyz(app)).json()["settings"] == "ok"


async def test_migrate_records_the_new_values_as_the_expected_ones(
    app: FastAPI, settings: Settings
) -> None:
    changed = settings.model_copy(update={"max_upload_mb": 50})
    db = ctx_of(app).db
    assert await deployment.differing(db, changed) == ["HELPLINE_MAX_UPLOAD_MB"]
    await deployment.record(db, changed)  # what `helpline migrate` does with its environment
    assert await deployment.differing(db, changed) == []
    assert await deployment.differing(db, settings) == ["HELPLINE_MAX_UPLOAD_MB"]
