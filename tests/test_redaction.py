"""Secrets never leak: canary keys, echoed back by the judge and by the app in every form they
take on the wire, are grepped in every file a run writes and in everything it prints."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pytest_genai_eval.llm import EndpointSettings, Secret
from pytest_genai_eval.redact import MASK, Redactor, secret_forms, url_secrets
from pytest_genai_eval.targets import HttpJsonTarget
from pytest_genai_eval.testing import JudgeCall, ScriptedJudge, Verdict

JUDGE_KEY = "sk-judgecanary-5f1e8d2c7b3a9e4f6d0c"
URL_USER, URL_PASSWORD = "judgeuser", "pwcanary-8e4d1c7b2a5f"
APP_TOKEN = "apptokencanary-3b9e7d1f5c2a8e6d4b0f"
BASIC = base64.b64encode(f"{URL_USER}:{URL_PASSWORD}".encode()).decode()
FORMS = {
    "judge key": JUDGE_KEY,
    "url password": URL_PASSWORD,
    "basic auth": BASIC,
    "app token": APP_TOKEN,
}


def leaks(text: str) -> list[str]:
    """Which secret appears in ``text``, whole or as a half (what truncating first leaves)."""
    found = []
    for name, secret in FORMS.items():
        half = secret[: len(secret) // 2]
        if secret in text:
            found.append(name)
        elif half in text:
            found.append(f"half of the {name}")
    return found


# ---- the redactor itself -------------------------------------------------------------------------
def test_every_wire_form_is_known() -> None:
    r = Redactor([f"Bearer {APP_TOKEN}"])
    r.add(JUDGE_KEY)
    r.add_url(f"http://{URL_USER}:{URL_PASSWORD}@127.0.0.1:1/v1")
    text = (
        f"auth: Bearer {JUDGE_KEY}; bare {APP_TOKEN}; basic: Basic {BASIC}; "
        f"userinfo {URL_USER}:{URL_PASSWORD}; password {URL_PASSWORD}"
    )
    clean = r(text)
    assert leaks(clean) == []
    assert clean.count(MASK) == 5
    # redact, then clip: a clipped text never keeps part of a secret
    assert leaks(r("x" * 290 + JUDGE_KEY)[:300]) == []


def test_short_values_are_not_secrets() -> None:
    assert secret_forms("abc") == set()
    assert "p" not in url_secrets("http://u:p@host/")  # only forms of 4+ characters
    assert Redactor(["abc"])("abc abc") == "abc abc"


def test_reprs_hide_keys_and_userinfo() -> None:
    settings = EndpointSettings(
        f"http://{URL_USER}:{URL_PASSWORD}@127.0.0.1:1/v1", "m", api_key=Secret(JUDGE_KEY)
    )
    target = HttpJsonTarget(url=f"http://{URL_USER}:{URL_PASSWORD}@127.0.0.1:1/answer")
    for shown in (repr(settings), str(settings), repr(target), target.description, str(settings.public_dict())):
        assert leaks(shown) == [], shown


# ---- end to end: every file and every line --------------------------------------------------------
class EchoApp(BaseHTTPRequestHandler):
    """A plain JSON app that fails with HTTP 500, echoing its Authorization header (with and
    without the scheme) after 280 characters: an excerpt cut at 300 before redaction would keep
    the first half of the token."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        auth = self.headers.get("Authorization", "")
        body = ("x" * 280 + auth.removeprefix("Bearer ") + f" header was {auth}").encode()
        self.send_response(500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def echo_app() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoApp)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/answer"
    finally:
        server.shutdown()
        server.server_close()


def echoing_judge(call: JudgeCall) -> Verdict:
    """Says no, quoting the Authorization header it received, with and without its scheme."""
    auth = call.headers.get("authorization", "")
    token = auth.split(" ", 1)[-1]
    return Verdict("no", f"Your request carried '{auth}' (token {token}); the answer is wrong.")


@pytest.mark.parametrize("xdist", ["", "-n 2"])
@pytest.mark.parametrize("userinfo", [False, True], ids=["bearer-key", "url-userinfo"])
def test_canary_secrets_appear_nowhere(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    echo_app: str,
    userinfo: bool,
    xdist: str,
) -> None:
    with ScriptedJudge() as judge:
        judge.set_handler(echoing_judge)
        base_url = judge.base_url
        if userinfo:
            base_url = base_url.replace("http://", f"http://{URL_USER}:{URL_PASSWORD}@")
        monkeypatch.setenv("GENAI_EVAL_JUDGE_BASE_URL", base_url)
        monkeypatch.setenv("GENAI_EVAL_JUDGE_MODEL", judge.model)
        monkeypatch.setenv("GENAI_EVAL_JUDGE_API_KEY", JUDGE_KEY)
        monkeypatch.setenv("APP_AUTH", f"Bearer {APP_TOKEN}")
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(pytester.path / "step_summary.md"))
        pytester.makefile(
            ".yaml",
            genai_judged="""
name: judged
judges: [correctness]
rows:
  - {request_id: a, request: "q1", response: "r1", expected_response: "x"}
  - {request_id: b, request: "q2", response: "r2", expected_response: "x"}
""",
            genai_app=f"""
name: app
checks: [{{type: contains, values: [ok]}}]
app: {{type: http, url: "{echo_app}", headers_env: {{Authorization: APP_AUTH}}}}
rows:
  - {{request_id: c, request: "q3"}}
""",
        )
        args = ["--junitxml=junit.xml", "--log-level=DEBUG", "-rA", "-vv", *xdist.split()]
        result = pytester.runpytest_subprocess(*args)
        assert judge.calls(), "the judge was asked"
        auth_seen = {c.headers.get("authorization", "") for c in judge.calls()}
    # the secrets really went over the wire, so an echo had something to leak
    assert auth_seen == ({f"Basic {BASIC}"} if userinfo else {f"Bearer {JUDGE_KEY}"})
    assert result.ret == 1  # the judge said no (quality), the app failed (error)
    printed = "\n".join(result.outlines + result.errlines)
    assert "the answer is wrong" in printed and MASK in printed
    assert leaks(printed) == [], [line for line in printed.splitlines() if leaks(line)]

    written = [p for p in pytester.path.rglob("*") if p.is_file() and not p.name.endswith(".yaml")]
    names = {p.name for p in written}
    for expected in (
        "evaluation_results.json",
        "eval_results.jsonl",
        "eval_results.csv",
        "report.html",
        "summary.md",
        "junit.xml",
        "history.sqlite",
        "step_summary.md",
    ):
        assert expected in names, expected
    assert any(p.parent.name == "verdicts" for p in written), "the verdict cache was written"
    for path in written:
        text = path.read_bytes().decode("utf-8", errors="replace")
        assert leaks(text) == [], path
    doc = json.loads((pytester.path / "genai-results" / "evaluation_results.json").read_text())
    rows = {r["request_id"]: r for r in doc["rows"]}
    assert MASK in rows["a"]["assessments"][0]["rationale"]
    assert "HTTP 500" in rows["c"]["app_error"] and MASK in rows["c"]["app_error"]
