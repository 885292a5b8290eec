"""The SSRF guard on its own, and at delivery time: an endpoint whose host points somewhere
internal by the time an event goes out (DNS rebinding) is never called."""

from __future__ import annotations

import ipaddress

import httpx
import pytest
from fastapi import FastAPI

from helpline.kit.clock import FrozenClock
from helpline.notify import ssrf
from helpline.notify.models import WebhookEndpoint
from helpline.notify.outbox import Outbox
from helpline.notify.transports import _host_header, _pinned
from tests.fixtures.factories import ctx_of, make_queue, make_user, start_chat
from tests.notify.support import WebhookReceiver, outbox_rows


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("10.0.0.1", True),
        ("172.31.255.255", True),
        ("192.168.0.1", True),
        ("169.254.169.254", True),
        ("100.64.0.1", True),
        ("0.0.0.0", True),
        ("224.0.0.251", True),
        ("255.255.255.255", True),
        ("::1", True),
        ("::", True),
        ("fe80::1", True),
        ("fc00::1", True),
        ("ff02::1", True),
        ("::ffff:10.0.0.1", True),
        ("93.184.216.34", False),
        ("8.8.8.8", False),
        ("2606:4700:4700::1111", False),
    ],
)
def test_forbidden_addresses(address: str, refused: bool) -> None:
    assert ssrf.forbidden(ipaddress.ip_address(address)) is refused


@pytest.mark.asyncio
async def test_check_resolves_names_and_the_switch_lifts_the_address_rule() -> None:
    with pytest.raises(ssrf.UnsafeUrl, match="127.0.0.1|::1"):
        await ssrf.check("http://localhost:8080/x", allow_private=False)
    allowed = await ssrf.check("http://localhost:8080/x", allow_private=True)
    assert allowed.address is None and allowed.port == 8080
    with pytest.raises(ssrf.UnsafeUrl, match="http"):
        await ssrf.check("ftp://localhost/x", allow_private=True)  # the scheme rule stays
    public = await ssrf.check("https://93.184.216.34/x", allow_private=False)
    assert public.address == ipaddress.ip_address("93.184.216.34") and public.port == 443


def test_a_delivery_connects_to_the_checked_address_and_keeps_the_name() -> None:
    target = ssrf.Target(
        "https://hooks.example.com:8443/in?x=1",
        "https",
        "hooks.example.com",
        8443,
        ipaddress.ip_address("93.184.216.34"),
    )
    url, extensions = _pinned(target)
    assert url == "https://93.184.216.34:8443/in?x=1"
    assert extensions == {"sni_hostname": "hooks.example.com"}  # TLS checks the name
    assert _host_header(target) == "hooks.example.com:8443"
    v6 = ssrf.Target(
        "http://hooks.example.com/in",
        "http",
        "hooks.example.com",
        80,
        ipaddress.ip_address("2606:4700::1"),
    )
    assert _pinned(v6) == ("http://[2606:4700::1]:80/in", {})
    assert _host_header(v6) == "hooks.example.com"
    unpinned = ssrf.Target("http://10.0.0.1/x", "http", "10.0.0.1", 80, None)
    assert _pinned(unpinned) == ("http://10.0.0.1/x", {})


@pytest.mark.asyncio
async def test_an_endpoint_that_now_points_to_loopback_is_refused_at_delivery(
    app: FastAPI,
    client: httpx.AsyncClient,
    outbox: Outbox,
    frozen_clock: FrozenClock,
    webhook_receiver: WebhookReceiver,
) -> None:
    # Saved while its name pointed elsewhere (the API would refuse loopback): written directly.
    async with ctx_of(app).db.write() as uow:
        uow.session.add(
            WebhookEndpoint(
                url=webhook_receiver.url.replace("127.0.0.1", "localhost"),
                secret="s" * 32,
                events=["chat.started"],
                active=True,
            )
        )
    q = await make_queue(app, "Support")
    await start_chat(client, await make_user(app, "customer"), q)

    assert await outbox.drain() == 1
    (row,) = await outbox_rows(app, "webhook")
    assert row.status == "failed" and row.attempts == 1  # never retried: it would not change
    assert row.last_error is not None and row.last_error.startswith("refused: ")
    assert webhook_receiver.requests == []  # nothing reached the internal address
