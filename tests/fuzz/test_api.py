"""Property-based fuzzing of the whole HTTP API from its OpenAPI description (Schemathesis),
signed in as each role and as nobody, against a real server with real ids.

Every response must: not be a 5xx; if an error, be `{"error": {"code", "message"}}`; have a
documented status and content type; and match the documented schema. Valid and invalid
inputs are both generated. Bounded and derandomized, so a run is the same every time.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookiejar import DefaultCookiePolicy
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import BACKEND
from tests.fuzz.conftest import ROLES, Seeded

# Per operation and role, valid and invalid inputs mixed; HELPLINE_FUZZ_EXAMPLES=200 digs deeper
# by hand. The PostgreSQL pass runs half as many: what differs there is what the database
# refuses (NUL in text, integer widths), which the first examples of each kind already reach.
EXAMPLES = int(os.environ.get("HELPLINE_FUZZ_EXAMPLES", "5" if BACKEND == "postgres" else "10"))

# Operations that cannot be fuzzed meaningfully, and why.
EXCLUDED = {
    # Ends the fuzzer's own session; every later case would be a 401.
    ("POST", "/api/v1/auth/logout"),
}


@dataclass
class Tally:
    cases: int = 0
    call_s: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: dict[tuple[str, str], str] = field(default_factory=dict)


def error_format(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """Every error answer is the contract's `{"error": {"code", "message"}}`."""
    if response.status_code < 400:
        return
    try:
        error = json.loads(response.content)["error"]
        ok = isinstance(error["code"], str) and isinstance(error["message"], str)
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise AssertionError(
            f"{response.status_code} is not in the error format: {response.content[:200]!r}"
        )


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _path_parameter_sets(
    operation: schemathesis.APIOperation, seeded: Seeded
) -> list[dict[str, str]]:
    names = [p.name for p in operation.path_parameters]
    if not names or any(n not in seeded.ids for n in names):
        return []
    return [
        dict(zip(names, values, strict=True))
        for values in itertools.product(*(seeded.ids[n] for n in names))
    ]


def _strategy(operation: schemathesis.APIOperation, seeded: Seeded) -> st.SearchStrategy[Any]:
    """Generated cases, half with generated path parameters (mostly unknown ids: 404s) and
    half naming real things, in both generation modes."""
    parts = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        parts.append(operation.as_strategy(generation_mode=mode))
        real = [
            operation.as_strategy(generation_mode=mode, path_parameters=p)
            for p in _path_parameter_sets(operation, seeded)
        ]
        if real:
            parts.append(st.one_of(real))
    return st.one_of(parts)


# Each operation's cases, generated once, by the first role that fuzzes it, and sent again
# as each of the other roles. The cases never depend on the role (the same strategy with the
# same derandomized seed: before, each role generated the very same cases again, ~5 s of CPU
# per role in this process), so every role still gets every case (docs/testing.md).
GENERATED: dict[str, list[schemathesis.Case]] = {}


@pytest.fixture(scope="module", autouse=True)
def _forget_cases() -> Iterator[None]:
    """The cases (and the schema they hold) go when the module is done, not at exit."""
    yield
    GENERATED.clear()


def fuzz_operation(
    operation: schemathesis.APIOperation, role: str, seeded: Seeded, tally: Tally
) -> None:
    headers = {"Authorization": f"Bearer {seeded.tokens[role]}"} if role in seeded.tokens else {}
    session = requests.Session()
    # Keep no cookie a sign-in sets: each case is exactly its role (bearer or nobody), no CSRF.
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))

    def check(case: schemathesis.Case) -> None:
        t0 = time.monotonic()
        response = case.call(base_url=seeded.url, headers=headers, session=session, timeout=30)
        tally.call_s += time.monotonic() - t0
        tally.cases += 1
        tally.statuses[response.status_code] = tally.statuses.get(response.status_code, 0) + 1
        try:
            case.validate_response(
                response, checks=CHECKS, additional_checks=[error_format], headers=headers
            )
        except (AssertionError, FailureGroup) as exc:
            lines = str(exc).splitlines()
            key = (operation.label, next((x for x in lines if x.startswith("- ")), lines[0]))
            tally.failures.setdefault(key, f"{exc}\n{case.as_curl_command(headers=headers)}")

    cases = GENERATED.get(operation.label)
    if cases is not None:
        with session:
            for case in cases:
                check(case)
        return
    made: list[schemathesis.Case] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_strategy(operation, seeded))
    def run(case: schemathesis.Case) -> None:
        made.append(case)
        check(case)

    with session:
        run()
    GENERATED[operation.label] = made


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_as(role: str, seeded: Seeded) -> None:
    schema = schemathesis.openapi.from_url(f"{seeded.url}/api/v1/openapi.json")
    tally = Tally()
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in EXCLUDED:
            continue
        fuzz_operation(operation, role, seeded, tally)
    print(
        f"fuzz as {role}: {tally.cases} cases in {time.monotonic() - started:.1f} s, "
        f"statuses {dict(sorted(tally.statuses.items()))}, calls {tally.call_s:.1f} s"
    )
    report = "\n\n".join(f"[{op}] {text}" for (op, _), text in tally.failures.items())
    assert not tally.failures, f"{len(tally.failures)} findings as {role}:\n\n{report}"
