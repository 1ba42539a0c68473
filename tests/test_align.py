"""``genai-eval align`` and the suite key ``judge_examples``: few-shot examples from labelled
disagreements, kappa before/after on held-out folds (never on the rows an example came from),
the examples file, and the prompt version it changes."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from pytest_genai_eval.alignment import LabelledRow, align, disagreements, kappa_of, make_folds
from pytest_genai_eval.cli import main
from pytest_genai_eval.few_shot import Example, load_examples, with_examples, write_examples
from pytest_genai_eval.judges.base import PromptTemplate
from pytest_genai_eval.suite import SuiteError, build_suite
from pytest_genai_eval.testing import JudgeCall, ScriptedJudge, Verdict

MARK = "Examples of correct verdicts"


def test_folds_partition_the_rows() -> None:
    folds = make_folds(10, 3, seed=1)
    assert sorted(i for f in folds for i in f) == list(range(10))
    assert sorted(len(f) for f in folds) == [3, 3, 4]
    assert make_folds(10, 3, seed=1) == folds  # seeded
    assert len(make_folds(3, 5)) == 3  # never more folds than rows
    with pytest.raises(ValueError, match="at least 2 folds"):
        make_folds(4, 1)


def test_kappa_by_hand() -> None:
    # judge yes on all 4, humans yes 2 / no 2: observed 0.5, chance 0.5 -> 0
    assert kappa_of([("yes", "yes"), ("yes", "yes"), ("yes", "no"), ("yes", "no")]) == 0.0
    # 3 agree of 4 (yy, nn, nn, yn): observed 0.75; judge yes 2/4, human yes 1/4 ->
    # chance 0.5 * 0.25 + 0.5 * 0.75 = 0.5 -> (0.75 - 0.5) / 0.5 = 0.5
    assert kappa_of([("yes", "yes"), ("no", "no"), ("no", "no"), ("yes", "no")]) == pytest.approx(0.5)
    assert kappa_of([(None, "yes"), ("yes", "yes"), ("no", "no")]) == 1.0  # unjudged left out


def _rows(n: int) -> list[LabelledRow]:
    """Even rows are right (labelled yes), odd rows wrong (labelled no); the run said yes."""
    return [
        LabelledRow("s", f"r{i}", {"request": f"question {i}"},
                    f"{'wrong' if i % 2 else 'right'} answer {i}", "no" if i % 2 else "yes", "yes",
                    "made up" if i % 2 else "")
        for i in range(n)
    ]


def test_align_learns_only_from_the_other_folds() -> None:
    rows = _rows(10)
    seen: list[tuple[list[str], list[str]]] = []

    def rejudge(test: Sequence[LabelledRow], examples: Sequence[Example]) -> list[str | None]:
        seen.append(([r.response for r in test], [e.response for e in examples]))
        return ["no" if "wrong" in r.response else "yes" for r in test]  # examples fix the judge

    report = align(rows, "correctness", rejudge, k=5, seed=0)
    assert len(seen) == 5
    for test, learned in seen:
        assert not set(test) & set(learned)  # never scored by its own example
        assert all("wrong" in response for response in learned)  # the disagreements only
    assert report.kappa_before == 0.0  # always yes vs half no
    assert report.kappa_after == 1.0
    assert report.disagreements == 5 and len(report.examples) == 5
    assert all(e.rating == "no" and e.rationale == "made up" for e in report.examples)
    assert sum(f.rows for f in report.folds) == 10
    assert disagreements(rows[:2]) == [rows[1].example()]


def test_examples_change_the_prompt_and_its_version(tmp_path: Path) -> None:
    example = Example(request="q", response="Paris is in Spain", rating="no", rationale="wrong country $x")
    path = write_examples(tmp_path / "ex.yaml", "correctness", [example])
    assert load_examples(path) == [example]
    base = PromptTemplate.builtin("correctness")
    edited = with_examples(base, [example])
    assert edited.version != base.version and with_examples(base, []) is base
    assert "<<<RESPONSE>>>\nParis is in Spain\n<<<END RESPONSE>>>" in edited.system
    assert "Correct rating: no (wrong country $$x)" in edited.system  # $ is data, not a slot
    spec = build_suite(
        name="s", data=[{"request_id": "a", "request": "q", "response": "r", "expected_response": "r"}],
        judges=["correctness"], judge_examples={"correctness": "ex.yaml"}, base_dir=tmp_path,
    )
    template = spec.judges.judges[0].template
    assert template.version == edited.version
    with pytest.raises(SuiteError, match="examples for 'json'"):
        build_suite(name="s", data=[{"request_id": "a", "request": "q", "response": "r"}],
                    checks=[{"type": "json"}], judge_examples={"json": "ex.yaml"}, base_dir=tmp_path)
    (tmp_path / "bad.yaml").write_text("examples: [{request: q, response: r, rating: maybe}]")
    with pytest.raises(SuiteError, match=r"bad.yaml: examples\[0\].rating: expected yes or no"):
        build_suite(name="s", data=[{"request_id": "a", "request": "q", "response": "r", "expected_response": "r"}],
                    judge_examples={"correctness": "bad.yaml"}, base_dir=tmp_path)


def _handler(held_out: bool) -> Callable[[JudgeCall], Verdict | None]:
    """Without few-shot examples the judge says yes to everything; with them it is right.
    ``held_out``: the row judged must not be among the examples (an HTTP 500 otherwise)."""

    def handle(call: JudgeCall) -> Verdict | None:
        if call.judge != "correctness":
            return None
        system = next(m["content"] for m in call.messages if m.get("role") == "system")
        if MARK not in system:
            return Verdict("yes", "looks fine")
        if held_out:
            assert call.sections["response"] not in system.split(MARK, 1)[1]
        return Verdict("no" if "wrong" in call.sections["response"] else "yes", "compared")

    return handle


def test_align_command_end_to_end(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    rows = "\n".join(
        f'  - {{request_id: r{i}, request: "question {i}", response: "{"wrong" if i % 2 else "right"} answer {i}", expected_response: "right answer {i}"}}'
        for i in range(10)
    )
    pytester.makefile(".yaml", genai_al=f"name: al\njudges: [correctness]\nrows:\n{rows}\n")
    judge.set_handler(_handler(held_out=True))
    pytester.runpytest("--genai-results-dir", "out", "-p", "no:cacheprovider")
    labels = pytester.path / "labels.jsonl"
    labels.write_text("\n".join(
        json.dumps({"request_id": f"r{i}", "judge": "correctness", "rating": "no" if i % 2 else "yes"})
        for i in range(10)
    ) + "\n")
    judge.reset()
    judge.set_handler(_handler(held_out=True))
    out = pytester.path / "correctness_examples.yaml"
    report = pytester.path / "report.json"
    with report.open("w") as stream, pytest.MonkeyPatch.context() as mp:
        mp.setattr("sys.stdout", stream)
        code = main(["align", str(pytester.path / "out"), "--labels", str(labels), "--judge", "correctness",
                     "--out", str(out), "--folds", "5", "--format", "json"])
    assert code == 0
    data = json.loads(report.read_text())
    assert (data["kappa_before"], data["kappa_after"]) == (0.0, 1.0)
    assert data["labelled_rows"] == 10 and data["disagreements"] == 5 and data["examples"] == 5
    assert len(judge.calls(judge="correctness")) == 10  # each row once, in its held-out fold
    examples = load_examples(out)
    assert sorted(e.response for e in examples) == [f"wrong answer {i}" for i in (1, 3, 5, 7, 9)]
    assert all(e.expected_response.startswith("right answer") for e in examples)

    # the suite references the file: the judge now answers with the examples, every row right
    judge.reset()
    judge.set_handler(_handler(held_out=False))
    pytester.makefile(".yaml", genai_al=f"name: al\njudges: [correctness]\njudge_examples: {{correctness: {out.name}}}\nrows:\n{rows}\n")
    result = pytester.runpytest("--genai-results-dir", "out2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=5, failed=5)


def test_align_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["align", str(tmp_path / "nope"), "--labels", str(tmp_path / "l.jsonl"), "--judge", "correctness",
                 "--out", str(tmp_path / "o.yaml")]) == 4
    assert "genai-eval align: error" in capsys.readouterr().err
