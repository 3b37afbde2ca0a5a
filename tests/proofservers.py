"""Real servers on 127.0.0.1 for claim proofs: an HTTP server whose answers a test sets, and a
DNS server (UDP, dnspython's message API) whose TXT records a test sets."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dns.message
import dns.rdataclass
import dns.rdatatype
import dns.rrset


class ProofSite:
    """Serves ``files`` (path -> (status, body)); 404 for anything else."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[int, bytes]] = {}
        self.headers: dict[str, dict[str, str]] = {}  # path -> extra headers (a Location)
        self.delays: dict[str, float] = {}  # path -> seconds to wait before answering
        self.requests: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.requests.append(self.path)
                time.sleep(site.delays.get(self.path, 0.0))
                status, body = site.files.get(self.path, (404, b"not found"))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in site.headers.get(self.path, {}).items():
                    self.send_header(name, value)
                self.end_headers()
                # The client may stop reading: what a bounded fetch does.
                with suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.origin = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


class TxtServer:
    """Answers TXT queries from ``records`` (name -> strings); NXDOMAIN otherwise."""

    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except (TimeoutError, OSError):
                continue
            query = dns.message.from_wire(data)
            answer = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text().rstrip(".").lower()
            texts = self.records.get(name)
            if texts and question.rdtype == dns.rdatatype.TXT:
                answer.answer.append(dns.rrset.from_text(
                    question.name, 60, dns.rdataclass.IN, dns.rdatatype.TXT,
                    *(f'"{t}"' for t in texts)))
            elif not texts:
                answer.set_rcode(3)  # NXDOMAIN
            self.sock.sendto(answer.to_wire(), peer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


@contextmanager
def proof_servers() -> Iterator[tuple[ProofSite, TxtServer]]:
    site, txt = ProofSite(), TxtServer()
    try:
        yield site, txt
    finally:
        site.close()
        txt.close()
