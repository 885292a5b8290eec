"""Pure routing: who is offered a chat next in assign mode."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from helpline.queues.routing import Candidate, next_assignee, rank

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def test_most_free_slots_first_then_longest_idle() -> None:
    a = Candidate("a", load=2, max_chats=3, last_accept_at=T0)
    b = Candidate("b", load=0, max_chats=3, last_accept_at=T0 + timedelta(minutes=5))
    c = Candidate("c", load=0, max_chats=3, last_accept_at=T0)
    d = Candidate("d", load=0, max_chats=3, last_accept_at=None)
    assert [x.id for x in rank([a, b, c, d])] == ["d", "c", "b", "a"]


def test_agents_at_capacity_are_never_chosen() -> None:
    full = Candidate("full", load=3, max_chats=3, last_accept_at=None)
    assert rank([full]) == []
    assert next_assignee([full], []) == (None, [])


def test_rotation_gives_everyone_a_turn_then_starts_again() -> None:
    agents = [Candidate(x, 0, 3, None) for x in ("a", "b", "c")]
    offered: list[str] = []
    order = []
    for _ in range(5):
        chosen, offered = next_assignee(agents, offered)
        order.append(chosen)
    assert order == ["a", "b", "c", "a", "b"]
