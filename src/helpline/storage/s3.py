"""Files in an S3-compatible object store (HELPLINE_STORAGE_URL=s3://BUCKET/PREFIX), through
aiobotocore (docs/decisions/021-object-storage.md).

Uploads stream: at most one part (HELPLINE_S3_PART_MB) is held in memory, parts go up as a
multipart upload, and an object exists only once `commit()` completes it; a small file is one
PUT. Nothing touches local disk. A failed upload is aborted; when even the abort cannot reach
the store, the upload is remembered and aborted on the next call that reaches it.
Downloads stream the object's body in chunks. An unreachable store is `Unavailable` (503).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from helpline.errors import NotFound, Unavailable

log = logging.getLogger("helpline.storage")

MIN_PART = 5 * 1024 * 1024  # S3's smallest part but the last


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str

    @classmethod
    def parse(cls, url: str) -> S3Location:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(
                "HELPLINE_STORAGE_URL must look like s3://BUCKET or s3://BUCKET/PREFIX"
            )
        prefix = parts.path.strip("/")
        return cls(parts.netloc, prefix + "/" if prefix else "")


def _unavailable(exc: Exception) -> Unavailable:
    log.warning("object store unreachable: %s", exc)
    return Unavailable("File storage is unavailable right now; try again shortly.", retry_after=5)


def _is_missing(exc: ClientError) -> bool:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code in {"NoSuchKey", "404", "NotFound"}


class S3Writer:
    def __init__(self, store: S3Storage, key: str) -> None:
        self._store = store
        self._key = key
        self._buf = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []

    async def write(self, data: bytes) -> None:
        self._buf += data
        if len(self._buf) >= self._store.part_size:
            await self._flush_part()

    async def _flush_part(self) -> None:
        client = await self._store.client()
        body = bytes(self._buf)
        self._buf.clear()
        try:
            if self._upload_id is None:
                started = await client.create_multipart_upload(
                    Bucket=self._store.bucket, Key=self._store.object_key(self._key)
                )
                self._upload_id = str(started["UploadId"])
            number = len(self._parts) + 1
            sent = await client.upload_part(
                Bucket=self._store.bucket,
                Key=self._store.object_key(self._key),
                UploadId=self._upload_id,
                PartNumber=number,
                Body=body,
            )
        except (BotoCoreError, ClientError) as exc:
            raise _unavailable(exc) from exc
        self._parts.append({"PartNumber": number, "ETag": sent["ETag"]})

    async def commit(self) -> None:
        client = await self._store.client()
        name = self._store.object_key(self._key)
        try:
            if self._upload_id is None:
                await client.put_object(Bucket=self._store.bucket, Key=name, Body=bytes(self._buf))
                self._buf.clear()
                return
            if self._buf:
                await self._flush_part()
            await client.complete_multipart_upload(
                Bucket=self._store.bucket,
                Key=name,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )
        except (BotoCoreError, ClientError) as exc:
            raise _unavailable(exc) from exc

    async def abort(self) -> None:
        self._buf.clear()
        if self._upload_id is not None:
            await self._store.abort_upload(self._key, self._upload_id)
            self._upload_id = None


class S3Storage:
    def __init__(
        self,
        location: S3Location,
        *,
        endpoint_url: str | None,
        access_key_id: str | None,
        secret_access_key: str | None,
        region: str,
        part_size: int = 8 * 1024 * 1024,
    ) -> None:
        self.bucket = location.bucket
        self.prefix = location.prefix
        self.part_size = max(part_size, MIN_PART)
        self._client_args: dict[str, Any] = {
            "region_name": region,
            "endpoint_url": endpoint_url or None,
            "aws_access_key_id": access_key_id or None,
            "aws_secret_access_key": secret_access_key or None,
            "config": AioConfig(
                # A dead store answers within seconds: the upload gets its 503 and the chat
                # goes on; a brief hiccup is retried.
                connect_timeout=3,
                read_timeout=30,
                retries={"max_attempts": 3, "mode": "standard"},
                # Path-style URLs work with every S3-compatible server (no DNS per bucket).
                s3={"addressing_style": "path"},
            ),
        }
        self._stack = contextlib.AsyncExitStack()
        self._client: Any = None
        self._lock = asyncio.Lock()
        # Multipart uploads whose abort could not reach the store: (key, upload id).
        self._orphans: set[tuple[str, str]] = set()

    def object_key(self, key: str) -> str:
        if not key.isalnum():
            raise ValueError("bad storage key")
        return self.prefix + key

    async def client(self) -> Any:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    creator = get_session().create_client("s3", **self._client_args)
                    self._client = await self._stack.enter_async_context(creator)
        if self._orphans:
            await self._abort_orphans(self._client)
        return self._client

    async def _abort_orphans(self, client: Any) -> None:
        for key, upload_id in list(self._orphans):
            try:
                await client.abort_multipart_upload(
                    Bucket=self.bucket, Key=self.object_key(key), UploadId=upload_id
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
                    return  # still unreachable or refusing: try again next time
            except BotoCoreError:
                return
            self._orphans.discard((key, upload_id))

    async def abort_upload(self, key: str, upload_id: str) -> None:
        self._orphans.add((key, upload_id))
        with contextlib.suppress(Unavailable):
            await self.client()  # aborts it now when the store answers

    async def open_writer(self, key: str) -> S3Writer:
        self.object_key(key)
        return S3Writer(self, key)

    async def open_stream(self, key: str, chunk_size: int = 65536) -> AsyncIterator[bytes]:
        """The object's bytes; the store is asked before the first byte is promised."""
        client = await self.client()
        try:
            got = await client.get_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as exc:
            if _is_missing(exc):
                raise NotFound("The file is no longer stored.") from exc
            raise _unavailable(exc) from exc
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc
        return self._chunks(got["Body"], chunk_size)

    @staticmethod
    async def _chunks(body: Any, chunk_size: int) -> AsyncIterator[bytes]:
        try:
            async for chunk in body.iter_chunks(chunk_size):
                yield chunk
        finally:
            body.close()

    async def stream(self, key: str, chunk_size: int = 65536) -> AsyncIterator[bytes]:
        async for chunk in await self.open_stream(key, chunk_size):
            yield chunk

    def path(self, key: str) -> str | None:
        return None

    async def exists(self, key: str) -> bool:
        client = await self.client()
        try:
            await client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as exc:
            if _is_missing(exc):
                return False
            raise _unavailable(exc) from exc
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc
        return True

    async def delete(self, key: str) -> None:
        client = await self.client()
        try:
            await client.delete_object(Bucket=self.bucket, Key=self.object_key(key))
        except (BotoCoreError, ClientError) as exc:
            raise _unavailable(exc) from exc

    async def check(self) -> None:
        """Raises Unavailable unless the bucket answers (start-up logs the outcome)."""
        client = await self.client()
        try:
            await client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            raise _unavailable(exc) from exc

    async def aclose(self) -> None:
        await self._stack.aclose()
        self._client = None
