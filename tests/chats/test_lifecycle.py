import pytest

from helpline.chats.lifecycle import TABLE, Action, can, target
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
        for action, (_, to) in TABLE.items():
            if to is not None:
                assert not can(action, status), (action, status)


def test_rating_only_after_the_chat() -> None:
    assert {s for s in ALL if can(Action.rate, s)} == {S.solved, S.cancelled, S.expired}
