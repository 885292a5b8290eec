"""What one running app holds: settings, database, bus, storage, hub, limiter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from helpline.bus import Bus
from helpline.config import Settings
from helpline.db import Database, UnitOfWork
from helpline.kit.ratelimit import RateLimiter
from helpline.observability import events_published_total
from helpline.storage import Storage

if TYPE_CHECKING:
    from helpline.chats.hub import Hub
    from helpline.chats.writer import MessageWriter


@dataclass
class AppContext:
    settings: Settings
    db: Database
    bus: Bus
    storage: Storage
    limiter: RateLimiter
    hub: Hub
    writer: MessageWriter

    async def publish_event(self, envelope: dict[str, Any], *, internal: bool) -> None:
        """After commit, for events written outside a unit of work (the message writer)."""
        events_published_total.inc()
        await self.bus.publish(
            f"chat:{envelope['chat_id']}",
            {"kind": "event", "event": envelope, "internal": internal},
        )

    async def publish(self, uow: UnitOfWork) -> None:
        """After commit: hand the unit's news to the bus, then run its after-commit work."""
        for topic, message in uow.announcements:
            if message.get("kind") == "event":
                events_published_total.inc()
            await self.bus.publish(topic, message)
        for fn in uow.after_commit:
            await fn()
