"""The verdict cache: keys, modes, corrupt entries, hit/miss accounting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_genai_eval.cache import VerdictCache, cache_key
from pytest_genai_eval.testing import ScriptedJudge

SUITE = """
name: cached
judges: [correctness]
rows:
  - {request_id: a, request: "q1", response: "r1", expected_response: "r1"}
  - {request_id: b, request: "q2", response: "r2", expected_response: "r2"}
"""


def _doc(pytester: pytest.Pytester) -> dict:
    return json.loads((pytester.path / "genai-results" / "evaluation_results.json").read_text())


def _key(**overrides: object) -> str:
    base: dict = dict(
        model="m", prompt_version="v1", messages=[{"role": "user", "content": "x"}],
        schema={"type": "object"}, temperature=0.0, max_tokens=None, sample=0,
    )
    base.update(overrides)
    return cache_key(**base)


def test_key_changes_with_every_input() -> None:
    same = _key()
    assert _key() == same
    for change in (
        {"model": "m2"}, {"prompt_version": "v2"}, {"messages": [{"role": "user", "content": "y"}]},
        {"schema": {"type": "array"}}, {"temperature": 0.5}, {"max_tokens": 10}, {"sample": 1},
    ):
        assert _key(**change) != same, change


def test_second_run_is_served_from_cache(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    pytester.makefile(".yaml", genai_c=SUITE)
    pytester.runpytest().assert_outcomes(passed=2)
    assert len(judge.requests) == 2
    second = pytester.runpytest()
    second.assert_outcomes(passed=2)
    assert len(judge.requests) == 2  # no new judge call
    second.stdout.fnmatch_lines(["*judge: 0 judge call(s); cache use: 2 hit(s), 0 miss(es)*"])
    d = _doc(pytester)
    assert d["judge_calls"] == 0 and d["cache"]["hits"] == 2
    assert all(a["cached"] for r in d["rows"] for a in r["assessments"])
    assert d["metrics"]["judge/cache_hit_count"] == 2


def test_changed_input_model_or_prompt_misses(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    pytester.makefile(".yaml", genai_c=SUITE)
    pytester.runpytest().assert_outcomes(passed=2)
    # a changed input: only that row misses
    pytester.makefile(".yaml", genai_c=SUITE.replace('response: "r2"', 'response: "r2 changed"'))
    pytester.runpytest().assert_outcomes(passed=2)
    assert [c.sections["response"] for c in judge.requests[2:]] == ["r2 changed"]
    # a changed model: both miss
    pytester.runpytest("--genai-judge-model", "other-model").assert_outcomes(passed=2)
    assert len(judge.requests) == 5
    # a changed prompt: both miss
    prompt = (Path(__file__).parents[1] / "pytest_genai_eval/judges/prompts/correctness.txt").read_text()
    pytester.makefile(".txt", my_prompt=prompt + "\nBe strict.\n")
    pytester.makefile(".yaml", genai_c=SUITE.replace('response: "r2"', 'response: "r2 changed"') + "prompts: {correctness: my_prompt.txt}\n")
    pytester.runpytest().assert_outcomes(passed=2)
    assert len(judge.requests) == 7
    assert "Be strict." in judge.requests[-1].text


def test_refresh_and_off_call_the_judge(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    pytester.makefile(".yaml", genai_c=SUITE)
    pytester.runpytest().assert_outcomes(passed=2)
    pytester.runpytest("--genai-cache", "refresh").assert_outcomes(passed=2)
    assert len(judge.requests) == 4
    pytester.runpytest("--genai-cache", "off", "--genai-cache-dir", "elsewhere").assert_outcomes(passed=2)
    assert len(judge.requests) == 6
    assert not (pytester.path / "elsewhere").exists()


def test_ci_mode_fails_on_a_miss_instead_of_calling(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    pytester.makefile(".yaml", genai_c=SUITE)
    result = pytester.runpytest("--genai-cache", "ci")
    result.assert_outcomes(errors=2)
    assert result.ret == 6
    assert judge.requests == []
    assert "--genai-cache=ci forbids calling the judge" in result.stdout.str()
    pytester.runpytest().assert_outcomes(passed=2)  # warm it
    pytester.runpytest("--genai-cache", "ci").assert_outcomes(passed=2)
    assert len(judge.requests) == 2


def test_corrupt_entry_is_ignored_and_reported(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    pytester.makefile(".yaml", genai_c=SUITE)
    pytester.runpytest().assert_outcomes(passed=2)
    (segment,) = sorted((pytester.path / ".genai-cache" / "verdicts").glob("seg-*.jsonl"))
    first, _second = segment.read_text().splitlines()
    tampered = json.loads(first)
    tampered["entry"]["data"]["rating"] = "no"  # content no longer matches its checksum
    segment.write_text(json.dumps(tampered) + "\n" + "{ not json\n")
    judge.on(judge="correctness", rating="no", rationale="actually wrong")
    result = pytester.runpytest()
    result.assert_outcomes(failed=2)  # the judge was asked again, the cache not trusted
    result.stdout.fnmatch_lines(["*2 corrupt entr(ies) ignored*"])
    assert _doc(pytester)["cache"]["corrupt"] == 2


def test_unterminated_line_from_a_writer_is_not_corrupt(tmp_path: Path) -> None:
    cache = VerdictCache(tmp_path, "use")
    cache.put("a" * 64, {"data": {"rating": "yes"}, "model": "m"})
    cache.close()
    (segment,) = (tmp_path / "verdicts").glob("seg-*.jsonl")
    with segment.open("ab") as handle:
        handle.write(b'{"format": 2, "key": "bbbb')  # another process mid-write
    reader = VerdictCache(tmp_path, "use")
    assert reader.get("a" * 64) is not None
    assert reader.stats.corrupt == 0


def test_concurrent_writers_in_several_processes(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = (
        "import sys; from pathlib import Path; from pytest_genai_eval.cache import VerdictCache\n"
        "c = VerdictCache(Path(sys.argv[1]), 'use')\n"
        "for i in range(300):\n"
        "    c.put(f'{sys.argv[2]}{i:063d}', {'data': {'rating': 'yes', 'i': i}, 'model': 'm'})\n"
        "c.close()\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(tmp_path), str(n)]) for n in range(4)
    ]
    assert all(p.wait(timeout=60) == 0 for p in procs)
    cache = VerdictCache(tmp_path, "use")
    for n in range(4):
        for i in (0, 150, 299):
            entry = cache.get(f"{n}{i:063d}")
            assert entry is not None and entry["data"]["i"] == i
    assert cache.stats.corrupt == 0
    assert len(list((tmp_path / "verdicts").glob("seg-*.jsonl"))) == 4


def test_old_segments_are_compacted(tmp_path: Path) -> None:
    import os

    from pytest_genai_eval import cache as cache_mod

    for n in range(cache_mod.COMPACT_AFTER + 3):
        writer = VerdictCache(tmp_path, "use")
        writer.put(f"{n:064d}", {"data": {"rating": "yes"}, "model": "m"})
        writer.close()
    old = 10 * cache_mod.COMPACT_MIN_AGE
    for path in (tmp_path / "verdicts").glob("seg-*.jsonl"):
        os.utime(path, (path.stat().st_mtime - old, path.stat().st_mtime - old))
    reader = VerdictCache(tmp_path, "use")
    assert reader.get(f"{0:064d}") is not None
    segments = list((tmp_path / "verdicts").glob("seg-*.jsonl"))
    assert len(segments) == 1
    again = VerdictCache(tmp_path, "use")
    assert all(again.get(f"{n:064d}") is not None for n in range(cache_mod.COMPACT_AFTER + 3))
