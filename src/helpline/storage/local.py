"""Files on local disk under DATA_DIR/files, written to a temp name and renamed when complete;
directories 0700 and files 0600 from the moment they exist."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from helpline.errors import NotFound
from helpline.kit.private import create_private_file, make_private_dir


class LocalWriter:
    def __init__(self, final: Path) -> None:
        self._final = final
        self._tmp = final.with_suffix(".part")
        final.parent.mkdir(mode=0o700, exist_ok=True)
        self._fh = os.fdopen(create_private_file(self._tmp), "wb")

    async def write(self, data: bytes) -> None:
        # Small writes to the page cache; a thread hop per chunk would cost more than it saves.
        self._fh.write(data)

    async def commit(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        os.replace(self._tmp, self._final)

    async def abort(self) -> None:
        self._fh.close()
        self._tmp.unlink(missing_ok=True)


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root
        make_private_dir(root)

    def _path(self, key: str) -> Path:
        # Keys are our own random hex; fan out by prefix to keep directories small.
        if not key.isalnum():
            raise ValueError("bad storage key")
        return self.root / key[:2] / key

    async def open_writer(self, key: str) -> LocalWriter:
        return LocalWriter(self._path(key))

    async def open_stream(self, key: str, chunk_size: int = 65536) -> AsyncIterator[bytes]:
        try:
            fh = await asyncio.to_thread(open, self._path(key), "rb")
        except FileNotFoundError as exc:
            raise NotFound("The file is no longer stored.") from exc
        return self._chunks(fh, chunk_size)

    @staticmethod
    async def _chunks(fh: BinaryIO, chunk_size: int) -> AsyncIterator[bytes]:
        with fh:
            while True:
                chunk = await asyncio.to_thread(fh.read, chunk_size)
                if not chunk:
                    break
                yield chunk

    async def stream(self, key: str, chunk_size: int = 65536) -> AsyncIterator[bytes]:
        async for chunk in await self.open_stream(key, chunk_size):
            yield chunk

    def path(self, key: str) -> str | None:
        p = self._path(key)
        return str(p) if p.exists() else None

    async def exists(self, key: str) -> bool:
        return self._path(key).exists()

    async def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    async def check(self) -> None:
        return None

    async def aclose(self) -> None:
        return None
