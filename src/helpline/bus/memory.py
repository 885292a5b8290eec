"""The in-process bus: one server process, no setup. The message objects themselves travel."""

from __future__ import annotations

from helpline.bus import BusListener
from helpline.bus.messages import BusMessage


class MemoryBus:
    healthy = True

    def __init__(self) -> None:
        self._listener: BusListener | None = None

    async def start(self, listener: BusListener) -> None:
        self._listener = listener

    async def publish(self, topic: str, message: BusMessage) -> None:
        self.publish_nowait(topic, message)

    def publish_nowait(self, topic: str, message: BusMessage) -> None:
        if self._listener is not None:
            self._listener.on_message(topic, message)

    async def close(self) -> None:
        self._listener = None
