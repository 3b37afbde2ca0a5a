"""The HTTP/1.1 protocol ``capgraph serve`` runs: uvicorn's httptools protocol with a bound on
the request line and headers.

httptools reads a request head of any size, and builds a long header value by concatenating
the pieces as they arrive: a 256 MB header cost 84 s of CPU and 440 MB, and stalled every other
client of the process meanwhile. Here the bytes of each request head are counted as they come;
past the limit (``max_header_bytes``, handed over as uvicorn's ``h11_max_incomplete_event_size``,
which means the same for its h11 protocol) the request is answered with a 431 problem document
and the connection closed, without reading further. At most one read (64 KB) past the limit is
ever parsed.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from capgraph.errors import HeadersTooLarge
from capgraph.http.problems import PROBLEM_TYPE, headers_for, problem_for

__all__ = ["DEFAULT_MAX_HEADER_BYTES", "BoundedHttpToolsProtocol"]

DEFAULT_MAX_HEADER_BYTES = 32_768


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = getattr(self.config, "h11_max_incomplete_event_size", None)
        self._max_head = int(limit) if limit else DEFAULT_MAX_HEADER_BYTES
        self._head_bytes = 0
        self._in_head = True  # between the end of one request's headers and the next request

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head = True
        self._head_bytes = 0
        super().on_message_complete()

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        # The whole read is fed first: the head may end in it, with a body after it that is
        # not the head's to count. Only a head still open past the limit is refused.
        super().data_received(data)
        if self._in_head and self._head_bytes > self._max_head and not self.transport.is_closing():
            self._refuse_head()

    def _refuse_head(self) -> None:
        error = HeadersTooLarge(self._max_head)
        status, body = problem_for(error)
        lines = [f"HTTP/1.1 {status} {error.title}", f"content-type: {PROBLEM_TYPE}",
                 f"content-length: {len(body)}"]
        lines += [f"{name.lower()}: {value}" for name, value in headers_for(error).items()]
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        self.transport.close()
