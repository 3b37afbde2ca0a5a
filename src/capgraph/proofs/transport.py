"""An httpx transport that connects only to checked addresses and never outlives a deadline.

How the checked address is pinned: httpcore opens every connection through a *network
backend*. ``PinnedBackend.connect_tcp`` receives the URL's host name, resolves it itself
(``addresses.resolve``), refuses the whole name if any of its addresses is refused
(``addresses.refusal``), and then asks httpcore's own ``SyncBackend`` to connect to the
*literal IP* it just checked. Nothing resolves the name a second time, so a second DNS answer
cannot swap the address between the check and the connection; and because the request URL
itself is untouched, httpcore still sends ``Host: <name>`` and starts TLS with
``server_hostname=<name>`` (SNI and certificate verification against the name, not the IP).
A refusal raises ``Refused`` before any socket is opened: the server never sees a byte.

How the deadline holds: every socket operation httpcore performs (connect, TLS handshake,
write, each read) goes through ``DeadlineStream``, which shortens its timeout to what is left
of one overall deadline, so a server that drips a byte at a time cannot stretch a fetch past
it; name resolution is bounded the same way.

``PinnedTransport`` is a plain ``httpx.BaseTransport`` over an ``httpcore.ConnectionPool``
built with that backend (public APIs of both libraries); it maps httpcore's errors to httpx's.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

from capgraph.proofs.addresses import refusal, resolve

__all__ = ["DeadlineStream", "PinnedBackend", "PinnedTransport", "Refused"]


class Refused(Exception):
    """A fetch the rules forbid (an address, a scheme, a redirect); the text says which."""


def _left(deadline: float, timeout: float | None) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("deadline passed")
    return left if timeout is None else min(timeout, left)


class DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every operation ends by the deadline."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: float) -> None:
        self._inner = inner
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(self._deadline, timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(self._deadline, timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname,
                                      _left(self._deadline, timeout))
        return DeadlineStream(inner, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class PinnedBackend(httpcore.NetworkBackend):
    """Resolves, checks every address, connects to a checked one; all by the deadline."""

    def __init__(self, *, allow_private: bool, deadline: float) -> None:
        self._allow_private = allow_private
        self._deadline = deadline
        self._tcp = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
                    ) -> httpcore.NetworkStream:
        try:
            addresses = resolve(host, port, _left(self._deadline, timeout))
        except httpcore.ReadTimeout as exc:
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.ConnectError(f"{host} does not resolve ({exc})") from exc
        for address in addresses:
            problem = refusal(address, allow_private=self._allow_private)
            if problem:
                raise Refused(problem if host == str(address) else f"{host}: {problem}")
        last: Exception | None = None
        for address in addresses:  # the resolver's order; the next one if a connect fails
            try:
                left = _left(self._deadline, timeout)
            except httpcore.ReadTimeout as exc:
                raise httpcore.ConnectTimeout(str(exc)) from exc
            try:
                stream = self._tcp.connect_tcp(str(address), port, left, local_address,
                                               socket_options)
            except httpcore.ConnectError as exc:
                last = exc
                continue
            return DeadlineStream(stream, self._deadline)
        raise last or httpcore.ConnectError(f"{host} has no address to connect to")

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
                            ) -> httpcore.NetworkStream:
        raise Refused("unix sockets are never used for proofs")

    def sleep(self, seconds: float) -> None:
        time.sleep(min(seconds, max(self._deadline - time.monotonic(), 0.0)))


_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.ProxyError, httpx.ProxyError),
)


@contextmanager
def _mapped(request: httpx.Request) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for core, mapped in _ERRORS:
            if isinstance(exc, core):
                raise mapped(str(exc) or type(exc).__name__, request=request) from exc
        if isinstance(exc, httpcore.TimeoutException):
            raise httpx.TimeoutException(str(exc), request=request) from exc
        if isinstance(exc, httpcore.NetworkError | httpcore.ProtocolError):
            raise httpx.TransportError(str(exc), request=request) from exc
        raise


class _Body(httpx.SyncByteStream):
    def __init__(self, inner: Iterable[bytes], request: httpx.Request) -> None:
        self._inner = inner
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        with _mapped(self._request):
            yield from self._inner

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


class PinnedTransport(httpx.BaseTransport):
    """HTTP/1.1 over ``PinnedBackend``; one connection at a time, no retries."""

    def __init__(self, *, allow_private: bool, deadline: float,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(), max_connections=1,
            http1=True, http2=False, retries=0,
            network_backend=PinnedBackend(allow_private=allow_private, deadline=deadline))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=request.url.raw_scheme, host=request.url.raw_host,
                             port=request.url.port, target=request.url.raw_path),
            headers=request.headers.raw, content=request.read(),
            extensions=request.extensions)
        with _mapped(request):
            response = self._pool.handle_request(core)
        assert isinstance(response.stream, Iterable)
        return httpx.Response(status_code=response.status, headers=response.headers,
                              stream=_Body(response.stream, request),
                              extensions=response.extensions)

    def close(self) -> None:
        self._pool.close()
