"""Pre-chat fields: a queue's definition (what the admin builds) and a customer's answers
checked against it. Pure: no IO."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from helpline.errors import Invalid

MAX_FIELDS = 20
MAX_OPTIONS = 50
MAX_TEXT = 2000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Option = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class FieldType(StrEnum):
    text = "text"
    email = "email"
    number = "number"
    select = "select"
    checkbox = "checkbox"


class FieldDef(BaseModel):
    """One field of a queue's start form. `key` names the answer (`a-z`, digits, `_`)."""

    model_config = ConfigDict(extra="forbid")
    key: Key
    label: Label
    type: FieldType
    required: bool = False
    options: list[Option] | None = Field(default=None, max_length=MAX_OPTIONS)

    @model_validator(mode="after")
    def _options(self) -> FieldDef:
        if self.type is FieldType.select:
            if not self.options:
                raise ValueError(f"The list '{self.key}' needs at least one option.")
            if len(set(self.options)) != len(self.options):
                raise ValueError(f"The options of '{self.key}' repeat.")
        elif self.options:
            raise ValueError(f"Only a list has options ('{self.key}' is {self.type}).")
        return self


def stored(fields: list[FieldDef]) -> list[dict[str, Any]]:
    """The definition to keep; a key used twice is `422 invalid_fields` with the second's
    `index` (the answers are a map by key)."""
    seen: set[str] = set()
    for i, f in enumerate(fields):
        if f.key in seen:
            raise Invalid(
                f"The key '{f.key}' is used twice; each field needs its own.",
                code="invalid_fields",
                index=i,
            )
        seen.add(f.key)
    return [f.model_dump(mode="json", exclude_none=True) for f in fields]


def _bad(key: str, message: str) -> Invalid:
    return Invalid(message, code="invalid_field", field=key)


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def validate_answers(definition: list[dict[str, Any]], answers: dict[str, Any]) -> dict[str, Any]:
    """The answers to keep, checked against the queue's fields: an unknown key, a missing
    required one, a wrong type or an option not in the list is `422 invalid_field` with the
    field's `key` in `error.field`. Empty optional answers are left out; text is trimmed."""
    defs = {d["key"]: FieldDef.model_validate(d) for d in definition}
    unknown = sorted(set(answers) - set(defs))
    if unknown:
        raise _bad(unknown[0], f"This queue asks no '{unknown[0]}'.")
    out: dict[str, Any] = {}
    for key, d in defs.items():
        value = answers.get(key)
        if d.type is FieldType.checkbox:
            if value is not None and not isinstance(value, bool):
                raise _bad(key, f"{d.label}: tick it or leave it.")
            if d.required and value is not True:
                raise _bad(key, f"{d.label}: this must be ticked.")
            if value is not None:
                out[key] = value
            continue
        if _empty(value):
            if d.required:
                raise _bad(key, f"{d.label}: this is required.")
            continue
        out[key] = _checked(d, value)
    return out


def _checked(d: FieldDef, value: Any) -> Any:
    if d.type is FieldType.number:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _bad(d.key, f"{d.label}: a number, please.")
        if abs(value) > 1e15 or value != value:  # NaN is not equal to itself
            raise _bad(d.key, f"{d.label}: this number is out of range.")
        return value
    if not isinstance(value, str):
        raise _bad(d.key, f"{d.label}: text, please.")
    text = value.strip()
    if len(text) > MAX_TEXT:
        raise _bad(d.key, f"{d.label}: at most {MAX_TEXT} characters.")
    if d.type is FieldType.email and not _EMAIL.match(text):
        raise _bad(d.key, f"{d.label}: an e-mail address, please.")
    if d.type is FieldType.select and text not in (d.options or []):
        raise _bad(d.key, f"{d.label}: choose one of the list.")
    return text
