"""WebSocket frames as JSON bytes: orjson on the message hot path (docs/performance.md).

Every frame a connection writes is encoded here, once: an event going to many connections is
encoded once per audience (staff, customers) by the hub and the same bytes are queued for each
of them. orjson writes compact UTF-8 JSON; a value it cannot encode (an integer beyond 64 bits,
a key that is not a string) falls back to the standard library, so no frame is ever lost to
the faster encoder.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_stdlib = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def encode(frame: Any) -> bytes:
    """One frame as JSON text, UTF-8 encoded."""
    try:
        return orjson.dumps(frame)
    except TypeError:
        return _stdlib(frame).encode()


decode = orjson.loads
"""JSON text or bytes to Python values (raises `orjson.JSONDecodeError`, a ValueError)."""
