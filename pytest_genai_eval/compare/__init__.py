"""Comparing a run with a baseline run, and the baseline regression gate.

A *baseline* is an earlier ``evaluation_results.json`` (see :mod:`pytest_genai_eval.artifacts`).
:func:`compare` matches rows by ``(suite, request_id)`` and reports, per row, what changed
(regression, fix, new, removed, unchanged, other status change; response text changed; the judges
that flipped and their new rationale), per metric the old and new values with Wilson intervals for
rates, and a verdict from :class:`RegressionRules`.

The gate (rules OR-ed; each documented in ``docs/reports.md``):

* **paired test** - the exact one-sided McNemar test on the rows present in both runs with a
  pass/fail status in both (``b`` = pass -> fail, ``c`` = fail -> pass) fails the comparison when
  ``p < alpha`` (default 0.05);
* **metric drops** - each metric in ``max_drop`` (default: the overall pass rate, margin 0.05 =
  5 percentage points) fails the comparison when it got worse by more than its margin. For pass
  rates the drop must also be beyond noise (``drop_test="wilson"``, the default): the current
  rate's 95% Wilson interval must lie entirely below ``baseline - margin``. Other metrics
  (latency, tokens) compare the two values as they are, in the metric's own direction;
* **regression count** - more than ``max_regressions`` rows going pass -> fail (default: off).

A baseline from another configuration (a different set of suites, judge model, judge set or
prompt version) is *incompatible*: it is still compared and reported, but the verdict does not
gate (status ``"incompatible"``) unless ``allow_incompatible=True``.

Modules, one job each:

* :mod:`.rules` - :class:`RegressionRules`, their defaults and the option parsing shared by the
  CLI and the pytest options (:func:`parse_max_drop`, :func:`rules_from_options`,
  :func:`resolve_metric`);
* :mod:`.model` - the result records (:class:`RowChange`, :class:`MetricDelta`,
  :class:`Comparison`...);
* :mod:`.changes` - row matching, judge flips and the paired test;
* :mod:`.deltas` - the runs' metrics and their deltas with Wilson intervals;
* :mod:`.checks` - the gate rules on the observed values;
* :mod:`.bounds` - the rules decided on the bounds when rows are unassessed in this run;
* :mod:`.compatibility` - whether the two runs come from the same configuration;
* :mod:`.comparison` - :func:`compare`, putting it all together;
* :mod:`.baseline` - :func:`load_baseline`, :func:`write_baseline`, :class:`BaselineError`.
"""

from __future__ import annotations

from ..vocabulary import OVERALL, metric_label
from .baseline import BaselineError, load_baseline, write_baseline
from .comparison import compare
from .compatibility import compatibility
from .model import (
    ChangeKind,
    Comparison,
    ComparisonVerdict,
    JudgeFlip,
    MetricDelta,
    PairedTest,
    RowChange,
    RuleCheck,
)
from .rules import (
    DEFAULT_ALPHA,
    DEFAULT_MAX_DROP,
    RegressionRules,
    parse_max_drop,
    resolve_metric,
    rules_from_options,
)

__all__ = (
    "DEFAULT_ALPHA",
    "DEFAULT_MAX_DROP",
    "OVERALL",
    "BaselineError",
    "ChangeKind",
    "Comparison",
    "ComparisonVerdict",
    "JudgeFlip",
    "MetricDelta",
    "PairedTest",
    "RegressionRules",
    "RowChange",
    "RuleCheck",
    "compare",
    "compatibility",
    "load_baseline",
    "metric_label",
    "parse_max_drop",
    "resolve_metric",
    "rules_from_options",
    "write_baseline",
)
