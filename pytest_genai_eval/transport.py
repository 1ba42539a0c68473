"""The HTTP transport under the plugin's httpx clients (judges and HTTP apps), and their TLS.

The plugin speaks httpx's client API everywhere (``httpx.AsyncClient``, ``httpx.Response``,
httpx's exception types), but requests travel over aiohttp's connection pool, through
httpx-aiohttp's ``AiohttpTransport``, for ``http://`` and ``https://`` alike. With 64 requests
in flight, httpx's own transport (httpcore on anyio) costs 1-1.5 ms of CPU per request spread
over 8 clients and about 15 ms with one client, and makes HTTPS 25-35 % slower than HTTP; with
aiohttp's, a request costs about 0.5 ms (HTTPS a little more) and HTTPS runs as fast as HTTP
(see benchmarks/README.md).

What :class:`AiohttpTransport` adds to httpx-aiohttp's transport of the same name:

* **A bounded, keep-alive pool**: one ``aiohttp.ClientSession`` per transport, created on the
  first request (inside the running event loop) and closed by ``aclose``, whose connector holds at
  most ``max_connections`` connections and keeps idle ones ``keepalive_expiry`` seconds. No cookie
  jar of aiohttp's own (httpx keeps cookies) and no environment lookups in aiohttp (``trust_env``
  off: proxies from the environment are httpx's business, which routes them to its own
  transport).
* **One TLS context, given**: the transport never builds one (building one costs tens of
  milliseconds); see :func:`tls_context`.
* **httpx's exceptions, as httpx's own transport raises them**: a refused connection or a failed
  TLS handshake is ``httpx.ConnectError`` (a certificate that cannot be verified says so), no
  connection within the connect timeout ``httpx.ConnectTimeout``, no data within the read timeout
  ``httpx.ReadTimeout``, a server that closes the connection without (a whole) answer
  ``httpx.RemoteProtocolError``, a reset ``httpx.ReadError``; anything else aiohttp raises is an
  ``httpx.TransportError``. Every such exception carries the request, a message that names the
  host and port but never the URL's userinfo, and no chained aiohttp exception. (httpx-aiohttp
  maps most aiohttp errors to ``ConnectTimeout``, a dropped connection included, and lets some
  escape unmapped.)
* **No userinfo past httpx**: by the time a request reaches the transport, httpx has turned the
  URL's ``user:password@`` into an ``Authorization`` header; the transport removes it from
  ``request.url``, so neither aiohttp, nor httpx's ``HTTP Request: ...`` log line, nor
  ``response.url`` ever holds it.

Timeouts (``httpx.Timeout``, per request): ``connect`` bounds the TCP connection and the TLS
handshake (aiohttp's ``sock_connect``), ``read`` every wait for data from the server, headers and
body alike (``sock_read``), and ``pool`` the wait for a free connection plus connecting
(``connect``); ``None`` means no limit. aiohttp has no write timeout; httpx's ``write`` is not
applied. aiohttp rounds limits of 5 s and more up to the next whole second.

Responses stream: httpx reads the body from aiohttp's buffer as it arrives (``client.stream()``
works), and the connection goes back to the pool once the body is read or the response closed.
A ``Connection: close`` answer is honoured (the next request opens a new connection).
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    import aiohttp

__all__ = [
    "AiohttpTransport",
    "TLSConfigError",
    "async_client",
    "needs_tls",
    "tls_context",
]


class TLSConfigError(ValueError):
    """A CA bundle (the ``ca_bundle`` setting, ``SSL_CERT_FILE`` or ``SSL_CERT_DIR``) cannot be
    used: it does not exist, cannot be read, or holds no certificate."""


class CertificateError(httpx.ConnectError):
    """The server's certificate could not be verified: retrying cannot help (a configuration
    matter: the CA bundle), so a judge call ends at once."""


def needs_tls(url: str) -> bool:
    """Whether requests to ``url`` are made over TLS (an ``https://`` URL)."""
    return url[:6].lower() == "https:"


def tls_context(
    ca_bundle: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> ssl.SSLContext:
    """A TLS context that verifies servers (hostname and certificate chain), trusting, in order
    of precedence:

    1. ``ca_bundle`` when given: a PEM file of CA certificates, or a directory of hashed
       certificates (``openssl rehash``); only these CAs are trusted. ``~`` is expanded; a
       relative path is taken from the current directory (a caller reading it from a file
       resolves it against that file's directory first).
    2. else the ``SSL_CERT_FILE`` environment variable (a PEM file), else ``SSL_CERT_DIR`` (a
       directory), as httpx and OpenSSL read them; only these CAs are trusted. Empty values
       count as unset.
    3. else the system's trust store (OpenSSL's default locations); when that has no CA
       certificate file, certifi's bundle is added (httpx's own default).

    ``environ`` replaces ``os.environ`` (for tests). Build one context per set of clients and
    share it: building one reads and parses every trusted certificate (tens of milliseconds).

    Raises:
        TLSConfigError: the bundle does not exist, cannot be read or holds no certificate.
    """
    env = os.environ if environ is None else environ
    if ca_bundle is not None and str(ca_bundle):
        return _from_bundle(Path(ca_bundle).expanduser(), "the CA bundle (ca_bundle)")
    if env.get("SSL_CERT_FILE"):
        return _from_bundle(Path(env["SSL_CERT_FILE"]), "SSL_CERT_FILE")
    if env.get("SSL_CERT_DIR"):
        return _from_bundle(Path(env["SSL_CERT_DIR"]), "SSL_CERT_DIR")
    context = ssl.create_default_context()
    if not context.cert_store_stats().get("x509_ca"):
        import certifi

        context.load_verify_locations(cafile=certifi.where())
    return context


def _from_bundle(path: Path, origin: str) -> ssl.SSLContext:
    try:
        if path.is_dir():
            return ssl.create_default_context(capath=str(path))
        return ssl.create_default_context(cafile=str(path))
    except FileNotFoundError:
        raise TLSConfigError(f"{origin}: {str(path)!r} does not exist") from None
    except ssl.SSLError as exc:
        raise TLSConfigError(
            f"{origin}: {str(path)!r} holds no usable PEM certificate ({exc.reason or exc})"
        ) from None
    except OSError as exc:
        raise TLSConfigError(
            f"{origin}: cannot read {str(path)!r}: {exc.strerror or exc}"
        ) from None


def async_client(
    *,
    tls: ssl.SSLContext | None,
    max_connections: int = 100,
    keepalive_expiry: float | None = 5.0,
    **client_options: Any,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` on an :class:`AiohttpTransport`.

    ``tls`` is the context that verifies ``https://`` servers (:func:`tls_context`); ``None`` for
    a client that only calls ``http://`` URLs. At most ``max_connections`` connections are open
    at once (requests beyond wait for one). ``client_options`` go to ``httpx.AsyncClient``
    (``timeout``, ``headers``, ``auth``, ...; not ``transport``, ``verify`` or ``limits``).
    """
    limits = httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=keepalive_expiry,
    )
    return httpx.AsyncClient(
        transport=AiohttpTransport(tls=tls, limits=limits),
        # Only used for routes to proxies from the environment, which httpx serves itself.
        verify=tls if tls is not None else False,
        limits=limits,
        **client_options,
    )


class AiohttpTransport(httpx.AsyncBaseTransport):
    """httpx-aiohttp's transport with a bounded pool, a given TLS context, httpx's exceptions and
    no URL userinfo (see the module docstring). aiohttp is imported on the first request."""

    def __init__(
        self,
        *,
        tls: ssl.SSLContext | None = None,
        limits: httpx.Limits | None = None,
    ) -> None:
        self._tls = tls
        self._limits = limits if limits is not None else httpx.Limits()
        self._inner: httpx.AsyncBaseTransport | None = None
        self._errors: tuple[type[BaseException], ...] = ()
        self._closed = False

    def __repr__(self) -> str:
        return f"AiohttpTransport(max_connections={self._limits.max_connections!r})"

    def _start(self) -> httpx.AsyncBaseTransport:
        import aiohttp
        from httpx_aiohttp import AiohttpTransport as Inner

        tls, limits = self._tls, self._limits

        def session() -> aiohttp.ClientSession:
            connector = aiohttp.TCPConnector(
                limit=limits.max_connections or 0,  # 0: no limit
                keepalive_timeout=limits.keepalive_expiry,
                # no context given: the client calls http:// URLs only; aiohttp's default
                # context (built when aiohttp is imported) stands for any https:// one
                ssl=tls if tls is not None else True,
            )
            return aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
                auto_decompress=False,
            )

        self._errors = (httpx.TransportError, aiohttp.ClientError, asyncio.TimeoutError, OSError)
        # verify=False: the inner transport's own (unused) context is the cheap unverified one.
        self._inner = Inner(verify=tls if tls is not None else False, limits=limits, client=session)
        return self._inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise httpx.ConnectError("the transport is closed", request=request)
        inner = self._inner or self._start()
        url = request.url
        if url.userinfo:  # already an Authorization header (httpx's BasicAuth)
            request.url = url.copy_with(username=None, password=None)
        try:
            response = await inner.handle_async_request(request)
        except self._errors as exc:
            raise _translate(exc, request) from None
        response.stream = _Stream(response.stream, request, self._errors)
        return response

    async def aclose(self) -> None:
        self._closed = True
        inner, self._inner = self._inner, None
        if inner is not None:
            await inner.aclose()


class _Stream(httpx.AsyncByteStream):
    """A response body whose read errors are httpx's (see :func:`_translate`)."""

    def __init__(
        self,
        inner: httpx.SyncByteStream | httpx.AsyncByteStream,
        request: httpx.Request,
        errors: tuple[type[BaseException], ...],
    ) -> None:
        assert isinstance(inner, httpx.AsyncByteStream)
        self._inner = inner
        self._request = request
        self._errors = errors

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except self._errors as exc:
            raise _translate(exc, self._request) from None

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        except self._errors as exc:
            raise _translate(exc, self._request) from None


def _translate(exc: BaseException, request: httpx.Request) -> httpx.TransportError:
    """The httpx exception for an aiohttp (or socket) error, or for httpx-aiohttp's mapping of
    one (whose ``__cause__`` is the aiohttp error): as httpx's own transport would raise it."""
    import aiohttp

    cause = exc.__cause__ if isinstance(exc, httpx.TransportError) and exc.__cause__ else exc
    url = request.url
    where = f"{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"
    if isinstance(cause, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(f"timed out connecting to {where}", request=request)
    if isinstance(cause, asyncio.TimeoutError):  # aiohttp's SocketTimeoutError among them
        return httpx.ReadTimeout(f"timed out waiting for {where} to answer", request=request)
    if isinstance(cause, aiohttp.ClientConnectorCertificateError):
        error = cause.certificate_error
        detail = getattr(error, "verify_message", None) or getattr(error, "reason", None) or error
        return CertificateError(
            f"TLS certificate verification failed for {where}: {detail} (a private CA is "
            "trusted through the ca_bundle setting or SSL_CERT_FILE)",
            request=request,
        )
    if isinstance(cause, aiohttp.ClientSSLError):
        error = cause.os_error
        detail = getattr(error, "reason", None) or error.strerror or error
        return httpx.ConnectError(f"TLS handshake with {where} failed: {detail}", request=request)
    if isinstance(cause, aiohttp.ClientConnectorError):
        error = cause.os_error
        detail = error.strerror or type(error).__name__
        return httpx.ConnectError(f"cannot connect to {where}: {detail}", request=request)
    if isinstance(cause, aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError(
            f"{where} closed the connection without a response", request=request
        )
    if isinstance(cause, aiohttp.ClientPayloadError):
        return httpx.RemoteProtocolError(
            f"{where} closed the connection before the end of the response body", request=request
        )
    if isinstance(cause, aiohttp.ClientResponseError):  # e.g. a malformed status line
        return httpx.RemoteProtocolError(
            f"malformed response from {where}: {cause.message}", request=request
        )
    if isinstance(cause, (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError)):
        return httpx.UnsupportedProtocol(f"cannot request {url.scheme}:// URLs", request=request)
    if isinstance(cause, OSError):  # aiohttp's ClientOSError: a reset, a broken pipe
        detail = cause.strerror or type(cause).__name__
        return httpx.ReadError(f"connection to {where} failed: {detail}", request=request)
    if isinstance(cause, httpx.TransportError):
        if cause._request is None:
            cause.request = request
        return cause
    return httpx.TransportError(f"{type(cause).__name__} from {where}", request=request)
