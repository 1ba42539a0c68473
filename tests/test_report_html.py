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


# ---- judge trust: error bars, calibration, paired difference, pairwise, per-row notes ---------
OVERALL_RATING = "response/overall_assessment/rating"


def _section(page: str, start: str, end: str) -> str:
    """The text of the page between two markers (from ``start`` to the next ``end``)."""
    begin = page.index(start)
    return page[begin : page.index(end, begin + len(start))]


def _table_rows(fragment: str) -> list[list[str]]:
    """The cells of a fragment's body rows, as text."""
    out = []
    for body in re.findall(r"<tbody>(.*?)</tbody>", fragment, re.S):
        for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S):
            out.append(["".join(parse(c).text) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr)])
    return out


def _trust_document(metrics: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"schema_version": 1, "verdict": {"status": "passed"}, "metrics": metrics, **extra}


def _headings_have_content(page: str) -> None:
    """No heading is directly followed by another heading, a section's end or nothing."""
    assert not re.search(r"</h[23]>\s*(<h[23]|</div>|</section>|</main>|$)", page), page


def test_trust_calibration_table_from_metrics() -> None:
    metrics: dict[str, Any] = {
        "judge/stale_label_count": 2,
        "judge/correctness/human_label_count": 5,
        "judge/correctness/human_agreement": 0.6,
        "judge/correctness/cohen_kappa": 1 / 6,
        "judge/correctness/human_label/both_yes": 2,
        "judge/correctness/human_label/judge_yes_human_no": 1,
        "judge/correctness/human_label/judge_no_human_yes": 1,
        "judge/correctness/human_label/both_no": 1,
        "judge/correctness/human_label_unassessed_count": 0,
        "judge/guideline_adherence/tone/human_label_count": 3,
        "judge/guideline_adherence/tone/human_agreement": 1.0,
        "judge/guideline_adherence/tone/cohen_kappa": None,
        "judge/guideline_adherence/tone/human_label/both_yes": 3,
        "judge/guideline_adherence/tone/human_label/judge_yes_human_no": 0,
        "judge/guideline_adherence/tone/human_label/judge_no_human_yes": 0,
        "judge/guideline_adherence/tone/human_label/both_no": 0,
        "judge/guideline_adherence/tone/human_label_unassessed_count": 2,
        "judge/guideline_adherence/tone/human_agreement_pessimistic": 0.6,
        "judge/guideline_adherence/tone/human_agreement_optimistic": 1.0,
        "judge/guideline_adherence/tone/cohen_kappa_pessimistic": -0.25,
        "judge/guideline_adherence/tone/cohen_kappa_optimistic": None,
    }
    page = render_html(_trust_document(metrics), [])
    assert parse(page).errors == []
    _headings_have_content(page)
    section = _section(page, '<h2 id="trust">', "</div>")
    assert "Error bars" not in section  # no standard error in these metrics
    table = _section(section, '<h3 id="calibration">', "</table>")
    head = re.findall(r"<th(?:\s[^>]*)?>(.*?)</th>", table)
    assert head == [
        "judge", "labels", "agreement", "kappa", "J+H+", "J+H-", "J-H+", "J-H-",
        "bounds (unassessed rows)",
    ]  # fmt: skip
    assert 'title="the judge said yes, the person no: a false pass">J+H-</th>' in table
    assert _table_rows(table) == [
        ["correctness", "5", "60.0%", "0.17", "2", "1", "1", "1", ""],
        [
            "guideline_adherence/tone",
            "3 (+2 unassessed)",
            "100.0%",
            "—",
            "3",
            "0",
            "0",
            "0",
            "agreement 60.0%–100.0%, kappa -0.25–—",
        ],
    ]
    # the false passes stand out, and only where there are some
    assert '<td class="num false-pass">1</td>' in table and table.count("false-pass") == 1
    assert "2 stale label(s) not used: the response changed since labelling." in section
    # the terminal and summary.md read the same cells (calibration.calibration_table)
    from pytest_genai_eval.calibration import calibration_lines

    terminal = [line.split() for line in calibration_lines(metrics)]
    assert ["correctness", "5", "60.0%", "0.17", "2", "1", "1", "1"] in terminal


def test_trust_calibration_per_suite_and_from_real_labels() -> None:
    from pytest_genai_eval.label_suite import LabelsSpec, apply_labels
    from pytest_genai_eval.labels import Label

    rows = [row(rid, rating) for rid, rating in (("a", "yes"), ("b", "yes"), ("c", "no"))]
    labels = (
        Label("a", "correctness", "yes"),
        Label("b", "correctness", "no", reviewer="ana"),  # a false pass
        Label("c", "correctness", "no"),
    )
    spec = LabelsSpec(
        Path("labels.jsonl"), "verdict", labels, {(x.request_id, x.judge): x for x in labels}
    )
    for r in rows:
        apply_labels(r, spec)
    other = [row("z", "yes", suite="billing")]
    doc = document(rows + other)
    doc["suites"] = {
        "support": {"metrics": compute_metrics(rows)},
        "billing": {"metrics": compute_metrics(other)},
    }
    page = render_html(doc, rows + other)
    table = _section(page, '<h3 id="calibration">', "</table>")
    assert "<th>scope</th>" not in table  # one suite has labels: its rows are the run's
    assert _table_rows(table) == [["correctness", "3", "66.7%", "0.40", "1", "1", "0", "1"]]
    # labels in two suites: the run's rows, then each suite's
    apply_labels(
        other[0],
        LabelsSpec(
            Path("l.jsonl"),
            "compare",
            (Label("z", "safety", "no"),),
            {("z", "safety"): Label("z", "safety", "no")},
        ),
    )
    doc["suites"]["billing"]["metrics"] = compute_metrics(other)
    doc["metrics"] = compute_metrics(rows + other)
    table = _section(render_html(doc, rows + other), '<h3 id="calibration">', "</table>")
    assert "<th>scope</th>" in table
    assert [cells[:4] for cells in _table_rows(table)] == [
        ["run", "correctness", "3", "66.7%"],
        ["run", "safety", "1", "0.0%"],
        ["suite billing", "safety", "1", "0.0%"],
        ["suite support", "correctness", "3", "66.7%"],
    ]
    bars = _section(page, '<h3 id="error-bars">', "</table>")
    assert [cells[0] for cells in _table_rows(bars)] == ["run", "suite billing", "suite support"]


def test_trust_error_bars_with_clusters_power_and_no_spread() -> None:
    run = {
        f"{OVERALL_RATING}/percentage": 2 / 3,
        f"{OVERALL_RATING}/standard_error": 0.136,
        f"{OVERALL_RATING}/clt_ci_low": 0.4,
        f"{OVERALL_RATING}/clt_ci_high": 0.933,
        f"{OVERALL_RATING}/cluster_count": 3,
        f"{OVERALL_RATING}/min_detectable_drop": 0.762,
        "judge/flake_rate": 0.25,
    }
    perfect = {  # every rated row passed: the standard error is 0
        f"{OVERALL_RATING}/percentage": 1.0,
        f"{OVERALL_RATING}/standard_error": 0.0,
        f"{OVERALL_RATING}/clt_ci_low": 1.0,
        f"{OVERALL_RATING}/clt_ci_high": 1.0,
        f"{OVERALL_RATING}/ci_low": 0.721,
        f"{OVERALL_RATING}/ci_high": 1.0,
    }
    doc = _trust_document(run, suites={"a <b>": {"metrics": perfect}, "b": {"metrics": {}}})
    page = render_html(doc, [])
    assert parse(page).errors == []
    _headings_have_content(page)
    bars = _section(page, '<h3 id="error-bars">', "</p>")
    assert "<th>smallest detectable drop</th>" in bars
    assert _table_rows(bars) == [
        [
            "run",
            "overall 66.7% ± 13.6 pts (SE), 95% CI 40.0%–93.3%, clustered (3 clusters)",
            "smallest detectable drop 76.2 pts (alpha 0.05, power 0.8)",
        ],
        [
            "suite a <b>",  # escaped in the page, text to the reader
            "overall 100.0%, no spread (every rated row agrees), Wilson 95% CI 72.1%–100.0%",
            "too few rows to detect any drop (alpha 0.05, power 0.8)",
        ],
    ]  # suite b has no rated row: no line
    assert "<td>suite a &lt;b&gt;</td>" in bars
    assert "the votes disagreed on 25.0% of the voted rows" in page
    assert 'id="calibration"' not in page  # no labels, no calibration heading


def _pairwise_summary() -> Any:
    from pytest_genai_eval.compare.pairwise import PairwiseRow, PairwiseSummary

    outcomes = (("a", "win"), ("b", "loss"), ("c", "loss"), ("d", "tie"), ("e", "error"))
    return PairwiseSummary(
        rows=tuple(PairwiseRow("support", rid, {"outcome": o}) for rid, o in outcomes)
    )


def test_trust_paired_difference_and_pairwise_in_the_baseline_section() -> None:
    base, cur = runs()
    comparison = compare((document(base), base), (document(cur), cur), None, _pairwise_summary())
    page = render_html(document(cur), cur, comparison=comparison)
    assert parse(page).errors == []
    _headings_have_content(page)
    baseline = _section(page, '<h2 id="baseline">', "<h3>")
    text = " ".join("".join(parse(baseline).text).split())
    # paired a, b, c, e: scores old 1 1 0 1, new 1 0 0 1 -> mean -0.25, SE 0.5 / 2
    assert (
        "Paired difference -25.0 pts (SE 25.0 pts, 95% CI -74.0 to +24.0 pts), correlation 0.58"
        in text
    )
    assert (
        "Pairwise preference (pairwise_preference) on 5 changed row(s): 1 win(s) 1 tie(s) "
        "2 loss(es) 1 error(s); two-sided sign test p = 1; rule: pass" in text
    )
    assert '<span class="pill pass" title="pairwise preference: 1 win(s)' in baseline
    assert "Against the baseline (as recorded)" not in page  # the baseline section has it
    # the same from the recorded document alone (a report made again without the baseline)
    recorded = document(cur)
    recorded["baseline"] = comparison.to_dict()
    again = render_html(recorded, cur)
    trust = _section(again, '<h2 id="trust">', "</div>")
    assert "<h3>Against the baseline (as recorded)</h3>" in trust
    assert _section(baseline, '<p class="paired-difference">', "</p>") in trust
    assert _section(baseline, '<p class="pairwise">', "</p>") in trust


def test_trust_pairwise_rule_failed_and_not_gated() -> None:
    from pytest_genai_eval.compare import RegressionRules
    from pytest_genai_eval.compare.pairwise import PairwiseRow, PairwiseSummary

    base, cur = runs()
    losses = PairwiseSummary(
        rows=tuple(PairwiseRow("support", f"r{i}", {"outcome": "loss"}) for i in range(8))
    )
    failed = compare((document(base), base), (document(cur), cur), None, losses)
    page = render_html(document(cur), cur, comparison=failed)
    pairwise = _section(page, '<p class="pairwise">', "</p>")
    assert "8 loss(es)" in pairwise and "p = 0.007812" in pairwise
    assert re.search(r'rule: <span class="pill fail" title="[^"]*">fail</span>', pairwise)
    ungated = compare(
        (document(base), base), (document(cur), cur), RegressionRules(alpha=None), losses
    )
    page = render_html(document(cur), cur, comparison=ungated)
    assert re.search(r'rule: <span class="pill nodata" title="[^"]*">not gated</span>', page)


def test_row_notes_label_override_flake_and_stale_label() -> None:
    _, cur = runs()
    correctness, safety = cur[0].assessments[0], cur[0].assessments[1]
    # a label that is the verdict of record (label_suite.apply_labels, use: verdict)
    correctness.rating = "no"
    correctness.rationale = "Human label by ana: misses the window"
    correctness.details.update(
        {
            "human_label": {"rating": "no", "reviewer": "ana", "rationale": EVIL},
            "judge_rating": "yes",
            "judge_rationale": "looks right",
        }
    )
    safety.details.update({"flake_rate": 0.4, "pass_at_k": 0.9375, "k": 2})
    # use: compare keeps the judge's verdict; a stale label is reported, not used
    cur[4].assessments[0].details.update({"human_label": {"rating": "no"}, "judge_rating": "yes"})
    cur[4].assessments[1].details.update(
        {"stale_label": {"rating": "yes"}, "flake_rate": 0.0, "pass_hat_k": 0.5}
    )
    page = render_html(document(cur), cur)
    parsed = parse(page)
    assert parsed.errors == []

    def cell(rid: str) -> str:
        match = re.search(rf'data-request-id="{rid}">(.*?)</tr>', page, re.S)
        assert match is not None
        return " ".join(" ".join(parse(match.group(1)).text).split())

    a = cell("a")
    assert "no correctness human label: no (judge said yes)" in a
    assert "yes safety flake 0.4 pass@2 0.94 safe" in a
    assert '<span class="note disagree" title="reviewer ana; &lt;script&gt;' in page
    assert "<script>alert" not in page  # the label's rationale is escaped in the title
    e = cell("e")
    assert "human label: no (disagrees; compared only)" in e
    assert "stale human label: yes (the response changed; not used)" in e
    assert "flake 0 pass^k 0.5" in e
    assert '<span class="note">flake 0</span>' in page  # no votes disagreed: not flagged
    # rows without any of these have no notes
    assert "note" not in cell("c")


def test_no_trust_sections_without_their_data() -> None:
    rows = [row("a", "yes"), row("b", "no")]
    legacy = {  # an earlier release's metrics: no standard error, no labels
        f"{OVERALL_RATING}/percentage": 0.5,
        f"{OVERALL_RATING}/ci_low": 0.1,
        f"{OVERALL_RATING}/ci_high": 0.9,
    }
    for page in (
        render_html(_trust_document(legacy), rows),
        render_html({}, []),
        render_html(_trust_document(legacy, baseline={"paired_test": {"paired": 0}}), rows),
    ):
        assert parse(page).errors == []
        _headings_have_content(page)
        for absent in (
            'id="trust"',
            "Judge trust",
            "Error bars",
            "calibration",
            "stale label",
            "Paired difference",
            "Pairwise preference",
            "Against the baseline",
            'class="notes"',
        ):
            assert absent not in page, absent
    # a baseline without paired rows or pairwise verdicts adds no line either
    _, cur = runs()
    empty_base = [row("x", "yes")]
    comparison = compare((document(empty_base), empty_base), (document(cur), cur))
    page = render_html(document(cur), cur, comparison=comparison)
    assert "Paired difference" not in page and "Pairwise preference" not in page
    _headings_have_content(page)
