"""How an outbox row leaves the building: SMTP for e-mail, a signed HTTP POST for webhooks.

A transport returns when the far side accepted the message and raises `DeliveryError`
otherwise; `permanent=True` means retrying cannot help (the row becomes a dead letter at once).

Webhook signature (the contract): `X-Helpline-Signature: t=<unix seconds>,v1=<hex>` where
`<hex>` is HMAC-SHA256 keyed with the shared secret over the bytes `<t>.<raw body>`. Each
attempt is signed afresh, so a retry a day later still carries a current `t`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit, urlunsplit

import aiosmtplib
import httpx

from helpline import __version__
from helpline.kit.clock import now
from helpline.notify import ssrf
from helpline.notify.models import OutboxMessage

SIGNATURE_HEADER = "X-Helpline-Signature"
EVENT_ID_HEADER = "X-Helpline-Event-Id"


class DeliveryError(Exception):
    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Transport(Protocol):
    async def deliver(self, message: OutboxMessage) -> None: ...

    async def close(self) -> None: ...


# --- e-mail -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpTarget:
    hostname: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        """`smtp://[user:pass@]host[:port]` (STARTTLS when offered) or `smtps://…` (TLS)."""
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
            raise ValueError("HELPLINE_SMTP_URL must look like smtp://host:port or smtps://host")
        tls = parts.scheme == "smtps"
        return cls(
            hostname=parts.hostname,
            port=parts.port or (465 if tls else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=tls,
        )

    def describe(self) -> str:
        """For logs: never the credentials."""
        return f"{'smtps' if self.use_tls else 'smtp'}://{self.hostname}:{self.port}"


def _header(value: str) -> str:
    # Summaries and names are user text: a line break in a header would be an injection.
    return " ".join(value.split())


class SmtpTransport:
    """Payload: `{"to", "to_name", "subject", "body"}` (plain text)."""

    def __init__(self, url: str, mail_from: str, *, timeout: float = 15) -> None:
        self.target = SmtpTarget.parse(url)
        self.mail_from = mail_from
        self.timeout = timeout
        self._domain = parseaddr(mail_from)[1].rpartition("@")[2] or "helpline.invalid"

    def build(self, message: OutboxMessage) -> EmailMessage:
        p = message.payload
        try:
            to = Address(display_name=_header(p.get("to_name") or ""), addr_spec=p["to"])
        except (HeaderParseError, ValueError, IndexError) as exc:
            raise DeliveryError(f"unusable address: {exc}", permanent=True) from exc
        msg = EmailMessage()
        msg["From"] = self.mail_from
        msg["To"] = to
        msg["Subject"] = _header(p["subject"])
        msg["Date"] = formatdate(now().timestamp(), usegmt=True)
        # Stable across retries, so a mail server or client can drop a repeat.
        msg["Message-ID"] = f"<{message.event_id}@{self._domain}>"
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(p["body"], cte="quoted-printable")
        return msg

    async def deliver(self, message: OutboxMessage) -> None:
        t = self.target
        built = self.build(message)
        try:
            await aiosmtplib.send(
                built,
                hostname=t.hostname,
                port=t.port,
                username=t.username,
                password=t.password,
                use_tls=t.use_tls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            raise DeliveryError(
                f"recipient refused ({', '.join(map(str, codes))})",
                permanent=all(c >= 500 for c in codes),
            ) from exc
        except aiosmtplib.SMTPResponseException as exc:
            # 5xx is the server's final word; 4xx (and everything else) may pass.
            raise DeliveryError(
                f"SMTP {exc.code}: {exc.message}", permanent=500 <= exc.code < 600
            ) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        return None


# --- webhooks ---------------------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Helpline-Signature` value for `body` sent at `timestamp` (unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Receiver:
    """Where one webhook row goes and the secret that signs it."""

    url: str
    secret: str


# Finds the receiver of an admin-managed endpoint; None when the endpoint was deleted.
EndpointLookup = Callable[[str], Awaitable[Receiver | None]]


class WebhookTransport:
    """Payload: the event document, POSTed as JSON; any 2xx answer means delivered.

    A row with an `endpoint_id` goes to that admin-managed endpoint (looked up at delivery,
    so a changed URL or secret applies to what is still queued), any other row to the
    environment's HELPLINE_WEBHOOK_URL. Unless private addresses are allowed, the host is
    resolved and checked before every attempt and the connection made to the checked
    address (`ssrf`)."""

    def __init__(
        self,
        url: str | None,
        secret: str | None,
        *,
        endpoints: EndpointLookup | None = None,
        allow_private: bool = True,
        timeout: float = 10,
    ) -> None:
        self.url = url
        self.secret = secret
        self.endpoints = endpoints
        self.allow_private = allow_private
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None

    def describe(self) -> str:
        if not self.url:
            return "(endpoints only)"
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}"

    def _http(self) -> httpx.AsyncClient:
        # Made lazily, inside the running loop that will use it.
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)
        return self._client

    async def _receiver(self, message: OutboxMessage) -> Receiver:
        if message.endpoint_id is None:
            if not self.url or not self.secret:
                # Another process may have the setting: leave the row to retry there.
                raise DeliveryError("HELPLINE_WEBHOOK_URL is not configured in this process")
            return Receiver(self.url, self.secret)
        found = await self.endpoints(message.endpoint_id) if self.endpoints else None
        if found is None:
            raise DeliveryError("the endpoint was deleted", permanent=True)
        return found

    async def deliver(self, message: OutboxMessage) -> None:
        receiver = await self._receiver(message)
        # The environment's URL is the operator's own setting, not an admin's input: unchecked.
        allow_private = self.allow_private or message.endpoint_id is None
        try:
            target = await ssrf.check(receiver.url, allow_private=allow_private)
        except ssrf.UnsafeUrl as exc:
            # The name now points somewhere internal (or nowhere): never call it.
            raise DeliveryError(f"refused: {exc}", permanent=True) from exc
        body = encode(message.payload)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"Helpline/{__version__}",
            # The event's id: the same for every endpoint the event goes to.
            EVENT_ID_HEADER: str(message.payload.get("id") or message.event_id),
            "X-Helpline-Event": message.event_type,
            SIGNATURE_HEADER: sign(receiver.secret, int(now().timestamp()), body),
        }
        url, extensions = _pinned(target)
        if url != target.url:
            headers["Host"] = _host_header(target)
        try:
            response = await self._http().post(
                url, content=body, headers=headers, extensions=extensions
            )
        except httpx.HTTPError as exc:
            # The exception text can carry the URL (and a token in it); the type is enough.
            raise DeliveryError(type(exc).__name__) from exc
        if not 200 <= response.status_code < 300:
            snippet = " ".join(response.text[:200].split())
            raise DeliveryError(
                f"HTTP {response.status_code}" + (f": {snippet}" if snippet else "")
            )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _host_header(target: ssrf.Target) -> str:
    default = 443 if target.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host
    return host if target.port == default else f"{host}:{target.port}"


def _pinned(target: ssrf.Target) -> tuple[str, dict[str, Any]]:
    """The URL with its host replaced by the checked address, and the TLS server name to
    keep (so the certificate is still checked against the name); unchanged when there is
    no checked address."""
    if target.address is None or target.host == str(target.address):
        return target.url, {}
    parts = urlsplit(target.url)
    ip = f"[{target.address}]" if target.address.version == 6 else str(target.address)
    netloc = f"{ip}:{target.port}"
    if parts.username is not None:
        # Credentials in the URL still go along (as httpx would send them).
        auth = parts.username + (f":{parts.password}" if parts.password is not None else "")
        netloc = f"{auth}@{netloc}"
    pinned = urlunsplit(parts._replace(netloc=netloc))
    return pinned, {"sni_hostname": target.host} if target.scheme == "https" else {}
