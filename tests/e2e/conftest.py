"""Browser journeys: a real `helpline serve` on a free loopback port, Debian's Chromium driven
by Playwright, one browser context per person (customer, agents).

Every page opened through `people.open_page` fails the test on a browser console error or an
uncaught page error, unless the test allows that exact message (e.g. the connection errors
logged while the server is deliberately down). Screenshots go to test-output/screenshots/.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Generator, Iterator
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


class _SharedChromium:
    """One Playwright driver and one Chromium for the browser modules a worker runs one after
    the other (the long groups go first, so that is all of its browser modules), instead of a
    new driver and browser per module: each test still gets contexts of its own (cookies,
    storage, permissions, downloads), as the tests of one module always had. Playwright's sync
    API keeps an event loop running in this thread while it is open, and the async tests that
    run after the browser modules need that thread: so the browser and the driver are closed
    as soon as the worker's next test is not a browser test (`pytest_runtest_teardown`), not at
    the end of the session. A driver and a browser per module cost ~1.3 s of set-up and
    teardown per module, 36 modules a pass (docs/testing.md, "Sixth round")."""

    def __init__(self) -> None:
        self.playwright: Playwright | None = None
        self.browser: Browser | None = None

    def get_playwright(self) -> Playwright:
        if self.playwright is None:
            self.playwright = sync_playwright().start()
        return self.playwright

    def get_browser(self) -> Browser:
        if self.browser is None or not self.browser.is_connected():
            executable = shutil.which("chromium") or shutil.which("chromium-browser")
            if executable is None:
                # Skips locally; fails under CI=true, where every part must run.
                unavailable("Chromium is not installed (apt-get install chromium)")
            self.browser = self.get_playwright().chromium.launch(
                executable_path=executable, headless=True, args=CHROMIUM_ARGS
            )
        return self.browser

    def close(self) -> None:
        browser, pw = self.browser, self.playwright
        self.browser = self.playwright = None
        try:
            if browser is not None:
                browser.close()
        finally:
            if pw is not None:
                pw.stop()


_SHARED = _SharedChromium()


def _is_browser_test(item: pytest.Item | None) -> bool:
    return item is not None and Path(str(item.path)).parent == Path(__file__).parent


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, None, None]:
    """After the last browser test before a test of another kind (or the end), once its
    fixtures are torn down (even if one of them failed): close the browser and the driver."""
    try:
        return (yield)
    finally:
        if not _is_browser_test(nextitem):
            _SHARED.close()


@pytest.fixture(scope="module")
def playwright() -> Playwright:
    return _SHARED.get_playwright()


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Browser:
    return _SHARED.get_browser()


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
