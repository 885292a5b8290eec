from __future__ import annotations

from helpline.bus import Bus
from helpline.bus.memory import MemoryBus
from helpline.config import Settings


def make_bus(settings: Settings) -> Bus:
    if settings.redis_url:
        from helpline.bus.redis import RedisBus

        return RedisBus(settings.redis_url)
    return MemoryBus()
