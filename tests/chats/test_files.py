"""Uploads stream to storage under random keys; downloads need the chat's rights."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from helpline.chats.files import sanitise_filename
from tests.fixtures.factories import (
    events,
    make_queue,
    make_user,
    start_chat,
    support_chat,
)

pytestmark = pytest.mark.asyncio


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"max_upload_mb": 1}


@pytest_asyncio.fixture
async def chat(app: FastAPI, client: httpx.AsyncClient) -> dict[str, Any]:
    return await support_chat(app, client)


async def test_agent_upload_customer_downloads_identical_bytes(
    client: httpx.AsyncClient, chat: dict[str, Any], data_dir: Path
) -> None:
    payload = os.urandom(300_000)
    cid = chat["chat"]["id"]
    r = await client.post(
        f"/api/v1/chats/{cid}/files",
        files={"file": ("report final.pdf", payload, "application/pdf")},
        headers=chat["agent"].headers,
    )
    assert r.status_code == 201, r.text
    event = r.json()
    att = event["data"]["attachment"]
    assert event["type"] == "file.shared"
    assert att["filename"] == "report final.pdf" and att["size"] == len(payload)
    assert att["content_type"] == "application/pdf"
    assert att["url"] == f"/api/v1/files/{att['id']}"
    d = await client.get(att["url"], headers=chat["customer"].headers)
    assert d.status_code == 200
    assert hashlib.sha256(d.content).digest() == hashlib.sha256(payload).digest()
    assert d.headers["content-disposition"].startswith("attachment;")
    assert d.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in d.headers["content-security-policy"]
    # stored under a random key, never under the uploaded name
    stored = [p.name for p in (data_dir / "files").rglob("*") if p.is_file()]
    assert len(stored) == 1 and "report" not in stored[0]


async def test_customer_to_agent_upload(client: httpx.AsyncClient, chat: dict[str, Any]) -> None:
    cid = chat["chat"]["id"]
    r = await client.post(
        f"/api/v1/chats/{cid}/files",
        files={"file": ("screen.png", b"\x89PNG\r\n\x1a\nabc", "image/png")},
        headers=chat["customer"].headers,
    )
    assert r.status_code == 201
    url = r.json()["data"]["attachment"]["url"]
    d = await client.get(url, headers=chat["agent"].headers)
    assert d.content == b"\x89PNG\r\n\x1a\nabc"
    # Not a PNG the server could decode (tests/chats/test_images.py): never shown inline.
    inline = await client.get(url, params={"inline": "true"}, headers=chat["agent"].headers)
    assert inline.headers["content-disposition"].startswith("attachment;")


async def test_over_the_limit_is_413_and_nothing_is_kept(
    client: httpx.AsyncClient, chat: dict[str, Any], data_dir: Path
) -> None:
    cid = chat["chat"]["id"]
    r = await client.post(
        f"/api/v1/chats/{cid}/files",
        files={"file": ("big.zip", b"x" * (1024 * 1024 + 1), "application/zip")},
        headers=chat["agent"].headers,
    )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "too_large"
    assert not [p for p in (data_dir / "files").rglob("*") if p.is_file()]
    assert "file.shared" not in [e["type"] for e in await events(client, chat["agent"], cid)]


async def test_streamed_body_without_length_is_cut_at_the_limit(
    client: httpx.AsyncClient, chat: dict[str, Any]
) -> None:
    cid = chat["chat"]["id"]
    boundary = "xyz"

    async def body() -> Any:
        yield f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\n'.encode()
        for _ in range(40):
            yield b"y" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    r = await client.post(
        f"/api/v1/chats/{cid}/files",
        content=body(),
        headers={
            **chat["agent"].headers,
            "content-type": f"multipart/form-data; boundary={boundary}",
        },
    )
    assert r.status_code == 413


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("evil.exe", b"MZ\x90\x00"),
        ("page.html", b"<html>"),
        ("logo.svg", b"<svg/>"),
        ("run.sh", b"#!/bin/sh"),
        ("noext", b"data"),
        ("disguised.txt", b"<!DOCTYPE html><script>alert(1)</script>"),
    ],
)
async def test_forbidden_types_are_415(
    client: httpx.AsyncClient, chat: dict[str, Any], name: str, content: bytes
) -> None:
    r = await client.post(
        f"/api/v1/chats/{chat['chat']['id']}/files",
        files={"file": (name, content, "text/plain")},
        headers=chat["agent"].headers,
    )
    assert r.status_code == 415, name
    assert r.json()["error"]["code"] == "unsupported_type"


async def test_upload_rights_and_shape(
    app: FastAPI, client: httpx.AsyncClient, chat: dict[str, Any]
) -> None:
    cid = chat["chat"]["id"]
    stranger = await make_user(app, "customer")
    r = await client.post(
        f"/api/v1/chats/{cid}/files",
        files={"file": ("a.txt", b"hi", "text/plain")},
        headers=stranger.headers,
    )
    assert r.status_code == 404
    r = await client.post(
        f"/api/v1/chats/{cid}/files", files={"file": ("a.txt", b"hi", "text/plain")}
    )
    assert r.status_code == 401
    r = await client.post(
        f"/api/v1/chats/{cid}/files",
        data={"other": "x"},
        files={"nofile": ("a.txt", b"hi")},
        headers=chat["agent"].headers,
    )
    assert r.status_code == 422
    r = await client.post(
        f"/api/v1/chats/{cid}/files", json={"file": "x"}, headers=chat["agent"].headers
    )
    assert r.status_code == 422


async def test_download_needs_the_chats_rights(
    app: FastAPI, client: httpx.AsyncClient, chat: dict[str, Any]
) -> None:
    cid = chat["chat"]["id"]
    r = await client.post(
        f"/api/v1/chats/{cid}/files",
        files={"file": ("a.txt", b"secret", "text/plain")},
        headers=chat["agent"].headers,
    )
    url = r.json()["data"]["attachment"]["url"]
    stranger = await make_user(app, "customer")
    outsider = await make_user(app, "agent")
    assert (await client.get(url)).status_code == 401
    for person in (stranger, outsider):
        # Someone else's file answers exactly what a missing one does.
        theirs = await client.get(url, headers=person.headers)
        missing = await client.get("/api/v1/files/" + "0" * 32, headers=person.headers)
        assert theirs.status_code == missing.status_code == 404
        assert (
            theirs.json()
            == missing.json()
            == {"error": {"code": "not_found", "message": "No such file."}}
        )


async def test_chat_files_are_never_cached(client: httpx.AsyncClient, chat: dict[str, Any]) -> None:
    cid = chat["chat"]["id"]
    r = await client.post(
        f"/api/v1/chats/{cid}/files",
        files={"file": ("a.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64, "image/png")},
        headers=chat["agent"].headers,
    )
    url = r.json()["data"]["attachment"]["url"]
    for params in ({}, {"inline": "true"}):
        r = await client.get(url, params=params, headers=chat["customer"].headers)
        assert r.status_code == 200
        assert r.headers["cache-control"] == "no-store"


async def test_closed_chat_refuses_files(client: httpx.AsyncClient, chat: dict[str, Any]) -> None:
    cid = chat["chat"]["id"]
    await client.post(f"/api/v1/chats/{cid}/solve", headers=chat["agent"].headers)
    r = await client.post(
        f"/api/v1/chats/{cid}/files",
        files={"file": ("a.txt", b"late", "text/plain")},
        headers=chat["customer"].headers,
    )
    assert r.status_code == 409


async def test_waiting_chat_customer_may_share_agent_may_not(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    q = await make_queue(app)
    customer = await make_user(app, "customer")
    agent = await make_user(app, "agent", queues=[q])
    c = await start_chat(client, customer, q)
    r = await client.post(
        f"/api/v1/chats/{c['id']}/files",
        files={"file": ("a.txt", b"x", "text/plain")},
        headers=agent.headers,
    )
    assert r.status_code == 409
    r = await client.post(
        f"/api/v1/chats/{c['id']}/files",
        files={"file": ("a.txt", b"x", "text/plain")},
        headers=customer.headers,
    )
    assert r.status_code == 201


async def test_filenames_are_sanitised() -> None:
    assert sanitise_filename("../../etc/passwd") == "passwd"
    assert sanitise_filename("C:\\Users\\me\\doc.pdf") == "doc.pdf"
    assert sanitise_filename('a<b>"c".txt') == "abc.txt"
    assert sanitise_filename("\x00\x1f") == "file"
    assert sanitise_filename("x" * 300 + ".pdf").endswith(".pdf")
    assert len(sanitise_filename("x" * 300 + ".pdf")) <= 180
