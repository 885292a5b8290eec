"""The hot path's frame decoding and encoding (orjson) agrees with the contract's models.

`gateway.parse` checks plain `message` and `ping` frames itself and hands everything else to
the Pydantic models: for every frame here it must accept exactly what the models accept, with
the same fields, and leave every refusal (and so every error frame) to the models.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from helpline.chats.gateway import Message, Post, frames, parse
from helpline.chats.hub import Hub
from helpline.kit.frames import decode, encode

OK = {"type": "message", "chat_id": "c1", "text": "Hello there", "client_id": "m-1.a:b_C"}

FRAMES: list[Any] = [
    OK,
    {**OK, "text": "x" * 10_000},
    {**OK, "text": "x" * 10_001},
    {**OK, "text": ""},
    {**OK, "text": "   "},  # accepted here; the gateway answers empty_message
    {**OK, "text": "héllo — 你好 👋"},
    {**OK, "text": "nul \x00 inside"},
    {**OK, "chat_id": "nul\x00"},
    {**OK, "chat_id": "c" * 64},
    {**OK, "chat_id": "c" * 65},
    {**OK, "chat_id": ""},
    {**OK, "client_id": ""},
    {**OK, "client_id": "a" * 64},
    {**OK, "client_id": "a" * 65},
    {**OK, "client_id": "has space"},
    {**OK, "client_id": "line\n"},
    {**OK, "client_id": "ümlaut"},
    {**OK, "client_id": 5},
    {**OK, "text": 5},
    {**OK, "text": None},
    {**OK, "chat_id": ["c1"]},
    {**OK, "extra": 1},
    {k: v for k, v in OK.items() if k != "client_id"},
    {k: v for k, v in OK.items() if k != "text"},
    {"type": "ping"},
    {"type": "ping", "extra": True},
    {"type": "subscribe", "chat_id": "c1", "after": 3},
    {"type": "typing", "chat_id": "c1"},
    {"type": "nope"},
    [OK],
    "message",
    None,
]
RAW = [
    json.dumps(OK).replace("Hello", "\\ud800"),  # a lone surrogate
    '{"type":"message","chat_id":"c1","text":"a","client_id":"x","type":"message"}',
    '{"type":"message",',
    "",
    "NaN",
]


def _model(text: str) -> Any:
    try:
        return frames.validate_json(text)
    except ValidationError as exc:
        return exc


def _said(exc: ValidationError) -> list[tuple[Any, ...]]:
    return [(e["type"], e["loc"], e["msg"]) for e in exc.errors()]


@pytest.mark.parametrize("text", [json.dumps(f) for f in FRAMES] + RAW)
def test_the_fast_path_accepts_what_the_models_accept_and_no_more(text: str) -> None:
    expected = _model(text)
    if isinstance(expected, ValidationError):
        with pytest.raises(ValidationError) as refused:
            parse(text)
        # The models' own error, unchanged (what the error frame says: `_describe`).
        assert _said(refused.value) == _said(expected)
        return
    got: Any = parse(text)
    if isinstance(got, Post):
        assert isinstance(expected, Message)
        assert (got.chat_id, got.text, got.client_id) == (
            expected.chat_id,
            expected.text,
            expected.client_id,
        )
    else:
        assert got == expected


def test_plain_messages_and_pings_take_the_fast_path() -> None:
    assert isinstance(parse(json.dumps(OK)), Post)
    assert parse('{"type":"ping"}').type == "ping"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "event", "event": {"seq": 3, "data": {"text": "héllo 👋", "client_id": None}}},
        {"type": "ack", "client_id": "m1", "chat_id": "c1", "seq": 2**63 - 1},
        {"type": "error", "error": {"code": "x", "message": "\x00 \n \u2028"}},
    ],
)
def test_encoded_frames_are_json_the_standard_library_reads_back(frame: dict[str, Any]) -> None:
    assert json.loads(encode(frame)) == frame
    assert decode(encode(frame)) == frame


def test_what_orjson_cannot_encode_falls_back_to_the_standard_library() -> None:
    big = {"type": "x", "n": 2**70, 3: "int key"}
    assert json.loads(encode(big)) == {"type": "x", "n": 2**70, "3": "int key"}


# --- each event encoded once per audience, once for both where both see the same -------------

_ENV: dict[str, Any] = {
    "chat_id": "c1",
    "seq": 4,
    "type": "message.posted",
    "at": "2026-12-03T14:00:00.000001Z",
    "actor": {"id": "u1", "role": "customer", "name": "Carla"},
    "data": {"text": "hi", "client_id": "m1"},
}


@pytest.mark.parametrize("customer_first", [True, False])
def test_an_event_both_audiences_see_alike_is_encoded_once_for_both(customer_first: bool) -> None:
    hub = Hub(db=None)  # type: ignore[arg-type]  # encoding never touches the database
    first = hub._encode(_ENV, False, customer_first)
    second = hub._encode(_ENV, False, not customer_first)
    assert first is second
    assert decode(first or b"") == {"type": "event", "event": _ENV}


@pytest.mark.parametrize("customer_first", [True, False])
def test_what_only_agents_may_see_stays_out_of_the_customers_frame(customer_first: bool) -> None:
    hub = Hub(db=None)  # type: ignore[arg-type]
    moved = {**_ENV, "type": "chat.moved", "data": {"to_queue_id": "q2", "note": "VIP"}}
    order = [customer_first, not customer_first]
    texts = {customer: hub._encode(moved, False, customer) for customer in order}
    assert decode(texts[False] or b"")["event"]["data"] == {"to_queue_id": "q2", "note": "VIP"}
    assert decode(texts[True] or b"")["event"]["data"] == {"to_queue_id": "q2"}
    note = {**_ENV, "seq": 5, "type": "note.added", "data": {"text": "internal"}}
    texts = {customer: hub._encode(note, True, customer) for customer in order}
    assert texts[True] is None
    assert decode(texts[False] or b"")["event"] == note
