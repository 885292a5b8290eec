"""The `helpline` command: serve, migrate, retention, backup, restore, demo, create-user."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from helpline.config import Settings
from helpline.kit.private import make_private_dir, use_private_umask


def _settings() -> Settings:
    return Settings()


def cmd_migrate(_: argparse.Namespace) -> int:
    from helpline.migrate import NewerSchema, migrate

    settings = _settings()
    make_private_dir(settings.data_dir)
    url = settings.resolved_database_url
    print(f"Database: {_safe_url(url)}", flush=True)
    try:
        plan = asyncio.run(migrate(url, lambda line: print(line, flush=True)))
    except NewerSchema as exc:
        print(f"helpline: {exc}", file=sys.stderr)
        return 2
    asyncio.run(_record_settings(settings))
    if plan.steps:
        print(f"Applied {len(plan.steps)} migration(s); the database is at {plan.head}.")
    else:
        print(f"Nothing to do: the database is up to date (at {plan.head}).")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from pathlib import Path

    from helpline.backup import BackupError, backup

    try:
        done = asyncio.run(backup(_settings(), Path(args.dir), say=_say))
    except BackupError as exc:
        print(f"helpline: {exc}", file=sys.stderr)
        return 2
    print(
        f"Backed up the {done.database} database (migration {done.revision}), {done.files} files "
        f"({done.bytes} bytes) and the secret key to {args.dir}."
    )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from pathlib import Path

    from helpline.backup import BackupError, restore

    settings = _settings()
    try:
        done = asyncio.run(restore(settings, Path(args.dir), say=_say))
    except BackupError as exc:
        print(f"helpline: {exc}", file=sys.stderr)
        return 2
    print(f"Restored the {done.database} database and {done.files} files from {args.dir}.")
    from helpline.migrate import head

    if done.revision != head(settings.resolved_database_url):
        print("The backup is from an older release: run `helpline migrate` before serving.")
    return 0


def _say(line: str) -> None:
    print(line, flush=True)


async def _record_settings(settings: Settings) -> None:
    """The settings every process must share, as this run has them, become the expected ones."""
    from helpline import deployment
    from helpline.db import Database

    db = Database(settings.resolved_database_url, pool_size=1, max_overflow=0)
    try:
        await deployment.record(db, settings)
    finally:
        await db.dispose()


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def serve_config(settings: Settings) -> dict[str, object]:
    """uvicorn options shared by `helpline serve` and the tests' servers."""
    from helpline import httpproto

    httpproto.configure(settings.header_timeout_s)
    return {
        "host": settings.host,
        "port": settings.port,
        # uvicorn's httptools protocol plus a deadline for request heads (helpline.httpproto).
        "http": "helpline.httpproto:HttpToolsProtocol",
        "timeout_keep_alive": settings.keep_alive_s,
        # uvloop (docs/performance.md); the tests' servers run in the test's own loop instead.
        "loop": settings.event_loop,
        # uvicorn's websockets-sansio plus one extension: several frames per TCP write.
        "ws": "helpline.wsproto:WebSocketProtocol",
        "ws_max_size": 64 * 1024,
        # Chat frames are small JSON: deflate costs ~50 KB per idle connection and CPU per
        # frame for little gain (see docs/performance.md).
        "ws_per_message_deflate": False,
        "ws_ping_interval": settings.ws_ping_s,
        "ws_ping_timeout": settings.ws_ping_s,
        "proxy_headers": True,
        "log_level": settings.log_level.lower(),
        "access_log": False,
        "timeout_graceful_shutdown": 5,
    }


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from helpline.db import Database
    from helpline.migrate import NotMigrated, check_current

    if args.host:
        os.environ["HELPLINE_HOST"] = args.host
    if args.port:
        os.environ["HELPLINE_PORT"] = str(args.port)
    settings = _settings()

    async def _check() -> None:
        db = Database(settings.resolved_database_url)
        try:
            await check_current(db)
        finally:
            await db.dispose()

    try:
        asyncio.run(_check())
    except NotMigrated as exc:
        print(f"helpline: {exc}", file=sys.stderr)
        return 2
    print(f"Helpline is serving on {settings.resolved_public_url}", flush=True)
    print(f"  Portal:        {settings.resolved_public_url}/", flush=True)
    print(f"  Agent Console: {settings.resolved_public_url}/console", flush=True)
    print(f"  API docs:      {settings.resolved_public_url}/api/docs", flush=True)
    uvicorn.run(
        "helpline.app:create_app",
        factory=True,
        workers=args.workers,
        **serve_config(settings),  # type: ignore[arg-type]
    )
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    from dataclasses import dataclass

    from helpline.boundary import Boundary
    from helpline.db import Database
    from helpline.governance import retention
    from helpline.migrate import NotMigrated, check_current
    from helpline.search.backlog import Indexer
    from helpline.storage import Storage, make_storage

    settings = _settings()

    @dataclass
    class Env:
        settings: Settings
        boundary: Boundary
        storage: Storage

    async def _go() -> int:
        db = Database(settings.resolved_database_url)
        # The storage in use (local files or S3): removed files' bytes go where they are.
        storage = make_storage(settings)
        try:
            await check_current(db)
            env = Env(settings, Boundary(db), storage)
            if args.dry_run:
                plan = await retention.plan(env)
                _print_plan(plan)
                return 0
            if db.sqlite_path:
                # The message index applies what this run removes before it ends (decision 034).
                db.services["search_backlog"] = Indexer(db, interval_s=0)
            removed = await retention.run(env, f"cli:{os.getpid()}", force=True)
            if removed is None:
                print("Nothing has a retention policy, or another process is running it now.")
            else:
                print("Removed: " + ", ".join(f"{v} {k}" for k, v in removed.as_dict().items()))
            return 0
        finally:
            indexer = db.services.get("search_backlog")
            if indexer is not None:
                await indexer.close()
            await storage.aclose()
            await db.dispose()

    try:
        return asyncio.run(_go())
    except NotMigrated as exc:
        print(f"helpline: {exc}", file=sys.stderr)
        return 2


def _print_plan(plan: object) -> None:
    from helpline.governance.retention import Plan

    assert isinstance(plan, Plan)
    default = f"{plan.default_days} days" if plan.default_days else "keep everything"
    print(f"Retention as of {plan.at:%Y-%m-%d %H:%M} UTC (HELPLINE_RETENTION_DAYS: {default})")
    print(f"{'queue':<30} {'keep':>10} {'chats':>7} {'events':>8} {'files':>6} {'requests':>9}")
    for q in plan.queues:
        keep = f"{q['effective_days']} d" if q["effective_days"] else "forever"
        print(
            f"{q['name'][:30]:<30} {keep:>10} {q['chats']:>7} {q['events']:>8} "
            f"{q['files']:>6} {q['requests']:>9}"
        )
    t = plan.total
    print(
        f"{'would remove':<30} {'':>10} {t['chats']:>7} {t['events']:>8} "
        f"{t['files']:>6} {t['requests']:>9}"
    )


def cmd_demo(args: argparse.Namespace) -> int:
    from helpline.demo import seed

    settings = _settings()
    created = asyncio.run(seed(settings, only_if_empty=args.if_empty))
    from helpline.demo import DEMO_PASSWORD, QUEUES, USERS

    print("Demo data created." if created else "Demo data was created on an earlier run.")
    print(f"Demo sign-ins (password for all: {DEMO_PASSWORD}):")
    for email, _, role in USERS:
        print(f"  {role:<11} {email}")
    print("Queues: " + ", ".join(q[0] for q in QUEUES))
    return 0


def cmd_create_user(args: argparse.Namespace) -> int:
    from helpline.demo import create_user

    settings = _settings()
    try:
        asyncio.run(create_user(settings, args.email, args.name, args.role, args.password))
    except ValueError as exc:
        print(f"helpline: {exc}", file=sys.stderr)
        return 2
    print(f"Created {args.role} {args.email}.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="helpline", description="Helpline live chat and service desk"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="serve the portal, console and API")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes (needs PostgreSQL and Redis for >1)",
    )
    p.set_defaults(fn=cmd_serve)

    p = sub.add_parser("migrate", help="apply database migrations")
    p.set_defaults(fn=cmd_migrate)

    p = sub.add_parser("retention", help="remove closed chats and requests past retention")
    p.add_argument(
        "--dry-run", action="store_true", help="print what would be removed; change nothing"
    )
    p.set_defaults(fn=cmd_retention)

    p = sub.add_parser("backup", help="copy the database, files and secret key while serving")
    p.add_argument("dir", help="an empty or new directory")
    p.set_defaults(fn=cmd_backup)

    p = sub.add_parser("restore", help="restore a backup into an empty data directory/database")
    p.add_argument("dir", help="a directory written by `helpline backup`")
    p.set_defaults(fn=cmd_restore)

    p = sub.add_parser("demo", help="create demo users, queues and sign-ins")
    p.add_argument("--if-empty", action="store_true", help="only when the database has no users")
    p.set_defaults(fn=cmd_demo)

    p = sub.add_parser("create-user", help="create a user")
    p.add_argument("--email", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--role", required=True, choices=["customer", "agent", "supervisor", "admin"])
    p.add_argument("--password", required=True)
    p.set_defaults(fn=cmd_create_user)

    args = parser.parse_args(argv)
    # Before any command creates a file: the database (and its -wal/-shm) included.
    use_private_umask()
    return int(args.fn(args))


if __name__ == "__main__":
    sys.exit(main())
