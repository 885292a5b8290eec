"""Password hashing (argon2id). Hashing costs tens of milliseconds of CPU on purpose, so the
async callers (`hash_async`, `verify_async`) run it in worker threads, at most one per core:
the event loop keeps serving while a burst of sign-ins is hashed, and a burst cannot take
more than the machine's cores."""

from __future__ import annotations

import os
from functools import cache

import anyio.to_thread
from anyio import CapacityLimiter
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_default = PasswordHasher()
# For tests and benchmarks only (HELPLINE_PASSWORD_FAST_HASH): same algorithm, tiny cost.
_fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

# argon2-cffi releases the GIL while it hashes, so threads really run on other cores.
_hashing = CapacityLimiter(max(1, os.cpu_count() or 1))


def hasher(*, fast: bool = False) -> PasswordHasher:
    return _fast if fast else _default


def hash_password(password: str, *, fast: bool = False) -> str:
    return hasher(fast=fast).hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    # The cost parameters come from the hash itself, whichever hasher verifies it.
    try:
        return _default.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def dummy_hash(*, fast: bool = False) -> str:
    """Verified against when there is no password to check (unknown e-mail, a guest), made
    with the same parameters as real hashes so the time taken does not tell them apart."""
    return hash_password("not-a-password", fast=fast)


async def hash_async(password: str, *, fast: bool = False) -> str:
    return await anyio.to_thread.run_sync(
        lambda: hash_password(password, fast=fast), limiter=_hashing
    )


async def verify_async(password_hash: str | None, password: str, *, fast: bool = False) -> bool:
    """Without a hash (no such account, a guest) the dummy is verified, and the answer is no."""
    if password_hash is None:
        await anyio.to_thread.run_sync(
            lambda: verify_password(dummy_hash(fast=fast), password), limiter=_hashing
        )
        return False
    return await anyio.to_thread.run_sync(
        verify_password, password_hash, password, limiter=_hashing
    )
