"""Routing strategies: pure functions, no IO."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Candidate:
    """An agent who may be offered a chat now: available, active, below their limit."""

    id: str
    load: int
    max_chats: int
    last_accept_at: datetime | None

    @property
    def free(self) -> int:
        return self.max_chats - self.load


def rank(candidates: list[Candidate]) -> list[Candidate]:
    """Most free slots first, then longest since their last accept (never accepted: first)."""
    return sorted(
        (c for c in candidates if c.free > 0),
        key=lambda c: (-c.free, c.last_accept_at or _LONG_AGO, c.id),
    )


def next_assignee(
    candidates: list[Candidate], already_offered: list[str]
) -> tuple[str | None, list[str]]:
    """Who gets the chat next in `assign` mode, and the round's updated list of who had it.

    Everyone eligible gets one turn per round; when all have had theirs, a new round starts.
    """
    ranked = rank(candidates)
    if not ranked:
        return None, already_offered
    fresh = [c for c in ranked if c.id not in already_offered]
    if not fresh:
        already_offered = []
        fresh = ranked
    chosen = fresh[0].id
    return chosen, [*already_offered, chosen]
