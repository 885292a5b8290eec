"""Login limits (CONTRACT-2, "Login limits"): failed sign-ins are counted, never successful ones.

At most `per_account` failures per (account, address) and `per_address` failures per address
in the window. So an office full of colleagues signing in correctly from one address is never
refused, and an attacker's failures from their own addresses never lock the real user out of
theirs. A refused attempt is refused before its password is hashed: a locked-out guesser
cannot spend our CPU.

Attempts still being checked count as failures until they are decided, so a burst of parallel
guesses cannot slip through before the first of them is counted (per process; across
processes the counters are shared through Redis).
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from helpline.errors import RateLimited
from helpline.kit.ratelimit import RateLimiter

log = logging.getLogger("helpline.accounts")

# Attempts being checked right now in this process, by limit key.
_in_flight: Counter[tuple[str, ...]] = Counter()


def account_key(email: str) -> str:
    """The e-mail, hashed: limit keys live in Redis and in logs."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:24]


@dataclass
class LoginLimits:
    limiter: RateLimiter
    per_account: str
    per_address: str

    def _keys(self, email: str, address: str) -> list[tuple[str, tuple[str, ...]]]:
        return [
            (self.per_account, ("login-failed", account_key(email), address)),
            (self.per_address, ("login-failed-address", address)),
        ]

    @asynccontextmanager
    async def attempt(self, email: str, address: str) -> AsyncIterator[Attempt]:
        """Raises RateLimited if this attempt may not even be checked; the body calls
        `Attempt.failed` when the password turns out wrong."""
        keys = self._keys(email, address)
        for _, ids in keys:
            _in_flight[ids] += 1
        try:
            for rule, ids in keys:
                retry = await self.limiter.blocked(rule, *ids, cost=_in_flight[ids])
                if retry is not None:
                    raise RateLimited(
                        "Too many failed sign-ins; try again shortly.", retry_after=retry
                    )
            yield Attempt(self, keys, address)
        finally:
            for _, ids in keys:
                _in_flight[ids] -= 1
                if not _in_flight[ids]:
                    del _in_flight[ids]


@dataclass
class Attempt:
    limits: LoginLimits
    keys: list[tuple[str, tuple[str, ...]]]
    address: str

    async def failed(self, user_id: str | None) -> None:
        limiter = self.limits.limiter
        for rule, ids in self.keys:
            counted = await limiter.count(rule, *ids)
            # The failure that uses up the last allowance logs the lockout; later attempts are
            # refused before they get here.
            if counted and await limiter.blocked(rule, *ids) is not None:
                scope = "account" if ids[0] == "login-failed" else "address"
                log.warning(
                    "login locked: too many failed sign-ins",
                    extra={
                        "scope": scope,
                        "limit": rule,
                        "user_id": user_id,
                        "account": ids[1] if scope == "account" else None,
                        "address": self.address,
                    },
                )
