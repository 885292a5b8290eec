"""Shared images with real files: the type read from the content, a thumbnail made on the
server, metadata (GPS above all) gone from what is served, decompression bombs never decoded,
and the thumbnail under exactly the file's rights."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from PIL import Image, PngImagePlugin

from helpline import backup
from helpline.chats import images
from helpline.governance import retention
from helpline.kit.clock import FrozenClock
from tests.fixtures.factories import ctx_of, make_queue, make_user, support_chat

GPS_IFD = 0x8825
ORIENTATION = 0x0112


@pytest_asyncio.fixture
async def chat(app: FastAPI, client: httpx.AsyncClient) -> dict[str, Any]:
    return await support_chat(app, client)


def _picture(size: tuple[int, int] = (1200, 800), mode: str = "RGB") -> Image.Image:
    """A picture with some detail (a flat colour would hide scaling mistakes)."""
    im = Image.linear_gradient("L").resize(size)
    if mode == "L":
        return im
    rgb = Image.merge("RGB", (im, im.transpose(Image.Transpose.ROTATE_90).resize(size), im))
    return rgb.convert(mode)


def png_with_text() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "taken at home, 12 Elm Street")
    out = io.BytesIO()
    _picture(mode="RGBA").save(out, "PNG", pnginfo=info)
    return out.getvalue()


def jpeg_with_gps(orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[ORIENTATION] = orientation
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"
    gps[2] = (52.0, 22.0, 12.5)
    gps[3] = "E"
    gps[4] = (4.0, 53.0, 41.2)
    out = io.BytesIO()
    _picture((1600, 900)).save(out, "JPEG", quality=85, exif=exif.tobytes())
    return out.getvalue()


def animated_gif() -> bytes:
    frames = [_picture((300, 200)).rotate(a).convert("P") for a in (0, 10, 20)]
    out = io.BytesIO()
    frames[0].save(
        out,
        "GIF",
        save_all=True,
        append_images=frames[1:],
        duration=120,
        loop=0,
        comment=b"secret comment",
    )
    return out.getvalue()


def webp_with_exif() -> bytes:
    exif = Image.Exif()
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "S"
    gps[2] = (33.0, 51.0, 54.0)
    out = io.BytesIO()
    _picture((640, 640)).save(out, "WEBP", quality=80, exif=exif.tobytes())
    return out.getvalue()


def png_bomb(width: int = 10_000, height: int = 10_000) -> bytes:
    """A real, valid PNG of 100 megapixels (all black) in well under 1 MB, written row by row
    so the test itself never holds it decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    z = zlib.compressobj(9)
    row = b"\x00" * (width + 1)  # filter byte + one grey byte a pixel
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


async def _share(
    client: httpx.AsyncClient, chat: dict[str, Any], name: str, data: bytes, who: str = "customer"
) -> dict[str, Any]:
    r = await client.post(
        f"/api/v1/chats/{chat['chat']['id']}/files",
        files={"file": (name, data, "application/octet-stream")},
        headers=chat[who].headers,
    )
    assert r.status_code == 201, r.text
    att: dict[str, Any] = r.json()["data"]["attachment"]
    return att


def _stored(data_dir: Path) -> list[Path]:
    return [p for p in (data_dir / "files").rglob("*") if p.is_file()]


async def _thumbnail(client: httpx.AsyncClient, att: dict[str, Any], user: Any) -> Image.Image:
    r = await client.get(att["thumbnail_url"], headers=user.headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/webp"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["content-disposition"].startswith("inline;")
    thumb = Image.open(io.BytesIO(r.content))
    assert thumb.format == "WEBP"
    assert max(thumb.size) <= images.THUMB_BOX
    return thumb


@pytest.mark.asyncio
async def test_png_gets_a_thumbnail_and_loses_its_text_chunks(
    client: httpx.AsyncClient, chat: dict[str, Any], data_dir: Path
) -> None:
    data = png_with_text()
    assert b"Elm Street" in data
    att = await _share(client, chat, "screen.png", data)
    assert att["content_type"] == "image/png"
    assert att["thumbnail_url"] == f"/api/v1/files/{att['id']}/thumbnail"
    assert (att["width"], att["height"]) == (1200, 800)
    thumb = await _thumbnail(client, att, chat["agent"])
    assert thumb.size == (480, 320)  # the aspect ratio kept
    full = await client.get(att["url"], params={"inline": "true"}, headers=chat["agent"].headers)
    assert full.headers["content-disposition"].startswith("inline;")
    assert full.headers["content-length"] == str(att["size"]) == str(len(full.content))
    assert b"Elm Street" not in full.content
    served = Image.open(io.BytesIO(full.content))
    assert served.format == "PNG" and served.size == (1200, 800)
    assert "Comment" not in served.info
    # Same pixels: PNG is lossless.
    assert (
        served.convert("RGBA").tobytes() == Image.open(io.BytesIO(data)).convert("RGBA").tobytes()
    )
    # Stored: the stripped image and the thumbnail; the upload with its text is not kept.
    stored = _stored(data_dir)
    assert len(stored) == 2
    assert all(b"Elm Street" not in p.read_bytes() for p in stored)


@pytest.mark.asyncio
async def test_jpeg_is_served_without_gps_and_upright(
    client: httpx.AsyncClient, chat: dict[str, Any], data_dir: Path
) -> None:
    data = jpeg_with_gps(orientation=6)  # "turn 90° clockwise to view"
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(GPS_IFD)
    att = await _share(client, chat, "IMG_0042.JPG", data)
    assert att["content_type"] == "image/jpeg"
    assert (att["width"], att["height"]) == (900, 1600)  # as it is to be seen
    for url in (att["url"], att["thumbnail_url"]):
        r = await client.get(url, headers=chat["agent"].headers)
        assert r.status_code == 200
        served = Image.open(io.BytesIO(r.content))
        exif = served.getexif()
        assert not exif.get_ifd(GPS_IFD) and GPS_IFD not in exif
        assert ORIENTATION not in exif and 0x010F not in exif
        assert b"PhoneMaker" not in r.content
    full = Image.open(
        io.BytesIO((await client.get(att["url"], headers=chat["agent"].headers)).content)
    )
    assert full.format == "JPEG" and full.size == (900, 1600)
    assert all(b"PhoneMaker" not in p.read_bytes() for p in _stored(data_dir))


@pytest.mark.asyncio
async def test_jpeg_without_orientation_keeps_its_quality_tables(
    client: httpx.AsyncClient, chat: dict[str, Any]
) -> None:
    data = jpeg_with_gps(orientation=1)
    att = await _share(client, chat, "photo.jpeg", data)
    full = (await client.get(att["url"], headers=chat["customer"].headers)).content
    before = Image.open(io.BytesIO(data))
    after = Image.open(io.BytesIO(full))
    assert after.size == before.size == (1600, 900)
    assert getattr(after, "quantization", None) == getattr(before, "quantization", None)
    assert not after.getexif().get_ifd(GPS_IFD)


@pytest.mark.asyncio
async def test_animated_gif_stays_animated_without_its_comment(
    client: httpx.AsyncClient, chat: dict[str, Any]
) -> None:
    data = animated_gif()
    assert b"secret comment" in data
    att = await _share(client, chat, "dance.gif", data, who="agent")
    assert (att["width"], att["height"]) == (300, 200)
    await _thumbnail(client, att, chat["customer"])
    full = (await client.get(att["url"], headers=chat["customer"].headers)).content
    served = Image.open(io.BytesIO(full))
    assert served.format == "GIF" and getattr(served, "n_frames", 1) == 3
    assert b"secret comment" not in full and "comment" not in served.info


@pytest.mark.asyncio
async def test_webp_loses_its_exif(client: httpx.AsyncClient, chat: dict[str, Any]) -> None:
    data = webp_with_exif()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(GPS_IFD)
    att = await _share(client, chat, "sticker.webp", data)
    assert (att["width"], att["height"]) == (640, 640)
    thumb = await _thumbnail(client, att, chat["agent"])
    assert thumb.size == (480, 480)
    served = Image.open(
        io.BytesIO((await client.get(att["url"], headers=chat["agent"].headers)).content)
    )
    assert served.format == "WEBP" and not served.getexif().get_ifd(GPS_IFD)


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("holiday.png", lambda: jpeg_with_gps()),  # a JPEG named .png
        ("scan.jpg", lambda: b"%PDF-1.4\n" + b"x" * 5000),  # not an image at all
        ("broken.gif", lambda: animated_gif()[:40]),  # a GIF cut short
    ],
    ids=["jpeg-named-png", "pdf-named-jpg", "truncated-gif"],
)
@pytest.mark.asyncio
async def test_a_file_lying_about_its_type_is_a_plain_file(
    client: httpx.AsyncClient, chat: dict[str, Any], data_dir: Path, name: str, make: Any
) -> None:
    data = make()
    att = await _share(client, chat, name, data)
    assert "thumbnail_url" not in att and "width" not in att
    r = await client.get(f"/api/v1/files/{att['id']}/thumbnail", headers=chat["agent"].headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    d = await client.get(att["url"], params={"inline": "true"}, headers=chat["agent"].headers)
    assert d.content == data  # kept exactly as sent
    assert d.headers["content-disposition"].startswith("attachment;")  # never shown inline
    assert len(_stored(data_dir)) == 1


@pytest.mark.asyncio
async def test_a_decompression_bomb_is_kept_as_a_plain_file(
    client: httpx.AsyncClient, chat: dict[str, Any], data_dir: Path
) -> None:
    data = png_bomb()
    assert len(data) < 1024 * 1024  # 100 megapixels in a small file
    att = await _share(client, chat, "innocent.png", data)
    assert "thumbnail_url" not in att
    d = await client.get(att["url"], params={"inline": "true"}, headers=chat["agent"].headers)
    assert d.content == data
    assert d.headers["content-disposition"].startswith("attachment;")
    assert len(_stored(data_dir)) == 1


def test_a_bomb_is_refused_from_its_header_without_decoding() -> None:
    data = png_bomb()
    tracemalloc.start()
    try:
        assert images.prepare(data, "image/png") is None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Decoded it would take 100 MB; refused from the header it takes next to nothing.
    assert peak < 5 * 1024 * 1024, peak


def test_just_over_the_limit_is_refused_and_just_under_is_made() -> None:
    assert images.prepare(png_bomb(7072, 7072), "image/png") is None  # 50.01 megapixels
    small = png_bomb(1000, 500)
    made = images.prepare(small, "image/png")
    assert made is not None and (made.width, made.height) == (1000, 500)


def test_the_type_comes_from_the_content() -> None:
    assert images.sniff(jpeg_with_gps()[:16]) == "image/jpeg"
    assert images.sniff(png_with_text()[:16]) == "image/png"
    assert images.sniff(animated_gif()[:16]) == "image/gif"
    assert images.sniff(webp_with_exif()[:16]) == "image/webp"
    assert images.sniff(b"<svg xmlns=...") is None
    assert images.prepare(jpeg_with_gps(), "image/png") is None


@pytest.mark.asyncio
async def test_thumbnail_rights_are_the_files(
    app: FastAPI, client: httpx.AsyncClient, chat: dict[str, Any]
) -> None:
    att = await _share(client, chat, "screen.png", png_with_text())
    url = att["thumbnail_url"]
    other_queue = await make_queue(app, "Billing")
    supervisor = await make_user(app, "supervisor", name="Sam")
    admin = await make_user(app, "admin", name="Ada")
    colleague = await make_user(app, "agent", name="Cole", queues=[chat["queue"]])
    outsider = await make_user(app, "agent", name="Otto", queues=[other_queue])
    stranger = await make_user(app, "customer", name="Olga")
    for who in (chat["customer"], chat["agent"], colleague, supervisor, admin):
        assert (await client.get(url, headers=who.headers)).status_code == 200
    for who in (outsider, stranger):
        r = await client.get(url, headers=who.headers)
        # Exactly as a file that does not exist.
        assert r.status_code == 404 and r.json()["error"]["message"] == "No such file."
        missing = await client.get("/api/v1/files/nope/thumbnail", headers=who.headers)
        assert missing.json() == r.json()
    assert (await client.get(url)).status_code == 401


@pytest.mark.asyncio
async def test_erasure_deletes_thumbnails_too(
    app: FastAPI, client: httpx.AsyncClient, chat: dict[str, Any], data_dir: Path
) -> None:
    await _share(client, chat, "screen.png", png_with_text())
    assert len(_stored(data_dir)) == 2
    solved = await client.post(
        f"/api/v1/chats/{chat['chat']['id']}/solve", headers=chat["agent"].headers
    )
    assert solved.status_code == 200, solved.text
    admin = await make_user(app, "admin", name="Ada")
    r = await client.post(
        f"/api/v1/customers/{chat['customer'].id}/erase",
        json={"confirm": chat["customer"].email},
        headers=admin.headers,
    )
    assert r.status_code == 200, r.text
    assert _stored(data_dir) == []


@pytest.mark.asyncio
@pytest.mark.parametrize("settings_overrides", [{"retention_days": 30}])
async def test_retention_deletes_thumbnails_too(
    frozen_clock: FrozenClock,
    app: FastAPI,
    client: httpx.AsyncClient,
    data_dir: Path,
    settings_overrides: dict[str, Any],
) -> None:
    chat = await support_chat(app, client)
    await _share(client, chat, "screen.png", png_with_text())
    solved = await client.post(
        f"/api/v1/chats/{chat['chat']['id']}/solve", headers=chat["agent"].headers
    )
    assert solved.status_code == 200, solved.text
    assert len(_stored(data_dir)) == 2
    frozen_clock.advance(31 * 86400)
    removed = await retention.run(ctx_of(app), "test")
    assert removed is not None and removed.as_dict()["files"] == 1
    assert _stored(data_dir) == []


def test_an_animation_with_too_many_frames_is_a_plain_file() -> None:
    # Each frame differs from the one before (Pillow merges equal frames when saving).
    frames = [Image.new("L", (64, 64), color=i % 2 * 255) for i in range(images.MAX_FRAMES + 1)]
    frame = frames[0]
    out = io.BytesIO()
    frame.save(out, "GIF", save_all=True, append_images=frames[1:], duration=20)
    many = out.getvalue()
    assert len(many) < 200_000  # a small file
    assert images.prepare(many, "image/gif") is None
    out = io.BytesIO()
    frame.save(out, "GIF", save_all=True, append_images=frames[1:4], duration=20)
    assert images.prepare(out.getvalue(), "image/gif") is not None


@pytest.mark.asyncio
async def test_a_backup_holds_the_thumbnails_too(
    app: FastAPI, client: httpx.AsyncClient, chat: dict[str, Any], tmp_path: Path
) -> None:
    await _share(client, chat, "screen.png", png_with_text())
    target = tmp_path / "backup"
    summary = await backup.backup(ctx_of(app).settings, target, say=lambda *_: None)
    copied = sorted(p.read_bytes()[:4] for p in (target / "files").rglob("*") if p.is_file())
    assert copied == [b"RIFF", b"\x89PNG"], summary  # the thumbnail (WebP) and the image
