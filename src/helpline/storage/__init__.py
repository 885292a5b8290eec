"""File storage: content lives under random keys, never under the uploaded name.

Local files under DATA_DIR/files by default (storage.local), or an S3-compatible object store
with HELPLINE_STORAGE_URL=s3://BUCKET/PREFIX (storage.s3)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from helpline.config import Settings


class Storage(Protocol):
    async def open_writer(self, key: str) -> StorageWriter: ...

    async def open_stream(self, key: str, chunk_size: int = 65536) -> AsyncIterator[bytes]:
        """The stored bytes, opened now: a missing file or an unreachable store raises here,
        before a response promises anything."""
        ...

    def stream(self, key: str, chunk_size: int = 65536) -> AsyncIterator[bytes]: ...

    def path(self, key: str) -> str | None: ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None: ...

    async def check(self) -> None:
        """Raises helpline.errors.Unavailable when the storage cannot be reached."""
        ...

    async def aclose(self) -> None: ...


class StorageWriter(Protocol):
    async def write(self, data: bytes) -> None: ...

    async def commit(self) -> None: ...

    async def abort(self) -> None: ...


def make_storage(settings: Settings) -> Storage:
    if settings.storage_url:
        from helpline.storage.s3 import S3Location, S3Storage

        return S3Storage(
            S3Location.parse(settings.storage_url),
            endpoint_url=settings.s3_endpoint_url,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
            region=settings.s3_region,
            part_size=int(settings.s3_part_mb * 1024 * 1024),
        )
    from helpline.storage.local import LocalStorage

    return LocalStorage(settings.files_dir)
