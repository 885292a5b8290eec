from tests.notify.support import (  # noqa: F401 - fixtures
    frozen_clock,
    outbox,
    smtp_server,
    webhook_receiver,
    world,
)
