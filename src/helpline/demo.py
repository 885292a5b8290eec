"""Demo data for `make run`, and user creation for the CLI."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from helpline.accounts import repository as accounts_repo
from helpline.accounts.models import User
from helpline.accounts.passwords import hash_async, hash_password
from helpline.config import Settings
from helpline.db import Database
from helpline.kit.enums import Role
from helpline.queues.fields import FieldDef, stored
from helpline.queues.models import Queue, QueueMember
from helpline.tags.models import Tag

DEMO_PASSWORD = "helpline-demo"  # noqa: S105 - printed for people to try it

USERS = [
    ("admin@example.com", "Ada Admin", Role.admin),
    ("supervisor@example.com", "Sam Supervisor", Role.supervisor),
    ("agent1@example.com", "Ana Agent", Role.agent),
    ("agent2@example.com", "Ben Agent", Role.agent),
    ("agent3@example.com", "Cleo Agent", Role.agent),
    ("customer1@example.com", "Carla Customer", Role.customer),
    ("customer2@example.com", "Dan Customer", Role.customer),
]
QUEUES = [
    (
        "General support",
        "Questions about your account, orders and anything else.",
        ["agent1@example.com", "agent2@example.com", "supervisor@example.com"],
    ),
    ("Billing", "Invoices, payments and refunds.", ["agent2@example.com", "agent3@example.com"]),
    (
        "Technical",
        "Something is broken or not working as expected.",
        ["agent1@example.com", "agent3@example.com"],
    ),
]
# Optional start-form fields, so the demo shows the form builder's result without making the
# first chat harder to start.
FIELDS: dict[str, list[dict[str, Any]]] = {
    "Billing": [
        {"key": "invoice", "label": "Invoice number", "type": "text", "required": False},
    ],
    "Technical": [
        {
            "key": "device",
            "label": "Where does it happen?",
            "type": "select",
            "required": False,
            "options": ["Web browser", "iPhone or iPad", "Android", "Desktop app"],
        },
    ],
}
TAGS = [
    ("Bug", "#b42318"),
    ("Feature request", "#1d4ed8"),
    ("Refund", "#a15c07"),
    ("VIP", "#6d28d9"),
]


async def seed(settings: Settings, *, only_if_empty: bool) -> dict[str, Any] | None:
    db = Database(settings.resolved_database_url)
    try:
        async with db.write() as uow:
            s = uow.session
            count = (await s.execute(select(func.count(User.id)))).scalar_one()
            if only_if_empty and count:
                return None
            by_email: dict[str, User] = {}
            for email, name, role in USERS:
                user = await accounts_repo.get_registered_by_email(s, email)
                if user is None:
                    user = User(
                        email=email,
                        name=name,
                        role=role,
                        max_chats=3,
                        password_hash=hash_password(
                            DEMO_PASSWORD, fast=settings.password_fast_hash
                        ),
                    )
                    s.add(user)
                by_email[email] = user
            await s.flush()
            for name, description, members in QUEUES:
                queue = (
                    await s.execute(select(Queue).where(Queue.name == name))
                ).scalar_one_or_none()
                if queue is None:
                    fields = stored([FieldDef.model_validate(f) for f in FIELDS.get(name, [])])
                    queue = Queue(name=name, description=description, fields=fields)
                    s.add(queue)
                    await s.flush()
                    s.add_all(
                        QueueMember(queue_id=queue.id, user_id=by_email[m].id) for m in members
                    )
            for tag_name, color in TAGS:
                if (await s.execute(select(Tag).where(Tag.name == tag_name))).first() is None:
                    s.add(Tag(name=tag_name, color=color))
        return {
            "password": DEMO_PASSWORD,
            "accounts": [(email, str(role)) for email, _, role in USERS],
            "queues": [q[0] for q in QUEUES],
        }
    finally:
        await db.dispose()


async def create_user(settings: Settings, email: str, name: str, role: str, password: str) -> None:
    if len(password) < 8:
        raise ValueError("the password needs at least 8 characters")
    # Hashed before the write opens, off the event loop like every hash.
    password_hash = await hash_async(password, fast=settings.password_fast_hash)
    db = Database(settings.resolved_database_url)
    try:
        async with db.write() as uow:
            if await accounts_repo.get_registered_by_email(uow.session, email):
                raise ValueError(f"a user with e-mail {email} exists")
            uow.session.add(
                User(
                    email=email.lower(),
                    name=name,
                    role=Role(role),
                    password_hash=password_hash,
                )
            )
    finally:
        await db.dispose()
