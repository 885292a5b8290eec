"""What one running app holds: settings, database, bus, boundary, storage, hub, limiter,
background work."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from helpline.boundary import Boundary, Inserts
from helpline.bus import Bus
from helpline.config import Settings
from helpline.db import Database
from helpline.kit.background import Background
from helpline.kit.batching import Batcher
from helpline.kit.ratelimit import RateLimiter
from helpline.storage import Storage

if TYPE_CHECKING:
    from helpline.chats.hub import Hub
    from helpline.chats.writer import MessageWriter


@dataclass
class AppContext:
    settings: Settings
    db: Database
    bus: Bus
    boundary: Boundary  # every unit of work opens here: commit, then publish; outages → 503
    storage: Storage
    limiter: RateLimiter
    hub: Hub
    writer: MessageWriter
    # Presence stamps of connections opening or closing, written together (group commit).
    stamps: Batcher[str] | None = None
    # New rows of sign-ins and guests arriving together, written together (group commit).
    inserts: Inserts = field(init=False)
    background: Background = field(default_factory=Background)  # work answers don't wait for
    # Shared settings whose values differ from those the database recorded (deployment.py).
    settings_drift: list[str] = field(default_factory=list)
    # Handshakes authenticating now (`ws_open_concurrency`; None: no limit).
    opening: asyncio.Semaphore | None = field(init=False)

    def __post_init__(self) -> None:
        self.inserts = Inserts(self.boundary)
        limit = self.settings.ws_open_concurrency
        self.opening = asyncio.Semaphore(limit) if limit > 0 else None
