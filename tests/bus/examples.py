"""One message of every kind, as services announce them (used by the bus tests)."""

from __future__ import annotations

from helpline.bus.messages import (
    AccessChanged,
    AgentStatus,
    BusMessage,
    ChatAssigned,
    ChatOffered,
    ChatQueued,
    ChatTaken,
    ChatUpdated,
    ChatWithdrawn,
    CloseConnections,
    EventPosted,
    ReadMoved,
    RequestSlaWarning,
    SlaWarning,
    StatusChanged,
    Typing,
)

CHAT = {"id": "c1", "queue_id": "q1", "status": "waiting", "customer": {"id": "u9", "name": "Eva"}}

EXAMPLES: list[BusMessage] = [
    EventPosted(
        {"chat_id": "c1", "seq": 3, "type": "message.posted", "data": {"text": "héllo"}},
        internal=False,
    ),
    Typing("c1", True, {"id": "u9", "name": "Eva", "role": "customer"}),
    ReadMoved("c1", "customer", 3, "u9"),
    ChatOffered(CHAT),
    ChatQueued(CHAT),
    ChatTaken(CHAT, agent={"id": "u1", "name": "Ana"}),
    ChatUpdated(CHAT),
    ChatAssigned({**CHAT, "status": "in_progress", "agent": {"id": "u2", "name": "Ben"}}),
    ChatWithdrawn("c1"),
    SlaWarning("c1", "q1", due_at="2026-12-03T09:00:00.000000Z"),
    RequestSlaWarning("r1", "SR-000001", "q1", "u2", "response", "2026-12-03T09:00:00.000000Z"),
    StatusChanged("away"),
    AgentStatus("u1", "available"),
    CloseConnections("signed_out"),
    AccessChanged("queue_removed", role="agent", queues_removed=("q1", "q2")),
]
