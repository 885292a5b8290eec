"""Files in a real S3-compatible store (SeaweedFS): the same API, rights and headers as local
files, streamed both ways, nothing on local disk, 503 while the store is away."""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from helpline.config import Settings
from helpline.errors import Unavailable
from helpline.storage.s3 import S3Location, S3Storage
from tests.conftest import LiveServer
from tests.fixtures.factories import app_settings, make_queue, make_user, serving, support_chat
from tests.fixtures.servers import S3_ACCESS_KEY, S3_SECRET_KEY
from tests.storage.conftest import Place

pytestmark = pytest.mark.asyncio

MiB = 1024 * 1024


@pytest_asyncio.fixture
async def chat(app: FastAPI, client: httpx.AsyncClient) -> dict[str, Any]:
    return await support_chat(app, client)


def store(place: Place) -> S3Storage:
    return S3Storage(
        S3Location.parse(f"s3://{place.bucket}/{place.prefix}"),
        endpoint_url=place.s3.endpoint_url,
        access_key_id=S3_ACCESS_KEY,
        secret_access_key=S3_SECRET_KEY,
        region="us-east-1",
        part_size=5 * MiB,
    )


async def test_round_trip_same_rights_and_headers_nothing_on_disk(
    client: httpx.AsyncClient,
    chat: dict[str, Any],
    app: FastAPI,
    place: Place,
    data_dir: Path,
) -> None:
    payload = os.urandom(300_000)
    cid = chat["chat"]["id"]
    r = await client.post(
        f"/api/v1/chats/{cid}/files",
        files={"file": ("report final.pdf", payload, "application/pdf")},
        headers=chat["agent"].headers,
    )
    assert r.status_code == 201, r.text
    att = r.json()["data"]["attachment"]
    d = await client.get(att["url"], headers=chat["customer"].headers)
    assert d.status_code == 200
    assert d.content == payload
    assert d.headers["content-type"] == "application/pdf"
    assert d.headers["content-length"] == str(len(payload))
    assert d.headers["content-disposition"].startswith("attachment;")
    assert d.headers["x-content-type-options"] == "nosniff"
    assert d.headers["cache-control"] == "no-store"
    # In the bucket under the prefix and a random key; nothing under the data directory.
    stored = place.keys()
    assert (
        len(stored) == 1 and stored[0].startswith(place.prefix + "/") and "report" not in stored[0]
    )
    obj = place.s3.client().get_object(Bucket=place.bucket, Key=stored[0])
    assert hashlib.sha256(obj["Body"].read()).hexdigest() == hashlib.sha256(payload).hexdigest()
    assert not [p for p in (data_dir / "files").rglob("*") if p.is_file()]
    # The same rights as local files: another customer may not see it.
    other = await make_user(app, "customer", name="Olga")
    assert (await client.get(att["url"], headers=other.headers)).status_code == 404


async def test_refused_upload_leaves_nothing_in_the_bucket(
    client: httpx.AsyncClient, chat: dict[str, Any], place: Place
) -> None:
    r = await client.post(
        f"/api/v1/chats/{chat['chat']['id']}/files",
        files={"file": ("page.html.txt", b"<html><script>x</script>", "text/plain")},
        headers=chat["customer"].headers,
    )
    assert r.status_code == 415, r.text
    assert place.keys() == [] and place.pending_uploads() == []


def _multipart(size: int, chunk: int = 256 * 1024) -> tuple[str, AsyncIterator[bytes], bytes]:
    """A multipart body generated as it is sent (never whole in memory), and its digest."""
    boundary = "helpline-boundary-0123456789"
    seed = os.urandom(chunk)
    digest = hashlib.sha256()

    async def body() -> AsyncIterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="big.bin.zip"\r\nContent-Type: application/zip\r\n\r\n'
        ).encode()
        sent = 0
        while sent < size:
            piece = seed[: min(chunk, size - sent)]
            sent += len(piece)
            yield piece
        yield f"\r\n--{boundary}--\r\n".encode()

    n, rest = divmod(size, chunk)
    for _ in range(n):
        digest.update(seed)
    digest.update(seed[:rest])
    return f"multipart/form-data; boundary={boundary}", body(), digest.digest()


async def test_large_file_streams_both_ways_with_bounded_memory(
    live_server: LiveServer, place: Place
) -> None:
    size = 60 * MiB
    async with httpx.AsyncClient(base_url=live_server.url, timeout=60) as http:
        c = await _chat_over_http(http, live_server)
        ctype, body, digest = _multipart(size)
        tracemalloc.start()
        try:
            r = await http.post(
                f"/api/v1/chats/{c['id']}/files",
                content=body,
                headers={**c["agent"], "Content-Type": ctype},
            )
            assert r.status_code == 201, r.text
            _, upload_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            att = r.json()["data"]["attachment"]
            got = hashlib.sha256()
            async with http.stream("GET", att["url"], headers=c["customer"]) as d:
                assert d.status_code == 200
                assert d.headers["content-length"] == str(size)
                async for piece in d.aiter_raw():
                    got.update(piece)
            _, download_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert got.digest() == digest
    print(
        f"\n60 MiB through S3: peak traced memory upload {upload_peak / MiB:.1f} MiB, "
        f"download {download_peak / MiB:.1f} MiB"
    )
    # One 5 MiB part in flight (plus its copy for the request) at most, never the file.
    assert upload_peak < 20 * MiB, upload_peak
    assert download_peak < 10 * MiB, download_peak
    assert len(place.keys()) == 1 and place.pending_uploads() == []


async def _chat_over_http(http: httpx.AsyncClient, server: LiveServer) -> dict[str, Any]:
    from tests.fixtures.factories import start_chat

    q = await make_queue(server.app, "Support")
    customer = await make_user(server.app, "customer", name="Carla")
    agent = await make_user(server.app, "agent", name="Ana", queues=[q])
    chat = await start_chat(http, customer, q)
    r = await http.post(f"/api/v1/chats/{chat['id']}/accept", headers=agent.headers)
    assert r.status_code == 200, r.text
    return {"id": chat["id"], "agent": agent.headers, "customer": customer.headers}


async def test_store_stopped_upload_is_503_and_the_chat_goes_on(
    client: httpx.AsyncClient, chat: dict[str, Any], place: Place
) -> None:
    cid = chat["chat"]["id"]
    place.s3.kill()
    try:
        r = await client.post(
            f"/api/v1/chats/{cid}/files",
            files={"file": ("notes.txt", b"while the store is away", "text/plain")},
            headers=chat["customer"].headers,
        )
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "unavailable"
        assert "storage" in r.json()["error"]["message"]
        assert "retry-after" in r.headers
        m = await client.post(
            f"/api/v1/chats/{cid}/messages",
            json={"text": "the chat goes on", "client_id": "c1"},
            headers=chat["customer"].headers,
        )
        assert m.status_code == 201, m.text
    finally:
        place.s3.start()
    events = await client.get(f"/api/v1/chats/{cid}/events", headers=chat["agent"].headers)
    types = [e["type"] for e in events.json()["items"]]
    assert "file.shared" not in types and "message.posted" in types
    assert place.keys() == []
    # Back again: the next upload works.
    r = await client.post(
        f"/api/v1/chats/{cid}/files",
        files={"file": ("notes.txt", b"now it is back", "text/plain")},
        headers=chat["customer"].headers,
    )
    assert r.status_code == 201, r.text
    assert len(place.keys()) == 1


async def test_store_restarted_mid_upload_the_upload_completes(place: Place) -> None:
    s = store(place)
    try:
        data = os.urandom(12 * MiB)
        writer = await s.open_writer("restart1")
        await writer.write(data[: 6 * MiB])  # the first part is in the store
        assert place.pending_uploads() == [f"{place.prefix}/restart1"]
        place.s3.kill()
        place.s3.start()
        await writer.write(data[6 * MiB :])
        await writer.commit()
        got = b"".join([c async for c in await s.open_stream("restart1")])
        assert got == data
        assert place.pending_uploads() == []
    finally:
        await s.aclose()
        place.s3.start()


async def test_store_gone_mid_upload_fails_cleanly_and_leaves_nothing(place: Place) -> None:
    s = store(place)
    try:
        writer = await s.open_writer("gone1")
        await writer.write(os.urandom(6 * MiB))
        assert place.pending_uploads() == [f"{place.prefix}/gone1"]
        place.s3.kill()
        await writer.write(os.urandom(MiB))
        with pytest.raises(Unavailable):
            await writer.commit()
        await writer.abort()  # as receive_upload does: the abort cannot reach the store
        place.s3.start()
        # The next use of the store aborts what was left half-written.
        w2 = await s.open_writer("after1")
        await w2.write(b"small")
        await w2.commit()
        assert place.pending_uploads() == []
        assert place.keys() == [f"{place.prefix}/after1"]
    finally:
        await s.aclose()
        place.s3.start()


async def test_backup_reads_files_from_the_store_and_restore_can_move_them_to_disk(
    client: httpx.AsyncClient, chat: dict[str, Any], settings: Settings, tmp_path: Path
) -> None:
    from helpline.backup import backup, restore

    payload = os.urandom(70_000)
    r = await client.post(
        f"/api/v1/chats/{chat['chat']['id']}/files",
        files={"file": ("dump.zip", payload, "application/zip")},
        headers=chat["customer"].headers,
    )
    assert r.status_code == 201, r.text
    url = r.json()["data"]["attachment"]["url"]
    lines: list[str] = []
    done = await backup(settings, tmp_path / "b", say=lines.append)
    assert done.files == 1 and done.bytes == len(payload)
    assert [p.read_bytes() for p in (tmp_path / "b" / "files").glob("*/*")] == [payload]

    # Restored with local files this time (and the database beside them).
    local = app_settings(tmp_path / "restored", None)
    if settings.is_sqlite:
        await restore(local, tmp_path / "b", say=lines.append)
        async with serving(local) as other:
            d = await other.get(url, headers=chat["agent"].headers)
            assert d.status_code == 200 and d.content == payload


async def test_restore_into_a_store_that_holds_its_files_is_refused(
    client: httpx.AsyncClient,
    chat: dict[str, Any],
    settings: Settings,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    from helpline.backup import BackupError, backup, restore

    r = await client.post(
        f"/api/v1/chats/{chat['chat']['id']}/files",
        files={"file": ("a.txt", b"kept as it is", "text/plain")},
        headers=chat["customer"].headers,
    )
    assert r.status_code == 201, r.text
    await backup(settings, tmp_path / "b", say=lambda _: None)
    # A fresh data directory, but the same bucket and prefix, which hold the backup's file.
    empty_db = None
    if not settings.is_sqlite:
        from tests.fixtures.servers import create_database

        empty_db = create_database(request.getfixturevalue("postgres_dsn"), f"s3r{os.getpid()}")
    again = Settings(
        **(settings.model_dump() | {"data_dir": tmp_path / "fresh", "database_url": empty_db})
    )
    with pytest.raises(BackupError, match="already holds file"):
        await restore(again, tmp_path / "b", say=lambda _: None)
    assert not (tmp_path / "fresh").exists()


async def test_image_thumbnail_and_stripped_copy_live_in_the_bucket(
    client: httpx.AsyncClient, chat: dict[str, Any], place: Place, data_dir: Path
) -> None:
    from PIL import Image

    from tests.chats.test_images import GPS_IFD, jpeg_with_gps

    data = jpeg_with_gps()
    cid = chat["chat"]["id"]
    r = await client.post(
        f"/api/v1/chats/{cid}/files",
        files={"file": ("phone.jpg", data, "image/jpeg")},
        headers=chat["customer"].headers,
    )
    assert r.status_code == 201, r.text
    att = r.json()["data"]["attachment"]
    thumb = await client.get(att["thumbnail_url"], headers=chat["agent"].headers)
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/webp"
    full = await client.get(att["url"], headers=chat["agent"].headers)
    assert not Image.open(io.BytesIO(full.content)).getexif().get_ifd(GPS_IFD)
    # Two objects (the stripped image, its thumbnail); the upload with GPS is gone.
    assert len(place.keys()) == 2
    assert not [p for p in (data_dir / "files").rglob("*") if p.is_file()]
