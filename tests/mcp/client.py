#!/usr/bin/env python3
"""An independent MCP client for swe-sleep's tests (tests/mcp.rs).

The protocol's official Python SDK (`mcp` on PyPI) drives a swe-sleep MCP
server, either the binary over stdio or a daemon's /mcp over streamable
HTTP: it initialises, lists the tools, calls predict_files and search, and
calls file_card with each path given by --outside. It prints one JSON
report on stdout for the Rust test to check, and itself checks only what
the protocol promises (types, flags).

    client.py stdio [options] -- BINARY ARG...
    client.py http  [options] --url URL [--token TOKEN]
"""

import argparse
import asyncio
import json
import sys

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def text_of(result):
    """The text content of a tool result."""
    parts = [c.text for c in result.content if getattr(c, "type", None) == "text"]
    assert len(parts) == len(result.content), "only text content is expected"
    return "\n".join(parts)


async def scenario(session, args):
    init = await session.initialize()
    listed = await session.list_tools()
    progress = []

    async def on_progress(value, total, message):
        progress.append({"progress": value, "total": total, "message": message})

    predict = await session.call_tool(
        "predict_files",
        {"request": args.request, "budget": args.budget, "max_tokens": args.max_tokens},
        progress_callback=on_progress,
    )
    assert isinstance(predict.is_error, bool)
    search = await session.call_tool("search", {"query": args.query, "k": 5})
    outside = {}
    for path in args.outside:
        card = await session.call_tool("file_card", {"path": path})
        outside[path] = {"is_error": card.is_error, "text": text_of(card)}
    predict_text = text_of(predict)
    return {
        "server": {"name": init.server_info.name, "version": init.server_info.version},
        "instructions": init.instructions,
        "tools": [
            {
                "name": t.name,
                "description": t.description,
                "input_schema": t.input_schema,
                "read_only": bool(t.annotations and t.annotations.read_only_hint),
            }
            for t in listed.tools
        ],
        "predict": {
            "is_error": predict.is_error,
            "json": None if predict.is_error else json.loads(predict_text),
            "text": predict_text,
        },
        "search": {"is_error": search.is_error, "text": text_of(search)},
        "outside": outside,
        "progress": progress,
    }


async def over_stdio(args):
    command, *rest = args.command
    params = StdioServerParameters(command=command, args=rest)
    async with stdio_client(params) as streams:
        async with ClientSession(streams[0], streams[1]) as session:
            return await scenario(session, args)


async def over_http(args):
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else None
    async with create_mcp_http_client(headers=headers) as http:
        async with streamable_http_client(args.url, http_client=http) as streams:
            async with ClientSession(streams[0], streams[1]) as session:
                return await scenario(session, args)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("transport", choices=["stdio", "http"])
    p.add_argument("--url")
    p.add_argument("--token")
    p.add_argument("--request", required=True)
    p.add_argument("--budget", type=int, default=4000)
    p.add_argument("--max-tokens", type=int, default=2000)
    p.add_argument("--query", required=True)
    p.add_argument("--outside", action="append", default=[])
    argv = sys.argv[1:]
    command = []
    if "--" in argv:
        at = argv.index("--")
        argv, command = argv[:at], argv[at + 1 :]
    args = p.parse_args(argv)
    args.command = command
    if args.transport == "stdio" and not args.command:
        p.error("stdio needs the server's command after --")
    if args.transport == "http" and not args.url:
        p.error("http needs --url")
    run = over_stdio if args.transport == "stdio" else over_http
    report = asyncio.run(run(args))
    json.dump(report, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
