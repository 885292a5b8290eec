"""Whether a request's `Origin` is one of Helpline's own pages: the configured public URL's
origin, or the one the request was addressed to. Checked where a browser sends credentials
on its own (the session cookie on a WebSocket handshake, the widget's partitioned cookie), so
another site cannot make use of them."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# A web site's origin as browsers send it: scheme, host, optional port. Nothing else may go into
# the widget panel's `frame-ancestors` header.
ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")


def parse_origins(raw: str) -> list[str]:
    """The well-formed origins of a comma-separated list (`HELPLINE_WIDGET_ORIGINS`)."""
    origins = (o.strip().rstrip("/").lower() for o in raw.split(","))
    return [o for o in origins if ORIGIN.fullmatch(o)]


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
