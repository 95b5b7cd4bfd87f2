#!/usr/bin/env python3
"""predict_files through MCP against POST /predict, on a warm daemon.

  scripts/mcp-bench.py [--swe-sleep BIN] [--sdk-python PY] [--calls N]
                       [--budget N] [--max-tokens N] [--request TEXT] REPO

Starts `swe-sleep daemon` beside REPO (a fresh state directory, a free
loopback port, replay off so no background work competes), waits for its
first sleep, then times N calls (default 200) of the same request:

  /predict     POST /predict on one kept-alive connection
  mcp-raw      POST /mcp, a JSON-RPC tools/call of predict_files, same
  mcp-sdk      the protocol's official Python SDK (`mcp` from PyPI) over
               streamable HTTP, in PY (a Python with the SDK: the venv
               .ci/run makes, target/mcp-venv/bin/python); skipped without

predict_files asks for the whole answer (--max-tokens, default 100000, as
/predict gives it; 2000, a client's default, also counts and cuts it).
/predict and mcp-raw alternate call by call; the SDK runs after, in its
own process. Prints p50 and p95 in ms and each as a ratio to /predict.
Standard library only (the SDK run aside); it writes nothing in REPO. On a
shared machine trust the ratios of one run, not the milliseconds.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

DEFAULT_REQUEST = "Let eval write its report as HTML too"


def percentile(xs, p):
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, int(round(p / 100 * len(xs) + 0.5)) - 1))
    return xs[k]


def summary(xs):
    return {"n": len(xs), "p50_ms": percentile(xs, 50) * 1e3, "p95_ms": percentile(xs, 95) * 1e3}


def start_daemon(binary, repo, state):
    env = dict(os.environ, SWE_SLEEP_LEARN_REPLAY_PRS="0")
    proc = subprocess.Popen(
        [binary, "daemon", "--repo", repo, "--state-dir", state, "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    line = proc.stdout.readline()
    m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
    if not m:
        proc.terminate()
        sys.exit(f"the daemon did not say where it listens: {line!r}")
    return proc, int(m.group(1))


def wait_warm(port, timeout=600):
    until = time.time() + timeout
    while time.time() < until:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", "/status")
            status = json.loads(c.getresponse().read())
            c.close()
            if status.get("commit") and not status.get("sleeping"):
                return status
        except (OSError, ValueError):
            pass
        time.sleep(0.5)
    sys.exit("the daemon's first sleep did not finish in time")


def timed_post(conn, path, body, headers):
    t = time.perf_counter()
    conn.request("POST", path, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    dt = time.perf_counter() - t
    if r.status != 200:
        sys.exit(f"{path} answered {r.status}: {data[:300]!r}")
    return dt, data


def raw_runs(port, request, budget, max_tokens, calls):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    json_headers = {"Content-Type": "application/json"}
    mcp_headers = dict(json_headers, Accept="application/json, text/event-stream")
    predict_body = json.dumps({"request": request, "budget": budget})
    mcp_body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {
                "name": "predict_files",
                "arguments": {"request": request, "budget": budget, "max_tokens": max_tokens},
            },
        }
    )
    # Warm both paths (the daemon's reader pool, its indexes, this connection).
    for _ in range(10):
        timed_post(conn, "/predict", predict_body, json_headers)
        timed_post(conn, "/mcp", mcp_body, mcp_headers)
    api, mcp = [], []
    for _ in range(calls):
        dt, a = timed_post(conn, "/predict", predict_body, json_headers)
        api.append(dt)
        dt, b = timed_post(conn, "/mcp", mcp_body, mcp_headers)
        mcp.append(dt)
    files_api = [f["path"] for f in json.loads(a)["files"]]
    rpc = json.loads(b)
    files_mcp = [f["path"] for f in json.loads(rpc["result"]["content"][0]["text"])["files"]]
    # A smaller max_tokens may leave out the lowest-ranked files, no more.
    if not files_mcp or files_api[: len(files_mcp)] != files_mcp:
        sys.exit(f"/predict and /mcp disagree: {files_api} vs {files_mcp}")
    conn.close()
    return api, mcp


SDK_WORKER = r"""
import asyncio, json, sys, time
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

async def main(url, request, budget, max_tokens, calls):
    async with streamable_http_client(url) as streams:
        async with ClientSession(streams[0], streams[1]) as session:
            await session.initialize()
            args = {"request": request, "budget": budget, "max_tokens": max_tokens}
            for _ in range(10):
                await session.call_tool("predict_files", args)
            lat = []
            for _ in range(calls):
                t = time.perf_counter()
                r = await session.call_tool("predict_files", args)
                lat.append(time.perf_counter() - t)
                assert not r.is_error, r
    print(json.dumps(lat))

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])))
"""


def sdk_run(python, port, request, budget, max_tokens, calls):
    out = subprocess.run(
        [
            python,
            "-c",
            SDK_WORKER,
            f"http://127.0.0.1:{port}/mcp",
            request,
            str(budget),
            str(max_tokens),
            str(calls),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        sys.exit(f"the SDK run failed:\n{out.stderr}")
    return json.loads(out.stdout)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("repo")
    p.add_argument("--swe-sleep", default=shutil.which("swe-sleep") or "target/release/swe-sleep")
    p.add_argument("--sdk-python", default="target/mcp-venv/bin/python")
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--budget", type=int, default=4000)
    p.add_argument("--max-tokens", type=int, default=100000)
    p.add_argument("--request", default=DEFAULT_REQUEST)
    args = p.parse_args()
    state = tempfile.mkdtemp(prefix="swe-sleep-mcp-bench-")
    proc, port = start_daemon(args.swe_sleep, args.repo, state)
    try:
        status = wait_warm(port)
        api, mcp = raw_runs(port, args.request, args.budget, args.max_tokens, args.calls)
        results = {"/predict": summary(api), "mcp-raw": summary(mcp)}
        if os.path.exists(args.sdk_python):
            lat = sdk_run(args.sdk_python, port, args.request, args.budget, args.max_tokens, args.calls)
            results["mcp-sdk"] = summary(lat)
        else:
            print(f"no SDK Python at {args.sdk_python}: mcp-sdk skipped", file=sys.stderr)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(state, ignore_errors=True)
    base = results["/predict"]
    print(
        f"repository {args.repo} at {status['commit'][:12]}, {args.calls} calls, "
        f"budget {args.budget}, max_tokens {args.max_tokens}"
    )
    print(f"{'path':<10} {'p50 ms':>8} {'p95 ms':>8} {'p50 x':>7} {'p95 x':>7}")
    for name, r in results.items():
        print(
            f"{name:<10} {r['p50_ms']:8.2f} {r['p95_ms']:8.2f} "
            f"{r['p50_ms'] / base['p50_ms']:7.2f} {r['p95_ms'] / base['p95_ms']:7.2f}"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
