"""Who the claims of a validated ID token sign in as (accounts/oidc.py), for what canaille
cannot send: `email_verified`, odd claim shapes, a deactivated account."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import update

from helpline.accounts import oidc
from helpline.accounts.models import User
from helpline.config import Settings
from helpline.errors import Conflict, Forbidden, Invalid
from tests.fixtures.factories import make_user

pytestmark = pytest.mark.asyncio

ISS = "https://id.example.org"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"oidc_role_map": "admins=admin,agents=agent,leads=supervisor"}


async def _sign_in(app: FastAPI, **claims: Any) -> oidc.SsoSignIn:
    async with app.state.ctx.boundary.write() as uow:
        return await oidc.sign_in(
            uow, {"iss": ISS, **claims}, app.state.ctx.settings, ip="127.0.0.1", user_agent=None
        )


async def test_a_verified_email_links_the_existing_account_then_sub_finds_it(
    app: FastAPI,
) -> None:
    agent = await make_user(app, "agent", email="ana@example.org", name="Ana")
    first = await _sign_in(
        app,
        sub="s-1",
        email="ANA@example.org",
        email_verified=True,
        name="Ana A",
        groups=["agents"],
    )
    assert (first.user.id, first.created, first.changes["fields"]) == (agent.id, False, ["name"])
    # Later the e-mail changes at the provider: the identity still finds her.
    again = await _sign_in(app, sub="s-1", email="ana.new@example.org", name="Ana A")
    assert again.user.id == agent.id
    assert again.user.role == "customer"  # no mapped group any more


async def test_the_string_true_counts_as_verified_and_a_guest_is_never_matched(
    app: FastAPI,
) -> None:
    guest = await make_user(app, "customer", email="gus@example.org", is_guest=True)
    done = await _sign_in(app, sub="s-2", email="gus@example.org", email_verified="true")
    assert done.created and done.user.id != guest.id


async def test_an_unverified_email_of_an_existing_account_is_refused(app: FastAPI) -> None:
    await make_user(app, "admin", email="root@example.org")
    with pytest.raises(Conflict) as err:
        await _sign_in(app, sub="s-3", email="root@example.org", email_verified=False)
    assert err.value.code == "email_taken"


async def test_a_deactivated_account_stays_out(app: FastAPI) -> None:
    await _sign_in(app, sub="s-4", email="dee@example.org", groups=["agents"])
    async with app.state.ctx.db.write() as uow:
        await uow.session.execute(update(User).values(active=False))
    with pytest.raises(Forbidden) as err:
        await _sign_in(app, sub="s-4", email="dee@example.org", groups=["agents"])
    assert err.value.code == "account_deactivated"


async def test_no_subject_or_no_email_for_a_new_person_is_refused(app: FastAPI) -> None:
    with pytest.raises(Invalid):
        await _sign_in(app, email="x@example.org")
    with pytest.raises(Invalid):
        await _sign_in(app, sub="s-5", name="No Mail")


@pytest.mark.parametrize(
    ("groups", "role"),
    [
        (["agents", "admins", "leads"], "admin"),
        (["leads", "agents"], "supervisor"),
        ("agents", "agent"),
        (["other"], "customer"),
        (None, "customer"),
        ({"agents": True}, "customer"),
    ],
)
async def test_the_highest_mapped_group_gives_the_role(
    settings: Settings, groups: Any, role: str
) -> None:
    assert oidc.role_from({"groups": groups}, settings) == role


async def test_names_come_from_name_then_given_and_family_then_username_then_email() -> None:
    assert oidc.name_from({"given_name": "Ada", "family_name": "L"}, None) == "Ada L"
    assert oidc.name_from({"preferred_username": "ada"}, "a@x.org") == "ada"
    assert oidc.name_from({"name": " "}, "a@x.org") == "a@x.org"
    assert len(oidc.name_from({"name": "x" * 500}, None)) == 120
