"""Settings declared once: the table drives the options, the ini keys, resolution and README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_genai_eval.settings import SETTINGS, options_markdown

README = Path(__file__).parents[1] / "README.md"


def test_readme_options_table_is_the_settings_table() -> None:
    text = README.read_text("utf-8")
    match = re.search(r"<!-- options-table:[^\n]*-->\n(.*?)\n<!-- /options-table -->", text, re.S)
    assert match, "README has no generated options table"
    assert match.group(1) == options_markdown(), (
        "README's options table differs from pytest_genai_eval/settings.py; regenerate it with "
        "`python -c 'from pytest_genai_eval.settings import options_markdown; print(options_markdown())'`"
    )


def test_every_setting_can_be_set_somewhere() -> None:
    for s in SETTINGS:
        assert s.flag or s.ini or s.env, s.name
        assert s.help.endswith("."), s.name


def test_help_lists_every_flag_in_the_genai_group(pytester: pytest.Pytester) -> None:
    out = pytester.runpytest("--help").stdout.str()
    group = out[out.index("GenAI evaluation (pytest-genai-eval)") :]
    for s in SETTINGS:
        if s.flag:
            assert s.flag in group, s.flag
        if s.ini:
            assert s.ini in out, s.ini


@pytest.mark.parametrize(
    ("ini", "cli", "expected"),
    [
        ("genai_repeat_rule = any", [], "any"),  # `any` was missing from the option's choices
        ("", ["--genai-repeat-rule", "any"], "any"),
        ("genai_progress = off", [], "off"),  # progress had no ini key
        ("genai_concurrency = 3", ["--genai-concurrency", "5"], 5),  # the command line wins
    ],
)
def test_every_value_resolves_from_ini_and_command_line(
    pytester: pytest.Pytester, ini: str, cli: list[str], expected: object
) -> None:
    pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makeconftest(
        """
from pytest_genai_eval.keys import SESSION_KEY

def pytest_collection_finish(session):
    s = session.config.stash[SESSION_KEY].settings
    print("RESOLVED", s.repeat_rule, s.progress, s.concurrency)
"""
    )
    result = pytester.runpytest("-s", *cli)
    line = next(line for line in result.outlines if line.startswith("RESOLVED"))
    assert str(expected) in line.split()[1:]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--genai-concurrency", "0"], "--genai-concurrency: must be at least 1, got '0'"),
        (["--genai-judge-timeout", "soon"], "--genai-judge-timeout: expected a number, got 'soon'"),
        (["-o", "genai_cache=maybe"], "ini genai_cache: expected one of use, refresh, off, ci, got 'maybe'"),
    ],
)
def test_bad_values_name_where_they_came_from(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    result = pytester.runpytest(*args)
    assert result.ret == 4
    assert message in result.stderr.str()


def test_environment_is_the_last_resort(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENAI_EVAL_JUDGE_MODEL", "from-env")
    monkeypatch.setenv("GENAI_EVAL_JUDGE_BASE_URL", "http://127.0.0.1:1/v1")
    pytester.makeini("[pytest]\ngenai_judge_model = from-ini\n")
    pytester.makeconftest(
        """
from pytest_genai_eval.keys import SESSION_KEY

def pytest_collection_finish(session):
    print("MODEL", session.config.stash[SESSION_KEY].settings.judge.model)
"""
    )
    assert "MODEL from-ini" in pytester.runpytest("-s").stdout.str()
    assert "MODEL from-cli" in pytester.runpytest("-s", "--genai-judge-model", "from-cli").stdout.str()


def test_suite_keys_drive_files_decorator_and_readme() -> None:
    import inspect

    from pytest_genai_eval.api import evaluate
    from pytest_genai_eval.suite import PYTHON_KEY_NAMES, suite_keys_markdown

    assert set(inspect.signature(evaluate).parameters) == PYTHON_KEY_NAMES
    text = README.read_text("utf-8")
    match = re.search(r"<!-- suite-keys:[^\n]*-->\n(.*?)\n<!-- /suite-keys -->", text, re.S)
    assert match, "README has no generated suite-keys table"
    assert match.group(1) == suite_keys_markdown()


def test_unknown_suite_key_lists_the_known_ones(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", genai_x="rows: [{request: q, response: r}]\nthreshold: {overall: 1}\n")
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["*genai_x.yaml: unknown key(s) 'threshold'; known keys: name, description, data, rows, app*"])


def test_unknown_marker_argument(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
import pytest

@pytest.mark.genai_eval(data=[{"request": "q", "response": "r"}], threshold={"overall": 1})
def test_x(genai_row):
    pass
"""
    )
    pytester.runpytest().stdout.fnmatch_lines(["*unknown genai_eval argument(s): threshold (known: allow_empty, app, checks*"])


def test_readme_judge_table_is_the_catalog() -> None:
    from pytest_genai_eval.judge_catalog import judges_markdown

    text = README.read_text("utf-8")
    match = re.search(r"<!-- judges-table:[^\n]*-->\n(.*?)\n<!-- /judges-table -->", text, re.S)
    assert match, "README has no generated judge table"
    assert match.group(1) == judges_markdown()


def test_the_catalog_drives_names_factories_and_root_causes() -> None:
    from pytest_genai_eval.judge_catalog import BUILTIN, ROOT_CAUSE_ORDER
    from pytest_genai_eval.judges import BUILTIN_JUDGES, JudgeSet

    assert tuple(j.name for j in BUILTIN) == BUILTIN_JUDGES
    assert sorted(ROOT_CAUSE_ORDER) == sorted(BUILTIN_JUDGES)
    assert ROOT_CAUSE_ORDER[:3] == ("context_sufficiency", "chunk_relevance", "groundedness")
    judges = JudgeSet.build().judges  # every built-in is importable and named as registered
    assert [j.name for j in judges] == list(BUILTIN_JUDGES)


def test_readme_layout_names_every_module() -> None:
    package = Path(__file__).parents[1] / "pytest_genai_eval"
    layout = README.read_text("utf-8").split("## Layout", 1)[1].split("```", 2)[1]
    for path in sorted(package.rglob("*.py")):
        if path.name == "__init__.py":
            continue
        assert path.name in layout, f"README's Layout does not list {path.relative_to(package)}"
    for folder in ("judges/", "compare/", "report_html/"):
        assert folder in layout


@pytest.mark.parametrize("value", ["true", "1", "yes", "false"])
def test_ci_runners_environment_is_never_a_setting_value(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """CI services export ``CI=true``: it quiets progress lines and is never read as a value."""
    monkeypatch.setenv("CI", value)
    pytester.makeconftest(
        """
from pytest_genai_eval.keys import SESSION_KEY

def pytest_collection_finish(session):
    print("RESOLVED", session.config.stash[SESSION_KEY].settings.progress)
"""
    )
    result = pytester.runpytest("-s")
    assert result.ret == 5, result.stderr.str()
    assert "RESOLVED auto" in result.stdout.str()


def test_no_setting_reads_an_environment_variable_that_ci_services_set() -> None:
    generic = {"CI", "GITHUB_ACTIONS", "GITLAB_CI", "BUILDKITE", "TF_BUILD", "JENKINS_URL"}
    for s in SETTINGS:
        assert not generic & set(s.env), s.name
