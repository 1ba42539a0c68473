"""Log a finished run to MLflow (``--genai-mlflow``; the ``mlflow`` extra).

Where: the tracking server and experiment MLflow's own settings name (``MLFLOW_TRACKING_URI``,
``MLFLOW_EXPERIMENT_NAME`` / ``MLFLOW_EXPERIMENT_ID``), into the active run if there is one, else
a new run. What:

* parameters ``genai.suites``, ``genai.judge_model``, ``genai.prompt_version.<judge>``,
  ``genai.thresholds`` and ``genai.<suite>.thresholds``;
* every run metric under its Agent Evaluation name
  (``response/overall_assessment/rating/percentage``, ...), and each suite's as
  ``<suite>/<metric>``;
* one trace per row (request as the root span's inputs, response as its outputs; tags
  ``genai.suite``, ``genai.request_id``, ``genai.status``), with one assessment per judge:
  value ``yes``/``no`` (or the error), rationale, source ``LLM_JUDGE`` with the judge model,
  ``CODE`` for checks and Python judges, ``HUMAN`` (the reviewer) for human labels; the row's
  ground truth as expectations. MLflow's evaluation views list them;
* ``evaluation_results.json`` and ``report.html`` as artifacts;
* the verdict as the tags ``genai.verdict``, ``genai.exit_code`` and ``genai.verdict_line``.

Batched: parameters, metrics and tags in one ``log_batch`` call; each trace is written with its
assessments in one call where this MLflow allows it (attached before the trace is exported),
else one call per assessment. Everything passes the run's redactor first. mlflow is imported
only here, and this module only when the option is on.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .document import RunDocument
from .results import Assessment, RowResult

__all__ = ["MlflowLogError", "MlflowLogged", "log_run"]

_ARTIFACTS = ("evaluation_results.json", "report.html")
_KEY_CHARS = re.compile(r"[^A-Za-z0-9_\-. /]")
_MAX_PARAM = 6000  # MLflow's limit on a parameter value
_BATCH = 1000  # MLflow's limit on metrics per log_batch call
_SOURCE_RUN = "mlflow.assessment.sourceRunId"  # how mlflow.genai.evaluate ties a verdict to a run


class MlflowLogError(RuntimeError):
    """Logging to MLflow failed; the run's verdict and exit code stand."""


@dataclass
class MlflowLogged:
    run_id: str
    experiment_id: str
    traces: int
    seconds: float


def _key(name: str) -> str:
    return _KEY_CHARS.sub("_", name)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _params(data: Mapping[str, Any]) -> dict[str, str]:
    suites: Mapping[str, Any] = data.get("suites") or {}
    config = data.get("config") or {}
    params: dict[str, str] = {"genai.suites": ",".join(suites)}
    judge = config.get("judge") or {}
    if judge.get("model"):
        params["genai.judge_model"] = str(judge["model"])
    if config.get("thresholds"):
        params["genai.thresholds"] = _text(config["thresholds"])
    versions: dict[str, set[str]] = {}
    for name, suite in suites.items():
        suite_config = suite.get("config") or {}
        for judge_name, version in (suite_config.get("prompt_versions") or {}).items():
            versions.setdefault(judge_name, set()).add(str(version))
        if suite_config.get("thresholds"):
            params[f"genai.{name}.thresholds"] = _text(suite_config["thresholds"])
    for judge_name, found in versions.items():
        params[f"genai.prompt_version.{judge_name}"] = ",".join(sorted(found))
    return {_key(k): v[:_MAX_PARAM] for k, v in params.items()}


def _metrics(data: Mapping[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}

    def add(prefix: str, metrics: Mapping[str, Any]) -> None:
        for name, value in metrics.items():
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if number and math.isfinite(value):
                out[_key(prefix + name)] = float(value)

    add("", data.get("metrics") or {})
    for suite_name, suite in (data.get("suites") or {}).items():
        add(f"{suite_name}/", suite.get("metrics") or {})
    return out


def _tags(data: Mapping[str, Any]) -> dict[str, str]:
    verdict = data.get("verdict") or {}
    tags = {"genai.verdict": str(verdict.get("status", "unknown")), "genai.tool": "pytest-genai-eval"}
    if verdict.get("exit_code") is not None:
        tags["genai.exit_code"] = str(verdict["exit_code"])
    if verdict.get("line"):
        tags["genai.verdict_line"] = str(verdict["line"])[:_MAX_PARAM]
    return tags


def _source(mlflow_entities: Any, assessment: Assessment, label: Mapping[str, Any] | None) -> Any:
    source_type = mlflow_entities.AssessmentSourceType
    if label is not None:
        return mlflow_entities.AssessmentSource(
            source_type=source_type.HUMAN, source_id=str(label.get("reviewer") or "human")
        )
    if assessment.kind in ("check", "python"):
        return mlflow_entities.AssessmentSource(
            source_type=source_type.CODE, source_id=f"pytest-genai-eval:{assessment.judge}"
        )
    return mlflow_entities.AssessmentSource(
        source_type=source_type.LLM_JUDGE, source_id=assessment.model or "judge"
    )


def _feedbacks(
    entities: Any, result: RowResult, redact: Callable[[Any], Any], run_id: str
) -> list[Any]:
    """One Feedback per assessment that ran; a human label that decided it, as HUMAN."""
    out = []
    for assessment in result.assessments:
        if assessment.skipped is not None:
            continue
        details = assessment.details if isinstance(assessment.details, Mapping) else {}
        label = details.get("human_label")
        label = label if isinstance(label, Mapping) else None
        metadata = {
            "judge": assessment.judge,
            "kind": assessment.kind,
            "suite": result.suite,
            _SOURCE_RUN: run_id,
        }
        if assessment.prompt_version:
            metadata["prompt_version"] = assessment.prompt_version
        if assessment.value is not None:
            metadata["score"] = str(assessment.value)
        if assessment.error is not None:
            out.append(entities.Feedback(
                name=assessment.name,
                error=entities.AssessmentError(
                    error_code="JUDGE_ERROR", error_message=redact(assessment.error)
                ),
                source=_source(entities, assessment, None),
                metadata=metadata,
            ))
            continue
        out.append(entities.Feedback(
            name=assessment.name,
            value=assessment.rating if assessment.rating is not None else assessment.value,
            rationale=redact(assessment.rationale) if assessment.rationale else None,
            source=_source(entities, assessment, None),
            metadata=metadata,
        ))
        if label is not None:
            out.append(entities.Feedback(
                name=assessment.name,
                value=label.get("rating"),
                rationale=redact(str(label["rationale"])) if label.get("rationale") else None,
                source=_source(entities, assessment, label),
                metadata={**metadata, "human_label": "true"},
            ))
    return out


def _expectations(entities: Any, result: RowResult, redact: Callable[[Any], Any]) -> list[Any]:
    source = entities.AssessmentSource(
        source_type=entities.AssessmentSourceType.HUMAN, source_id="evaluation set"
    )
    out = []
    for name in ("expected_response", "expected_facts", "guidelines", "expected_tool_calls"):
        value = result.row.get(name)
        if value not in (None, [], {}, ""):
            out.append(entities.Expectation(name=name, value=redact(value), source=source))
    return out


def _attach(trace_id: str, assessments: Sequence[Any]) -> bool:
    """Put assessments on a trace not yet exported, so that it is written with them in one call
    (MLflow's in-memory trace manager); False when this MLflow has no such place."""
    try:
        from mlflow.tracing.trace_manager import InMemoryTraceManager

        with InMemoryTraceManager.get_instance().get_trace(trace_id) as trace:
            if trace is None:
                return False
            for assessment in assessments:
                assessment.trace_id = trace_id
            trace.info.assessments.extend(assessments)
        return True
    except Exception:
        return False


def _log_trace(
    mlflow: Any, entities: Any, result: RowResult, redact: Callable[[Any], Any], run_id: str
) -> None:
    request = result.row.get("request")
    inputs = request if isinstance(request, Mapping) else {"request": request}
    outputs: dict[str, Any] = {"response": result.response}
    if result.app_error is not None:
        outputs["app_error"] = result.app_error
    if result.retrieved_context:
        outputs["retrieved_context"] = result.retrieved_context
    status = result.status
    span = mlflow.start_span_no_context(
        name=_key(f"{result.suite}/{result.request_id}")[:200],
        span_type="AGENT",
        inputs=redact(dict(inputs)),
        attributes=redact({
            "genai.suite": result.suite,
            "genai.request_id": result.request_id,
            **({"genai.latency_seconds": result.latency_seconds}
               if result.latency_seconds is not None else {}),
        }),
        tags={"genai.suite": result.suite, "genai.request_id": result.request_id[:250],
              "genai.status": status},
    )
    assessments = [
        *_feedbacks(entities, result, redact, run_id),
        *_expectations(entities, result, redact),
    ]
    attached = _attach(span.trace_id, assessments)
    span.end(outputs=redact(outputs), status="ERROR" if status == "error" else "OK")
    if not attached:
        for assessment in assessments:
            mlflow.log_assessment(trace_id=span.trace_id, assessment=assessment)


def log_run(
    document: RunDocument,
    results: Sequence[RowResult],
    results_dir: Path,
    *,
    redact: Callable[[Any], Any] = lambda value: value,
) -> MlflowLogged:
    """Log the run; raises MlflowLogError (with the cause) when anything fails."""
    started = time.perf_counter()
    try:
        import mlflow
        from mlflow import entities
        from mlflow.entities import Metric, Param, RunTag
    except ImportError:
        raise MlflowLogError(
            "--genai-mlflow needs mlflow: pip install 'pytest-genai-eval[mlflow]'"
        ) from None
    data = redact(document.to_json_dict())
    try:
        own_run = mlflow.active_run() is None
        run = mlflow.active_run() or mlflow.start_run(
            run_name=f"genai-eval {data.get('started_at') or ''}".strip()
        )
        run_id = run.info.run_id
        client = mlflow.MlflowClient()
        try:
            now = int(time.time() * 1000)
            metrics = [Metric(k, v, now, 0) for k, v in _metrics(data).items()]
            params = [Param(k, v) for k, v in _params(data).items()]
            tags = [RunTag(k, v) for k, v in _tags(data).items()]
            for start in range(0, max(len(metrics), 1), _BATCH):
                client.log_batch(
                    run_id,
                    metrics=metrics[start : start + _BATCH],
                    params=params if start == 0 else [],
                    tags=tags if start == 0 else [],
                )
            for result in results:
                _log_trace(mlflow, entities, result, redact, run_id)
            mlflow.flush_trace_async_logging()
            for name in _ARTIFACTS:
                path = results_dir / name
                if path.is_file():
                    client.log_artifact(run_id, str(path))
        finally:
            if own_run:
                mlflow.end_run()
    except MlflowLogError:
        raise
    except Exception as exc:
        raise MlflowLogError(
            f"could not log the run to MLflow: {type(exc).__name__}: {redact(str(exc))}"
        ) from exc
    return MlflowLogged(
        run_id=run_id,
        experiment_id=run.info.experiment_id,
        traces=len(results),
        seconds=time.perf_counter() - started,
    )
