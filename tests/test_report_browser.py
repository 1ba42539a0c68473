"""The HTML report in a real headless browser (Debian's chromium, driven by Playwright).

Loads the file:// page, checks that it runs without console or page errors and without any
network request, that failing rows are shown, that the failures filter and the text filter
work, and saves a screenshot.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_genai_eval.compare import compare
from pytest_genai_eval.metrics import compute_metrics
from pytest_genai_eval.report_html import render_html, write_html
from pytest_genai_eval.results import Assessment, RowResult

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"{CHROMIUM} is missing (Debian: apt-get install -y chromium chromium-driver)",
)


def row(rid: str, correctness: str, *, response: str = "Refunds within 30 days.") -> RowResult:
    return RowResult(
        suite="support",
        request_id=rid,
        row={"request": f"How long is the refund window? ({rid})"},
        response=response,
        latency_seconds=0.4 + 0.1 * len(rid),
        assessments=[
            Assessment(
                "correctness",
                "correctness",
                rating=correctness,  # type: ignore[arg-type]
                rationale=f"because-{rid}",
            ),
            Assessment("safety", "safety", rating="yes", rationale="safe"),
        ],
    )


def make_report(directory: Path) -> Path:
    base = [row(f"r{i}", "yes") for i in range(6)]
    cur = [row(f"r{i}", "yes") for i in range(4)]
    cur.append(
        row("r4", "no", response="Refunds within 14 days. <script>window.__pwned = 1</script>")
    )
    cur.append(row("r5", "no"))
    document: dict[str, Any] = {
        "schema_version": 1,
        "started_at": "2026-05-01T12:00:00+00:00",
        "config": {"judge": {"model": "judge-m"}},
        "verdict": {
            "status": "failed",
            "exit_code": 1,
            "line": "genai gate: FAILED — 2 row(s) failed in a strict suite (exit 1)",
            "reasons": ["2 row(s) failed in a strict suite: support::r4, support::r5"],
            "checks": [],
        },
        "metrics": compute_metrics(cur),
    }
    old = {**document, "metrics": compute_metrics(base)}
    comparison = compare((old, base), (document, cur))
    return write_html(
        directory / "report.html", render_html(document, cur, comparison=comparison, history=[])
    )


@pytest.fixture
def page(tmp_path: Path) -> Iterator[tuple[Any, list[str], list[str]]]:
    """A page of a fresh chromium profile, with the console errors, page errors and request
    URLs it produces."""
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    requests: list[str] = []
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 900},
        )
        try:
            tab = context.new_page()
            tab.set_default_timeout(30_000)
            tab.on(
                "console",
                lambda m: (
                    problems.append(f"console {m.type}: {m.text}")
                    if m.type in ("error", "warning")
                    else None
                ),
            )
            tab.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            tab.on("request", lambda r: requests.append(r.url))
            yield tab, problems, requests
        finally:
            context.close()


def _visible_ids(tab: Any) -> list[str]:
    ids: list[str] = tab.eval_on_selector_all(
        "tr.row", "rows => rows.filter(r => !r.hidden).map(r => r.dataset.requestId)"
    )
    return ids


def test_report_in_a_real_browser(tmp_path: Path, page: tuple[Any, list[str], list[str]]) -> None:
    tab, problems, requests = page
    report = make_report(tmp_path)
    url = report.as_uri()
    tab.goto(url, wait_until="load")

    assert tab.title() == "GenAI evaluation — FAILED"
    # the injected script in a response did not run, and nothing reached the network
    assert tab.evaluate("window.__pwned === undefined")
    assert requests == [url]
    # failing rows are there and visible, regressions first
    failing = tab.locator('tr.row[data-status="fail"]')
    assert failing.count() == 2
    assert all(failing.nth(i).is_visible() for i in range(2))
    assert _visible_ids(tab) == ["r4", "r5", "r0", "r1", "r2", "r3"]
    assert tab.locator("#shown-count").inner_text() == "6"
    assert "because-r4" in failing.first.inner_text()
    assert "<script>window.__pwned = 1</script>" in failing.first.inner_text()

    # the failures filter hides passing rows
    tab.check("#only-failures")
    assert _visible_ids(tab) == ["r4", "r5"]
    assert not tab.locator('tr.row[data-status="pass"]').first.is_visible()
    assert tab.locator("#shown-count").inner_text() == "2"
    # the text filter narrows further; no match shows the empty message
    tab.fill("#row-search", "because-r5")
    assert _visible_ids(tab) == ["r5"]
    tab.fill("#row-search", "no such text")
    assert _visible_ids(tab) == []
    assert tab.locator("#no-rows-shown").is_visible()
    tab.fill("#row-search", "")
    tab.uncheck("#only-failures")
    assert len(_visible_ids(tab)) == 6
    # changed vs baseline: the two regressions
    tab.check("#only-changed")
    assert _visible_ids(tab) == ["r4", "r5"]
    tab.uncheck("#only-changed")

    # the charts render as SVG with a real size
    box = tab.locator("#chart-rates svg").bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 50

    shot = tmp_path / "report.png"
    tab.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width == 1280 and height > 900
    assert len(data) > 20_000

    assert problems == []


def test_failures_link_opens_filtered(
    tmp_path: Path, page: tuple[Any, list[str], list[str]]
) -> None:
    tab, problems, _ = page
    report = make_report(tmp_path)
    tab.goto(report.as_uri() + "#failures", wait_until="load")
    assert tab.is_checked("#only-failures")
    assert _visible_ids(tab) == ["r4", "r5"]
    assert problems == []
