"""Production logs straight from an MLflow tracking server: a suite's
``data: "mlflow://experiments/<name-or-id>?filter=<search filter>&max_results=N"``.

The server is the one MLflow's own settings name (``MLFLOW_TRACKING_URI``). Traces are read with
``mlflow.search_traces`` (``filter`` is MLflow's trace filter string, e.g.
``tags.env = 'prod'``; without ``max_results``, every matching trace; with it, the newest N) and
each becomes a row exactly as the ``mlflow_traces`` importer makes one from a JSON export, its
trace id kept. Rows are in a fixed order (oldest first, then by trace id), so that every xdist
worker collects the same rows from the same traces. mlflow is imported only when such a suite is
loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .errors import ConfigurationError
from .importers import Entry

__all__ = ["MlflowQuery", "MlflowSourceError", "is_mlflow_source", "parse_query", "read_traces"]

_PREFIX = "mlflow:"
_FORM = "mlflow://experiments/<name-or-id>[?filter=...&max_results=N]"
_USERINFO = re.compile(r"(?<=://)[^/@\s]*@")


class MlflowSourceError(ConfigurationError, ValueError):
    """An ``mlflow://`` evaluation set that cannot be read; the message names the suite and key."""


@dataclass(frozen=True)
class MlflowQuery:
    experiment: str
    filter: str | None = None
    max_results: int | None = None


def is_mlflow_source(data: Any) -> bool:
    return isinstance(data, str) and data[: len(_PREFIX)].lower() == _PREFIX


def _hidden(text: str) -> str:
    """A URI or message without the user and password a tracking URI may hold."""
    return _USERINFO.sub("", text)


def parse_query(uri: str, where: str) -> MlflowQuery:
    """``mlflow://experiments/<name-or-id>?filter=...&max_results=N``; a MlflowSourceError names
    the suite and the key otherwise."""
    bad = f"{where}: 'data': {uri!r} is not an MLflow source; expected {_FORM}"
    parts = urlsplit(uri)
    if parts.scheme.lower() != "mlflow" or parts.netloc != "experiments":
        raise MlflowSourceError(bad)
    experiment = unquote(parts.path.removeprefix("/"))
    if not experiment:
        raise MlflowSourceError(bad)
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(options) - {"filter", "max_results"})
    if unknown:
        raise MlflowSourceError(
            f"{where}: 'data': unknown option(s) {', '.join(unknown)} in {uri!r}; "
            "known: filter, max_results"
        )
    count = options.get("max_results")
    if count is not None and not (count.isdigit() and int(count) > 0):
        raise MlflowSourceError(
            f"{where}: 'data': max_results must be a positive whole number, got {count!r}"
        )
    return MlflowQuery(
        experiment=experiment,
        filter=options.get("filter") or None,
        max_results=int(count) if count is not None else None,
    )


def _experiment_id(client: Any, name: str, where: str, tracking_uri: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is None and name.isdigit():
        try:
            experiment = client.get_experiment(name)
        except Exception:  # MlflowException RESOURCE_DOES_NOT_EXIST
            experiment = None
    if experiment is None or experiment.lifecycle_stage == "deleted":
        raise MlflowSourceError(
            f"{where}: 'data': no MLflow experiment named (or with the id) {name!r} at the "
            f"tracking server {_hidden(tracking_uri)!r} (MLFLOW_TRACKING_URI)"
        )
    return str(experiment.experiment_id)


def read_traces(uri: str, where: str) -> list[Entry]:
    """The traces an ``mlflow://`` source names, as ``(location, Trace.to_dict())`` entries in a
    fixed order (timestamp, then trace id)."""
    query = parse_query(uri, where)
    try:
        import mlflow
    except ImportError:
        raise MlflowSourceError(
            f"{where}: 'data': reading traces from MLflow needs mlflow: "
            "pip install 'pytest-genai-eval[mlflow]'"
        ) from None
    tracking_uri = str(mlflow.get_tracking_uri())
    try:
        experiment_id = _experiment_id(mlflow.MlflowClient(), query.experiment, where, tracking_uri)
        traces = mlflow.search_traces(
            locations=[experiment_id],
            filter_string=query.filter,
            max_results=query.max_results,
            return_type="list",
        )
    except MlflowSourceError:
        raise
    except Exception as exc:
        raise MlflowSourceError(
            f"{where}: 'data': could not read the traces of MLflow experiment "
            f"{query.experiment!r} at {_hidden(tracking_uri)!r}: "
            f"{type(exc).__name__}: {_hidden(str(exc))}"
        ) from None
    ordered = sorted(traces, key=lambda trace: (trace.info.timestamp_ms or 0, trace.info.trace_id))
    return [(f"trace {trace.info.trace_id}", trace.to_dict()) for trace in ordered]
