from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_default = PasswordHasher()
# For tests and benchmarks only (HELPLINE_PASSWORD_FAST_HASH): same algorithm, tiny cost.
_fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def hash_password(password: str, *, fast: bool = False) -> str:
    return (_fast if fast else _default).hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _default.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# Verified against when the e-mail is unknown, so timing does not tell which e-mails exist.
DUMMY_HASH = _fast.hash("not-a-password")
