#!/usr/bin/env python3
"""Load for a running `swe-sleep daemon` on loopback: latency percentiles and
throughput of POST /predict and POST /github/webhook, sequential and with 8
concurrent clients. Standard library only.

  scripts/daemon-load.py predict PORT REQUESTS_FILE
      REQUESTS_FILE: request texts separated by a line holding only \\x1e
      (e.g. the title and body of each instance of a benchmark file).
  scripts/daemon-load.py webhook PORT SECRET PAYLOAD.json
      Signs PAYLOAD with SECRET and posts it under a fresh delivery id each
      time, as `pull_request` (the daemon's github.repo must match it).

Prints one JSON line per run: n, clients, status codes, p50/p95/p99 in ms,
requests per second. Compare two binaries back to back on the same machine:
absolute numbers on a shared machine mean little.
"""
import hashlib
import hmac
import http.client
import json
import sys
import threading
import time


def post(port, path, body, headers):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    t = time.perf_counter()
    c.request("POST", path, body=body, headers=headers)
    r = c.getresponse()
    r.read()
    dt = time.perf_counter() - t
    c.close()
    return r.status, dt


def percentile(xs, p):
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, int(round(p / 100 * len(xs) + 0.5)) - 1))
    return xs[k]


def run(port, path, make, n, clients):
    lat, codes, lock = [], {}, threading.Lock()

    def worker(idx):
        for i in range(n):
            body, headers = make(idx, i)
            code, dt = post(port, path, body, headers)
            with lock:
                lat.append(dt)
                codes[code] = codes.get(code, 0) + 1

    start = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    return {
        "n": len(lat), "clients": clients, "codes": codes,
        "p50_ms": round(percentile(lat, 50) * 1000, 1),
        "p95_ms": round(percentile(lat, 95) * 1000, 1),
        "p99_ms": round(percentile(lat, 99) * 1000, 1),
        "rps": round(len(lat) / wall, 1),
    }


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in ("predict", "webhook"):
        sys.exit(__doc__)
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "predict":
        reqs = [r for r in open(sys.argv[3]).read().split("\n\x1e\n") if r.strip()]

        def make(idx, i):
            body = json.dumps({"request": reqs[(idx * 97 + i) % len(reqs)], "budget": 4000})
            return body, {"Content-Type": "application/json"}

        print(json.dumps(run(port, "/predict", make, 200, 1)))
        print(json.dumps(run(port, "/predict", make, 25, 8)))
    else:
        secret, payload = sys.argv[3].encode(), open(sys.argv[4], "rb").read()
        sig = "sha256=" + hmac.new(secret, payload, hashlib.sha256).hexdigest()

        def make(idx, i):
            return payload, {
                "Content-Type": "application/json",
                "X-GitHub-Event": "pull_request",
                "X-GitHub-Delivery": f"load-{time.time_ns()}-{idx}-{i}",
                "X-Hub-Signature-256": sig,
            }

        print(json.dumps(run(port, "/github/webhook", make, 250, 1)))
        print(json.dumps(run(port, "/github/webhook", make, 100, 8)))


if __name__ == "__main__":
    main()
