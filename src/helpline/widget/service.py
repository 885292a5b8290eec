"""The web-site widget's settings: the sites allowed to embed it (environment plus what admins
add) and the snippets a site's back end uses to vouch for its signed-in visitors."""

from __future__ import annotations

from helpline.accounts import service as accounts
from helpline.accounts.models import User
from helpline.audit import service as audit
from helpline.config import Settings
from helpline.db import UnitOfWork
from helpline.kit.enums import Role
from helpline.kit.origins import parse_origins
from helpline.widget import repository as repo

SECRET_PLACEHOLDER = "{secret}"  # noqa: S105 - where the snippets take the secret

# Copy-paste code for a site's back end: what goes into the script tag's data-user-hash. The
# tests run both against the server, so what admins copy is what works.
SNIPPETS: dict[str, str] = {
    "python": """import hashlib
import hmac

HELPLINE_WIDGET_SECRET = "{secret}"  # keep it on the server, never in a page


def helpline_user_hash(user_id: str) -> str:
    return hmac.new(
        HELPLINE_WIDGET_SECRET.encode(), str(user_id).encode(), hashlib.sha256
    ).hexdigest()
""",
    "javascript": """const crypto = require("node:crypto");

const HELPLINE_WIDGET_SECRET = "{secret}"; // keep it on the server, never in a page

function helplineUserHash(userId) {
  return crypto.createHmac("sha256", HELPLINE_WIDGET_SECRET).update(String(userId)).digest("hex");
}
""",
    "html": """<script src="{public_url}/widget.js" async
  data-user-id="USER_ID"
  data-user-name="USER_NAME"
  data-user-email="USER_EMAIL"
  data-user-hash="HASH_OF_USER_ID"></script>
""",
}


def snippets(settings: Settings) -> dict[str, str]:
    secret = settings.widget_secret or "set HELPLINE_WIDGET_SECRET first"
    public_url = settings.resolved_public_url.rstrip("/")
    return {
        k: v.replace(SECRET_PLACEHOLDER, secret).replace("{public_url}", public_url)
        for k, v in SNIPPETS.items()
    }


def env_origins(settings: Settings) -> list[str]:
    return parse_origins(settings.widget_origins or "")


async def origins(uow: UnitOfWork, settings: Settings) -> list[str]:
    """Every site allowed to embed the panel: the environment's, then the admins'."""
    out = env_origins(settings)
    return out + [o for o in await repo.origins(uow.session) if o not in out]


async def admin_origins(uow: UnitOfWork, actor: User) -> list[str]:
    accounts.require_role(actor, Role.admin)
    return await repo.origins(uow.session)


async def set_origins(uow: UnitOfWork, actor: User, wanted: list[str]) -> list[str]:
    accounts.require_role(actor, Role.admin)
    before = await repo.origins(uow.session)
    after = sorted(set(wanted))
    if after != before:
        await repo.replace(uow.session, after)
        await audit.record(
            uow,
            actor=actor,
            action="widget.sites_changed",
            target_type="widget",
            target_id=None,
            details={
                "added": sorted(set(after) - set(before)),
                "removed": sorted(set(before) - set(after)),
            },
        )
    return after
