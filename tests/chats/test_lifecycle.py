import json

import pytest

from helpline.chats.lifecycle import (
    EVENT_STATUS,
    TABLE,
    Action,
    ChatState,
    Relation,
    as_json,
    can,
    may,
    reduce,
    target,
)
from helpline.kit.enums import ChatStatus as S

ALL = list(S)


@pytest.mark.parametrize(
    ("action", "allowed", "to"),
    [
        (Action.accept, {S.waiting}, S.in_progress),
        (Action.move, {S.waiting, S.in_progress}, S.waiting),
        (Action.solve, {S.in_progress}, S.solved),
        (Action.cancel, {S.waiting, S.in_progress}, S.cancelled),
        (Action.leave, {S.waiting, S.in_progress}, S.cancelled),
        (Action.expire, {S.waiting, S.in_progress}, S.expired),
    ],
)
def test_status_changing_actions_follow_the_contract(
    action: Action, allowed: set[S], to: S
) -> None:
    for status in ALL:
        if status in allowed:
            assert target(action, status) is to
        else:
            with pytest.raises(ValueError, match="not allowed"):
                target(action, status)


def test_raise_request_keeps_the_status_and_needs_an_accepted_chat() -> None:
    assert {s for s in ALL if can(Action.raise_request, s)} == {
        S.in_progress,
        S.solved,
        S.cancelled,
    }
    assert target(Action.raise_request, S.solved) is S.solved


def test_customers_write_while_open_agents_only_in_progress() -> None:
    assert {s for s in ALL if can(Action.customer_message, s)} == {S.waiting, S.in_progress}
    assert {s for s in ALL if can(Action.agent_message, s)} == {S.in_progress}


def test_final_statuses_allow_no_status_change() -> None:
    for status in (S.solved, S.cancelled, S.expired):
        for action, t in TABLE.items():
            if t.to is not None:
                assert not can(action, status), (action, status)


def test_rating_only_after_the_chat() -> None:
    assert {s for s in ALL if can(Action.rate, s)} == {S.solved, S.cancelled, S.expired}


def test_every_status_changing_event_leads_to_one_status() -> None:
    assert EVENT_STATUS == {
        "chat.started": S.waiting,
        "chat.accepted": S.in_progress,
        "chat.moved": S.waiting,
        "chat.transferred": S.in_progress,
        "chat.requeued": S.waiting,
        "chat.solved": S.solved,
        "chat.cancelled": S.cancelled,
        "chat.expired": S.expired,
    }


def test_who_may_act_is_a_subset_of_when() -> None:
    for action, t in TABLE.items():
        assert t.who, action
        for relation, statuses in t.who.items():
            assert statuses <= t.sources or action is Action.start, (action, relation)


@pytest.mark.parametrize(
    ("action", "relation", "allowed"),
    [
        (Action.cancel, Relation.member, {S.waiting}),
        (Action.cancel, Relation.owner, {S.waiting, S.in_progress}),
        (Action.cancel, Relation.customer, set()),
        (Action.leave, Relation.customer, {S.waiting, S.in_progress}),
        (Action.solve, Relation.member, set()),
        (Action.solve, Relation.supervisor, {S.in_progress}),
        (Action.agent_message, Relation.helper, {S.in_progress}),
        (Action.agent_message, Relation.member, set()),
        (Action.note, Relation.member, set(S)),
        (Action.join_agent, Relation.owner, set()),
        (Action.part_agent, Relation.helper, {S.in_progress}),
        (Action.transfer, Relation.owner, {S.in_progress}),
        (Action.transfer, Relation.supervisor, {S.in_progress}),
        (Action.transfer, Relation.member, set()),
        (Action.transfer, Relation.helper, set()),
        (Action.reassign, Relation.owner, set()),
        (Action.requeue, Relation.system, {S.in_progress}),
        (Action.requeue, Relation.owner, set()),
    ],
)
def test_who_may_do_what_when(action: Action, relation: Relation, allowed: set[S]) -> None:
    assert {s for s in ALL if may(action, {relation}, s)} == allowed


def _ev(seq: int, kind: str, **data: object) -> dict[str, object]:
    return {"seq": seq, "type": kind, "data": data}


def test_reduce_follows_a_chat_through_its_life() -> None:
    agent = {"id": "a1", "name": "Ana"}
    helper = {"id": "a2", "name": "Ben"}
    events = [
        _ev(1, "chat.started", queue_id="q1", subject="Hi", reference="CS-000001"),
        _ev(2, "message.posted", text="Hello", client_id="c1"),
        _ev(3, "chat.accepted", agent=agent),
        _ev(4, "chat.joined", agent=helper),
        _ev(5, "chat.moved", from_queue_id="q1", to_queue_id="q2", note=None),
        _ev(6, "chat.accepted", agent=helper),
        _ev(7, "chat.solved"),
        _ev(8, "chat.rated", score=5, comment=None),
    ]
    state = None
    seen = []
    for e in events:
        state = reduce(state, e)
        seen.append((state.status, state.queue_id, state.agent_id, state.helper_ids))
    assert seen[2] == (S.in_progress, "q1", "a1", frozenset())
    assert seen[3] == (S.in_progress, "q1", "a1", frozenset({"a2"}))
    assert seen[4] == (S.waiting, "q2", None, frozenset())
    assert state == ChatState(
        status=S.solved, queue_id="q2", agent_id="a2", rating_score=5, last_seq=8
    )


def test_reduce_hands_the_chat_over_and_back_to_the_queue() -> None:
    ana = {"id": "a1", "name": "Ana"}
    ben = {"id": "a2", "name": "Ben"}
    events = [
        _ev(1, "chat.started", queue_id="q1", subject="Hi", reference="CS-000001"),
        _ev(2, "chat.accepted", agent=ana),
        _ev(3, "chat.joined", agent=ben),
        _ev(4, "chat.transferred", from_agent=ana, to_agent=ben, note="VIP"),
        _ev(5, "chat.requeued", reason="agent_offline", from_agent=ben),
    ]
    states = []
    state = None
    for e in events:
        state = reduce(state, e)
        states.append(state)
    # The helper who takes over is the owner now, no longer a helper.
    assert (states[3].status, states[3].agent_id, states[3].helper_ids) == (
        S.in_progress,
        "a2",
        frozenset(),
    )
    assert (states[4].status, states[4].agent_id, states[4].queue_id) == (S.waiting, None, "q1")


def test_reduce_needs_a_start() -> None:
    with pytest.raises(ValueError, match="chat.started"):
        reduce(None, _ev(1, "message.posted", text="x", client_id="c"))


def test_the_pages_get_the_whole_table_as_json() -> None:
    table = json.loads(json.dumps(as_json()))
    assert set(table["actions"]) == {a.value for a in Action}
    assert table["actions"]["cancel"]["who"]["member"] == ["waiting"]
    assert table["events"]["chat.moved"] == "waiting"
    assert table["final"] == ["cancelled", "expired", "solved"]
