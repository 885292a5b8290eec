"""Placeholders in snippets and the greeting: pure, no IO.

A token is anything between a pair of braces with no brace inside (`{customer.name}`,
`{foo}`, `{ customer.name }`). Only the four known ones may be saved, so nothing unfilled can
ever reach a customer. Filling is one pass over the template: a value that itself looks like a
placeholder (a customer named "{agent.name}") is inserted as is, never filled again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from helpline.kit.i18n import N_

PLACEHOLDERS: tuple[str, ...] = (
    "{customer.name}",
    "{agent.name}",
    "{chat.reference}",
    "{queue.name}",
)

TOKEN = re.compile(r"\{[^{}]*\}")

# The greeting sent on accept unless HELPLINE_GREETING says otherwise. This one is translated:
# the customer reads it in their own language (chats.service); a configured one is sent as is.
DEFAULT_GREETING = N_("Welcome, my name is {agent.name}, how can I help you today?")


def unknown(text: str) -> list[str]:
    """The tokens in `text` that are not known placeholders, once each, in order of appearance."""
    known = set(PLACEHOLDERS)
    return list(dict.fromkeys(t for t in TOKEN.findall(text) if t not in known))


def fill(template: str, values: Mapping[str, str]) -> str:
    """Replace each known placeholder with its value; other text is left exactly as it is."""
    return TOKEN.sub(lambda m: values.get(m.group(0), m.group(0)), template)
