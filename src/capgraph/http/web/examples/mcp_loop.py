"""The same loop through MCP, with the official MCP Python SDK's client over streamable HTTP."""

import os

import anyio
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

REGISTRY = os.environ.get("CAPGRAPH_URL", "http://127.0.0.1:8000")


async def main() -> None:
    async with streamable_http_client(f"{REGISTRY}/mcp") as (read, write), \
            ClientSession(read, write) as session:
        await session.initialize()
        print("tools:", [tool.name for tool in (await session.list_tools()).tools])
        found = await session.call_tool("resolve", {"intent": "transcribe a podcast episode"})
        resolution = found.structured_content
        best = resolution["resolved"][0]
        print("use", best["artifact"]["slug"], best["invocation"])
        report = await session.call_tool("report_outcome", {
            "resolve_id": resolution["resolveId"], "slug": best["artifact"]["slug"],
            "callback_token": best["callbackToken"], "outcome": "success"})
        print("reported:", report.structured_content)


anyio.run(main)
