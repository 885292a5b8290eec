"""Single sign-on: who the claims of a validated ID token sign in as.

The protocol (redirect, `state`, `nonce`, PKCE, code exchange, the ID token's signature,
issuer, audience and expiry) is Authlib's, driven by `helpline.web.oidc`; this module gets the
claims it accepted and applies our rules:

- the person is found by the provider's `(iss, sub)`; failing that, by an e-mail address the
  provider says is verified (that account is linked to the identity then); failing that, a
  user is created. Guests are never matched: a guest proves nothing about an address;
- name and role are set at every sign-in; the role comes from `HELPLINE_OIDC_ROLE_CLAIM`
  through `HELPLINE_OIDC_ROLE_MAP`, the highest mapped role winning, `customer` when none
  maps. A role change reaches open connections as an admin's change does (`AccessChanged`);
- a deactivated account stays out (`403 account_deactivated`); an unverified e-mail that
  belongs to an existing account is not taken over (`409 email_taken`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from helpline.accounts import repository as repo
from helpline.accounts import service
from helpline.accounts.models import User, UserIdentity
from helpline.audit import service as audit
from helpline.bus.messages import AccessChanged
from helpline.config import Settings
from helpline.db import UnitOfWork
from helpline.errors import Conflict, Forbidden, Invalid
from helpline.kit.clock import now
from helpline.kit.enums import Role
from helpline.kit.models import add_unique

RANK = {Role.customer: 0, Role.agent: 1, Role.supervisor: 2, Role.admin: 3}
NAME_MAX = 120


@dataclass
class SsoSignIn:
    """A session opened through the identity provider, and what it did to the account."""

    user: User
    token: str
    created: bool
    # What changed, as the audit log's user.updated has it: {"fields", "from", "to"}.
    changes: dict[str, Any] = field(default_factory=dict)


def role_from(claims: Mapping[str, Any], settings: Settings) -> Role:
    """The highest role the person's groups map to; customer when none does."""
    raw = claims.get(settings.oidc_role_claim)
    groups = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    mapping = settings.oidc_roles
    roles = [Role(mapping[g]) for g in groups if isinstance(g, str) and g in mapping]
    return max(roles, key=RANK.__getitem__, default=Role.customer)


def _verified(claims: Mapping[str, Any]) -> bool:
    # Some providers send the JSON string "true" (Amazon Cognito, canaille's mapping).
    return claims.get("email_verified") in (True, "true")


def name_from(claims: Mapping[str, Any], email: str | None) -> str:
    parts = (claims.get("given_name"), claims.get("family_name"))
    joined = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
    for candidate in (claims.get("name"), joined, claims.get("preferred_username"), email):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()[:NAME_MAX]
    return "Unnamed"


async def sign_in(
    uow: UnitOfWork,
    claims: Mapping[str, Any],
    settings: Settings,
    *,
    ip: str | None,
    user_agent: str | None,
) -> SsoSignIn:
    """Find, link or create the user of these validated ID token claims, bring their name and
    role up to date, and open a session for them."""
    issuer, subject = claims.get("iss"), claims.get("sub")
    if not isinstance(issuer, str) or not isinstance(subject, str) or not subject:
        raise Invalid("The identity provider sent no subject.", code="missing_claim")
    raw_email = claims.get("email")
    email = raw_email.strip().lower() if isinstance(raw_email, str) and raw_email.strip() else None
    name = name_from(claims, email)
    role = role_from(claims, settings)

    identity = await repo.get_identity(uow.session, issuer, subject)
    user = await repo.get(uow.session, identity.user_id) if identity else None
    created = False
    if user is None and email:
        existing = await repo.get_registered_by_email(uow.session, email)
        if existing is not None and not _verified(claims):
            raise Conflict(
                "An account with this e-mail address exists, and the identity provider does "
                "not say the address is verified. Ask an administrator.",
                code="email_taken",
            )
        user = existing
    if user is None:
        if not email:
            raise Invalid("The identity provider sent no e-mail address.", code="missing_claim")
        user = User(email=email, name=name, role=role)
        taken = Conflict("A user with this e-mail already exists.", code="email_taken")
        await add_unique(uow.session, user, taken)
        created = True
    if not user.active:
        raise Forbidden("This account is deactivated.", code="account_deactivated", user_id=user.id)
    if identity is None:
        uow.session.add(UserIdentity(user_id=user.id, issuer=issuer, subject=subject))
    else:
        identity.last_login_at = now()

    changes: dict[str, Any] = {"fields": []}
    if created:
        # The provider's word created it: the system is the actor, as for a sweeper's change.
        await audit.record(
            uow,
            actor=None,
            action="user.created",
            target_type="user",
            target_id=user.id,
            details={"role": str(role), "source": "oidc"},
            ip=ip,
        )
    else:
        before = {"name": user.name, "role": str(user.role_enum)}
        user.name = name
        if user.role_enum != role:
            user.role = role
            # Open connections drop what the new role may not see, on every process.
            uow.announce(f"user:{user.id}", AccessChanged("role_changed", role=str(role)))
        changes = audit.changes(before, {"name": user.name, "role": str(role)})
        if changes["fields"]:
            user.updated_at = now()
            await audit.record(
                uow,
                actor=None,
                action="user.updated",
                target_type="user",
                target_id=user.id,
                details={**changes, "source": "oidc"},
                ip=ip,
            )
    token = await service.sign_in(uow, user, ip=ip, user_agent=user_agent, method="oidc")
    return SsoSignIn(user=user, token=token, created=created, changes=changes)
