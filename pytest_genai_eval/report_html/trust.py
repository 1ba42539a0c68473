"""How far to trust the run's numbers, in the page: the error bars and power of the overall rate
(of the run and of each suite), each judge's calibration against human labels, the paired
difference and the pairwise preference against the baseline, and the per-row notes of a
judge's cell (human label, stale label, flake rate, pass@k / pass^k).

Every number comes from the document's metrics (or the comparison's records) and every text
from the functions the terminal summary and ``summary.md`` use (:mod:`..trust_report`,
:mod:`..calibration`), so the three renderings say the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from ..calibration import CALIBRATION_HEADER, calibration_rows, calibration_table
from ..compare import Comparison
from ..document import RunDocument
from ..pass_at_k import ESTIMATE_KEYS
from ..trust_report import error_bar_text, paired_difference_text
from ..vocabulary import FLAKE_RATE, STALE_LABELS, fmt_pct, number
from .formatting import e

__all__ = (
    "against_baseline_html",
    "assessment_notes_html",
    "calibration_html",
    "comparison_baseline_html",
    "error_bars_html",
    "trust_section",
)

# What the 2x2 columns of CALIBRATION_HEADER mean (shown as the header cells' titles).
_COLUMN_TITLES: Mapping[str, str] = MappingProxyType(
    {
        "J+H+": "the judge said yes, the person yes",
        "J+H-": "the judge said yes, the person no: a false pass",
        "J-H+": "the judge said no, the person yes: a false fail",
        "J-H-": "the judge said no, the person no",
    }
)
_FALSE_PASS = CALIBRATION_HEADER.index("J+H-")


Scopes = Sequence[tuple[str, Mapping[str, Any]]]


def _scopes(
    metrics: Mapping[str, Any], document: RunDocument
) -> list[tuple[str, Mapping[str, Any]]]:
    """The run, then each suite when there are several (one suite's numbers are the run's)."""
    suites = [(f"suite {name}", entry.metrics) for name, entry in sorted(document.suites.items())]
    return [("run", metrics), *(suites if len(suites) > 1 else [])]


# ---- error bars ---------------------------------------------------------------------------------
def error_bars_html(scopes: Scopes) -> str:
    """A table of ``error_bar_text`` per scope (the interval, then the power); empty when no
    scope has a rated row."""
    body = []
    for scope, metrics in scopes:
        text = error_bar_text(metrics)
        if text is None:
            continue
        bars, _, power = text.partition("; ")  # "<rate ± SE, CI, clusters>; <power>"
        body.append(f"<tr><td>{e(scope)}</td><td>{e(bars)}</td><td>{e(power)}</td></tr>")
    if not body:
        return ""
    flake = number(scopes[0][1].get(FLAKE_RATE)) if scopes else None
    note = (
        f'<p class="muted">Repeated judging: the votes disagreed on {e(fmt_pct(flake))} of the '
        "voted rows (judge flake rate).</p>"
        if flake is not None
        else ""
    )
    return (
        '<h3 id="error-bars">Error bars and power</h3>'
        "<table><thead><tr><th>scope</th><th>overall rate ± standard error, 95% interval</th>"
        "<th>smallest detectable drop</th></tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table>"
        + note
    )


# ---- calibration --------------------------------------------------------------------------------
def _kappa(value: Any) -> str:
    n = number(value)
    return "—" if n is None else f"{n:.2f}"


def _label_bounds(metrics: Mapping[str, Any], judge: str) -> str:
    """``agreement 40.0%–80.0%, kappa -0.20–0.60``: the values if every unassessed verdict had
    disagreed / agreed with its label."""
    base = f"judge/{judge}"
    agreement = (
        f"agreement {fmt_pct(metrics.get(f'{base}/human_agreement_pessimistic'))}–"
        f"{fmt_pct(metrics.get(f'{base}/human_agreement_optimistic'))}"
    )
    kappa = (
        f"kappa {_kappa(metrics.get(f'{base}/cohen_kappa_pessimistic'))}–"
        f"{_kappa(metrics.get(f'{base}/cohen_kappa_optimistic'))}"
    )
    return f"{agreement}, {kappa}"


def calibration_html(scopes: Scopes) -> str:
    """Each judge's agreement with the labels: ``calibration_table`` (the terminal's and
    ``summary.md``'s cells) per scope, the bounds when labelled rows were unassessed, and the
    stale labels of the run; empty without labels."""
    entries = []  # (scope, cells, bounds)
    labelled = [(scope, m) for scope, m in scopes[1:] if calibration_rows(m)]
    # the suites' own rows when labels are in several (one suite's rows are the run's)
    for scope, metrics in [*scopes[:1], *(labelled if len(labelled) > 1 else [])]:
        rows = calibration_rows(metrics)
        for row, cells in zip(rows, calibration_table(metrics), strict=True):
            bounds = _label_bounds(metrics, row["judge"]) if row["unassessed"] else ""
            entries.append((scope, cells, bounds))
    stale = int(number(scopes[0][1].get(STALE_LABELS)) or 0) if scopes else 0
    if not entries and not stale:
        return ""
    show_scope = len({scope for scope, _, _ in entries}) > 1
    show_bounds = any(bounds for _, _, bounds in entries)
    head = "<th>scope</th>" if show_scope else ""
    for index, name in enumerate(CALIBRATION_HEADER):
        css = "" if index == 0 else ' class="num"'
        title = f' title="{e(_COLUMN_TITLES[name])}"' if name in _COLUMN_TITLES else ""
        head += f"<th{css}{title}>{e(name)}</th>"
    if show_bounds:
        head += "<th>bounds (unassessed rows)</th>"
    body = []
    for scope, cells, bounds in entries:
        tds = f"<td>{e(scope)}</td>" if show_scope else ""
        for index, cell in enumerate(cells):
            css = "" if index == 0 else "num"
            if index == _FALSE_PASS and cell != "0":
                css += " false-pass"
            tds += f'<td class="{css}">{e(cell)}</td>' if css else f"<td>{e(cell)}</td>"
        if show_bounds:
            tds += f'<td class="muted">{e(bounds)}</td>'
        body.append(f"<tr>{tds}</tr>")
    table = (
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        '<p class="muted">J: the judge, H: the person who labelled the row; J+H- (the judge '
        "said yes, the person no) is a false pass.</p>"
        if body
        else ""
    )
    stale_html = (
        f'<p class="stale-labels">{stale} stale label(s) not used: the response changed since '
        "labelling.</p>"
        if stale
        else ""
    )
    return '<h3 id="calibration">Judge calibration against human labels</h3>' + table + stale_html


# ---- against the baseline -----------------------------------------------------------------------
def _pairwise_html(pairwise: Mapping[str, Any], check: Mapping[str, Any] | None) -> str:
    counts = {k: int(number(pairwise.get(k)) or 0) for k in ("wins", "ties", "losses", "errors")}
    rows = pairwise.get("rows")
    changed = len(rows) if isinstance(rows, list) else sum(counts.values())
    p = number(pairwise.get("sign_test_p"))
    status = str(check.get("status")) if check is not None else "not gated"
    detail = str(check.get("detail") or "") if check is not None else ""
    if status == "no data" and detail.endswith("(not gated)"):  # the baseline alpha is 0
        status = "not gated"
    css = {"pass": "pass", "fail": "fail"}.get(status, "nodata")
    return (
        '<p class="pairwise">Pairwise preference (<code>pairwise_preference</code>) on '
        f"{changed} changed row(s): "
        f'<span class="pill pass">{counts["wins"]} win(s)</span> '
        f'<span class="pill nodata">{counts["ties"]} tie(s)</span> '
        f'<span class="pill fail">{counts["losses"]} loss(es)</span> '
        f'<span class="pill error">{counts["errors"]} error(s)</span>; '
        f"two-sided sign test p = {e('—' if p is None else f'{p:.4g}')}; rule: "
        f'<span class="pill {css}" title="{e(detail)}">{e(status)}</span></p>'
    )


def against_baseline_html(
    paired: Mapping[str, Any] | None,
    pairwise: Mapping[str, Any] | None,
    checks: Sequence[Mapping[str, Any]] = (),
) -> str:
    """The paired difference line (``paired_difference_text``) and the pairwise-preference
    counts with its rule's status (the ``pairwise`` entry of ``checks``); empty without them."""
    out = ""
    text = paired_difference_text(paired) if paired is not None else None
    if text is not None:
        out += f'<p class="paired-difference">{e(text[:1].upper() + text[1:])}</p>'
    if pairwise is not None:
        check = next((c for c in checks if c.get("rule") == "pairwise"), None)
        out += _pairwise_html(pairwise, check)
    return out


def _recorded_baseline(document: RunDocument) -> str:
    """The document's own ``baseline`` record (a report made again without the baseline)."""
    recorded = document.baseline
    if not isinstance(recorded, Mapping):
        return ""
    paired, pairwise = recorded.get("paired_test"), recorded.get("pairwise")
    checks = recorded.get("checks")
    html = against_baseline_html(
        paired if isinstance(paired, Mapping) else None,
        pairwise if isinstance(pairwise, Mapping) else None,
        [c for c in checks if isinstance(c, Mapping)] if isinstance(checks, list) else (),
    )
    return f"<h3>Against the baseline (as recorded)</h3>{html}" if html else ""


def comparison_baseline_html(comparison: Comparison) -> str:
    """:func:`against_baseline_html` of a comparison (for the baseline section)."""
    return against_baseline_html(
        comparison.paired.to_dict(),
        comparison.pairwise,
        [c.to_dict() for c in comparison.checks],
    )


def trust_section(
    document: RunDocument, metrics: Mapping[str, Any], comparison: Comparison | None
) -> str:
    """The "Judge trust" section; empty (no heading) when there is nothing to show. Against a
    given baseline the paired difference and pairwise preference are in the baseline section;
    without one, what the document recorded is shown here."""
    scopes = _scopes(metrics, document)
    parts = error_bars_html(scopes) + calibration_html(scopes)
    if comparison is None:
        parts += _recorded_baseline(document)
    return f'<h2 id="trust">Judge trust</h2><div class="trust">{parts}</div>' if parts else ""


# ---- per row ------------------------------------------------------------------------------------
def _short(value: float) -> str:
    return f"{value:.2g}"


def _label_note(details: Mapping[str, Any], rating: str | None) -> tuple[str, str, str] | None:
    """(text, css, title) of a current or stale human label."""
    stale = details.get("stale_label")
    if isinstance(stale, Mapping):
        text = f"stale human label: {stale.get('rating')} (the response changed; not used)"
        return text, "stale", ""
    label = details.get("human_label")
    if not isinstance(label, Mapping):
        return None
    human = str(label.get("rating"))
    reviewer, why = label.get("reviewer"), label.get("rationale")
    title = "; ".join(str(v) for v in (f"reviewer {reviewer}" if reviewer else "", why) if v)
    judge = details.get("judge_rating")
    if any(k in details for k in ("judge_rationale", "judge_error", "judge_skipped")):
        # the label is the verdict of record; the judge's own verdict is kept in the details
        if judge in ("yes", "no"):
            said = f"judge said {judge}"
        else:
            said = "judge errored" if details.get("judge_error") else "judge did not rate"
        return f"human label: {human} ({said})", "disagree" if judge != human else "", title
    agrees = rating == human
    text = f"human label: {human} ({'agrees' if agrees else 'disagrees'}; compared only)"
    return text, "" if agrees else "disagree", title


def assessment_notes_html(details: Mapping[str, Any], rating: str | None) -> str:
    """Compact notes for an assessment's judge cell: its human (or stale) label, the flake rate
    of its votes and its pass@k / pass^k estimate; empty when it has none."""
    notes: list[tuple[str, str, str]] = []
    label = _label_note(details, rating)
    if label is not None:
        notes.append(label)
    flake = number(details.get("flake_rate"))
    if flake is not None:
        notes.append((f"flake {_short(flake)}", "flaky" if flake > 0 else "", ""))
    k = details.get("k")
    for key in ESTIMATE_KEYS:
        estimate = number(details.get(key))
        if estimate is None:
            continue
        sign = "pass@" if key == "pass_at_k" else "pass^"
        draw = str(k) if isinstance(k, int) and not isinstance(k, bool) else "k"
        notes.append((f"{sign}{draw} {_short(estimate)}", "", ""))
    return "".join(
        f'<span class="note{" " + css if css else ""}"'
        + (f' title="{e(title)}"' if title else "")
        + f">{e(text)}</span>"
        for text, css, title in notes
    )
