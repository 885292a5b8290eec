"""Browser journeys: a real `helpline serve` on a free loopback port, Debian's Chromium driven
by Playwright, one browser context per person (customer, agents).

Every page opened through `people.open_page` fails the test on a browser console error or an
uncaught page error, unless the test allows that exact message (e.g. the connection errors
logged while the server is deliberately down). Screenshots go to test-output/screenshots/.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.e2e.axe import write_report
from tests.e2e.support import (
    CHROMIUM_ARGS,
    SCREENSHOTS,
    Browsers,
    HelplineServer,
    free_port,
)
from tests.fixtures.servers import unavailable
from tests.notify.support import SmtpServer


@pytest.fixture
def server_env() -> dict[str, str]:
    """Settings a test module gives its server (e.g. HELPLINE_SMTP_URL from `smtp`)."""
    return {}


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real aiosmtpd on loopback; modules that send mail put its URL in `server_env`."""
    srv = SmtpServer()
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def seeded_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory after `helpline migrate` and `helpline demo`, made once per worker
    (two processes, ~2.5 s of CPU); each test's server starts from a copy of it, a fresh
    database of its own (docs/testing.md). Seeded with the base environment: `server_env`
    reaches the server, not the seeding."""
    data = tmp_path_factory.mktemp("seeded") / "data"
    data.mkdir()
    HelplineServer(data, free_port()).setup()
    return data


@pytest.fixture
def server(
    tmp_path: Path, server_env: dict[str, str], seeded_data: Path
) -> Iterator[HelplineServer]:
    srv = HelplineServer(tmp_path / "data", free_port())
    srv.env.update(server_env)
    srv.data_dir.mkdir()
    srv.copy_data(seeded_data)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


# Module scope, not session: Playwright's sync API keeps an event loop running in this thread
# while it is open, and the async tests that run after the browser modules need that thread.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        # Skips locally; fails under CI=true, where every part must run.
        unavailable("Chromium is not installed (apt-get install chromium)")
    browser = playwright.chromium.launch(
        executable_path=executable, headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture
def people(
    browser: Browser, server: HelplineServer, request: pytest.FixtureRequest
) -> Iterator[Browsers]:
    b = Browsers(browser, server, request.node.name)
    try:
        yield b
        b.check_consoles()
    finally:
        b.close()


@pytest.fixture
def shot() -> Callable[[Page, str], None]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Page, name: str) -> None:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)

    return take


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The axe-core count of every scan of the run (see tests/e2e/axe.py)."""
    lines = write_report()
    if lines:
        terminalreporter.section("axe-core violations per page, view and dialog")
        for line in lines:
            terminalreporter.write_line(line)
