"""Rate limits on top of the `limits` library (moving window; Redis-backed when scaled out)."""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from helpline.errors import RateLimited

_T = TypeVar("_T")


class RateLimiter:
    def __init__(self, enabled: bool, redis_url: str | None = None) -> None:
        self.enabled = enabled
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._shared: MovingWindowRateLimiter | None = None
        if redis_url and enabled:
            # Shared across processes; redis-py is what we already ship (limits' default
            # async driver would be coredis). Short timeouts: a silent Redis must not add
            # seconds to every request.
            storage: Storage = RedisStorage(
                "async+" + redis_url,
                implementation="redispy",
                socket_timeout=0.25,
                socket_connect_timeout=0.25,
            )
            self._shared = MovingWindowRateLimiter(storage)
            self._redis_storage: Storage | None = storage
        self._shared_down_until = 0.0
        self._items: dict[str, RateLimitItem] = {}

    def _item(self, rule: str) -> RateLimitItem:
        item = self._items.get(rule)
        if item is None:
            item = self._items[rule] = parse(rule)
        return item

    async def _use(
        self, use: Callable[[MovingWindowRateLimiter], Awaitable[_T]]
    ) -> tuple[_T, MovingWindowRateLimiter]:
        limiter = self._local
        if self._shared is not None and time.monotonic() >= self._shared_down_until:
            limiter = self._shared
        try:
            return await use(limiter), limiter
        except Exception:  # a limiter outage must not take the service down
            # Per-process limits for a while, rather than waiting on Redis for every request.
            self._shared_down_until = time.monotonic() + 5
            return await use(self._local), self._local

    async def _retry_after(
        self, limiter: MovingWindowRateLimiter, item: RateLimitItem, identifiers: tuple[str, ...]
    ) -> int:
        stats = await limiter.get_window_stats(item, *identifiers)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def check(self, rule: str, *identifiers: str) -> None:
        """Count one hit against `rule` (e.g. "10/minute"); raise RateLimited past it."""
        if not self.enabled:
            return
        item = self._item(rule)
        ok, limiter = await self._use(lambda lim: lim.hit(item, *identifiers))
        if not ok:
            retry = await self._retry_after(limiter, item, identifiers)
            raise RateLimited("Too many requests; try again shortly.", retry_after=retry)

    async def blocked(self, rule: str, *identifiers: str, cost: int = 1) -> int | None:
        """Seconds until `cost` more hits would fit under `rule`, or None if they fit now.
        Counts nothing: for limits that count only some outcomes (failed sign-ins)."""
        if not self.enabled:
            return None
        item = self._item(rule)
        fits, limiter = await self._use(lambda lim: lim.test(item, *identifiers, cost=cost))
        if fits:
            return None
        return await self._retry_after(limiter, item, identifiers)

    async def count(self, rule: str, *identifiers: str) -> bool:
        """Count one hit against `rule` without refusing anything; False once it is used up."""
        if not self.enabled:
            return True
        item = self._item(rule)
        ok, _ = await self._use(lambda lim: lim.hit(item, *identifiers))
        return ok

    async def close(self) -> None:
        client = getattr(
            getattr(getattr(self, "_redis_storage", None), "bridge", None), "storage", None
        )
        if client is not None:
            await client.aclose()
