"""The typed results document: one model, its JSON Schema, validation on read, old artifacts."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from pytest_genai_eval.artifacts import ArtifactError, load_results
from pytest_genai_eval.cli import main
from pytest_genai_eval.compare import load_baseline
from pytest_genai_eval.document import SCHEMA_VERSION, RunDocument, json_schema
from pytest_genai_eval.testing import ScriptedJudge

# The example suite's baseline as the first release wrote it (shipped in example_suite/baseline/
# until the order-agent suite was added and the baseline re-recorded), kept as it was.
EXAMPLE_BASELINE = Path(__file__).parent / "data" / "first_release"


def test_schema_command_prints_the_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema == json_schema()
    assert schema["properties"]["schema_version"]["maximum"] == SCHEMA_VERSION
    check = schema["$defs"]["ThresholdCheckRecord"]["properties"]
    assert {"op", "value", "actual", "pessimistic", "optimistic"} <= set(check)
    assert schema["properties"]["rows"]["items"] == {"$ref": "#/$defs/RowResult"}


def test_a_run_writes_a_document_that_validates(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    judge.on(judge="correctness", section="response", contains="wrong answer", rating="no", rationale="wrong")
    pytester.makefile(
        ".yaml",
        genai_doc="""
judges: [correctness]
thresholds: {overall: 0.4, correctness: "<= 0.9"}
rows:
  - {request_id: a, request: q, response: "right answer", expected_response: a}
  - {request_id: b, request: q2, response: "wrong answer", expected_response: a}
""",
    )
    pytester.runpytest("--genai-threshold", "errors<=0")
    path = pytester.path / "genai-results" / "evaluation_results.json"
    data = json.loads(path.read_text())
    jsonschema.validate(data, json_schema())
    document, rows = load_results(path)
    assert isinstance(document, RunDocument) and document.schema_version == SCHEMA_VERSION
    assert document.verdict is not None
    checks = {c.name: c for c in document.verdict.checks}
    assert (checks["overall"].op, checks["overall"].value, checks["overall"].actual) == (">=", 0.4, 0.5)
    assert (checks["correctness"].op, checks["correctness"].value) == ("<=", 0.9)
    assert document.judge_model == judge.model and len(rows) == 2


def test_documents_of_the_previous_release_still_read() -> None:
    """The example's baseline as the first release wrote it still reads."""
    raw = json.loads((EXAMPLE_BASELINE / "evaluation_results.json").read_text())
    assert "interrupted_by" not in raw  # written before this release's fields existed
    jsonschema.validate(raw, json_schema())
    document, rows = load_baseline(EXAMPLE_BASELINE)
    assert document.source and document.source.endswith("evaluation_results.json")
    assert document.verdict is not None and document.verdict.status == "incomplete"
    assert len(rows) == 14
    # read access by JSON key, for code written against the dict document
    assert document["_source"] == document.source
    assert document.get("verdict")["status"] == "incomplete"


def test_an_invalid_document_is_an_error_naming_the_field(tmp_path: Path) -> None:
    (tmp_path / "evaluation_results.json").write_text(
        json.dumps({"schema_version": 1, "verdict": {"checks": [{"scope": "run"}]}, "rows": []})
    )
    with pytest.raises(ArtifactError, match=r"invalid results document: verdict\.checks\.0\.threshold: Field required"):
        load_results(tmp_path)
    assert main(["report", str(tmp_path)]) == 4


def test_keys_added_by_a_hook_round_trip(tmp_path: Path) -> None:
    document = RunDocument.model_validate({"schema_version": 1, "team": {"owner": "qa"}})
    assert document.to_json_dict()["team"] == {"owner": "qa"}
