"""One redaction layer for everything the plugin writes or shows.

A :class:`Redactor` knows every secret in play in a session: the judge's API key, the keys of
panel judges and of app endpoints, header values taken from the environment, and passwords in
URLs (``https://user:password@host``). It also knows the forms a secret takes on the wire, so an
echo is caught however it comes back:

* the token of an ``Authorization`` value (``Bearer <token>``, ``Basic <b64>``): a server that
  echoes the token without its scheme;
* ``user:password`` and its base64 (what HTTP Basic auth sends for URL userinfo), in the
  standard and URL-safe alphabets, and percent-encoded forms.

Every output goes through it: row results (responses, rationales, errors, tracebacks) as the
engine produces them, judge answers before they are cached, the run document before it is
written (artifact, tables, history, HTML, Markdown), JUnit text, the terminal summary, and log
records of the ``pytest_genai_eval`` loggers. Redaction happens before any truncation, so a
clipped text can never keep half a secret.

Secrets shorter than :data:`MIN_SECRET_LENGTH` characters are not redacted (they would blank out
ordinary words); nothing sensible is that short.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "RedactingFilter",
    "Redactor",
    "public_url",
    "secret_forms",
    "url_secrets",
]

MASK = "***"
MIN_SECRET_LENGTH = 4
_SCHEMES = ("bearer ", "basic ", "token ", "apikey ", "api-key ")


def _b64_forms(text: str) -> set[str]:
    raw = text.encode("utf-8")
    forms = {base64.b64encode(raw).decode("ascii"), base64.urlsafe_b64encode(raw).decode("ascii")}
    return forms | {form.rstrip("=") for form in forms}


def secret_forms(secret: str) -> set[str]:
    """``secret`` and the forms it takes on the wire (see the module docstring)."""
    forms = {secret}
    lower = secret.lower()
    for scheme in _SCHEMES:
        if lower.startswith(scheme):
            token = secret[len(scheme) :].strip()
            forms.add(token)
            if scheme == "basic ":
                with contextlib.suppress(ValueError, UnicodeDecodeError):
                    forms.add(base64.b64decode(token, validate=True).decode("utf-8"))
    forms |= {quote(form, safe="") for form in list(forms)}
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def url_secrets(url: str) -> set[str]:
    """The secrets in a URL's userinfo: the password, ``user:password`` and its base64."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return set()
    if parts.password is None:
        return set()
    user, password = unquote(parts.username or ""), unquote(parts.password)
    found = {password, parts.password, f"{user}:{password}"}
    found |= _b64_forms(f"{user}:{password}")
    return {form for form in found if len(form) >= MIN_SECRET_LENGTH}


def public_url(url: str) -> str:
    """``url`` without its ``user:password@`` part."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


class Redactor:
    """Replaces every known secret (in every known form) with ``***``. Thread-safe; secrets can
    be added while the run goes on (a panel endpoint is known when it is first asked)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._forms: tuple[str, ...] = ()
        for secret in secrets:
            self.add(secret)

    def __repr__(self) -> str:
        return f"Redactor({len(self._forms)} form(s))"

    def __bool__(self) -> bool:
        return bool(self._forms)

    def add(self, secret: str | None) -> None:
        """Know ``secret`` (an API key, a header value) and its wire forms."""
        if secret:
            self._extend(secret_forms(secret))

    def add_url(self, url: str | None) -> None:
        """Know the password of a URL's userinfo, if it has one."""
        if url:
            self._extend(url_secrets(url))

    def _extend(self, forms: Iterable[str]) -> None:
        with self._lock:
            merged = set(self._forms) | {f for f in forms if len(f) >= MIN_SECRET_LENGTH}
            # longest first: a secret that contains another is replaced whole
            self._forms = tuple(sorted(merged, key=lambda f: (-len(f), f)))

    def __call__(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return text

    def scrub(self, value: Any) -> Any:
        """A copy of a JSON-like value with every string redacted (keys too)."""
        if not self._forms:
            return value
        if isinstance(value, str):
            return self(value)
        if isinstance(value, Mapping):
            return {
                (self(k) if isinstance(k, str) else k): self.scrub(v) for k, v in value.items()
            }
        if isinstance(value, (list, tuple)):
            return [self.scrub(v) for v in value]
        return value


class RedactingFilter(logging.Filter):
    """Redacts the message of every record passing through the logger it is attached to."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        if self.redactor:
            message = record.getMessage()
            record.msg = self.redactor(message)
            record.args = ()
        return True
