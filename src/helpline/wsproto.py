"""uvicorn's sans-I/O WebSocket protocol plus one ASGI extension: `helpline.send_many`.

A chat message costs its sender two frames (its own event and the ack) and, under load, a
connection often has several frames waiting. Through ASGI each frame is one `transport.write`,
that is one syscall and one TCP segment; on a 2-core machine those writes were most of the
server's CPU (scenario 1 profile: ~75 % of the event loop's samples). With this extension the
gateway hands over every frame waiting for a connection at once and they leave in one write.

Advertised in the scope as `extensions["helpline.send_many"]`; the message is
`{"type": "helpline.send_many", "texts": [str, ...]}`, valid while the WebSocket is open. Any
other ASGI server simply lacks the extension and the gateway sends frame by frame.

Once a handshake is accepted, the protocol also lets go of its request and response
(docs/performance.md, scenario 3: memory per idle connection).
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState
from websockets.http11 import Request

SEND_MANY = "helpline.send_many"


class WebSocketProtocol(WebSocketsSansIOProtocol):
    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # absent when the handshake was refused
        if scope is not None:
            scope["extensions"][SEND_MANY] = {}

    async def send(self, message: Any) -> None:
        if message["type"] != SEND_MANY:
            await super().send(message)
            if message["type"] == "websocket.accept" and self.handshake_complete:
                # The handshake's request and response (two header maps, ~20 objects) are
                # not used again by a connection that may stay open for days.
                del self.request, self.response
            return
        await self.writable.wait()  # the peer's buffer is full: wait, as a plain send does
        if self.disconnected:
            raise ClientDisconnected()
        if not self.handshake_complete or self.close_sent or self.initial_response is not None:
            raise RuntimeError(f"'{SEND_MANY}' needs an open WebSocket.")
        try:
            for text in message["texts"]:
                self.conn.send_text(text.encode())
        except InvalidState:
            raise ClientDisconnected() from None
        self.transport.write(b"".join(self.conn.data_to_send()))
