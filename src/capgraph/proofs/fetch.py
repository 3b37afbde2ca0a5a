"""One safe GET of a small file for a claim proof: the rules every proof fetch follows.

- HTTPS only (plain ``http://`` too when private networks are allowed, for tests);
- at most 3 redirects, each to the same host name (its port may differ; any other host is
  refused, private networks allowed or not);
- one deadline for the whole fetch: resolution, connects, TLS, every redirect, every read;
- at most ``max_bytes`` of body, streamed and counted (a declared larger ``Content-Length`` is
  refused before reading; an undeclared one as soon as the count passes the cap), with
  ``Accept-Encoding: identity`` so a small compressed answer cannot expand past the cap;
- connections only to addresses checked by ``addresses.refusal`` (``transport.py`` explains
  how the checked address is the one connected to).

``fetch`` never raises for network trouble: its ``Fetched`` says what went wrong.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass

import httpx

from capgraph.proofs.transport import PinnedTransport, Refused

__all__ = ["MAX_REDIRECTS", "Fetched", "fetch"]

MAX_REDIRECTS = 3
_HEADERS = {
    "Accept": "application/json, application/yaml, text/plain;q=0.5, */*;q=0.1",
    "Accept-Encoding": "identity",
    "User-Agent": "capgraph-claim-check/1",
}


@dataclass(frozen=True)
class Fetched:
    """What a fetch read: the body (None when nothing was accepted), the URL it finally came
    from, the redirects followed, and why nothing was accepted ("" when a body was)."""

    url: str
    body: bytes | None
    problem: str = ""
    redirects: tuple[str, ...] = ()

    def trail(self) -> str:
        """A prefix for details, "after redirect to X: ", when redirects were followed."""
        if not self.redirects:
            return ""
        hops = " then ".join(self.redirects)
        plural = "s" if len(self.redirects) > 1 else ""
        return f"after redirect{plural} to {hops}: "


def seconds(value: float) -> str:
    """``5`` -> "5 s", ``0.5`` -> "0.5 s"."""
    return f"{value:g} s"


def _scheme_problem(url: httpx.URL, allow_private: bool) -> str:
    if url.scheme == "https" or (url.scheme == "http" and allow_private):
        return ""
    if url.scheme == "http":
        return f"refused plain http: {url} (proofs are fetched over https only)"
    return f"refused scheme {url.scheme or '(none)'!r}: only https URLs are fetched"


def fetch(url: str, *, allow_private: bool, timeout: float, max_bytes: int,
          ssl_context: ssl.SSLContext | None = None) -> Fetched:
    """GET ``url`` under the rules above; a ``Fetched`` with the body or the problem."""
    deadline = time.monotonic() + timeout
    try:
        current = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        return Fetched(url, None, f"not a valid URL ({exc})")
    origin_host = current.host.lower()
    redirects: list[str] = []
    transport = PinnedTransport(allow_private=allow_private, deadline=deadline,
                                ssl_context=ssl_context)
    with httpx.Client(transport=transport, follow_redirects=False, trust_env=False,
                      headers=_HEADERS) as client:

        def result(problem: str, body: bytes | None = None) -> Fetched:
            return Fetched(str(current), body, problem, tuple(redirects))

        while True:
            problem = _scheme_problem(current, allow_private)
            if problem:
                return result(problem)
            left = deadline - time.monotonic()
            if left <= 0:
                return result(f"timed out after {seconds(timeout)}")
            try:
                with client.stream("GET", current, timeout=left) as response:
                    if response.is_redirect:
                        target = current.join(response.headers["location"])
                        if target.host.lower() != origin_host:
                            return result(f"redirect to another host refused: {target}")
                        if len(redirects) >= MAX_REDIRECTS:
                            return result(f"more than {MAX_REDIRECTS} redirects, last to "
                                          f"{target}")
                        redirects.append(str(target))
                        current = target
                        continue
                    if response.status_code != 200:
                        return result(f"answered HTTP {response.status_code}")
                    encoding = response.headers.get("content-encoding", "identity").lower()
                    if encoding not in ("", "identity"):
                        return result(f"refused a compressed answer ({encoding})")
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > max_bytes:
                        return result(f"larger than {max_bytes} bytes "
                                      f"(Content-Length {declared})")
                    body = bytearray()
                    for chunk in response.iter_raw():
                        body += chunk
                        if len(body) > max_bytes:
                            return result(f"larger than {max_bytes} bytes")
                        if time.monotonic() > deadline:
                            return result(f"timed out after {seconds(timeout)}")
                    return result("", bytes(body))
            except Refused as exc:
                return result(str(exc))
            except httpx.TimeoutException:
                return result(f"timed out after {seconds(timeout)}")
            except httpx.InvalidURL as exc:
                return result(f"redirect to an invalid URL refused ({exc})")
            except httpx.ConnectError as exc:
                return result(f"could not connect: {_reason(exc)}")
            except httpx.HTTPError as exc:
                return result(f"the connection failed: {_reason(exc)}")
            except (ssl.SSLError, OSError) as exc:  # defensive: should arrive mapped
                return result(f"the connection failed: {_reason(exc)}")


def _reason(exc: BaseException) -> str:
    """The error's text, or what a certificate check said when that is the root cause."""
    cause: BaseException | None = exc
    for _ in range(4):
        if cause is None:
            break
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate not valid ({cause.verify_message})"
        cause = cause.__cause__ or cause.__context__  # httpcore re-raises "from None"
    return str(exc) or type(exc).__name__
