"""Settings that must be the same on every process, compared through the database.

Each of them is kept as a digest (never the value: some are secrets) in `deployment_settings`.
`helpline migrate` records the values it runs with (the deliberate way to change one); a
process that starts on a database with nothing recorded records its own. Every process compares
its values at start-up: one that differs is logged (`WARNING settings differ from what the
database expects`) and listed by /readyz under `settings`, without failing readiness, since
during a rolling change of a setting old and new processes must both keep serving."""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from helpline.config import Settings
from helpline.db import Base, Database, UTCDateTime

log = logging.getLogger("helpline")


class DeploymentSetting(Base):
    __tablename__ = "deployment_settings"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), nullable=False)
    recorded_by: Mapped[str] = mapped_column(String(200), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


def _set(value: object) -> str:
    return "set" if value else "unset"


# What breaks when two processes disagree (docs/operations.md, "Settings every process
# shares"). Redis and SMTP are compared as set or unset: machines may name the same server
# differently.
SHARED: dict[str, Callable[[Settings], object]] = {
    "HELPLINE_SECRET_KEY": lambda s: s.resolved_secret_key,
    "HELPLINE_PUBLIC_URL": lambda s: s.resolved_public_url,
    "HELPLINE_REDIS_URL": lambda s: _set(s.redis_url),
    "HELPLINE_STORAGE_URL": lambda s: (s.storage_url, s.s3_endpoint_url),
    "HELPLINE_SMTP_URL": lambda s: _set(s.smtp_url),
    "HELPLINE_WEBHOOK_URL": lambda s: (s.webhook_url, s.webhook_secret),
    "HELPLINE_WEBHOOK_ALLOW_PRIVATE": lambda s: s.webhook_allow_private,
    "HELPLINE_RETENTION_DAYS": lambda s: s.retention_days,
    "HELPLINE_MAX_UPLOAD_MB": lambda s: s.max_upload_mb,
    "HELPLINE_ALLOWED_FILE_TYPES": lambda s: sorted(s.allowed_extensions),
    "HELPLINE_SESSION_IDLE_S": lambda s: s.session_idle_s,
    "HELPLINE_SESSION_MAX_S": lambda s: s.session_max_s,
    "HELPLINE_REQUIRE_TOTP": lambda s: s.require_totp,
    "HELPLINE_PASSWORD_LOGIN": lambda s: s.password_login,
    # A sign-in started on one process may come back to another.
    "HELPLINE_OIDC_ISSUER": lambda s: (s.oidc_issuer, s.oidc_client_id, s.oidc_client_secret),
    "HELPLINE_OIDC_ROLE_MAP": lambda s: (s.oidc_role_claim, s.oidc_roles),
    # A visitor verified on one process must be verified on all; the widget's panel is framed
    # by the same sites everywhere.
    "HELPLINE_WIDGET_SECRET": lambda s: s.widget_secret,
    "HELPLINE_WIDGET_ORIGINS": lambda s: s.widget_origins,
}


def digests(settings: Settings) -> dict[str, str]:
    return {
        name: hashlib.sha256(repr(value(settings)).encode()).hexdigest()[:32]
        for name, value in SHARED.items()
    }


def _me() -> str:
    return f"{socket.gethostname()[:100]}:{os.getpid()}"


def _upsert(dialect: str, rows: list[dict[str, object]], *, replace: bool) -> Any:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(DeploymentSetting).values(rows)
    if not replace:  # two processes starting at once: the first one's values stand
        return stmt.on_conflict_do_nothing(index_elements=[DeploymentSetting.name])
    return stmt.on_conflict_do_update(
        index_elements=[DeploymentSetting.name],
        set_={c: stmt.excluded[c] for c in ("digest", "recorded_by", "recorded_at")},
    )


async def _write(db: Database, names: dict[str, str], *, replace: bool) -> None:
    at = datetime.now(UTC)
    rows: list[dict[str, object]] = [
        {"name": n, "digest": d, "recorded_by": _me(), "recorded_at": at} for n, d in names.items()
    ]
    async with db.write() as uow:
        dialect = uow.session.get_bind().dialect.name
        await uow.session.execute(_upsert(dialect, rows, replace=replace))


async def record(db: Database, settings: Settings) -> None:
    """Make this process's values the expected ones (`helpline migrate`)."""
    await _write(db, digests(settings), replace=True)


async def differing(db: Database, settings: Settings) -> list[str]:
    """The shared settings whose values differ from the recorded ones (recording any missing)."""
    mine = digests(settings)
    async with db.read() as session:
        rows = {r.name: r for r in (await session.execute(select(DeploymentSetting))).scalars()}
    missing = {n: d for n, d in mine.items() if n not in rows}
    if missing:
        await _write(db, missing, replace=False)
    differ = [n for n in mine if n in rows and rows[n].digest != mine[n]]
    for name in differ:
        log.warning(
            "settings differ from what the database expects: %s is not the value recorded by "
            "%s at %s; give every process the same value, or run `helpline migrate` to "
            "record the new one",
            name,
            rows[name].recorded_by,
            rows[name].recorded_at.isoformat(timespec="seconds"),
            extra={"setting": name},
        )
    return differ
