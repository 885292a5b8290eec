"""Imports every table so metadata (and Alembic) sees them all."""

from helpline.accounts.models import AuthSession, User
from helpline.audit.models import AuditEntry
from helpline.chats.models import Attachment, Chat, ChatEvent, ChatParticipant
from helpline.kit.models import Counter
from helpline.notify.models import OutboxMessage
from helpline.queues.models import Queue, QueueMember
from helpline.reports import models as _reports_indexes  # noqa: F401 - indexes on chats
from helpline.servicedesk.models import RequestEntry, ServiceRequest
from helpline.snippets.models import Snippet
from helpline.tags.models import ChatTag, Tag

__all__ = [
    "AuditEntry",
    "Attachment",
    "ChatParticipant",
    "AuthSession",
    "Chat",
    "ChatEvent",
    "Counter",
    "OutboxMessage",
    "Queue",
    "QueueMember",
    "RequestEntry",
    "ServiceRequest",
    "Snippet",
    "ChatTag",
    "Tag",
    "User",
]
