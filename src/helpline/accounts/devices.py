"""What device a session signed in from, in words ("Chrome 120 on Linux"), from its user
agent by uap-core's rules (the `ua-parser` package). Its rules compile once a process (0.1 s
on a quiet machine, about a second while it is busy): the app compiles them as it starts
(`warm`), and callers parse in a worker thread (`parts_of_all`), never on the event loop."""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import anyio
import ua_parser
from ua_parser import parse


class Device(NamedTuple):
    """A user agent's parts: `browser` ("Chrome 120"), `os` ("Linux"), `model` ("iPhone")."""

    browser: str
    os: str | None
    model: str | None

    def words(self) -> str:
        """In English, as the API's `device` gives it; pages join the parts in their language."""
        name = f"{self.browser} on {self.os}" if self.os else self.browser
        return f"{name} ({self.model})" if self.model else name


# How much of a user agent is read: as much as a session keeps of it (`AuthSession.user_agent`
# is 255 characters), so a chat's device and a session's read alike. Real agents fit; a hostile
# header does not get the whole of it matched: uap-core's regular expressions took 6.3 s on
# one of 80 KB (0.2 s on 16 KB), holding the interpreter lock, so the event loop too.
PARSED_CHARS = 255


def parts(user_agent: str | None) -> Device | None:
    """ "Firefox 121" on "Windows", "Mobile Safari 17" on "iOS" ("iPhone"); None when the agent
    says nothing recognisable (a script's `python-httpx/0.27`), so the raw string is shown.
    Only its first `PARSED_CHARS` characters are read."""
    return _parts(user_agent[:PARSED_CHARS]) if user_agent else None


@lru_cache(maxsize=1024)
def _parts(user_agent: str) -> Device | None:
    found = parse(user_agent)
    agent, system, device = found.user_agent, found.os, found.device
    if agent is None or agent.family == "Other":
        return None
    browser = f"{agent.family} {agent.major}" if agent.major else agent.family
    os = system.family if system is not None and system.family != "Other" else None
    model = None
    if device is not None and device.family not in ("Other", "Mac", "Generic Smartphone"):
        if device.family not in browser and (os is None or device.family not in os):
            model = device.family
    return Device(browser, os, model)


async def parts_of_all(user_agents: list[str | None]) -> list[Device | None]:
    return await anyio.to_thread.run_sync(lambda: [parts(ua) for ua in user_agents])


async def parts_of(user_agent: str | None) -> Device | None:
    """One user agent's parts, parsed in a worker thread (`parts_of_all`)."""
    return (await parts_of_all([user_agent]))[0]


async def warm() -> None:
    """Compile the rules now, in a worker thread, so that the first chat start or sessions
    list after a restart does not wait for them (`ua_parser.parser` builds them on first
    access)."""
    await anyio.to_thread.run_sync(lambda: ua_parser.parser)
