"""Helpers for the browser journeys: the server process, watched pages, page actions."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    expect,
)

from tests.fixtures import forkserver
from tests.notify.support import SmtpServer

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class HelplineServer:
    """`helpline serve` as a process of its own; restartable on the same port and data dir."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.proc: forkserver.ForkedProcess | subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "server.log"
        self.env = {
            **os.environ,
            "HELPLINE_DATA_DIR": str(data_dir),
            "HELPLINE_HOST": "127.0.0.1",
            "HELPLINE_PORT": str(port),
            "HELPLINE_PUBLIC_URL": self.url,
            "HELPLINE_RATE_LIMITS": "off",
            "HELPLINE_PASSWORD_FAST_HASH": "true",
            "HELPLINE_LOG_JSON": "false",
        }
        for key in ("HELPLINE_DATABASE_URL", "HELPLINE_REDIS_URL"):
            self.env.pop(key, None)

    def cli(self, *args: str) -> str:
        """`helpline ARGS` (a process forked from the fork server: tests/fixtures/forkserver.py)."""
        code, stdout, stderr = forkserver.run(list(args), self.env, timeout=60)
        if code != 0:
            raise RuntimeError(f"helpline {' '.join(args)} failed:\n{stdout}\n{stderr}")
        return stdout

    def setup(self) -> None:
        self.cli("migrate")
        self.cli("demo")

    def copy_data(self, seeded: Path) -> None:
        """Instead of `setup()`: start from a copy of a data directory `setup()` made (the
        database and its files), as `helpline migrate` and `helpline demo` would leave it for
        this server, without two more processes. The secret key stays this server's own, and
        the shared settings `migrate` recorded with the seeding server's values (its port,
        its key) are cleared, so this server records its own at start-up (deployment.py)."""
        self.data_dir.mkdir(exist_ok=True)
        self.data_dir.chmod(0o700)  # as `helpline migrate` leaves it
        for path in seeded.iterdir():
            if path.name in ("secret_key", "server.log") or path.name.endswith("-lock"):
                continue
            if path.is_dir():
                shutil.copytree(path, self.data_dir / path.name)
            else:
                shutil.copy2(path, self.data_dir / path.name)
        with contextlib.closing(sqlite3.connect(self.data_dir / "helpline.db")) as db, db:
            db.execute("DELETE FROM deployment_settings")

    def start(self, timeout: float = 60) -> None:
        self.proc = forkserver.spawn(["serve"], self.env, stdout=self.log_path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as res:
                    if res.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop(kill=True)  # not left running after the test
        raise RuntimeError(f"server did not start in {timeout}s:\n{self.log()}")

    def stop(self, *, kill: bool = False) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-6000:]
        except OSError:
            return ""


@dataclass
class Watched:
    """A page plus the console errors and page errors it produced."""

    page: Page
    name: str
    errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]


class Browsers:
    """Opens one context per person; checks their consoles at the end of the test."""

    def __init__(self, browser: Browser, server: HelplineServer, test_name: str) -> None:
        self.browser = browser
        self.server = server
        self.test_name = test_name
        self.contexts: list[BrowserContext] = []
        self.watched: list[Watched] = []

    def open_page(
        self, name: str, *, viewport: dict[str, int] | None = None, **ctx_args: Any
    ) -> Watched:
        context = self.browser.new_context(
            base_url=self.server.url,
            viewport=viewport or {"width": 1280, "height": 800},
            accept_downloads=True,
            **ctx_args,
        )
        context.set_default_timeout(15_000)
        self.contexts.append(context)
        return self.watch(context.new_page(), name)

    def watch(self, page: Page, name: str) -> Watched:
        """Record a page's console errors and page errors (checked at the end of the test)."""
        watched = Watched(page, name)

        def on_console(msg: ConsoleMessage) -> None:
            if msg.type == "error":
                watched.errors.append(f"console: {msg.text} @ {msg.location.get('url', '')}")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: watched.errors.append(f"pageerror: {exc}"))
        self.watched.append(watched)
        return watched

    def close(self) -> None:
        for context in self.contexts:
            context.close()

    def check_consoles(self) -> None:
        problems = [f"[{w.name}] {e}" for w in self.watched for e in w.unexpected()]
        assert not problems, "browser console errors:\n" + "\n".join(problems)


# ---------------------------------------------------------------- page actions


def sign_in(page: Page, path: str, email: str, password: str = PASSWORD) -> None:
    page.goto(path)
    page.get_by_test_id("login-email").fill(email)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()


def agent_sign_in(w: Watched, email: str, password: str = PASSWORD) -> Page:
    page = w.page
    sign_in(page, "/console", email, password)
    expect(page.get_by_test_id("availability")).to_be_visible()
    expect(page.locator('[data-role="conn-label"]')).to_have_text("Live")
    return page


def guest_sign_in(w: Watched, name: str, email: str) -> Page:
    page = w.page
    page.goto("/")
    page.get_by_test_id("guest-name").fill(name)
    page.get_by_test_id("guest-email").fill(email)
    page.get_by_test_id("guest-submit").click()
    # The topic picker, not the start button: a closed first topic shows its notice instead.
    expect(page.get_by_test_id("start-queue")).to_be_visible()
    return page


def start_chat(page: Page, queue: str, message: str) -> str:
    page.get_by_test_id("start-queue").select_option(label=queue)
    page.get_by_test_id("start-message").fill(message)
    page.get_by_test_id("start-chat").click()
    expect(page.get_by_test_id("chat-status")).to_have_text("Waiting")
    expect(page.get_by_test_id("queue-position")).to_contain_text("You are number")
    chat_id = page.evaluate("sessionStorage.getItem('helpline.portal.chat')")
    assert chat_id
    return str(chat_id)


def send(page: Page, text: str) -> None:
    box = page.get_by_test_id("message-input")
    box.fill(text)
    box.press("Enter")


def message(page: Page, text: str) -> Any:
    return page.get_by_test_id("message").filter(has_text=text)


def chat_row(page: Page, chat_id: str) -> Any:
    return page.locator(f'[data-testid="chat-row"][data-chat-id="{chat_id}"]')


# ---------------------------------------------------------------- API set-up (bearer tokens)


def api_call(
    server: HelplineServer,
    method: str,
    path: str,
    body: Any = None,
    token: str | None = None,
) -> Any:
    """Call the HTTP API directly (test set-up, not what the browser does)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{server.url}/api/v1{path}", data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as res:
        raw = res.read()
    return json.loads(raw) if raw else None


def token_for(server: HelplineServer, email: str, password: str = PASSWORD) -> str:
    return str(
        api_call(server, "POST", "/auth/login", {"email": email, "password": password})["token"]
    )


def queue_id(server: HelplineServer, name: str) -> str:
    items = api_call(server, "GET", "/queues")["items"]
    return str(next(q["id"] for q in items if q["name"] == name))


def queue_as_admin(server: HelplineServer, name: str) -> dict[str, Any]:
    """The queue `name` as admins read it (inactive ones too)."""
    token = token_for(server, "admin@example.com")
    items = api_call(server, "GET", "/queues?include_inactive=true", token=token)["items"]
    return dict(next(q for q in items if q["name"] == name))


def patch_queue(server: HelplineServer, name: str, **changes: Any) -> None:
    token = token_for(server, "admin@example.com")
    api_call(server, "PATCH", f"/queues/{queue_id(server, name)}", changes, token)


def wait_for_mail(smtp: SmtpServer, to: str, subject_part: str, timeout: float = 20) -> str:
    """The plain-text body of the first mail to `to` whose subject has `subject_part`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for msg in smtp.to(to):
            if subject_part in str(msg["Subject"]):
                body = msg.get_body(preferencelist=("plain",))
                return str(body.get_content()) if body is not None else ""
        time.sleep(0.2)
    subjects = [str(m["Subject"]) for m in smtp.messages]
    raise AssertionError(f"no mail to {to} with {subject_part!r}; got {subjects}")
