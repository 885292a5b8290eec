"""Pure ASGI middleware at the edge of the app: request body limits and security headers.

Both act before (or around) routing and never read more of a request than they must.
"""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MIB = 1024 * 1024


async def send_error(send: Send, status: int, code: str, message: str, **headers: str) -> None:
    """Answer in the contract's error format, from middleware (no Response machinery)."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in headers.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def app_path(scope: Scope) -> str:
    """The request's path within the app (without the root path it is served under)."""
    path = str(scope.get("path", ""))
    root = str(scope.get("root_path", ""))
    return path[len(root) :] if root and path.startswith(root) else path


class BodyLimitMiddleware:
    """Refuses request bodies over `max_bytes` with 413 before the app reads a byte of them.

    A declared `Content-Length` is checked at once. A body without one (chunked) is read here
    up to the limit and then handed on whole, or refused as soon as it passes the limit, so
    the app never buffers more than `max_bytes`. Paths matching `exempt` (the upload route,
    which streams to storage under its own `HELPLINE_MAX_UPLOAD_MB` limit) pass untouched.
    The refusal closes the connection: the rest of the body is never read.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int = MIB, exempt: str | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = re.compile(exempt) if exempt else None

    async def _refuse(self, send: Send) -> None:
        limit = f"{self.max_bytes // MIB} MiB" if self.max_bytes >= MIB else f"{self.max_bytes} B"
        await send_error(
            send,
            413,
            "too_large",
            f"Request bodies can be at most {limit}.",
            connection="close",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.exempt and self.exempt.match(app_path(scope))):
            await self.app(scope, receive, send)
            return
        length: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
                break
        if length is not None:
            # The server enforces the declared framing, so the declared size is the real one.
            if not length.isdigit() or int(length) > self.max_bytes:
                await self._refuse(send)
                return
            await self.app(scope, receive, send)
            return
        # No declared length: read what comes, at most max_bytes, before the app sees any.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([], message, receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(chunks, None, receive), send)


def _replay(chunks: list[bytes], pending: Message | None, receive: Receive) -> Receive:
    """A `receive` that first gives the body read so far as one message, then the server's."""
    first: list[Message] = []
    if chunks:
        first.append({"type": "http.request", "body": b"".join(chunks), "more_body": False})
    if pending is not None:
        first.append(pending)

    async def replay() -> Message:
        if first:
            return first.pop(0)
        return await receive()

    return replay


class SecurityHeadersMiddleware:
    """Headers every HTTP answer carries, unless the route set its own.

    `Cross-Origin-Opener-Policy: same-origin` keeps a page that a signed-in person opened from
    another site (or that opens one) out of reach of the other's `window.opener`. HSTS only
    when the deployment is served over HTTPS (`hsts=True`): over plain HTTP it is ignored by
    browsers anyway, and a laptop install must stay reachable on http://localhost.
    """

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        extra = [(b"cross-origin-opener-policy", b"same-origin")]
        if hsts:
            extra.append((b"strict-transport-security", b"max-age=31536000"))
        self.extra = extra

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {k.lower() for k, _ in headers}
                headers.extend((k, v) for k, v in self.extra if k not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
