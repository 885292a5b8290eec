"""Imports every table so metadata (and Alembic) sees them all."""

from helpline.accounts.models import ApiToken, AuthSession, PasswordReset, RecoveryCode, User
from helpline.audit.models import AuditEntry
from helpline.chats.models import (
    Attachment,
    AwayLink,
    Chat,
    ChatEvent,
    ChatParticipant,
    ChatRead,
)
from helpline.deployment import DeploymentSetting
from helpline.governance.models import Export, JobLease, RetentionRun
from helpline.kit.models import Counter
from helpline.notify.models import OutboxMessage
from helpline.queues.models import Queue, QueueMember
from helpline.reports.models import ReportChat, ReportRaised
from helpline.servicedesk.models import RequestEntry, ServiceRequest
from helpline.snippets.models import Snippet
from helpline.tags.models import ChatTag, Tag
from helpline.widget.models import WidgetSite

__all__ = [
    "ApiToken",
    "AuditEntry",
    "Attachment",
    "AwayLink",
    "ChatRead",
    "ChatParticipant",
    "AuthSession",
    "Chat",
    "ChatEvent",
    "Counter",
    "DeploymentSetting",
    "Export",
    "JobLease",
    "RetentionRun",
    "ReportChat",
    "ReportRaised",
    "OutboxMessage",
    "PasswordReset",
    "Queue",
    "QueueMember",
    "RecoveryCode",
    "RequestEntry",
    "ServiceRequest",
    "Snippet",
    "ChatTag",
    "Tag",
    "User",
    "WidgetSite",
]
