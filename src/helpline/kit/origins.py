"""Whether a request's `Origin` is one of Helpline's own pages: the configured public URL's
origin, or the one the request was addressed to. Checked where a browser sends credentials
on its own (the session cookie on a WebSocket handshake, the widget's partitioned cookie), so
another site cannot make use of them."""

from __future__ import annotations

from urllib.parse import urlsplit


def is_own_origin(origin: str | None, *, public_url: str, scheme: str, host: str | None) -> bool:
    """`scheme` is the request's (http/https, or ws/wss for a handshake), `host` its Host
    header. Behind a TLS-terminating proxy the public URL is what the browser saw."""
    if not origin:
        return False
    public = urlsplit(public_url)
    allowed = {f"{public.scheme}://{public.netloc}"}
    if host:
        allowed.add(f"{'https' if scheme in ('wss', 'https') else 'http'}://{host}")
    return origin.rstrip("/") in allowed
