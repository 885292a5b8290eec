"""Streaming uploads: multipart parsed as it arrives, written to storage under a random key,
stopped at the size limit and checked against the type policy before a byte is kept."""

from __future__ import annotations

import hashlib
import mimetypes
import re
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

from helpline.chats.models import Attachment
from helpline.errors import Invalid, TooLarge, UnsupportedType
from helpline.kit.ids import new_id
from helpline.storage import Storage, StorageWriter

INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
# Content that a browser would run, whatever the name says.
_ACTIVE_PREFIXES = (b"<!doctype html", b"<html", b"<script", b"<svg", b"<?xml-stylesheet")
_EXTRA_TYPES = {
    ".md": "text/markdown",
    ".log": "text/plain",
    ".heic": "image/heic",
    ".msg": "application/vnd.ms-outlook",
    ".7z": "application/x-7z-compressed",
}


def sanitise_filename(name: str) -> str:
    """A display name safe in headers and file systems: no paths, controls or odd characters."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[\x00-\x1f\x7f<>:\"|?*]", "", name).strip().strip(".")
    name = re.sub(r"\s+", " ", name)
    if not name:
        name = "file"
    if len(name) > 180:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 180 - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 else name[:180]
    return name


def content_type_for(filename: str) -> str:
    ext = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return _EXTRA_TYPES.get(ext) or mimetypes.guess_type(filename)[0] or "application/octet-stream"


def extension(filename: str) -> str:
    return filename.rsplit(".", 1)[-1].lower() if "." in filename else ""


@dataclass
class _Part:
    headers: dict[bytes, bytes]
    filename: str | None = None
    is_file_field: bool = False


def _parse(parser: MultipartParser, chunk: bytes) -> None:
    try:
        parser.write(chunk)
    except MultipartParseError as exc:
        raise Invalid(f"The upload is not valid multipart: {exc}", code="invalid_upload") from exc


async def receive_upload(
    body: AsyncIterator[bytes],
    content_type_header: str,
    storage: Storage,
    *,
    max_bytes: int,
    allowed: frozenset[str],
) -> Attachment:
    """Parse `multipart/form-data` with one `file` field into storage. Nothing is kept on error."""
    ctype, params = parse_options_header(content_type_header)
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise Invalid(
            "Send the file as multipart/form-data with a `file` field.", code="invalid_upload"
        )

    key = new_id()
    writer: StorageWriter | None = None
    size = 0
    digest = hashlib.sha256()
    head = b""
    chunks: list[bytes] = []
    current: _Part | None = None
    header_field = b""
    header_value = b""
    found: _Part | None = None
    done_file = False

    def on_part_begin() -> None:
        nonlocal current
        current = _Part(headers={})

    def on_header_field(data: bytes, start: int, end: int) -> None:
        nonlocal header_field
        header_field += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        nonlocal header_value
        header_value += data[start:end]

    def on_header_end() -> None:
        nonlocal header_field, header_value
        assert current is not None
        current.headers[header_field.lower()] = header_value
        header_field = header_value = b""

    def on_headers_finished() -> None:
        nonlocal found
        assert current is not None
        _, disp = parse_options_header(current.headers.get(b"content-disposition", b""))
        if disp.get(b"name") == b"file" and b"filename" in disp and found is None:
            current.is_file_field = True
            current.filename = disp[b"filename"].decode("utf-8", "replace")
            found = current

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if current is not None and current.is_file_field and not done_file:
            chunks.append(data[start:end])

    def on_part_end() -> None:
        nonlocal done_file
        if current is not None and current.is_file_field:
            done_file = True

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    filename = ""
    try:
        async for chunk in body:
            _parse(parser, chunk)
            if found is not None and writer is None:
                filename = sanitise_filename(found.filename or "")
                if extension(filename) not in allowed:
                    raise UnsupportedType(
                        f"Files of type .{extension(filename) or '?'} cannot be shared.",
                        allowed=sorted(allowed),
                    )
                writer = await storage.open_writer(key)
            if chunks:
                assert writer is not None
                for piece in chunks:
                    size += len(piece)
                    if size > max_bytes:
                        raise TooLarge(f"Files can be at most {max_bytes // (1024 * 1024)} MB.")
                    if len(head) < 512:
                        head += piece[: 512 - len(head)]
                    digest.update(piece)
                    await writer.write(piece)
                chunks.clear()
        parser.finalize()
        if parser.state != MultipartState.END:
            raise Invalid("The upload ended before its closing boundary.", code="invalid_upload")
        if found is None or writer is None:
            raise Invalid("No file was sent in the `file` field.", code="invalid_upload")
        if size == 0:
            raise Invalid("The file is empty.", code="invalid_upload")
        content_type = content_type_for(filename)
        if head.lstrip().lower().startswith(_ACTIVE_PREFIXES):
            raise UnsupportedType("Web pages and scripts cannot be shared.")
        await writer.commit()
    except BaseException:
        if writer is not None:
            await writer.abort()
        raise
    return Attachment(
        id=new_id(),
        filename=filename,
        content_type=content_type,
        size=size,
        sha256=digest.hexdigest(),
        storage_key=key,
    )
