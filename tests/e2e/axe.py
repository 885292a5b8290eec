"""axe-core scans for the browser tests (axe-playwright-python bundles axe-core, so nothing is
fetched at test time). Every rule axe runs by default counts, whatever its impact: WCAG 2.x
A/AA and the best practices (one `main`, a level-one heading, content in landmarks, ...).

`Scanner.scan(page, label)` records the result of one page, view or open dialog; `Scanner.check()`
fails listing every violation of every scan, so one run shows all that is wrong. Each scan's
count is also kept in `RESULTS` (printed at the end of the run and written to
test-output/axe-results.txt) so the lead can report the numbers per page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "test-output" / "axe-results.txt"

_AXE = Axe()
RESULTS: list[tuple[str, int]] = []


def violations(page: Page, context: str | None = None) -> list[str]:
    """One line per failing element: rule, impact, selector and axe's summary of the fix."""
    # Transitions finish before axe measures contrast (a half-faded colour is not the page's).
    page.evaluate(
        "document.getAnimations().forEach(a => {"
        " if (a.effect && a.effect.getComputedTiming().endTime !== Infinity) a.finish(); })"
    )
    result: dict[str, Any] = _AXE.run(page, context=context).response
    lines: list[str] = []
    for v in result["violations"]:
        for node in v["nodes"]:
            summary = " ".join(str(node.get("failureSummary", "")).split())
            lines.append(f"{v['id']} ({v['impact']}) {node['target']}: {summary[:300]}")
    return lines


@dataclass
class Scanner:
    """Scans pages one after the other; `check()` fails with everything found."""

    found: dict[str, list[str]] = field(default_factory=dict)

    def scan(self, page: Page, label: str) -> None:
        lines = violations(page)
        self.found[label] = lines
        RESULTS.append((label, len(lines)))

    def scan_both_themes(self, page: Page, label: str) -> None:
        """The light theme, then the dark one (prefers-color-scheme), then back to light."""
        page.emulate_media(color_scheme="light")
        self.scan(page, f"{label} [light]")
        page.emulate_media(color_scheme="dark")
        self.scan(page, f"{label} [dark]")
        page.emulate_media(color_scheme="light")

    def check(self) -> None:
        bad = {label: lines for label, lines in self.found.items() if lines}
        report = "\n".join(
            f"- {label}:\n    " + "\n    ".join(lines) for label, lines in bad.items()
        )
        assert not bad, f"axe-core violations on {len(bad)} of {len(self.found)} scans:\n{report}"


def write_report() -> list[str]:
    """The per-scan counts as lines (also written to test-output/axe-results.txt)."""
    lines = [f"{count:3d}  {label}" for label, count in RESULTS]
    if lines:
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        REPORT.write_text("axe-core violations per scan\n" + "\n".join(lines) + "\n")
    return lines
