"""Browser journeys: a real `helpline serve` on a free loopback port, Debian's Chromium driven
by Playwright, one browser context per person (customer, agents).

Every page opened through `open_page` fails the test on a browser console error or an uncaught
page error, unless the test allows that exact message (e.g. the connection errors logged while
the server is deliberately down). Screenshots go to test-output/screenshots/.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

playwright_sync = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import (  # noqa: E402
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
PASSWORD = "helpline-demo"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

expect.set_options(timeout=10_000)


@pytest.fixture
@pytest.fixture(scope="session")
@pytest.fixture(scope="session")
@pytest.fixture
@pytest.fixture