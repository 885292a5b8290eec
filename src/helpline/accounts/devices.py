"""What device a session signed in from, in words ("Chrome 120 on Linux"), from its user
agent by uap-core's rules (the `ua-parser` package). Its rules compile on first use (about a
second): callers parse in a worker thread (`describe_all`), never on the event loop."""

from __future__ import annotations

from functools import lru_cache

import anyio
from ua_parser import parse


@lru_cache(maxsize=1024)
def describe(user_agent: str | None) -> str | None:
    """ "Firefox 121 on Windows", "Mobile Safari 17 on iOS (iPhone)"; None when the agent says
    nothing recognisable (a script's `python-httpx/0.27`), so the raw string is shown."""
    if not user_agent:
        return None
    found = parse(user_agent)
    agent, system, device = found.user_agent, found.os, found.device
    if agent is None or agent.family == "Other":
        return None
    name = f"{agent.family} {agent.major}" if agent.major else agent.family
    if system is not None and system.family != "Other":
        name += f" on {system.family}"
    if device is not None and device.family not in ("Other", "Mac", "Generic Smartphone"):
        if device.family not in name:
            name += f" ({device.family})"
    return name


async def describe_all(user_agents: list[str | None]) -> list[str | None]:
    return await anyio.to_thread.run_sync(lambda: [describe(ua) for ua in user_agents])
