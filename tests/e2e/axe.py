"""axe-core scans for the browser tests (axe-playwright-python bundles axe-core, so nothing is
fetched at test time). Every rule axe runs by default counts, whatever its impact: WCAG 2.x
A/AA and the best practices (one `main`, a level-one heading, content in landmarks, ...).

`Scanner.scan(page, label)` records the result of one page, view or open dialog; `Scanner.check()`
fails listing every violation of every scan, so one run shows all that is wrong. Each scan's
count is also kept per test module (the running test's) and process: the scanner writes them
to test-output/axe/<module>.<xdist worker>.txt (removed once the report has them), and `write_report()` (the end of the run, in the
process that prints the summary) joins those files into test-output/axe-results.txt, so the
lead can report the numbers per page whether the run had one process or several.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import DEFAULT_OPTIONS, Axe
from playwright.sync_api import Frame, Page

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "test-output" / "axe-results.txt"
PER_MODULE = ROOT / "test-output" / "axe"

_AXE = Axe()
# This process's counts per test module: {module: [(label, count), ...]}.
RESULTS: dict[str, list[tuple[str, int]]] = {}


def violations(page: Page | Frame, context: str | None = None) -> list[str]:
    """One line per failing element: rule, impact, selector and axe's summary of the fix."""
    # Transitions finish before axe measures contrast (a half-faded colour is not the page's).
    page.evaluate(
        "document.getAnimations().forEach(a => {"
        " if (a.effect && a.effect.getComputedTiming().endTime !== Infinity) a.finish(); })"
    )
    # axe-core (570 KB) goes into a document once: a single-page view scanned again (another
    # view, a dialog, the dark theme) reuses it instead of sending and compiling it anew,
    # which `Axe.run` does on every call.
    if not page.evaluate("() => typeof window.axe === 'object' && 'run' in window.axe"):
        page.evaluate(_AXE.axe_script)
    args = _AXE._format_script_args(context=context, options=DEFAULT_OPTIONS)
    result: dict[str, Any] = page.evaluate(f"axe.run({args}).then(results => results)")
    lines: list[str] = []
    for v in result["violations"]:
        for node in v["nodes"]:
            summary = " ".join(str(node.get("failureSummary", "")).split())
            lines.append(f"{v['id']} ({v['impact']}) {node['target']}: {summary[:300]}")
    return lines


@dataclass
class Scanner:
    """Scans pages one after the other; `check()` fails with everything found."""

    module: str = ""  # the test module's name; by default the running test's
    found: dict[str, list[str]] = field(default_factory=dict)

    def scan(self, page: Page | Frame, label: str) -> None:
        lines = violations(page)
        self.found[label] = lines
        module = self.module or current_module()
        RESULTS.setdefault(module, []).append((label, len(lines)))
        save_module(module)

    def scan_both_themes(self, page: Page, label: str, frame: Frame | None = None) -> None:
        """The light theme, then the dark one (prefers-color-scheme), then back to light.
        `frame`: scan that frame of the page (the widget's panel on its host page)."""
        target = frame or page
        page.emulate_media(color_scheme="light")
        self.scan(target, f"{label} [light]")
        page.emulate_media(color_scheme="dark")
        self.scan(target, f"{label} [dark]")
        page.emulate_media(color_scheme="light")

    def check(self) -> None:
        bad = {label: lines for label, lines in self.found.items() if lines}
        report = "\n".join(
            f"- {label}:\n    " + "\n    ".join(lines) for label, lines in bad.items()
        )
        assert not bad, f"axe-core violations on {len(bad)} of {len(self.found)} scans:\n{report}"


def current_module() -> str:
    """The running test's module, e.g. `test_accessibility` (pytest names the test in the
    environment while it runs)."""
    test = os.environ.get("PYTEST_CURRENT_TEST", "scans")
    return Path(test.split("::", 1)[0]).stem or "scans"


def save_module(module: str) -> None:
    """Write this process's counts of `module` to test-output/axe/<module>.<worker>.txt."""
    PER_MODULE.mkdir(parents=True, exist_ok=True)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    lines = [f"{count:3d}  {label}" for label, count in RESULTS.get(module, [])]
    (PER_MODULE / f"{module}.{worker}.txt").write_text("".join(f"{line}\n" for line in lines))


def write_report() -> list[str]:
    """The per-scan counts of this run as lines, per module (from every worker's file), also
    written to test-output/axe-results.txt."""
    lines: list[str] = []
    files = sorted(PER_MODULE.glob("*.txt")) if PER_MODULE.is_dir() else []
    for path in files:
        rows = path.read_text().splitlines()
        path.unlink()  # read once: the next run starts clean
        if rows:
            lines.append(f"# {path.stem}")
            lines.extend(rows)
    if lines:
        scans = sum(1 for line in lines if not line.startswith("#"))
        bad = sum(1 for line in lines if not line.startswith("#") and int(line.split()[0]))
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        REPORT.write_text(
            f"axe-core violations per scan ({scans} scans, {bad} with violations)\n"
            + "\n".join(lines)
            + "\n"
        )
    return lines
