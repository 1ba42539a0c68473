"""The HTML report's structure: self-contained, escaped, every section present."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar

from pytest_genai_eval.compare import compare
from pytest_genai_eval.history import HistoryStore
from pytest_genai_eval.metrics import compute_metrics
from pytest_genai_eval.report_html import render_html, word_diff, write_html
from pytest_genai_eval.results import Assessment, RowResult

EVIL = "<script>alert('pwned')</script><img src=x onerror=alert(1)>"


def row(
    rid: str,
    correctness: str | None,
    *,
    response: str = "The refund window is 30 days.",
    latency: float | None = 1.0,
    suite: str = "support",
) -> RowResult:
    correctness_assessment = (
        Assessment("correctness", "correctness", error="HTTP 503 after 4 retries")
        if correctness is None
        else Assessment(
            "correctness",
            "correctness",
            rating=correctness,  # type: ignore[arg-type]
            rationale=f"rationale-{rid}-{correctness}",
        )
    )
    return RowResult(
        suite=suite,
        request_id=rid,
        row={"request": f"How long is the refund window? ({rid})", "expected_facts": ["30 days"]},
        response=response,
        latency_seconds=latency,
        retrieved_context=[{"content": "Refunds: 30 days.", "doc_uri": "kb://refunds"}],
        assessments=[
            correctness_assessment,
            Assessment("safety", "safety", rating="yes", rationale="safe"),
            Assessment("groundedness", "groundedness", skipped="not applicable: no context"),
        ],
    )


def document(rows: list[RowResult], started: str = "2026-05-01T12:00:00+00:00") -> dict[str, Any]:
    return {
        "schema_version": 1,
        "started_at": started,
        "duration_seconds": 3.5,
        "config": {"judge": {"model": "judge-m"}},
        "verdict": {
            "status": "failed",
            "exit_code": 1,
            "line": "genai gate: FAILED — 2 row(s) failed in a strict suite (exit 1)",
            "reasons": ["2 row(s) failed in a strict suite: support::b, support::c"],
            "notes": [],
            "checks": [
                {
                    "scope": "run",
                    "threshold": "correctness >= 0.8",
                    "metric": "response/llm_judged/correctness/rating/percentage",
                    "actual": 0.5,
                    "status": "fail",
                    "origin": "--genai-threshold",
                }
            ],
        },
        "metrics": compute_metrics(rows),
        "suites": {"support": {"config": {"prompt_versions": {"correctness": "v1"}}}},
    }


def runs() -> tuple[list[RowResult], list[RowResult]]:
    base = [row("a", "yes"), row("b", "yes"), row("c", "no"), row("d", "yes"), row("e", "yes")]
    cur = [
        row("a", "yes", latency=0.5),
        row("b", "no", response="The refund window is 14 days. " + EVIL, latency=2.5),
        row("c", "no", latency=1.5),
        row("d", None, latency=1.0),
        row("e", "yes", latency=0.8),
    ]
    return base, cur


class _Collector(HTMLParser):
    """Tags, attributes and the text of the page; checks that elements nest properly."""

    VOID: ClassVar[frozenset[str]] = frozenset(
        {"meta", "img", "br", "input", "col", "hr", "link", "path", "line", "rect", "circle"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> _Collector:
    collector = _Collector()
    collector.feed(page)
    collector.close()
    return collector


def test_page_is_self_contained(tmp_path: Path) -> None:
    base, cur = runs()
    comparison = compare((document(base), base), (document(cur), cur))
    page = render_html(document(cur), cur, comparison=comparison, history=[])
    assert page.startswith("<!DOCTYPE html>")
    parsed = parse(page)
    assert parsed.errors == [] and parsed.stack == []
    # nothing is fetched: no external src/href, no stylesheet links, no CSS imports or url()
    for tag, attrs in parsed.tags:
        for name in ("src", "href", "srcset", "action", "data", "poster"):
            value = attrs.get(name)
            assert value is None or not re.match(r"\s*(https?:)?//", value), (tag, name, value)
        assert tag not in ("link", "iframe", "object", "embed", "img", "base"), tag
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", page)
    assert "@import" not in page and "url(" not in page and "@font-face" not in page
    # the page forbids every network fetch itself
    csp = [a["content"] for t, a in parsed.tags if t == "meta" and a.get("http-equiv")]
    assert csp and (csp[0] or "").startswith("default-src 'none';")
    # the only http:// text is the SVG namespace
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) == {"http://www.w3.org/2000/svg"}
    # exactly one script: ours
    assert page.count("<script") == 1


def test_untrusted_text_is_escaped() -> None:
    _, cur = runs()
    cur[2].assessments[0].rationale = "bad </td></tr></table><b onmouseover=x>judge</b>"
    cur[2].row["request"] = '"><svg onload=alert(1)>'
    cur[0].suite = "<i>suite</i>"
    page = render_html(document(cur), cur, comparison=None, history=[])
    assert "<script>alert" not in page and "<img" not in page and "<svg onload" not in page
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "bad &lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;&lt;b onmouseover=x&gt;judge&lt;/b&gt;" in page
    assert "&quot;&gt;&lt;svg onload=alert(1)&gt;" in page
    assert "<i>suite" not in page and 'data-suite="&lt;i&gt;suite&lt;/i&gt;"' in page
    parsed = parse(page)
    assert parsed.errors == []
    text = "".join(parsed.text)
    assert EVIL in text  # shown to the reader as text


def test_rows_statuses_judges_and_context() -> None:
    base, cur = runs()
    comparison = compare((document(base), base), (document(cur), cur))
    page = render_html(document(cur), cur, comparison=comparison, history=[])
    parsed = parse(page)
    rows = [a for t, a in parsed.tags if t == "tr" and "row" in (a.get("class") or "").split()]
    statuses = {a["data-request-id"]: a["data-status"] for a in rows}
    assert statuses == {"a": "pass", "b": "fail", "c": "fail", "d": "error", "e": "pass"}
    changes = {a["data-request-id"]: a["data-change"] for a in rows}
    assert changes == {"a": "", "b": "regression", "c": "", "d": "changed", "e": ""}
    # regressions first, then failures, errors, passes
    assert [a["data-request-id"] for a in rows] == ["b", "c", "d", "a", "e"]
    text = " ".join(" ".join(parsed.text).split())
    assert "rationale-b-no" in text and "rationale-c-no" in text
    assert "HTTP 503 after 4 retries" in text
    assert "correctness (baseline: yes)" in text
    assert "kb://refunds" in text and "Refunds: 30 days." in text
    assert "expected facts" in text and "not applicable: groundedness" in text
    # the filter controls and their counts
    ids = {a.get("id") for _t, a in parsed.tags}
    assert {"only-failures", "only-changed", "row-search", "shown-count"} <= ids
    assert "failing rows only (3)" in text
    assert "changed vs baseline only (2)" in text
    # the response diff against the baseline
    assert "<del>30</del><ins>14</ins>" in page


def test_verdict_thresholds_and_baseline_sections() -> None:
    base, cur = runs()
    comparison = compare((document(base), base), (document(cur), cur))
    page = render_html(document(cur), cur, comparison=comparison, history=[])
    text = " ".join(" ".join(parse(page).text).split())
    assert text.index("genai gate: FAILED") < text.index("Thresholds") < text.index("Rows (5)")
    assert "correctness >= 0.8" in text and "--genai-threshold" in text
    assert "Baseline comparison" in text
    assert f"PASSED {comparison.verdict.summary}" in text
    assert comparison.verdict.summary == "1 regression(s), 0 fix(es) on 4 paired row(s)"
    assert "b (pass → fail) = 1, c (fail → pass) = 0" in text
    assert "judge model judge-m" in text


def test_charts() -> None:
    base, cur = runs()
    comparison = compare((document(base), base), (document(cur), cur))
    page = render_html(document(cur), cur, comparison=comparison, history=[])
    charts = re.findall(r'<figure id="chart-(\w+)">(.*?)</figure>', page, re.S)
    assert [name for name, _ in charts] == ["rates", "latency", "trend"]
    rates, latency, trend = (body for _, body in charts)
    # one bar group per rate: overall, correctness, safety; CI and baseline marks
    assert rates.count("<g><title>") == 3
    assert "correctness: 50.0% (95% CI 15.0%–85.0%), n=4" in rates
    assert "baseline 80.0%" in rates  # correctness was 4/5
    assert "threshold 80.0%" in rates  # the run-level correctness threshold
    # latency: 5 values, ceil(sqrt(5)) = 3 bins from 0.5s to 2.5s
    bars = re.findall(r"<title>(\d+\.\d+)s–(\d+\.\d+)s: (\d+) row\(s\)</title>", latency)
    assert bars == [("0.50", "1.17", "3"), ("1.17", "1.83", "1"), ("1.83", "2.50", "1")]
    assert "p50 1.00s" in latency and "p90 2.10s" in latency
    # no history yet: the trend says so
    assert "Not enough history" in trend


def test_trend_from_history(tmp_path: Path) -> None:
    _, cur = runs()
    store = HistoryStore(tmp_path / "h.sqlite")
    for day, rate in ((1, 0.6), (2, 0.8)):
        d = document(cur, started=f"2026-04-0{day}T09:00:00+00:00")
        d["metrics"] = {"response/overall_assessment/rating/percentage": rate}
        store.append(d, git={"commit": f"{day:040d}", "branch": "main", "dirty": False})
    page = render_html(document(cur), cur, comparison=None, history=store.runs())
    trend = re.search(r'<figure id="chart-trend">(.*?)</figure>', page, re.S)
    assert trend is not None
    tips = re.findall(r"<circle [^>]*><title>([^<]*)</title>", trend.group(1))
    assert tips == [
        "2026-04-01 09:00 · 00000000 (main): 60.0% · failed",
        "2026-04-02 09:00 · 00000000 (main): 80.0% · failed",
        "this run (2026-05-01 12:00): 50.0%",
    ]
    assert "3 run(s)" in trend.group(1)
    # a history that already holds this run does not draw it twice
    store.append(document(cur), git=None)
    again = render_html(document(cur), cur, comparison=None, history=store.runs())
    assert again.count("this run (") == 0
    assert "3 run(s)" in again


def test_no_latency_and_no_rows() -> None:
    rows = [row("a", "yes", latency=None)]
    page = render_html({}, rows)
    assert "No latency recorded" in page
    assert 'id="only-changed"' not in page  # no baseline, no such filter
    empty = render_html({}, [])
    assert "Rows (0)" in empty and "No rated rows." in empty
    assert parse(empty).errors == []


def test_word_diff() -> None:
    assert word_diff("a b c", "a x c") == "a <del>b</del><ins>x</ins> c"
    assert word_diff("same", "same") == "same"
    assert word_diff(None, "new <b>") == "<ins>new &lt;b&gt;</ins>"
    assert word_diff("gone & done", "") == "<del>gone &amp; done</del>"
    assert word_diff("one two", "one two three") == "one two<ins> three</ins>"


def test_write_html_is_atomic(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "report.html"
    assert write_html(target, "<p>x</p>") == target
    write_html(target, "<p>y</p>")
    assert target.read_text() == "<p>y</p>"
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]


def test_large_runs_list_every_failing_row_and_cap_passing_ones() -> None:
    from pytest_genai_eval import report_html
    from pytest_genai_eval.results import Assessment, RowResult

    rows = []
    for i in range(report_html.MAX_ROWS_SHOWN + 500):
        rating = "no" if i % 1000 == 7 else "yes"
        rows.append(
            RowResult(
                suite="s",
                request_id=f"r{i:05d}",
                row={"request": f"q{i}"},
                response=f"a{i}",
                assessments=[Assessment(name="correctness", judge="correctness", rating=rating)],
            )
        )
    page = report_html.render_html({"verdict": {"status": "failed"}}, rows)
    assert "r00007" in page and "r02007" in page  # failing rows are always listed
    assert "500 passing, unchanged row(s) are not listed" in page
    assert f'showing <b id="shown-count">{report_html.MAX_ROWS_SHOWN}</b> of 2500' in page
