"""Search: the caller's words across messages, notes, subjects, customers and requests.

Anyone signed in may search; each source's query shows only what the caller may see (customers
their own chats and requests, never notes or internal comments; agents their queues' and what
they handle; supervisors and admins all). A page merges the sources newest first, taking each
source's hits in its own order, so the cursor (one bound per source) never skips or repeats.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from helpline.accounts.models import User
from helpline.db import UnitOfWork
from helpline.search import backlog
from helpline.search import repository as repo
from helpline.search.query import SOURCES, Filters, Position, parse, snippet
from helpline.search.repository import Hit


@dataclass(frozen=True)
class Item:
    chat_id: str | None
    reference: str
    seq: int | None
    at: datetime
    kind: str
    snippet: str


@dataclass(frozen=True)
class Page:
    items: list[Item]
    next: str | None


def merge(found: dict[str, list[Hit]], limit: int) -> list[Hit]:
    """The newest `limit` hits, always taking a source's hits from its head, so what is left
    of each source starts right after what was taken."""
    queues = {s: list(hits) for s, hits in found.items() if hits}
    taken: list[Hit] = []
    while queues and len(taken) < limit:
        source = max(queues, key=lambda s: (queues[s][0].at, queues[s][0].key))
        taken.append(queues[source].pop(0))
        if not queues[source]:
            del queues[source]
    return taken


def next_position(
    position: Position, found: dict[str, list[Hit]], taken: list[Hit], limit: int
) -> Position:
    bounds = list(position.bounds)
    for i, source in enumerate(SOURCES):
        if source not in found:
            continue  # already done
        mine = [h for h in taken if h.source == source]
        if len(mine) == len(found[source]) and len(found[source]) <= limit:
            bounds[i] = 0  # everything that source had is on this page
        elif mine:
            bounds[i] = mine[-1].key
    return Position(tuple(bounds))


async def caught_up(uow: UnitOfWork) -> None:
    """SQLite indexes messages a moment after they are written (decision 029): index what is
    still behind, then read on a fresh snapshot, so every message committed before this
    search began can be found."""
    pending = uow.services.get("search_backlog")
    if pending is None or not await backlog.behind(uow.session):
        return
    await uow.session.commit()  # end this read: the catch-up writes on a connection of its own
    await pending.catch_up()


async def search(
    uow: UnitOfWork, user: User, *, q: str, filters: Filters, cursor: str | None, limit: int
) -> Page:
    terms = parse(q)
    await caught_up(uow)
    position = Position.decode(cursor)
    asked = {s: b for s, b in zip(SOURCES, position.bounds, strict=True) if b != 0}
    # One more than a page from each source tells whether that source has more.
    found = await repo.find(uow.session, user, terms, filters, asked, limit + 1)
    taken = merge(found, limit)
    after = next_position(position, found, taken, limit)
    items = [
        Item(h.chat_id, h.reference, h.seq, h.at, h.kind, snippet(h.text, terms)) for h in taken
    ]
    return Page(items, None if after.done else after.encode())
