"""Opaque identifiers and human references."""

from __future__ import annotations

import secrets
import uuid


def new_id() -> str:
    # Random, so ids reveal neither counts nor order; hex keeps them URL-safe.
    return uuid.uuid4().hex


def new_token() -> str:
    return secrets.token_urlsafe(32)


def reference(prefix: str, number: int) -> str:
    return f"{prefix}-{number:06d}"
