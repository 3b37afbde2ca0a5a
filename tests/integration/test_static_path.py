"""The static read path (docs/STATIC.md): a registry with CAPGRAPH_STATIC_DIR writes its
passports, JWK Set and log tiles as files after every write; Debian's nginx, with the
configuration docs/STATIC.md gives, serves the same bytes as the Python server; a C2SP
tlog-tiles client written from the spec (tests/tlog_tiles_client.py) verifies the log
through both; the Python server answers with ETag, Cache-Control and 304."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from capgraph.bootstrap import build_registry
from capgraph.config import Settings
from tests.conftest import ROOT, Server, free_port, stop_server
from tests.integration.conftest import assert_problem, invoke, manifest, to_yaml
from tests.tlog_tiles_client import TILE, TileLog, TileLogError, tile_path

NGINX = Path("/usr/sbin/nginx")
pytestmark = pytest.mark.skipif(not NGINX.exists(),
                                reason="Debian's nginx (make test installs nginx-light)")

SLUGS = [f"static-widget-{i:02d}" for i in range(12)]
HTTP_SLUG = "static-widget-http"  # published over HTTP by a publisher, who then owns it
REVISIONS = 22  # 12 x 22 = 264 entries: one full level-0 tile, and a partial one
IMMUTABLE = "public, max-age=31536000, immutable"
CHANGING = "public, max-age=5"


@dataclass
class Site:
    python: str
    nginx: str
    static: Path
    data: Path
    old_checkpoint: bytes  # before the last publish, made over HTTP
    http_version: tuple[str, int]  # what that publish stored
    verifier: str


def _nginx_config(static: Path, listen: int, upstream: int, work: Path) -> str:
    """The configuration of docs/STATIC.md, with this test's root, ports and temp paths."""
    doc = (ROOT / "docs" / "STATIC.md").read_text()
    block = doc.split("<!-- nginx-config -->", 1)[1].split("```nginx\n", 1)[1]
    block = block.split("```", 1)[0]
    block = block.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream};")
    block = block.replace("listen 80;", f"listen 127.0.0.1:{listen};")
    block = block.replace("root /srv/capgraph/static;", f"root {static};")
    temps = "\n".join(f"    {name}_temp_path {work}/{name};"
                      for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    # Run as root (as the test machine does), nginx's workers would be nobody, who cannot
    # enter pytest's 0700 temporary folders.
    user = "user root root;\n" if os.geteuid() == 0 else ""
    return (f"{user}daemon off;\nworker_processes 1;\npid {work}/nginx.pid;\n"
            f"error_log {work}/error.log warn;\nevents {{ worker_connections 256; }}\n"
            f"http {{\n    access_log off;\n{temps}\n{block}}}\n")


def _wait(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    work = tmp_path_factory.mktemp("static")
    data, static = work / "data", work / "www"
    port = free_port()
    env = {"CAPGRAPH_STATIC_DIR": str(static), "CAPGRAPH_EMBEDDER": "none",
           "CAPGRAPH_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    settings = Settings(data_dir=data, static_dir=static, embedder="none",
                        public_url=env["CAPGRAPH_PUBLIC_URL"])
    registry = build_registry(settings)
    for revision in range(REVISIONS):
        for slug in SLUGS:
            registry.publish(to_yaml(manifest(slug, revision=revision)), hint="yaml")
    _, secret = registry.create_api_key("static-test")
    registry.close()

    process = subprocess.Popen(
        [sys.executable, "-m", "capgraph.cli", "serve", "--port", str(port)],
        env={**os.environ, "CAPGRAPH_DATA_DIR": str(data), **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    python = f"http://127.0.0.1:{port}"
    server = Server(python, data, process)
    nginx: subprocess.Popen[bytes] | None = None
    try:
        _wait(python + "/api/v1/health", process)
        old = httpx.get(python + "/api/v1/log/checkpoint").content
        answer = httpx.post(python + "/api/v1/artifacts",
                            content=to_yaml(manifest(HTTP_SLUG)),
                            headers={"Authorization": f"Bearer {secret}",
                                     "Content-Type": "application/yaml"})
        assert answer.status_code == 201, answer.text
        stored = answer.json()
        listen = free_port()
        (work / "nginx").mkdir()
        conf = work / "nginx" / "nginx.conf"
        conf.write_text(_nginx_config(static, listen, port, work / "nginx"))
        os.chmod(work, 0o755)
        nginx = subprocess.Popen([str(NGINX), "-e", str(work / "nginx" / "error.log"),
                                  "-p", str(work / "nginx"), "-c", str(conf)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait(f"http://127.0.0.1:{listen}/api/v1/log/checkpoint", nginx)
        verifier = httpx.get(python + "/api/v1/log/key").text
        yield Site(python, f"http://127.0.0.1:{listen}", static, data, old,
                   (stored["slug"], stored["version"]), verifier)
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(timeout=15)
        stop_server(server)


def _tile_paths(size: int) -> list[str]:
    """Every tile and bundle of a tree of ``size``, by the spec's rules (not capgraph's)."""
    out = []
    level = 0
    while size // TILE ** level:
        count = size // TILE ** level
        for index in range(-(-count // TILE)):
            width = min(TILE, count - index * TILE)
            out.append(tile_path(level, index, width))
            if level == 0:
                out.append(tile_path("entries", index, width))
        level += 1
    return out


def _get(base: str, path: str, **headers: str) -> httpx.Response:
    return httpx.get(base + path, headers=headers, timeout=30)


def _size(note: bytes) -> int:
    return int(note.split(b"\n")[1])


def test_every_write_is_on_disk_with_the_checkpoint_last(site: Site) -> None:
    note = (site.static / "api/v1/log/checkpoint").read_bytes()
    assert note == _get(site.python, "/api/v1/log/checkpoint").content
    # 264 publishes in-process, then one over HTTP by the server (its owner entry, then its
    # passport): both wrote the files.
    assert _size(note) == len(SLUGS) * REVISIONS + 2 == _size(site.old_checkpoint) + 2
    slug, version = site.http_version
    assert (slug, version) == (HTTP_SLUG, 1)
    on_disk = (site.static / f"api/v1/artifacts/{slug}/versions/{version}").read_bytes()
    assert on_disk == (site.static / f"api/v1/passport/{slug}").read_bytes()
    assert json.loads(on_disk)["passport"]["version"] == version
    # The full level-0 tile replaced its partial tiles; partial tiles stay for every size an
    # update ended at: each in-process publish, then the HTTP write's two entries at once.
    tiles = site.static / "api/v1/log/tile"
    assert (tiles / "0/000").stat().st_size == 32 * TILE
    assert not (tiles / "0/000.p").exists() and not (tiles / "entries/000.p").exists()
    widths = {p.name for p in (tiles / "0/001.p").iterdir()}
    assert widths == {str(w) for w in range(1, 9)} | {"10"} == {str(_size(note) - TILE)} | {
        str(w) for w in range(1, _size(site.old_checkpoint) - TILE + 1)}
    assert not list(site.static.rglob(".tmp-*"))


def test_nginx_serves_the_bytes_the_python_server_serves(site: Site) -> None:
    size = _size(_get(site.python, "/api/v1/log/checkpoint").content)
    paths = ["/api/v1/log/checkpoint", "/api/v1/trust-passport-public-key"]
    paths += [f"/api/v1/log/{p}" for p in _tile_paths(size)]
    for slug in SLUGS:
        paths.append(f"/api/v1/passport/{slug}")
        paths += [f"/api/v1/artifacts/{slug}/versions/{n}" for n in range(1, REVISIONS + 1)]
    paths += [f"/api/v1/passport/{HTTP_SLUG}", f"/api/v1/artifacts/{HTTP_SLUG}/versions/1"]
    for path in paths:
        python, nginx = _get(site.python, path), _get(site.nginx, path)
        assert python.status_code == nginx.status_code == 200, path
        assert python.content == nginx.content, path
        assert python.headers["content-type"] == nginx.headers["content-type"], path
        assert python.headers["cache-control"] == nginx.headers["cache-control"], path
        # From the file, not handed on to capgraph: nginx's tag is the file's time and size.
        assert python.headers["etag"] != nginx.headers["etag"], path
        assert python.content == (site.static / path.lstrip("/")).read_bytes(), path


def test_nginx_hands_what_it_has_no_file_for_to_capgraph(site: Site) -> None:
    slug = SLUGS[3]
    old = _get(site.nginx, f"/api/v1/passport/{slug}?version=2")
    assert old.status_code == 200
    # Handed on with the Host the client asked for: the _links point there.
    host = site.nginx.removeprefix("http://")
    assert old.content == _get(site.python, f"/api/v1/passport/{slug}?version=2",
                               Host=host).content
    assert json.loads(old.content)["passport"]["version"] == 2
    assert _get(site.nginx, "/api/v1/artifacts").json()["total"] == len(SLUGS) + 1
    missing = _get(site.nginx, "/api/v1/passport/no-such-artifact")
    assert_problem(missing, 404, "not-found")
    assert _get(site.nginx, "/.lock").status_code == 404


@pytest.mark.parametrize("server", ["python", "nginx"])
def test_a_tlog_tiles_client_verifies_the_log(site: Site, server: str) -> None:
    base = getattr(site, server) + "/api/v1/log/"

    def fetch(path: str) -> bytes:
        answer = httpx.get(base + path, timeout=30)
        assert answer.status_code == 200, (path, answer.status_code)
        return answer.content

    log = TileLog(fetch, site.verifier)
    log.verify()
    entries = log.entries()
    size = log.head.size
    for index, entry in enumerate(entries):
        log.check_inclusion(entry, index, size, log.head.root)
    old = log.check_consistency(site.old_checkpoint)
    assert old.size == size - 2
    assert json.loads(entries[-2])["kind"] == "ownership"
    # Each envelope's own proof (at the tree its entry made) checks out against the tiles.
    for slug in [*SLUGS, HTTP_SLUG]:
        envelope = json.loads(httpx.get(getattr(site, server) + f"/api/v1/passport/{slug}").content)
        proof = envelope["_log"]
        index, tree = proof["index"], proof["treeSize"]
        hashes = [base64.b64decode(h) for h in proof["inclusionProof"]]
        assert hashes == log.inclusion_proof(index, tree)
        at_tree = log.check_consistency(proof["checkpoint"].encode())
        log.check_inclusion(entries[index], index, tree, at_tree.root, hashes)
        assert json.loads(entries[index])["unfragile"]["artifact"]["slug"] == slug


def test_the_client_refuses_a_changed_tile_or_entry(site: Site) -> None:
    base = site.nginx + "/api/v1/log/"

    def changed(target: str) -> TileLog:
        def fetch(path: str) -> bytes:
            data = httpx.get(base + path, timeout=30).content
            if path == target:
                data = data[:40] + bytes([data[40] ^ 1]) + data[41:]
            return data
        return TileLog(fetch, site.verifier)

    with pytest.raises(TileLogError, match="root"):
        changed("tile/0/000").verify()
    with pytest.raises(TileLogError, match="hash to its tile"):
        changed("tile/entries/000").entries()
    with pytest.raises(TileLogError, match="signature"):
        changed("checkpoint")


def test_the_python_server_answers_with_etags_and_304(site: Site) -> None:
    slug = SLUGS[1]
    size = _size(_get(site.python, "/api/v1/log/checkpoint").content)
    for path, cache in [(f"/api/v1/passport/{slug}", CHANGING),
                        (f"/api/v1/passport/{slug}?version=1", IMMUTABLE),
                        (f"/api/v1/artifacts/{slug}/versions/1", IMMUTABLE),
                        ("/api/v1/trust-passport-public-key", CHANGING),
                        ("/api/v1/log/checkpoint", CHANGING),
                        ("/api/v1/log/tile/0/000", IMMUTABLE),
                        (f"/api/v1/log/tile/0/001.p/{size - TILE}", CHANGING),
                        ("/api/v1/log/tile/entries/000", IMMUTABLE),
                        ("/api/v1/log/tile/1/000.p/1", CHANGING)]:
        first = _get(site.python, path)
        assert first.status_code == 200 and first.headers["cache-control"] == cache, path
        etag = first.headers["etag"]
        assert re.fullmatch(r'"[0-9a-f]{40}"', etag), etag
        again = _get(site.python, path, **{"If-None-Match": f'"other", {etag}'})
        assert again.status_code == 304 and again.content == b"", path
        assert again.headers["etag"] == etag
        assert _get(site.python, path, **{"If-None-Match": '"other"'}).status_code == 200
    # nginx revalidates the same way, with its own tags.
    first = _get(site.nginx, f"/api/v1/artifacts/{slug}/versions/1")
    assert _get(site.nginx, f"/api/v1/artifacts/{slug}/versions/1",
                **{"If-None-Match": first.headers["etag"]}).status_code == 304


@pytest.mark.parametrize("path", [
    "tile/0/002", "tile/0/001", "tile/0/001.p/255", "tile/2/000.p/1", "tile/0/000.p/0",
    "tile/0/000.p/256", "tile/0/00", "tile/0/x000/001", "tile/00/000", "tile/64/000",
    "tile/entries/001", "tile/0/000.p/01", "tile/x/000", "tile/0/" + "x999/" * 40 + "999",
])
def test_a_tile_the_log_does_not_have_is_a_404(site: Site, path: str) -> None:
    assert_problem(_get(site.python, "/api/v1/log/" + path), 404, "not-found")


def test_static_export_rewrites_the_same_files(site: Site, tmp_path: Path) -> None:
    out = tmp_path / "again"
    result = invoke(site.data, "static", "export", "--dir", str(out),
                    env={"CAPGRAPH_EMBEDDER": "none", "CAPGRAPH_PUBLIC_URL": site.python})
    assert "tree size 266" in result.stdout

    def files(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*")
                if p.is_file() and not p.name.startswith(".")}

    # The same files, but for the partial tiles of the sizes earlier updates ended at.
    live = files(site.static)
    assert files(out) == {k: v for k, v in live.items()
                          if ".p/" not in k or k.endswith(f"/001.p/{266 - TILE}")
                          or k == "api/v1/log/tile/1/000.p/1"}
    again = invoke(site.data, "static", "export", "--dir", str(out),
                   env={"CAPGRAPH_EMBEDDER": "none", "CAPGRAPH_PUBLIC_URL": site.python})
    assert again.stdout == result.stdout and files(out) == {k: live[k] for k in files(out)}
