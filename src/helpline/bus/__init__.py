"""The event bus: news of committed changes, fanned out to every server process.

The bus carries news, never the record: a listener that misses a message repairs from the
database (by `seq`). Topics are `chat:{id}`, `queue:{id}` and `user:{id}` (plus `session:{id}`
for sign-outs, `supervisors` and `agents`). Messages are the typed news of
`helpline.bus.messages`; a bus between processes sends their `to_dict()` as JSON.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from helpline.bus.messages import BusMessage


class BusListener(Protocol):
    def wants(self, topic: str) -> bool:
        """Whether news on `topic` could reach anyone here now. A bus between processes asks
        before decoding a message, and drops what nobody here would hear: each process gets
        every process's news. Must be cheap, and True whenever `on_message` would act."""

    def on_message(self, topic: str, message: BusMessage) -> None:
        """Called for every message on every topic it wants; must not block or await."""

    def on_resync(self) -> None:
        """Called after the bus lost and regained its connection: messages may be missing."""


class Bus(Protocol):
    healthy: bool

    async def start(self, listener: BusListener) -> None: ...

    async def publish(self, topic: str, message: BusMessage) -> None:
        """Send after commit. Never raises for a bus outage: the database has the truth."""

    def publish_nowait(self, topic: str, message: BusMessage) -> None:
        """`publish` from code that cannot await (the message writer's callbacks): the same
        send, which never waits in either bus."""

    async def close(self) -> None: ...
