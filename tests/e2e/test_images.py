"""Images and easier files in real browsers: paste from the clipboard and drop onto the
conversation (the same confirm-and-progress flow as the paperclip), the server's thumbnail in
the other side's conversation, and a click that opens it full size; in the console, the
portal and the widget (which has no cookies)."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Frame, Locator, Page, expect

from tests.chats.test_images import _picture, jpeg_with_gps
from tests.e2e.support import (
    Browsers,
    HelplineServer,
    agent_sign_in,
    chat_row,
    guest_sign_in,
    start_chat,
)
from tests.e2e.test_widget import Shop, frame_state, open_and_start, widget_frame
from tests.e2e.test_widget import server as server
from tests.e2e.test_widget import shop as shop

pytestmark = pytest.mark.e2e

Shot = Callable[[Page, str], None]

# A File put on a DataTransfer, as the browser builds one for a paste or a drop from the desktop.
_FILE = """([b64, name, type]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const dt = new DataTransfer();
  dt.items.add(new File([bytes], name, { type }));
  return dt;
}"""

PASTE = f"""(args) => {{
  const dt = ({_FILE})(args);
  const box = document.querySelector('[data-testid="message-input"]');
  box.focus();
  const ev = new ClipboardEvent("paste", {{ clipboardData: dt, bubbles: true, cancelable: true }});
  box.dispatchEvent(ev);
  return ev.defaultPrevented;
}}"""

# Drags over the conversation, reports whether it showed it takes files, then drops.
DROP = f"""([list, ...args]) => {{
  const dt = ({_FILE})(args);
  const target = document.querySelector(list);
  const fire = (type) => target.dispatchEvent(
    new DragEvent(type, {{ dataTransfer: dt, bubbles: true, cancelable: true }}));
  fire("dragenter");
  fire("dragover");
  const shown = Boolean(target.closest(".drop-target--active"));
  fire("drop");
  return {{ shown, after: Boolean(document.querySelector(".drop-target--active")) }};
}}"""

# The same with several files at once: [list selector, [[b64, name, type], ...]].
DROP_MANY = """([list, files]) => {
  const dt = new DataTransfer();
  for (const [b64, name, type] of files) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    dt.items.add(new File([bytes], name, { type }));
  }
  const target = document.querySelector(list);
  const fire = (type) => target.dispatchEvent(
    new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
  fire("dragenter");
  fire("dragover");
  const shown = Boolean(target.closest(".drop-target--active"));
  fire("drop");
  return { shown, after: Boolean(document.querySelector(".drop-target--active")) };
}"""


def png_bytes() -> bytes:
    import io

    out = io.BytesIO()
    _picture((1200, 800)).save(out, "PNG")
    return out.getvalue()


def _args(data: bytes, name: str, ctype: str) -> list[str]:
    return [base64.b64encode(data).decode(), name, ctype]


def confirm_upload(where: Page | Any, name: str) -> None:
    """The paperclip's own dialog: name first, then progress to the end."""
    expect(where.get_by_test_id("upload-file-name")).to_have_text(name)
    where.get_by_test_id("confirm-upload").click()
    expect(where.get_by_test_id("upload-progress")).to_have_attribute("value", "100")


def natural_size(img: Locator) -> list[int]:
    """The image's own size once it has loaded (decode() waits for it)."""
    size: list[int] = img.evaluate(
        "(i) => i.decode().then(() => [i.naturalWidth, i.naturalHeight])"
    )
    return size


def accepted(people: Browsers) -> tuple[Page, Page, str]:
    ana = agent_sign_in(people.open_page("ana"), "agent1@example.com")
    customer = guest_sign_in(people.open_page("customer"), "Pia Paste", "pia@example.org")
    chat_id = start_chat(customer, "General support", "My screen shows an error")
    chat_row(ana, chat_id).click()
    ana.get_by_test_id("accept-chat").click()
    expect(customer.get_by_test_id("chat-status")).to_have_text("In Progress")
    return ana, customer, chat_id


def test_paste_an_image_in_the_portal_the_agent_sees_a_thumbnail_that_opens_full_size(
    people: Browsers, shot: Shot
) -> None:
    ana, customer, _ = accepted(people)
    pasted = customer.evaluate(PASTE, _args(png_bytes(), "image.png", "image/png"))
    assert pasted  # taken as a file, not as text
    shot(customer, "portal-paste-confirm")
    confirm_upload(customer, "image.png")

    thumb = ana.get_by_test_id("file-thumbnail")
    expect(thumb).to_have_count(1)
    expect(thumb).to_have_attribute("src", re.compile(r"/thumbnail$"))
    assert natural_size(thumb) == [480, 320]  # made on the server, not the full image
    expect(ana.get_by_test_id("message").filter(has=thumb)).to_contain_text("sent an image")
    # The customer's own copy shows too.
    assert natural_size(customer.get_by_test_id("file-thumbnail")) == [480, 320]
    shot(ana, "console-image-thumbnail")

    with ana.context.expect_page() as opened:
        ana.get_by_test_id("open-image").click()
    full = opened.value
    full.wait_for_load_state()
    assert full.url.endswith("?inline=true")
    assert full.evaluate(
        "() => [document.images[0].naturalWidth, document.images[0].naturalHeight]"
    ) == [1200, 800]
    full.close()


def test_drop_an_image_onto_the_console_conversation(people: Browsers, shot: Shot) -> None:
    ana, customer, _ = accepted(people)
    result = ana.evaluate(
        DROP,
        [
            ".chat-window [data-testid='message-list']",
            *_args(jpeg_with_gps(), "photo.jpg", "image/jpeg"),
        ],
    )
    assert result == {"shown": True, "after": False}
    confirm_upload(ana, "photo.jpg")
    thumb = customer.get_by_test_id("file-thumbnail")
    expect(thumb).to_have_count(1)
    assert natural_size(thumb) == [480, 270]
    expect(customer.get_by_test_id("file-link")).to_have_text("photo.jpg")
    toasts = customer.get_by_test_id("file-notification")
    expect(toasts.filter(has_text="photo.jpg")).to_contain_text("Ana Agent sent you an image")
    shot(customer, "portal-image-thumbnail")
    # The portal opens it full size in a new tab (with its cookie), upright, without GPS.
    with customer.context.expect_page() as opened:
        customer.get_by_test_id("open-image").click()
    full = opened.value
    full.wait_for_load_state()
    assert full.url.endswith("?inline=true")
    assert full.evaluate(
        "() => [document.images[0].naturalWidth, document.images[0].naturalHeight]"
    ) == [1600, 900]
    full.close()

    # A file that is not an image stays a link with name and size; text pastes as text.
    ana.evaluate(
        DROP,
        [
            ".chat-window [data-testid='message-list']",
            *_args(b"plain notes\n" * 50, "notes.txt", "text/plain"),
        ],
    )
    confirm_upload(ana, "notes.txt")
    expect(customer.get_by_test_id("file-link").filter(has_text="notes.txt")).to_have_count(1)
    expect(customer.get_by_test_id("file-thumbnail")).to_have_count(1)
    expect(toasts.filter(has_text="notes.txt")).to_contain_text("Ana Agent sent you a file")


def test_a_cancelled_drop_sends_nothing(people: Browsers) -> None:
    """Two files dropped in the portal: one dialog lists both; cancelling sends neither."""
    ana, customer, _ = accepted(people)
    customer.evaluate(
        DROP_MANY,
        [
            "[data-testid='message-list']",
            [
                _args(png_bytes(), "shot.png", "image/png"),
                _args(b"log\n" * 10, "app.log", "text/plain"),
            ],
        ],
    )
    expect(customer.get_by_test_id("upload-file-name")).to_have_text(["shot.png", "app.log"])
    expect(customer.locator("#upload-title")).to_have_text("Send these 2 files?")
    customer.keyboard.press("Escape")
    expect(customer.locator("#upload-dialog")).not_to_be_visible()
    customer.get_by_test_id("message-input").fill("no file after all")
    customer.get_by_test_id("message-input").press("Enter")
    expect(ana.get_by_test_id("message").filter(has_text="no file after all")).to_have_count(1)
    expect(ana.get_by_test_id("file-link")).to_have_count(0)


def test_widget_paste_and_thumbnails_without_cookies(
    people: Browsers,
    server: HelplineServer,
    shop: Shop,
    shot: Shot,
) -> None:
    shop.embed(server.url, "Technical")
    ana = agent_sign_in(people.open_page("ana"), "agent1@example.com")
    visitor = people.open_page("visitor").page
    visitor.goto(f"http://localhost:{shop.port}/")
    panel = open_and_start(visitor, "Wanda Widget", "wanda@example.org", "See my screenshot")
    chat_id = frame_state(visitor)["chat"]
    chat_row(ana, chat_id).click()
    ana.get_by_test_id("accept-chat").click()
    expect(panel.get_by_test_id("chat-status")).to_have_text("In Progress")

    frame: Frame = widget_frame(visitor)
    assert frame.evaluate(PASTE, _args(png_bytes(), "image.png", "image/png"))
    confirm_upload(panel, "image.png")
    expect(ana.get_by_test_id("file-thumbnail")).to_have_count(1)
    assert natural_size(ana.get_by_test_id("file-thumbnail")) == [480, 320]

    # The agent pastes one back in the console (the console's drop: the test above); the
    # panel fetches the thumbnail with its token (a blob URL).
    assert ana.evaluate(PASTE, _args(jpeg_with_gps(), "answer.jpg", "image/jpeg"))
    confirm_upload(ana, "answer.jpg")
    thumbs = panel.get_by_test_id("file-thumbnail")
    expect(thumbs).to_have_count(2)
    expect(thumbs.nth(1)).to_have_attribute("src", re.compile(r"^blob:"))
    assert natural_size(thumbs.nth(1)) == [480, 270]
    thumbs.nth(1).click()
    full = panel.get_by_test_id("full-image")
    expect(full).to_be_visible()
    assert natural_size(full) == [1600, 900]
    shot(visitor, "widget-image-full")
    panel.get_by_test_id("close-image").click()
    expect(panel.get_by_test_id("image-dialog")).to_have_count(0)
