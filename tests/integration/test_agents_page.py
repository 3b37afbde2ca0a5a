"""/docs/agents and its markdown mirror: the MCP configuration and the examples, whose
code blocks (taken from the served markdown) run against a real server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server
from tests.integration.conftest import invoke, running_server

BLOCK = re.compile(r"^`(?P<name>[\w.]+\.py)`:\n\n```python\n(?P<code>.*?)^```", re.M | re.S)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("agents-data")
    invoke(folder, "demo")
    with running_server(folder) as (srv, _):
        yield srv


@pytest.fixture(scope="module")
def mirror(server: Server) -> str:
    response = httpx.get(f"{server.url}/agent/docs/agents", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/markdown")
    return response.text


def test_the_page_and_its_mirror_give_the_mcp_configuration(server: Server, mirror: str
                                                            ) -> None:
    page = httpx.get(f"{server.url}/docs/agents", timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["link"] == '</agent/docs/agents>; rel="alternate"; type="text/markdown"'
    configs = [json.loads(block) for block in
               re.findall(r"```json\n(.*?)```", mirror, re.S)]
    assert configs[0] == {"mcpServers": {"capgraph": {"type": "http",
                                                      "url": f"{server.url}/mcp"}}}
    assert configs[1]["mcpServers"]["capgraph"]["args"] == ["mcp"]
    for tool in ("search", "resolve", "get_passport", "compare", "report_outcome",
                 "verify_passport"):
        assert f"`{tool}`" in mirror and f"<code>{tool}</code>" in page.text
    assert "/docs/agents" in httpx.get(f"{server.url}/docs", timeout=30).text


def test_every_example_on_the_page_runs_against_a_real_server(server: Server, mirror: str,
                                                              tmp_path: Path) -> None:
    blocks = {m["name"]: m["code"] for m in BLOCK.finditer(mirror)}
    assert set(blocks) == {"resolve_use_report.py", "verify_offline.py", "mcp_loop.py"}
    env = {**os.environ, "CAPGRAPH_URL": server.url, "CAPGRAPH_TRUST_DIR": str(tmp_path)}
    out: dict[str, str] = {}
    for name in ("resolve_use_report.py", "verify_offline.py", "verify_offline.py",
                 "mcp_loop.py"):
        script = tmp_path / name
        script.write_text(blocks[name])
        done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                              text=True, timeout=120, check=False)
        assert done.returncode == 0, (name, done.stdout, done.stderr[-3000:])
        out[name] = out.get(name, "") + done.stdout
    assert "use Docling" in out["resolve_use_report.py"]
    assert "reported; counted: True" in out["resolve_use_report.py"]
    first, second = out["verify_offline.py"].splitlines()
    assert first.startswith("docling v") and first.endswith("(checkpoint saved on first use)")
    assert second.startswith("docling v") and "first use" not in second
    assert "tools: ['search', 'resolve'" in out["mcp_loop.py"]
    assert "'counted': True" in out["mcp_loop.py"]
