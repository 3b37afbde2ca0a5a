"""What-if app factories for bench/passport_rps.sh VARIANTS: NOT product code.

Each factory patches one thing in the worker process, then builds the normal app with
``capgraph.http.server.make_app``, so the effect of a candidate change can be measured side by
side with the unchanged service before anyone edits src/:

* ``coalesce``: uvicorn's httptools protocol writes the response head and the body with two
  ``transport.write`` calls; uvloop sends each at once, so every response costs two ``write``
  syscalls and two TCP segments. The patch holds the head back and writes head + first body
  chunk in one call (what nginx does with ``tcp_nopush``/``writev``).
* ``gencache``: ``Registry.envelope_bytes`` asks SQLite for the write generation on every
  request (one ``SELECT`` per GET). The patch reuses the answer for 100 ms, so another
  process's publish is seen up to 100 ms late.
* ``both``: the two patches together.

Run by uvicorn as ``server_variants:coalesce`` etc. with ``--factory --app-dir bench``.
"""

from __future__ import annotations

import time
from typing import Any

from capgraph.http.server import make_app
from capgraph.storage.sqlite import SQLiteStore

__all__ = ["both", "coalesce", "gencache", "plain"]


class _HeldTransport:
    """Stands in for the transport while uvicorn writes the response head."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.held: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.held.append(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


class _PrependTransport:
    """Stands in for the transport on the first body message: head + body in one write."""

    def __init__(self, real: Any, head: bytes) -> None:
        self.real = real
        self.head: bytes | None = head

    def write(self, data: bytes) -> None:
        if self.head is not None:
            data, self.head = self.head + data, None
        self.real.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def _patch_coalesce() -> None:
    from uvicorn.protocols.http import httptools_impl

    cycle = httptools_impl.RequestResponseCycle
    if getattr(cycle, "_bench_coalesce", False):
        return
    original = cycle.send

    async def send(self: Any, message: Any) -> None:
        kind = message["type"]
        if kind == "http.response.start" and not self.response_started:
            real = self.transport
            holder = _HeldTransport(real)
            self.transport = holder
            try:
                await original(self, message)
            finally:
                self.transport = real
            self._bench_head = b"".join(holder.held)
            return
        head = getattr(self, "_bench_head", None)
        if head is not None and kind == "http.response.body":
            self._bench_head = None
            real = self.transport
            proxy = _PrependTransport(real, head)
            self.transport = proxy
            try:
                await original(self, message)
            finally:
                self.transport = real
                if proxy.head is not None:  # no body bytes written (HEAD, empty body)
                    real.write(proxy.head)
            return
        await original(self, message)

    cycle.send = send
    cycle._bench_coalesce = True


def _patch_gencache(ttl: float = 0.1) -> None:
    if getattr(SQLiteStore, "_bench_gencache", False):
        return
    original = SQLiteStore.generation

    def generation(self: Any) -> int:
        now = time.monotonic()
        cached = getattr(self, "_bench_generation", None)
        if cached is not None and now - cached[0] < ttl:
            return int(cached[1])
        value = original(self)
        self._bench_generation = (now, value)
        return value

    SQLiteStore.generation = generation  # type: ignore[method-assign]
    SQLiteStore._bench_gencache = True  # type: ignore[attr-defined]


def plain() -> Any:
    return make_app()


def coalesce() -> Any:
    _patch_coalesce()
    return make_app()


def gencache() -> Any:
    _patch_gencache()
    return make_app()


def both() -> Any:
    _patch_coalesce()
    _patch_gencache()
    return make_app()
