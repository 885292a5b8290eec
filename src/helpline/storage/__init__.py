"""File storage: content lives under random keys, never under the uploaded name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol


class Storage(Protocol):
    async def open_writer(self, key: str) -> StorageWriter: ...

    def stream(self, key: str, chunk_size: int = 65536) -> AsyncIterator[bytes]: ...

    def path(self, key: str) -> str | None: ...

    async def delete(self, key: str) -> None: ...


class StorageWriter(Protocol):
    async def write(self, data: bytes) -> None: ...

    async def commit(self) -> None: ...

    async def abort(self) -> None: ...
