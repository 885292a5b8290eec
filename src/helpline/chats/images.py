"""Shared images: the type read from the content, the size read from the header before any
decoding, then (in a worker thread) a copy without metadata (EXIF, GPS, XMP, comments) in
place of the upload and a bounded thumbnail. Anything else is kept as a plain file."""

from __future__ import annotations

import asyncio
import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, ImageSequence

from helpline.chats.models import Attachment
from helpline.kit.ids import new_id
from helpline.storage import Storage

# Larger images are kept as plain files: never decoded, so never a memory bomb.
MAX_PIXELS = 50_000_000
# Animations: all frames together, each held decoded while it is saved again (a small GIF
# can hold thousands of frames).
MAX_ANIMATION_PIXELS = MAX_PIXELS
MAX_FRAMES = 500
THUMB_BOX = 480  # px, the longest side; shown at 240 CSS px, sharp on 2x screens
THUMB_TYPE = "image/webp"
_ORIENTATION = 0x0112  # the EXIF tag

# The one setting Pillow has: beyond it (twice it, in fact) Image.open raises.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}
# One decode at a time per process: a 50-megapixel image takes ~200 MB while decoded.
_DECODING = asyncio.Semaphore(1)


def sniff(head: bytes) -> str | None:
    """The image type the bytes say they are (PNG, JPEG, GIF, WebP), whatever the name says."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


@dataclass(frozen=True)
class Prepared:
    full: bytes  # the image without its metadata, full size
    thumb: bytes
    width: int
    height: int


def prepare(data: bytes, content_type: str) -> Prepared | None:
    """The stripped image and its thumbnail, or None: not the image its name says, too many
    pixels, or not decodable. Blocking: run it in a thread."""
    if content_type not in _FORMATS or sniff(data[:16]) != content_type:
        return None
    fmt = _FORMATS[content_type]
    try:
        with warnings.catch_warnings():
            # Pillow warns between MAX_IMAGE_PIXELS and twice it; we refuse before that.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[fmt]) as im:
                width, height = im.size  # from the header: nothing decoded yet
                if width * height > MAX_PIXELS or width < 1 or height < 1:
                    return None
                return _prepare(im, fmt)
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError):
        return None
    except Image.DecompressionBombWarning:
        return None


def _prepare(im: Image.Image, fmt: str) -> Prepared | None:
    frames = getattr(im, "n_frames", 1)
    if frames > 1:
        if frames > MAX_FRAMES or frames * im.size[0] * im.size[1] > MAX_ANIMATION_PIXELS:
            return None
        full = _strip_animation(im, fmt)
        im.seek(0)
        first = im.convert("RGBA")
    else:
        im.load()
        # The EXIF orientation goes with the EXIF: turn the pixels instead.
        turned = im.getexif().get(_ORIENTATION, 1) not in (0, 1)
        upright = ImageOps.exif_transpose(im) if turned else im
        full = _strip_still(im, upright, fmt)
        first = upright
    thumb_img = first.copy()
    thumb_img.thumbnail((THUMB_BOX, THUMB_BOX), Image.Resampling.LANCZOS)
    if thumb_img.mode not in ("RGB", "RGBA"):
        thumb_img = thumb_img.convert("RGBA")
    out = io.BytesIO()
    thumb_img.save(out, "WEBP", quality=80, method=4)
    width, height = first.size
    return Prepared(full=full, thumb=out.getvalue(), width=width, height=height)


def _strip_still(original: Image.Image, upright: Image.Image, fmt: str) -> bytes:
    """Saved anew with only what it takes to show it (the colour profile); no EXIF, XMP, text
    chunks or comments: Pillow writes those only when asked to."""
    out = io.BytesIO()
    icc = original.info.get("icc_profile")
    kwargs: dict[str, object] = {"icc_profile": icc} if icc else {}
    if fmt == "JPEG":
        if upright is original:
            # The original quantisation tables: no second round of JPEG loss.
            kwargs.update(quality="keep", subsampling="keep")
        else:
            kwargs.update(quality=92)
        img = upright if upright.mode in ("RGB", "L", "CMYK") else upright.convert("RGB")
        img.save(out, "JPEG", **kwargs)
    elif fmt == "PNG":
        upright.save(out, "PNG", optimize=False, **kwargs)
    elif fmt == "WEBP":
        lossless = original.info.get("lossless", False)
        upright.save(out, "WEBP", lossless=lossless, quality=90, **kwargs)
    else:  # a single-frame GIF
        clean = upright.copy()
        clean.info = {k: v for k, v in upright.info.items() if k in ("transparency", "background")}
        clean.save(out, "GIF")
    return out.getvalue()


def _strip_animation(im: Image.Image, fmt: str) -> bytes:
    frames: list[Image.Image] = []
    durations: list[int] = []
    for frame in ImageSequence.Iterator(im):
        durations.append(int(frame.info.get("duration", 100)))
        clean = frame.convert("RGBA")
        clean.info = {}  # Pillow writes a GIF's comment from the image's own info too
        frames.append(clean)
    extra: dict[str, object] = {"disposal": 2} if fmt == "GIF" else {}
    out = io.BytesIO()
    frames[0].save(
        out,
        fmt,
        save_all=True,
        append_images=frames[1:],
        duration=durations,
        loop=int(im.info.get("loop", 0)),
        **extra,
    )
    return out.getvalue()


async def _read(storage: Storage, key: str) -> bytes:
    parts = [chunk async for chunk in await storage.open_stream(key)]
    return b"".join(parts)


async def _store(storage: Storage, data: bytes) -> str:
    key = new_id()
    writer = await storage.open_writer(key)
    try:
        for i in range(0, len(data), 1 << 20):
            await writer.write(data[i : i + (1 << 20)])
        await writer.commit()
    except BaseException:
        await writer.abort()
        raise
    return key


async def process(storage: Storage, attachment: Attachment) -> None:
    """If the upload is one of the four image types by its content too, replace the stored
    bytes with the stripped image and add a thumbnail; otherwise leave it a plain file. Called
    before the attachment is recorded: the caller deletes `storage_key` and `thumb_key` if the
    recording fails."""
    if attachment.content_type not in _FORMATS:
        return
    data = await _read(storage, attachment.storage_key)
    if sniff(data[:16]) != attachment.content_type:
        return
    async with _DECODING:
        prepared = await asyncio.to_thread(prepare, data, attachment.content_type)
    del data
    if prepared is None:
        return
    original = attachment.storage_key
    full_key = await _store(storage, prepared.full)
    try:
        thumb_key = await _store(storage, prepared.thumb)
    except BaseException:
        await storage.delete(full_key)
        raise
    attachment.storage_key = full_key
    attachment.thumb_key = thumb_key
    attachment.size = len(prepared.full)
    attachment.sha256 = hashlib.sha256(prepared.full).hexdigest()
    attachment.width = prepared.width
    attachment.height = prepared.height
    # What the customer sent (GPS and all) is not kept.
    await storage.delete(original)
