"""Small secrets kept in the database encrypted with a key derived from HELPLINE_SECRET_KEY
(Fernet: AES-128-CBC + HMAC-SHA256). A copy of the database alone does not give them away."""

from __future__ import annotations

import base64
from functools import cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


@cache
def _fernet(secret_key: str, purpose: str) -> Fernet:
    # One key per purpose, so a value sealed for one use never opens as another.
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret_key: str, purpose: str, value: str) -> str:
    return _fernet(secret_key, purpose).encrypt(value.encode()).decode()


def unseal(secret_key: str, purpose: str, sealed: str) -> str | None:
    """The value, or None if it was sealed under another key (HELPLINE_SECRET_KEY changed)."""
    try:
        return _fernet(secret_key, purpose).decrypt(sealed.encode()).decode()
    except InvalidToken:
        return None
