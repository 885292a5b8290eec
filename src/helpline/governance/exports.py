"""Building customer exports in the background, and removing expired ones.

The builder reads as the customer (`chats.service.events`, `servicedesk.service.timeline` with
the customer as the viewer), so an export holds exactly what its customer may see: never an
internal note, an internal comment or a move's agent-only note. The zip is written to a
temporary file a chunk at a time, then streamed into storage under a random key.
"""

from __future__ import annotations

import json
import logging
import secrets
import tempfile
import zipfile
from datetime import timedelta
from typing import IO, Any

from helpline.accounts.models import User
from helpline.chats import access as chat_access
from helpline.chats import service as chats
from helpline.chats.shapes import chat_dict
from helpline.db import UnitOfWork
from helpline.governance import repository as repo
from helpline.governance.retention import Env, delete_bytes
from helpline.kit.actors import actor_ref
from helpline.kit.clock import iso, now
from helpline.servicedesk import service as servicedesk
from helpline.servicedesk.schemas import request_out

log = logging.getLogger("helpline.exports")

BUILD_LEASE = timedelta(minutes=10)
ALL_EVENTS = 1_000_000


def _json(data: Any) -> bytes:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str).encode()


def _unique(name: str, taken: set[str]) -> str:
    """Two files of one chat may share a name; the later ones get a number."""
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{stem} ({n}){dot}{ext}"
    taken.add(candidate)
    return candidate


async def _write_zip(ctx: Env, uow: UnitOfWork, customer: User, out: IO[bytes]) -> None:
    session = uow.session
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(
            "customer.json",
            _json(
                {
                    "id": customer.id,
                    "name": customer.name,
                    "email": customer.email,
                    "created_at": iso(customer.created_at),
                    "active": customer.active,
                }
            ),
        )
        chat_rows = await repo.customer_chats(session, customer.id)
        for chat in chat_rows:
            row = await chat_access.get_row(uow, customer, chat.id)
            events, _ = await chats.events(uow, customer, chat.id, 0, ALL_EVENTS)
            shown = chat_dict(row)
            shown.pop("position", None)
            shown.pop("estimated_wait_s", None)
            zf.writestr(f"chats/{chat.reference}.json", _json({"chat": shown, "events": events}))
        refs = {c.id: c.reference for c in chat_rows}
        taken: dict[str, set[str]] = {}
        for f in await repo.attachments(session, list(refs)):
            ref = refs[f.chat_id]
            name = _unique(f.filename, taken.setdefault(ref, set()))
            with zf.open(f"files/{ref}/{name}", "w") as member:
                async for chunk in await ctx.storage.open_stream(f.storage_key):
                    member.write(chunk)
        for req in await repo.customer_requests(session, customer.id):
            rrow = await servicedesk.get(uow, customer, req.reference)
            entries = await servicedesk.timeline(uow, customer, req.reference)
            timeline = [
                {"type": e.type, "actor": actor_ref(e), "at": iso(e.at), "data": e.data}
                for e in entries
            ]
            doc = {
                "request": request_out(rrow).model_dump(mode="json"),
                "comments": [t for t in timeline if t["type"] == "comment"],
                "timeline": timeline,
            }
            zf.writestr(f"requests/{req.reference}.json", _json(doc))


async def build(ctx: Env, export_id: str) -> bool:
    """Build one pending export if this process claims it; True when it did."""
    at = now()
    async with ctx.boundary.write() as uow:
        if not await repo.claim_export(uow.session, export_id, at, at + BUILD_LEASE):
            return False
    key = secrets.token_hex(20)  # storage keys are our own random hex
    try:
        with tempfile.TemporaryFile() as tmp:
            async with ctx.boundary.read() as uow:
                export = await repo.get_export(uow.session, export_id)
                customer = await repo.customer(uow.session, export.customer_id) if export else None
                if export is None or customer is None:
                    raise LookupError("the customer is gone")
                await _write_zip(ctx, uow, customer, tmp)
            size = tmp.tell()
            tmp.seek(0)
            writer = await ctx.storage.open_writer(key)
            try:
                while chunk := tmp.read(65536):
                    await writer.write(chunk)
                await writer.commit()
            except BaseException:
                await writer.abort()
                raise
    except Exception as exc:
        log.exception("export %s failed", export_id)
        async with ctx.boundary.write() as uow:
            export = await repo.get_export(uow.session, export_id)
            if export is not None:
                export.status, export.error, export.claimed_until = "failed", str(exc)[:500], None
        return True
    async with ctx.boundary.write() as uow:
        export = await repo.get_export(uow.session, export_id)
        if export is None:  # erased meanwhile: the bytes must not stay either
            uow.on_commit(lambda: delete_bytes(ctx.storage, [key]))
            return True
        export.status, export.size, export.storage_key = "ready", size, key
        export.ready_at, export.claimed_until = now(), None
    return True


async def sweep(ctx: Env) -> int:
    """Build what is pending and remove what expired; returns how many were handled."""
    at = now()
    # Reads first: an idle pass never takes SQLite's write lock just to find nothing.
    async with ctx.boundary.read() as uow:
        pending = await repo.pending_exports(uow.session, at)
        any_expired = bool(await repo.expired_exports(uow.session, at, limit=1))
    done = 0
    for export_id in pending:
        done += await build(ctx, export_id)
    if any_expired:
        async with ctx.boundary.write() as uow:
            expired = await repo.expired_exports(uow.session, at)
            keys = [e.storage_key for e in expired if e.storage_key]
            for e in expired:
                await uow.session.delete(e)
            uow.on_commit(lambda: delete_bytes(ctx.storage, keys))
        done += len(expired)
    return done
