"""The run as one self-contained HTML file.

:func:`render_html` builds a single page with inline CSS, inline SVG charts and a few lines of
vanilla JavaScript; it loads nothing from anywhere (a Content-Security-Policy of
``default-src 'none'`` enforces it), so it can be archived as a CI artifact and opened offline.

Sections: the verdict with its reasons and threshold checks; judge trust (the error bars and
power of the overall rate, each judge's calibration against human labels), when the metrics
have them; the baseline gate when a :class:`~pytest_genai_eval.compare.Comparison` is given (with
the paired difference and the pairwise preference); per-judge pass rates with Wilson
intervals (SVG); the latency distribution (SVG histogram); the overall pass rate over the run
history (SVG line); and the per-row table (request, response, retrieved context, each judge's
rating and rationale, its human label, flake rate and pass@k, the change against the baseline
with a word diff of the response), filterable to failing rows and by text.

Everything taken from a run is untrusted (responses, requests, rationales, even suite and judge
names) and goes through :func:`html.escape`; nothing from a run is placed in a script.

Modules, one job each: :mod:`.page` (the page skeleton, :func:`render_html`, :func:`write_html`;
the stylesheet and the script are package data in ``assets/``, inlined into the page),
:mod:`.summary` (the verdict header, summary cards and threshold checks), :mod:`.trust` (error
bars, calibration, the paired difference and pairwise preference, per-row trust notes),
:mod:`.baseline` (the baseline comparison section), :mod:`.charts` (the SVG charts), :mod:`.rows`
(the per-row table), :mod:`.diff` (the word diff) and :mod:`.formatting` (escaping and value
formatting).
"""

from __future__ import annotations

from .diff import word_diff
from .page import REPORT_NAME, render_html, write_html
from .rows import MAX_ROWS_SHOWN as MAX_ROWS_SHOWN

__all__ = ("REPORT_NAME", "render_html", "word_diff", "write_html")
