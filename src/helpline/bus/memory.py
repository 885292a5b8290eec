"""The in-process bus: one server process, no setup."""

from __future__ import annotations

from typing import Any

from helpline.bus import BusListener


class MemoryBus:
    healthy = True

    def __init__(self) -> None:
        self._listener: BusListener | None = None

    async def start(self, listener: BusListener) -> None:
        self._listener = listener

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        if self._listener is not None:
            self._listener.on_message(topic, message)

    async def close(self) -> None:
        self._listener = None
