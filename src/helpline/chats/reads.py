"""Read receipts: how far each participant has read a chat.

A client says `read` with the last event it showed; the position only moves forward, and
when it moves the other side hears it (the chat's topic) and so do the reader's own other
connections (their user topic). Read positions are not chat events: nothing is appended to
the log. Errors: the chat not visible → NotFound (404); a `seq` beyond the chat's last →
Invalid `seq_out_of_range` (422); either way nothing is stored.
"""

from __future__ import annotations

from helpline.accounts.models import User
from helpline.bus.messages import ReadMoved
from helpline.chats import access
from helpline.chats import repository as repo
from helpline.db import UnitOfWork
from helpline.errors import Invalid
from helpline.kit.clock import now


def side_of(user: User) -> str:
    return "agent" if user.role_enum.is_staff else "customer"


async def mark(uow: UnitOfWork, user: User, chat_id: str, seq: int) -> bool:
    """Record that `user` has read `chat_id` up to `seq`; True when the position moved."""
    row = await access.get_row(uow, user, chat_id)
    if seq > row.chat.last_seq:
        raise Invalid(
            f"seq {seq} is beyond the chat's last event ({row.chat.last_seq}).",
            code="seq_out_of_range",
        )
    staff = user.role_enum.is_staff
    moved = await repo.advance_read(
        uow.session, chat_id, user.id, is_customer=not staff, seq=seq, at=now()
    )
    if moved:
        news = ReadMoved(chat_id, side_of(user), seq, user.id)
        uow.announce(f"chat:{chat_id}", news)
        uow.announce(f"user:{user.id}", news)
    return moved


async def positions(uow: UnitOfWork, chat_id: str) -> dict[str, int]:
    """`{customer, agent}`: the seq each side has read up to (0: nothing yet)."""
    return await repo.read_positions(uow.session, chat_id)
