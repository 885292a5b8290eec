"""`helpline backup DIR` and `helpline restore DIR`: a consistent copy of a live installation.

A backup directory holds:
    manifest.json   what it is: format, Helpline version, schema revision, database kind, counts
    helpline.db     SQLite, copied with SQLite's online backup API (a snapshot while serving), or
    database.dump   PostgreSQL, `pg_dump --format=custom` (one snapshot while serving)
    files/          every uploaded file the copied database refers to, by storage key
    secret_key      the secret key in use

Order matters: the database first, then the files. A file is stored before the row naming it
commits, so files read after the snapshot include every file it refers to. Files come from the
storage in use (local or S3) and go back through the storage configured at restore time, so a
backup can move an installation from local files to an object store.

Restore writes only into an empty place: a data directory with nothing in it (or none) and,
for PostgreSQL, a database without tables; anything else is refused before a byte is written.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from helpline import __version__
from helpline.config import Settings
from helpline.db import Database, search_file
from helpline.kit.private import create_private_file, make_private_dir
from helpline.storage import Storage, make_storage

FORMAT = 1
SQLITE_COPY = "helpline.db"
PG_DUMP = "database.dump"


class BackupError(RuntimeError):
    """Refused or failed, with a message for the person at the terminal; nothing overwritten."""


@dataclass(frozen=True)
class Summary:
    database: str
    files: int
    bytes: int
    revision: str | None


def find_pg_tool(name: str) -> str:
    """`pg_dump`/`pg_restore` from PATH, else Debian's newest /usr/lib/postgresql/*/bin."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(
        (p for p in Path("/usr/lib/postgresql").glob(f"*/bin/{name}") if p.parts[4].isdigit()),
        key=lambda p: int(p.parts[4]),
    )
    if not versions:
        raise BackupError(f"`{name}` was not found; install the PostgreSQL client tools.")
    return str(versions[-1])


def _libpq(url: str) -> tuple[list[str], dict[str, str]]:
    """Connection arguments for pg_dump/pg_restore; the password goes in the environment."""
    u = make_url(url)
    args = ["--host", u.host or "localhost", "--port", str(u.port or 5432)]
    if u.username:
        args += ["--username", u.username]
    args += ["--dbname", u.database or "postgres"]
    env = {**os.environ}
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    return args, env


def _run(cmd: list[str], env: dict[str, str]) -> None:
    # Our own command line: a tool found on PATH and arguments built here.
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise BackupError(f"{Path(cmd[0]).name} failed: {done.stderr.strip()[-2000:]}")


def _empty_dir(path: Path, what: str) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise BackupError(f"{what} {path} is not empty; nothing was written. Use an empty one.")


def _write_private(path: Path, data: bytes) -> None:
    with os.fdopen(create_private_file(path, exclusive=True), "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _file_path(root: Path, key: str) -> Path:
    if not key.isalnum():
        raise BackupError(f"unexpected storage key {key!r}")
    return root / key[:2] / key


async def _revision(db: Database) -> str | None:
    async with db.engine.connect() as conn:
        row = (await conn.execute(text("SELECT version_num FROM alembic_version"))).first()
    return str(row[0]) if row else None


async def _storage_keys(db: Database) -> list[str]:
    """Every stored object the database names: each file and its image thumbnail."""
    async with db.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT storage_key, thumb_key FROM attachments ORDER BY id")
        )
        return [str(key) for row in rows for key in row if key]


# -- backup --------------------------------------------------------------------------------------


def _sqlite_snapshot(source: str, target: Path) -> None:
    """SQLite's online backup API: a consistent copy while other connections write."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        fd = create_private_file(target, exclusive=True)
        os.close(fd)
        dst = sqlite3.connect(target)
        try:
            with dst:
                # One step: a read transaction on the source for the whole copy. In WAL mode that
                # blocks no writer, and no write can restart the copy half-way.
                src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


async def backup(settings: Settings, target: Path, say: Any = print) -> Summary:
    _empty_dir(target, "The backup directory")
    make_private_dir(target)
    url = settings.resolved_database_url
    live = Database(url, pool_size=2, max_overflow=0)
    try:
        if live.sqlite_path:
            say(f"Copying the SQLite database {live.sqlite_path} (online backup)…")
            await asyncio.to_thread(_sqlite_snapshot, live.sqlite_path, target / SQLITE_COPY)
            snapshot = Database(f"sqlite+aiosqlite:///{target / SQLITE_COPY}", pool_size=1)
            kind = "sqlite"
        else:
            say("Dumping the PostgreSQL database (pg_dump)…")
            args, env = _libpq(url)
            out = target / PG_DUMP
            os.close(create_private_file(out, exclusive=True))
            cmd = [find_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges"]
            await asyncio.to_thread(_run, [*cmd, "--file", str(out), *args], env)
            # Read after the dump's snapshot: a superset of the files it names (one removed in
            # between is reported below).
            snapshot = live
            kind = "postgresql"
        try:
            revision = await _revision(snapshot)
            keys = await _storage_keys(snapshot)
        finally:
            if snapshot is not live:
                await snapshot.dispose()
    finally:
        await live.dispose()

    say(f"Copying {len(keys)} files…")
    storage = make_storage(settings)
    files, size, missing = 0, 0, 0
    try:
        root = target / "files"
        make_private_dir(root)
        for key in keys:
            path = _file_path(root, key)
            try:
                chunks = await storage.open_stream(key)
            except Exception as exc:  # NotFound: removed since (erased, retention)
                missing += 1
                say(f"  file {key} is no longer stored ({type(exc).__name__}); skipped")
                continue
            make_private_dir(path.parent)
            with os.fdopen(create_private_file(path, exclusive=True), "wb") as fh:
                async for chunk in chunks:
                    fh.write(chunk)
                    size += len(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            files += 1
    finally:
        await storage.aclose()

    _write_private(target / "secret_key", settings.resolved_secret_key.encode())
    manifest = {
        "format": FORMAT,
        "helpline_version": __version__,
        "created_at": datetime.now(UTC).isoformat(),
        "database": kind,
        "schema_revision": revision,
        "files": files,
        "files_bytes": size,
        "files_missing": missing,
    }
    _write_private(target / "manifest.json", json.dumps(manifest, indent=2).encode())
    return Summary(kind, files, size, revision)


# -- restore -------------------------------------------------------------------------------------


def read_manifest(source: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((source / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(
            f"{source} is not a Helpline backup (no readable manifest.json)."
        ) from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{source}: unknown backup format {manifest.get('format')!r}.")
    return manifest


async def _pg_is_empty(url: str) -> bool:
    db = Database(url, pool_size=1, max_overflow=0)
    try:
        async with db.engine.connect() as conn:
            n = await conn.execute(
                text(
                    "SELECT count(*) FROM information_schema.tables "
                    "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
                )
            )
            return int(n.scalar_one()) == 0
    finally:
        await db.dispose()


async def restore(settings: Settings, source: Path, say: Any = print) -> Summary:
    manifest = read_manifest(source)
    url = settings.resolved_database_url
    target_db = Database(url, pool_size=1, max_overflow=0)
    sqlite_target = target_db.sqlite_path
    await target_db.dispose()
    kind = "sqlite" if sqlite_target else "postgresql"
    if manifest["database"] != kind:
        raise BackupError(
            f"The backup holds a {manifest['database']} database and HELPLINE_DATABASE_URL "
            f"points at {kind}: restore into the same kind of database."
        )

    # Every check first: nothing is written unless the whole target is empty.
    data_dir = settings.data_dir
    _empty_dir(data_dir, "The data directory")
    # A command-line run with nothing else on its loop: blocking file checks are fine.
    if sqlite_target and Path(sqlite_target).exists():  # noqa: ASYNC240
        raise BackupError(f"The database {sqlite_target} exists; nothing was written.")
    if not sqlite_target and not await _pg_is_empty(url):
        raise BackupError(
            f"The database {make_url(url).render_as_string(hide_password=True)} is not empty; "
            "nothing was written. Restore into a new, empty database."
        )
    key_path = source / "secret_key"
    if settings.secret_key and key_path.exists():
        if key_path.read_text().strip() != settings.secret_key:
            say("Note: HELPLINE_SECRET_KEY differs from the backup's; the environment's is kept.")

    storage: Storage = make_storage(settings)
    try:
        keys = [p.name for p in sorted((source / "files").glob("*/*"))]
        for key in keys:  # an object store is not emptied by an empty data directory
            if await storage.exists(key):
                raise BackupError(
                    f"The file storage already holds file {key} of this backup; nothing was "
                    "written. Restore into an empty bucket or prefix."
                )
    except BaseException:
        await storage.aclose()
        raise

    make_private_dir(data_dir)
    if sqlite_target:
        say(f"Restoring the SQLite database to {sqlite_target}…")
        make_private_dir(Path(sqlite_target).parent)
        # A message index left beside it belongs to another database: it is rebuilt from this
        # one on first start (decision 034).
        for suffix in ("", "-wal", "-shm"):
            Path(search_file(sqlite_target) + suffix).unlink(missing_ok=True)  # noqa: ASYNC240
        await asyncio.to_thread(_sqlite_snapshot, str(source / SQLITE_COPY), Path(sqlite_target))
    else:
        say("Restoring the PostgreSQL database (pg_restore)…")
        args, env = _libpq(url)
        cmd = [find_pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error"]
        await asyncio.to_thread(_run, [*cmd, *args, str(source / PG_DUMP)], env)

    files, size = 0, 0
    try:
        for path in sorted((source / "files").glob("*/*")):
            writer = await storage.open_writer(path.name)
            try:
                with path.open("rb") as fh:
                    while chunk := fh.read(1024 * 1024):
                        await writer.write(chunk)
                        size += len(chunk)
                await writer.commit()
            except BaseException:
                await writer.abort()
                raise
            files += 1
    finally:
        await storage.aclose()

    if key_path.exists() and not settings.secret_key:
        _write_private(data_dir / "secret_key", key_path.read_bytes())
    return Summary(kind, files, size, manifest.get("schema_revision"))
