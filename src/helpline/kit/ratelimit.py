"""Rate limits on top of the `limits` library (moving window; Redis-backed when scaled out)."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from helpline.errors import RateLimited


class RateLimiter:
    def __init__(self, enabled: bool, redis_url: str | None = None) -> None:
        self.enabled = enabled
        storage: Storage
        if redis_url and enabled:
            # Shared across processes; redis-py is what we already ship (limits' default
            # async driver would be coredis).
            storage = RedisStorage("async+" + redis_url, implementation="redispy")
        else:
            storage = MemoryStorage()
        self._limiter = MovingWindowRateLimiter(storage)
        self._items: dict[str, RateLimitItem] = {}

    async def check(self, rule: str, *identifiers: str) -> None:
        """Count one hit against `rule` (e.g. "10/minute"); raise RateLimited past it."""
        if not self.enabled:
            return
        item = self._items.get(rule)
        if item is None:
            item = self._items[rule] = parse(rule)
        try:
            ok = await self._limiter.hit(item, *identifiers)
        except Exception:
            return
        if not ok:
            stats = await self._limiter.get_window_stats(item, *identifiers)
            retry = max(1, math.ceil(stats.reset_time - time.time()))
            raise RateLimited("Too many requests; try again shortly.", retry_after=retry)
