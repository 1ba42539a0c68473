"""The results document: one typed model of a run, written as ``evaluation_results.json``.

:class:`RunDocument` is what a run records about itself apart from its rows (which are
:class:`~pytest_genai_eval.results.RowResult` records): when it ran, its configuration, its
metrics per run and per suite, the verdict with every threshold check (operator, value, actual
and bounds as numbers), and the baseline comparison. :func:`build_document` is the one builder,
used by a pytest run and by ``genai-eval merge``; compare, the reports and the CLI read
documents through the model, validated. ``genai-eval schema`` prints its JSON Schema.

Compatibility: every field has a default, so documents written by earlier releases (schema
version 1) still read; keys this version does not know are kept (``extra="allow"``), so a
document annotated by a hook or written by a newer release round-trips.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "SCHEMA_VERSION",
    "JudgeConfig",
    "RunConfig",
    "RunDocument",
    "SuiteConfig",
    "SuiteEntry",
    "ThresholdCheckRecord",
    "Verdict",
    "as_document",
    "build_document",
    "iso_time",
    "json_schema",
]

# The version changes only when a reader of an earlier version would misread a document; new
# optional fields (threshold checks' name, op, value and bounds; "interrupted_by"; rows' "gated")
# do not change it.
SCHEMA_VERSION = 1

MetricValues = dict[str, float | int | None]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class ThresholdCheckRecord(_Model):
    """One threshold checked against one scope's metrics. For pass rates with unassessed rows,
    ``pessimistic`` / ``optimistic`` are the bounds the check was decided on."""

    scope: str
    threshold: str
    metric: str
    status: str
    name: str | None = None
    op: str | None = None
    value: float | None = None
    actual: float | None = None
    pessimistic: float | None = None
    optimistic: float | None = None
    unassessed: int = 0
    origin: str = ""

    @pydantic.model_validator(mode="after")
    def _numbers_from_text(self) -> ThresholdCheckRecord:
        """Documents written before checks carried their numbers: read them from the
        threshold as it was written (``correctness >= 0.8``), once, here."""
        if self.op is None or self.value is None:
            from .gate import ThresholdError, parse_threshold

            try:
                parsed = parse_threshold(self.threshold, self.origin)
            except ThresholdError:
                return self
            self.name = self.name or parsed.name
            self.op = self.op or parsed.op
            self.value = parsed.value if self.value is None else self.value
        return self


class Verdict(_Model):
    """The gate's verdict: ``status`` (passed, failed, errors, undecidable, incomplete,
    interrupted, empty), the process's ``exit_code`` and the one-line summary."""

    status: str = "unknown"
    exit_code: int | None = None
    line: str = ""
    reasons: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    checks: list[ThresholdCheckRecord] = Field(default_factory=list)
    strict_failures: list[str] = Field(default_factory=list)
    errors: int = 0
    errors_allowed: int = 0


class JudgeConfig(_Model):
    """The judge endpoint, without its key (``api_key`` is ``"set"`` or ``"unset"``)."""

    model: str | None = None
    base_url: str | None = None
    timeout: float | None = None
    max_retries: int | None = None
    temperature: float | None = None
    api_key: str | None = None


class RunConfig(_Model):
    """The run's settings as recorded (never a secret); ``judge`` is None without a judge."""

    judge: JudgeConfig | None = None
    thresholds: list[dict[str, Any]] = Field(default_factory=list)
    shard: dict[str, int] | None = None


class SuiteConfig(_Model):
    name: str | None = None
    source: str = ""
    description: str = ""
    app: str | None = None
    judges: list[str] = Field(default_factory=list)
    prompt_versions: dict[str, str] | None = None
    thresholds: list[dict[str, Any]] = Field(default_factory=list)
    row_count: int | None = None
    cluster: str | None = None  # the column whose value clusters rows (error bars)
    labels: dict[str, Any] | None = None  # the human labels file: {file, use, count}


class SuiteEntry(_Model):
    config: SuiteConfig = Field(default_factory=SuiteConfig)
    metrics: MetricValues = Field(default_factory=dict)


class RunDocument(_Model):
    """A run, apart from its rows. ``source`` is where it was read from (not written)."""

    schema_version: int = SCHEMA_VERSION
    tool: str = "pytest-genai-eval"
    complete: bool | None = None  # None: not recorded (hand-made documents)
    interrupted_by: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    duration_seconds: float | None = None
    config: RunConfig | None = None  # None: recorded no configuration (hand-made documents)
    cache: dict[str, Any] | None = None
    judge_calls: int = 0
    evaluation_seconds: float | None = None
    metrics: MetricValues = Field(default_factory=dict)
    suites: dict[str, SuiteEntry] = Field(default_factory=dict)
    verdict: Verdict | None = None
    baseline: dict[str, Any] | None = None
    merged_from: list[str] | None = None
    source: str | None = Field(default=None, exclude=True)

    # Read access by JSON key, for code written against the dict document of earlier releases
    # (``document["config"]["judge"]["model"]``, ``document.get("verdict")``, ``"_source"``).
    def __getitem__(self, key: str) -> Any:
        if key == "_source":
            return self.source
        data = self.model_dump(mode="json")
        if key not in data:
            raise KeyError(key)
        return data[key]

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        return key == "_source" or key in self.model_dump(mode="json")

    @property
    def recorded_config(self) -> bool:
        """False for documents that recorded no configuration (nothing can be checked)."""
        return self.config is not None

    @property
    def judge_model(self) -> str | None:
        judge = self.config.judge if self.config is not None else None
        return judge.model if judge is not None else None

    def prompt_versions(self, suite: str) -> dict[str, str] | None:
        entry = self.suites.get(suite)
        return entry.config.prompt_versions if entry is not None else None

    def to_json_dict(self) -> dict[str, Any]:
        """The JSON form, ``schema_version`` first (what ``evaluation_results.json`` holds apart
        from ``rows``)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any], *, source: str | None = None) -> RunDocument:
        """Validate a document's JSON form; raises ``ValueError`` naming the first bad field."""
        try:
            document = cls.model_validate(dict(data))
        except pydantic.ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"]) or "the document"
            raise ValueError(f"{where}: {error['msg']}") from None
        document.source = source
        return document


def as_document(value: RunDocument | Mapping[str, Any], *, source: str | None = None) -> RunDocument:
    """A document, validated: a :class:`RunDocument` as is, or its JSON form (a dict read from
    a file or built by hand; ``"_source"`` becomes ``source``)."""
    if isinstance(value, RunDocument):
        return value
    data = dict(value)
    data.pop("rows", None)
    origin = data.pop("_source", None)
    return RunDocument.from_json_dict(data, source=source or (str(origin) if origin else None))


def iso_time(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, tz=dt.timezone.utc).isoformat(timespec="seconds")


def build_document(
    *,
    complete: bool,
    started_at: str | None,
    finished_at: str | None,
    duration_seconds: float | None,
    config: Mapping[str, Any] | None,
    cache: Mapping[str, Any] | None,
    judge_calls: int,
    evaluation_seconds: float | None,
    metrics: Mapping[str, Any],
    suite_metrics: Mapping[str, Mapping[str, Any]],
    suite_configs: Mapping[str, Mapping[str, Any]],
    verdict: Mapping[str, Any] | None = None,
    interrupted_by: str | None = None,
    merged_from: list[str] | None = None,
) -> RunDocument:
    """The one builder of a run's document (a pytest run, ``genai-eval merge``)."""
    return RunDocument.model_validate(
        {
            "schema_version": SCHEMA_VERSION,
            "complete": complete,
            "interrupted_by": interrupted_by,
            "started_at": started_at,
            "finished_at": finished_at,
            "duration_seconds": duration_seconds,
            "config": dict(config) if config is not None else None,
            "cache": dict(cache) if cache is not None else None,
            "judge_calls": judge_calls,
            "evaluation_seconds": evaluation_seconds,
            "metrics": dict(metrics),
            "suites": {
                name: {"config": dict(suite_configs.get(name, {})), "metrics": dict(values)}
                for name, values in sorted(suite_metrics.items())
            },
            "verdict": dict(verdict) if verdict is not None else None,
            "merged_from": merged_from,
        }
    )


def json_schema() -> dict[str, Any]:
    """The JSON Schema of ``evaluation_results.json`` (the document plus its ``rows``)."""
    from .results import RowResult

    schema = RunDocument.model_json_schema()
    schema["title"] = "pytest-genai-eval evaluation_results.json"
    row = pydantic.TypeAdapter(RowResult).json_schema(ref_template="#/$defs/{model}")
    schema.setdefault("$defs", {}).update(row.pop("$defs", {}))
    row["properties"]["status"] = {"enum": ["pass", "fail", "error", "skipped"]}
    schema["$defs"]["RowResult"] = row
    schema.setdefault("properties", {})["rows"] = {
        "type": "array",
        "description": "every row's result",
        "items": {"$ref": "#/$defs/RowResult"},
    }
    schema["properties"].pop("source", None)
    schema["properties"]["schema_version"].update(minimum=1, maximum=SCHEMA_VERSION)
    return schema
