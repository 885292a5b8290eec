from __future__ import annotations

import pytest

from helpline.kit.placeholders import PLACEHOLDERS, fill, unknown

VALUES = {
    "{customer.name}": "Carla",
    "{agent.name}": "Ana",
    "{chat.reference}": "CS-000042",
    "{queue.name}": "Support",
}


def test_known_placeholders_are_not_reported() -> None:
    assert unknown(" ".join(PLACEHOLDERS)) == []
    assert unknown("Unpaired braces: a } then a {, and {{ alone") == []


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ("Hi {customer.email}", ["{customer.email}"]),
        ("{foo} and {foo} and {bar}", ["{foo}", "{bar}"]),
        ("{ customer.name }", ["{ customer.name }"]),
        ("{Customer.Name}", ["{Customer.Name}"]),
        ("empty {}", ["{}"]),
        ("{{customer.name}}", []),
    ],
)
def test_unknown_tokens_are_listed_once_in_order(text: str, bad: list[str]) -> None:
    assert unknown(text) == bad


def test_fill_replaces_every_occurrence() -> None:
    text = "Hi {customer.name}, {agent.name} here ({queue.name}, {chat.reference}). Bye {customer.name}"
    assert fill(text, VALUES) == "Hi Carla, Ana here (Support, CS-000042). Bye Carla"


def test_fill_never_fills_a_value_again() -> None:
    values = {**VALUES, "{customer.name}": "{agent.name}"}
    assert fill("Hi {customer.name}, I am {agent.name}", values) == "Hi {agent.name}, I am Ana"
