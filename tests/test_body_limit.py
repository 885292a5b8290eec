"""JSON bodies are capped at 1 MiB before parsing; uploads keep their own streaming limit."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import LiveServer
from tests.fixtures.factories import make_queue, make_user

pytestmark = pytest.mark.asyncio

MIB = 1024 * 1024
LOGIN = "/api/v1/auth/login"
TOO_BIG = {"error": {"code": "too_large", "message": "Request bodies can be at most 1 MiB."}}


def _big_login(size: int) -> bytes:
    doc = {"email": "a@example.com", "password": "x" * size}
    return json.dumps(doc).encode()


def _probe(app: FastAPI) -> list[int]:
    """A route that records every body it is handed (so a test can tell it was never called)."""
    seen: list[int] = []

    async def probe(body: dict[str, Any]) -> dict[str, int]:
        seen.append(len(json.dumps(body)))
        return {"n": len(seen)}

    app.router.add_api_route("/api/v1/test-probe", probe, methods=["POST"])
    return seen


async def test_a_2_mib_json_body_is_413_with_and_without_content_length(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    seen = _probe(app)
    body = _big_login(2 * MIB)

    r = await client.post(LOGIN, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json() == TOO_BIG

    async def chunked() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 64 * 1024):
            yield body[i : i + 64 * 1024]

    r = await client.post(LOGIN, content=chunked(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json() == TOO_BIG
    r = await client.post("/api/v1/test-probe", content=chunked())
    assert r.status_code == 413 and seen == []

    # Below the limit, both ways reach the app whole.
    small = json.dumps({"k": "v" * 1000}).encode()

    async def small_chunks() -> AsyncIterator[bytes]:
        yield small[:500]
        yield small[500:]

    json_type = {"Content-Type": "application/json"}
    r = await client.post("/api/v1/test-probe", content=small, headers=json_type)
    assert r.json() == {"n": 1}
    r = await client.post("/api/v1/test-probe", content=small_chunks(), headers=json_type)
    assert r.json() == {"n": 2}
    r = await client.post(LOGIN, json={"email": "nobody@example.com", "password": "wrong"})
    assert r.status_code == 401


async def _exchange(server: LiveServer, head: bytes, body_parts: list[bytes]) -> bytes:
    """Send a raw request head and some body, then read the answer without sending the rest."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(head)
        for part in body_parts:
            writer.write(part)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()


async def test_the_server_answers_413_without_reading_the_body(live_server: LiveServer) -> None:
    seen = _probe(live_server.app)
    host = f"127.0.0.1:{live_server.port}".encode()
    for path in (LOGIN.encode(), b"/api/v1/test-probe"):
        # A declared 2 MiB: answered before a single byte of it is sent.
        head = (
            b"POST " + path + b" HTTP/1.1\r\nHost: " + host + b"\r\n"
            b"Content-Type: application/json\r\nContent-Length: "
            + str(2 * MIB).encode()
            + b"\r\n\r\n"
        )
        answer = await _exchange(live_server, head, [])
        assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1]) == TOO_BIG

        # Chunked, no length: answered once it passes 1 MiB, the rest never sent.
        head = (
            b"POST " + path + b" HTTP/1.1\r\nHost: " + host + b"\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        piece = b"x" * (64 * 1024)
        chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        answer = await _exchange(live_server, head, [chunk] * 17)  # 1 MiB + 64 KiB, unfinished
        assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1]) == TOO_BIG
    assert seen == []


async def test_uploads_keep_their_own_limit_above_1_mib(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    q = await make_queue(app, "Support")
    customer = await make_user(app, "customer")
    r = await client.post(
        "/api/v1/chats", json={"queue_id": q, "message": "hi"}, headers=customer.headers
    )
    chat_id = r.json()["id"]
    data = b"A" * (3 * MIB)
    r = await client.post(
        f"/api/v1/chats/{chat_id}/files",
        files={"file": ("big.txt", data, "text/plain")},
        headers=customer.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["data"]["attachment"]["size"] == len(data)
