"""Third-party packages add judges, checks, app targets and reporters through entry points, and a
conftest adjusts or exports results through the plugin's hooks."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from pytest_genai_eval.testing import ScriptedJudge

XDIST = ["", "-n 2"]

PACKAGE = '''
"""genai-extras: a third-party package for pytest-genai-eval."""
from pathlib import Path


def polite(response):
    """A judge: a plain function of row fields."""
    return "please" in response.lower(), "asks politely" if "please" in response.lower() else "no please"


def has_prefix(response, prefix):
    """A check: row fields plus the spec's options."""
    return response.startswith(prefix), f"starts with {prefix!r}?"


class Shout:
    """An app target: a factory of objects with call()."""

    def __init__(self, spec, base_dir):
        self.suffix = spec.get("suffix", "!")
        self.description = "shout"

    async def call(self, row):
        return "Please " + row.request_text.upper() + self.suffix


def summary(document, results, directory):
    """A reporter: writes a file next to the artifact."""
    path = Path(directory) / "extras.txt"
    verdict = document["verdict"]["status"]
    path.write_text(f"{verdict} {len(results)} rows\\n")
    return path


def broken(document, results, directory):
    raise RuntimeError("this reporter is broken")
'''

ENTRY_POINTS = """
[pytest_genai_eval.judges]
polite = genai_extras:polite

[pytest_genai_eval.checks]
has_prefix = genai_extras:has_prefix

[pytest_genai_eval.targets]
shout = genai_extras:Shout

[pytest_genai_eval.reporters]
extras = genai_extras:summary
zz_broken = genai_extras:broken
"""


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """genai-extras 0.1 installed: its module and its .dist-info (metadata and entry points)
    in a site directory on the path of the pytest runs."""
    site = tmp_path / "site"
    (site / "genai_extras").mkdir(parents=True)
    (site / "genai_extras" / "__init__.py").write_text(textwrap.dedent(PACKAGE))
    info = site / "genai_extras-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: genai-extras\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    monkeypatch.setenv("PYTHONPATH", str(site))
    return site


SUITE = """
name: extras
app: {type: shout, suffix: "?"}
judges: [safety, polite]
checks: [{type: has_prefix, prefix: "Please"}, {type: has_prefix, name: exclaims, prefix: "!"}]
thresholds: {overall: 0.0, polite: 0.5}
rows:
  - {request_id: a, request: "can you help"}
  - {request_id: b, request: "where is my order"}
"""

CONFTEST = """
import json

def pytest_genai_eval_row_result(config, result):
    result.row["reviewed_by"] = "conftest"

def pytest_genai_eval_results_document(config, document, results):
    document["exported_rows"] = len(results)
    (config.rootpath / "export.json").write_text(json.dumps(document["verdict"]))
"""


@pytest.mark.parametrize("xdist", XDIST)
def test_a_package_adds_a_judge_a_check_a_target_and_a_reporter(
    pytester: pytest.Pytester, judge: ScriptedJudge, installed: Path, xdist: str
) -> None:
    pytester.makefile(".yaml", genai_extras=SUITE)
    pytester.makeconftest(CONFTEST)
    result = pytester.runpytest_subprocess("--genai-cache", "off", *xdist.split())
    assert result.ret == 0, result.stdout.str()
    doc = json.loads((pytester.path / "genai-results" / "evaluation_results.json").read_text())
    rows = {r["request_id"]: r for r in doc["rows"]}
    assert rows["a"]["response"] == "Please CAN YOU HELP?"  # the plugin's app target answered
    by_name = {a["name"]: a for a in rows["a"]["assessments"]}
    assert by_name["polite"]["rating"] == "yes" and by_name["polite"]["rationale"] == "asks politely"
    assert by_name["has_prefix"]["rating"] == "yes" and by_name["has_prefix"]["kind"] == "check"
    assert by_name["exclaims"]["rating"] == "no"
    assert by_name["safety"]["rating"] == "yes"  # the built-in judges still run beside them
    assert doc["metrics"]["response/custom/polite/rating/percentage"] == 1.0
    assert doc["metrics"]["response/check/exclaims/rating/percentage"] == 0.0
    # the reporter wrote its file; the broken one is a warning, never a lost run
    assert (pytester.path / "genai-results" / "extras.txt").read_text() == "passed 2 rows\n"
    out = result.stdout.str()
    assert "extras.txt" in out
    assert "reporter 'zz_broken' failed: RuntimeError: this reporter is broken" in out
    # the hooks: a row adjusted on the process that evaluated it, the document exported
    assert rows["a"]["row"]["reviewed_by"] == "conftest"
    assert doc["exported_rows"] == 2
    assert json.loads((pytester.path / "export.json").read_text())["status"] == "passed"


def test_unknown_names_list_what_packages_provide(
    pytester: pytest.Pytester, installed: Path
) -> None:
    pytester.makefile(
        ".yaml",
        genai_bad="rows: [{request: q, response: r}]\njudges: [polit]\n",
        genai_bad_check="rows: [{request: q, response: r}]\nchecks: [{type: has_prefx}]\n",
    )
    result = pytester.runpytest_subprocess()
    out = result.stdout.str()
    assert "unknown judge 'polit'" in out and "judges of installed packages: polite" in out
    assert "unknown check type 'has_prefx'" in out and "types of installed packages: has_prefix" in out


def test_a_broken_entry_point_names_its_package(pytester: pytest.Pytester, installed: Path) -> None:
    (installed / "genai_extras-0.1.dist-info" / "entry_points.txt").write_text(
        "[pytest_genai_eval.judges]\nghost = genai_extras:missing_function\n"
    )
    pytester.makefile(".yaml", genai_x="rows: [{request: q, response: r}]\njudges: [ghost]\n")
    result = pytester.runpytest_subprocess()
    result.stdout.fnmatch_lines(
        ["*cannot load entry point 'ghost' = 'genai_extras:missing_function' in "
         "pytest_genai_eval.judges (package genai-extras 0.1): AttributeError*"]
    )


def test_a_package_check_named_like_a_built_in_type_gets_a_hint(
    pytester: pytest.Pytester, installed: Path
) -> None:
    (installed / "genai_extras-0.1.dist-info" / "entry_points.txt").write_text(
        "[pytest_genai_eval.checks]\nstarts_with = genai_extras:has_prefix\n"
    )
    pytester.makefile(
        ".yaml", genai_x="rows: [{request: q, response: r}]\nchecks: [{type: starts_with, prefix: P}]\n"
    )
    result = pytester.runpytest_subprocess()
    out = result.stdout.str()
    assert "checks[0]: give exactly one of 'value' or 'values'" in out
    assert "an installed package also registers a 'starts_with' check type; the built-in type takes precedence" in out
