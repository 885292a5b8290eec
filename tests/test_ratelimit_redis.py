"""Rate limits shared through Redis across processes, and what happens when Redis goes quiet."""

from __future__ import annotations

import time

import pytest

from helpline.accounts.login_limits import LoginLimits
from helpline.errors import RateLimited
from helpline.kit.ratelimit import RateLimiter
from tests.fixtures.servers import RedisServer

pytestmark = [pytest.mark.asyncio, pytest.mark.redis]


async def test_two_processes_share_one_budget(redis_url: str) -> None:
    a, b = RateLimiter(True, redis_url), RateLimiter(True, redis_url)
    await a.check("2/minute", "login-ip", "10.0.0.9")
    await b.check("2/minute", "login-ip", "10.0.0.9")
    with pytest.raises(RateLimited) as err:
        await a.check("2/minute", "login-ip", "10.0.0.9")
    assert err.value.retry_after >= 1
    await a.close()
    await b.close()


async def test_without_redis_limits_fall_back_to_the_process_at_once(
    redis_server: RedisServer,
) -> None:
    limiter = RateLimiter(True, redis_server.url)
    redis_server.stop()
    try:
        started = time.monotonic()
        await limiter.check("1/minute", "guest", "10.0.0.7")
        with pytest.raises(RateLimited):
            await limiter.check("1/minute", "guest", "10.0.0.7")
        assert time.monotonic() - started < 2  # no waiting on a dead Redis per request
    finally:
        await limiter.close()
        redis_server.start()


async def test_failed_sign_ins_are_counted_across_processes(redis_url: str) -> None:
    """Login limits (failures only) through the same Redis: what one process counted, the
    other refuses, before any password would be checked."""
    a = LoginLimits(RateLimiter(True, redis_url), per_account="3/minute", per_address="100/minute")
    b = LoginLimits(RateLimiter(True, redis_url), per_account="3/minute", per_address="100/minute")
    try:
        for limits in (a, a, b):
            async with limits.attempt("lena@example.com", "203.0.113.5") as attempt:
                await attempt.failed(None)
        for limits in (a, b):
            with pytest.raises(RateLimited) as err:
                async with limits.attempt("lena@example.com", "203.0.113.5"):
                    pytest.fail("a locked-out attempt must not be checked")
            assert err.value.retry_after >= 1
        # Successes count nothing, and another address is not locked.
        for _ in range(5):
            async with a.attempt("lena@example.com", "198.51.100.5"):
                pass
        async with b.attempt("lena@example.com", "198.51.100.5"):
            pass
    finally:
        await a.limiter.close()
        await b.limiter.close()
