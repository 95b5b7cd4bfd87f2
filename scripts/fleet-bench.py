#!/usr/bin/env python3
"""Benchmarks of `swe-sleep serve` on loopback (standard library only).

  scripts/fleet-bench.py BINARY webhook [--deliveries N] [--senders 8] [--repos 20] [--rounds 2]
      Webhook acceptance with SQLite and with PostgreSQL in the same run,
      alternating: N signed `pull_request` deliveries (`opened`: each
      queues a prediction, the worker predicting meanwhile; then `closed`:
      stored and ignored, the acceptance path alone) from 8 concurrent
      senders over 20 held repositories. Latency p50/p99, acknowledged
      deliveries per second, the time until the queue drained, and the
      PostgreSQL/SQLite ratios; then the bytes per stored delivery in each
      database.
  scripts/fleet-bench.py BINARY idle [--repos 20]
      Resident memory and disk of one idle `serve` holding 1 and then N
      small repositories, and the difference per repository.
  scripts/fleet-bench.py BINARY current [--back 40] [--push 8] MIRROR...
      Holds real repositories (bare mirrors, e.g. /work/.mirror/*/repo),
      each published at its default branch's tip minus BACK first-parent
      commits: times each first fetch and sleep, then moves every branch
      PUSH commits on, sends a `push` delivery per repository and times
      each repository's fetch and incremental sleep (CPU seconds of the
      process and its git children too), then a push with nothing new;
      then PREDICTIONS pull requests per repository (titled after its
      benchmark instances when INSTANCES has them) until the queue
      drains; resident memory and disk per held repository once idle.
      Sleeps and predictions run at nice 0 (`--nice 0`), one at a time.

PostgreSQL is a throwaway server (initdb, pg_ctl; Debian's
/usr/lib/postgresql/*/bin is searched) on 127.0.0.1 with its default
durability (fsync on). The GitHub App is a stand-in served here on loopback;
git fetches the repositories from local paths. Prints one JSON object per
measurement; compare ratios from the same run, since absolute numbers on a
shared machine mean little.
"""
import argparse
import hashlib
import hmac
import http.client
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET = "fleet-bench webhook secret"
INSTALLATION = 4242
ORG = "bench-org"
TOKEN = "ghs_" + "b" * 36


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def emit(obj):
    print(json.dumps(obj), flush=True)


# ---------------------------------------------------------------- GitHub stand-in


class StandIn:
    """The App as `serve` sees it: one installation, its repositories,
    installation tokens, write permission for everyone, comments kept."""

    def __init__(self):
        self.repos = {}  # full name -> (clone url, default branch)
        self.lock = threading.Lock()
        self.next_id = 1
        me = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def reply(self, code, obj):
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def read_body(self):
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def do_GET(self):
                path = self.path.split("?")[0]
                if path == "/app/installations":
                    return self.reply(200, [{"id": INSTALLATION, "account": {"login": ORG}}])
                if path == "/installation/repositories":
                    with me.lock:
                        repos = [
                            {"full_name": n, "clone_url": u, "default_branch": b}
                            for n, (u, b) in me.repos.items()
                        ]
                    return self.reply(200, {"total_count": len(repos), "repositories": repos})
                if path.endswith("/permission"):
                    with open(os.path.join(ROOT, "fixtures/http/github/collaborator-permission-write.json")) as f:
                        return self.reply(200, json.load(f))
                if path.endswith("/comments"):
                    return self.reply(200, [])
                return self.reply(404, {"message": "Not Found"})

            def do_POST(self):
                path = self.path.split("?")[0]
                self.read_body()
                if path == f"/app/installations/{INSTALLATION}/access_tokens":
                    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
                    return self.reply(201, {"token": TOKEN, "expires_at": expires, "permissions": {
                        "issues": "write", "pull_requests": "write", "contents": "read", "metadata": "read"},
                        "repository_selection": "selected"})
                if path.endswith("/comments"):
                    with me.lock:
                        cid = me.next_id
                        me.next_id += 1
                    return self.reply(201, {"id": cid, "body": "", "user": {"login": "bench[bot]"}})
                return self.reply(404, {"message": "Not Found"})

            def do_PATCH(self):
                self.read_body()
                return self.reply(200, {"id": 1, "body": ""})

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def grant(self, name, clone_url, branch):
        with self.lock:
            self.repos[name] = (clone_url, branch)


# ---------------------------------------------------------------- PostgreSQL


def pg_bin():
    for d in os.environ.get("PATH", "").split(os.pathsep):
        if os.path.isfile(os.path.join(d, "initdb")) and os.path.isfile(os.path.join(d, "pg_ctl")):
            return os.path.dirname(os.path.realpath(os.path.join(d, "initdb")))
    versions = []
    if os.path.isdir("/usr/lib/postgresql"):
        for v in os.listdir("/usr/lib/postgresql"):
            b = os.path.join("/usr/lib/postgresql", v, "bin")
            if os.path.isfile(os.path.join(b, "initdb")) and v.isdigit():
                versions.append((int(v), b))
    if not versions:
        sys.exit("no PostgreSQL here: install Debian's postgresql package (initdb, pg_ctl)")
    return sorted(versions)[-1][1]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Postgres:
    def __init__(self, scratch):
        self.bin = pg_bin()
        self.dir = os.path.join(scratch, "postgres")
        os.makedirs(self.dir)
        self.root = os.geteuid() == 0
        if self.root:
            subprocess.run(["chown", "-R", "postgres:", self.dir], check=True)
            os.chmod(scratch, 0o755)
        self.port = free_port()
        self.data = os.path.join(self.dir, "data")
        self.run("initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=200"
        self.run("pg_ctl", "-D", self.data, "-o", opts, "-l", os.path.join(self.dir, "log"), "-w", "start")
        self.url = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    def run(self, tool, *args, capture=False):
        cmd = [os.path.join(self.bin, tool), *args]
        if self.root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"})
        if out.returncode != 0:
            raise RuntimeError(f"{tool} failed: {out.stderr.strip()}")
        return out.stdout

    def sql(self, query):
        return self.run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-At", "-c", query)

    def stop(self):
        try:
            self.run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")
        except RuntimeError:
            pass


# ---------------------------------------------------------------- serve


class Serve:
    def __init__(self, binary, scratch, name, api, extra="", env=None):
        self.dir = os.path.join(scratch, name)
        os.makedirs(self.dir)
        secret = os.path.join(self.dir, "webhook-secret")
        with open(secret, "w") as f:
            f.write(SECRET)
        os.chmod(secret, 0o600)
        key = os.path.join(ROOT, "fixtures/http/github/test-app-key.pem")
        config = os.path.join(self.dir, "swe-sleep.toml")
        with open(config, "w") as f:
            f.write(
                f"""[github]
app_id = 12345
app_key = {{ file = "{key}" }}
webhook_secret = {{ file = "{secret}" }}
api_url = "{api}"
comments = false
min_write_interval_ms = 0

[service]
concurrency = 1
{extra}
"""
            )
        self.state = os.path.join(self.dir, "state")
        self.proc = subprocess.Popen(
            [binary, "serve", "--nice", "0", "--config", config, "--state-dir", self.state,
             "--listen", "127.0.0.1:0", "--log-file", os.path.join(self.dir, "serve.log")],
            stdout=subprocess.PIPE, stderr=open(os.path.join(self.dir, "serve.stderr"), "w"),
            env={**os.environ, **(env or {})},
        )
        line = self.proc.stdout.readline().decode()
        m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        if not m:
            self.proc.kill()
            with open(os.path.join(self.dir, "serve.stderr")) as f:
                err = f.read()[-2000:]
            sys.exit(f"serve did not start: {line!r}: {err}")
        self.port = int(m.group(1))

    def status(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.request("GET", "/status")
        r = c.getresponse()
        body = r.read()
        c.close()
        return json.loads(body)

    def wait(self, what, check, timeout=3600, every=0.2):
        until = time.time() + timeout
        while True:
            s = self.status()
            if check(s):
                return s
            if time.time() > until:
                sys.exit(f"{what}: gave up: {json.dumps(s)[:2000]}")
            time.sleep(every)

    def all_ready(self, n):
        return self.wait(f"{n} repositories ready", lambda s: len(s["repositories"]) == n
                         and all(r["state"] == "ready" for r in s["repositories"]))

    def drained(self):
        def empty(s):
            q = s["service"]["queue"] or {}
            return q.get("queued", 0) + q.get("running", 0) == 0
        return self.wait("the queue drains", empty, every=0.1)

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def cpu_s(self):
        """CPU seconds of the process and its reaped children (git)."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = sum(int(x) for x in fields[11:15])
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def du(path):
    total = 0
    for d, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(d, f)).st_blocks * 512
            except OSError:
                pass
    return total


def git(*args, cwd=None):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env={**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}).stdout.strip()


def cookbook(scratch):
    """The cookbook fixture as a bare repository with `main`."""
    work = os.path.join(scratch, "cookbook")
    subprocess.run(["bash", os.path.join(ROOT, "fixtures/repos/cookbook.sh"), work], check=True,
                   capture_output=True)
    bare = os.path.join(scratch, "cookbook.git")
    git("clone", "--bare", "--quiet", work, bare)
    head = git("rev-parse", "HEAD", cwd=work)
    git("update-ref", "refs/heads/main", head, cwd=bare)
    git("symbolic-ref", "HEAD", "refs/heads/main", cwd=bare)
    return "file://" + bare


# ---------------------------------------------------------------- webhook load


def sign(body):
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def pull_request(template, repo, number, action):
    v = json.loads(json.dumps(template))
    v["action"] = action
    v["number"] = number
    v["pull_request"]["number"] = number
    v["pull_request"]["title"] = "Add a unit conversion for cups"
    v["pull_request"]["base"]["ref"] = "main"
    v["repository"]["full_name"] = repo
    v["installation"] = {"id": INSTALLATION}
    return json.dumps(v).encode()


def percentile(xs, p):
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, int(round(p / 100 * len(xs) + 0.5)) - 1))
    return xs[k]


def send_all(port, bodies, senders, prefix):
    """Posts every body (ids `prefix-i`) from `senders` threads, each on
    one keep-alive connection; latencies in ms and status counts."""
    lat, codes, lock = [], {}, threading.Lock()
    chunks = [list(range(k, len(bodies), senders)) for k in range(senders)]

    def worker(idx):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for i in chunks[idx]:
            body = bodies[i]
            headers = {
                "Content-Type": "application/json",
                "X-GitHub-Event": "pull_request",
                "X-GitHub-Delivery": f"{prefix}-{i}",
                "X-Hub-Signature-256": sign(body),
            }
            t = time.perf_counter()
            try:
                c.request("POST", "/github/webhook", body=body, headers=headers)
                r = c.getresponse()
                r.read()
                code = r.status
            except (http.client.HTTPException, OSError):
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                code = 0
            dt = (time.perf_counter() - t) * 1000
            with lock:
                lat.append(dt)
                codes[code] = codes.get(code, 0) + 1
        c.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    return {
        "n": len(bodies), "senders": senders, "codes": codes,
        "p50_ms": round(percentile(lat, 50), 2), "p99_ms": round(percentile(lat, 99), 2),
        "per_s": round(len(bodies) / wall, 1), "wall_s": round(wall, 2),
    }


def webhook(args, binary, scratch):
    with open(os.path.join(ROOT, "fixtures/webhooks/pull_request.opened.json")) as f:
        template = json.load(f)
    stand_in = StandIn()
    url = cookbook(scratch)
    names = [f"{ORG}/r{i:02}" for i in range(args.repos)]
    for n in names:
        stand_in.grant(n, url, "main")
    pg = Postgres(scratch)
    results = {"sqlite": [], "postgres": []}
    try:
        for rnd in range(args.rounds):
            for backend in ("sqlite", "postgres"):
                extra, env = "", None
                if backend == "postgres":
                    extra, env = 'database = { env = "DATABASE_URL" }', {"DATABASE_URL": pg.url}
                serve = Serve(binary, scratch, f"{backend}-{rnd}", stand_in.url, extra, env)
                serve.all_ready(len(names))
                base = 100000 * (rnd + 1) + (50000 if backend == "postgres" else 0)
                warm = [pull_request(template, names[i % len(names)], base + 90000 + i, "closed")
                        for i in range(50)]
                send_all(serve.port, warm, args.senders, f"{backend}-{rnd}-warm")
                row = {"backend": backend, "round": rnd}
                for action in ("opened", "closed"):
                    bodies = [pull_request(template, names[i % len(names)], base + i, action)
                              for i in range(args.deliveries)]
                    started = time.perf_counter()
                    r = send_all(serve.port, bodies, args.senders, f"{backend}-{rnd}-{action}")
                    serve.drained()
                    r["drained_s"] = round(time.perf_counter() - started, 2)
                    row[action] = r
                    emit({"measure": "webhook", "backend": backend, "round": rnd, "action": action, **r})
                results[backend].append(row)
                count = sum(serve.status()["service"]["queue"].values())
                serve.stop()
                if backend == "sqlite":
                    db = os.path.join(serve.state, "github.sqlite")
                    size = sum(os.path.getsize(p) for p in (db, db + "-wal") if os.path.exists(p))
                    results.setdefault("sqlite_bytes", (size, count))
        pg.sql("VACUUM ANALYZE")
        count = int(pg.sql("SELECT COUNT(*) FROM deliveries"))
        results_n = int(pg.sql("SELECT COUNT(*) FROM results"))
        d_size = int(pg.sql("SELECT pg_total_relation_size('deliveries')"))
        r_size = int(pg.sql("SELECT pg_total_relation_size('results')"))
        emit({"measure": "database size", "backend": "postgres", "deliveries": count, "results": results_n,
              "bytes": d_size + r_size, "bytes_per_delivery": round(d_size / max(count, 1)),
              "bytes_per_result": round(r_size / max(results_n, 1))})
        size, count = results["sqlite_bytes"]
        emit({"measure": "database size", "backend": "sqlite", "deliveries": count, "bytes": size,
              "bytes_per_delivery": round(size / max(count, 1))})
    finally:
        pg.stop()

    def med(xs):
        xs = sorted(xs)
        return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2

    for action in ("opened", "closed"):
        ratio = {}
        for key in ("p50_ms", "p99_ms", "per_s", "drained_s"):
            rs = [p[action][key] / s[action][key] for s, p in zip(results["sqlite"], results["postgres"])
                  if s[action][key]]
            ratio[key] = round(med(rs), 2) if rs else None
        emit({"measure": "postgres / sqlite (median over rounds)", "action": action, **ratio})


# ---------------------------------------------------------------- idle


def idle(args, binary, scratch):
    stand_in = StandIn()
    url = cookbook(scratch)
    out = []
    for n in (1, args.repos):
        for i in range(n):
            stand_in.grant(f"{ORG}/idle{n}-{i:02}", url, "main")
        with stand_in.lock:
            stand_in.repos = {k: v for k, v in stand_in.repos.items() if k.startswith(f"{ORG}/idle{n}-")}
        serve = Serve(binary, scratch, f"idle-{n}", stand_in.url)
        serve.all_ready(n)
        time.sleep(5)
        rss, disk = serve.rss_kb(), du(serve.state)
        out.append((n, rss, disk))
        emit({"measure": "idle", "repos": n, "rss_kb": rss, "state_dir_bytes": disk})
        serve.stop()
    (n1, r1, d1), (n2, r2, d2) = out
    emit({"measure": "idle per repository (small fixture)", "rss_kb": round((r2 - r1) / (n2 - n1)),
          "disk_bytes": round((d2 - d1) / (n2 - n1))})


# ---------------------------------------------------------------- current


def current(args, binary, scratch):
    stand_in = StandIn()
    repos = []
    for src in args.mirrors:
        src = os.path.abspath(src)
        name = os.path.basename(os.path.dirname(src)) if os.path.basename(src) == "repo" else os.path.basename(src)
        name = name.removesuffix(".git")
        owner_name = name
        name = name.replace("+", "-")
        branch = git("symbolic-ref", "--short", "HEAD", cwd=src)
        pub = os.path.join(scratch, "published", name + ".git")
        git("clone", "--bare", "--shared", "--quiet", src, pub)
        tip = git("rev-parse", branch, cwd=pub)
        first_parents = git("rev-list", "--first-parent", f"--max-count={args.back + 1}", tip, cwd=pub).split()
        start = first_parents[-1]
        later = first_parents[max(0, len(first_parents) - 1 - args.push)]
        git("update-ref", f"refs/heads/{branch}", start, cwd=pub)
        pack = int(git("count-objects", "-v", cwd=src).split("size-pack: ")[1].split()[0]) * 1024
        repos.append({"name": f"{ORG}/{name}", "bench": owner_name, "branch": branch, "pub": pub, "later": later, "pack": pack})
        stand_in.grant(f"{ORG}/{name}", "file://" + pub, branch)
    serve = Serve(binary, scratch, "current", stand_in.url)
    names = {r["name"]: r for r in repos}

    def track(what, done):
        """Polls /status; the time each repository spent sleeping."""
        began, spent = {}, {}
        start = time.time()
        while True:
            s = serve.status()
            now = time.time()
            for r in s["repositories"]:
                if r["state"] == "sleeping" and r["repo"] not in began:
                    began[r["repo"]] = now
                if r["repo"] in began and r["repo"] not in spent and r["state"] != "sleeping":
                    spent[r["repo"]] = now - began[r["repo"]]
            if done(s):
                break
            if now - start > 3600:
                sys.exit(f"{what}: gave up")
            time.sleep(0.1)
        return spent, time.time() - start

    def ready_since(mark):
        """Every repository slept after `mark`, or failed (reported)."""
        def settled(s):
            for r in s["repositories"]:
                if r["state"] == "backing_off" and r["repo"] not in failed:
                    failed[r["repo"]] = r["last_error"]
                    emit({"measure": "failed", "repo": r["repo"], "error": r["last_error"]})
            return len(s["repositories"]) == len(repos) and all(
                r["repo"] in failed or (r["state"] == "ready" and (r["last_sleep_at_ms"] or 0) > mark)
                for r in s["repositories"])
        return settled

    failed = {}

    cpu0 = serve.cpu_s()
    spent, wall = track("first sleeps", ready_since(0))
    cpu1 = serve.cpu_s()
    rss, disk = serve.rss_kb(), du(serve.state)
    for n, t in sorted(spent.items()):
        d = du(os.path.join(serve.state, "repos", *n.split("/")))
        emit({"measure": "first fetch and sleep", "repo": n, "seconds": round(t, 1), "disk_bytes": d,
              "pack_bytes": names[n]["pack"]})
    emit({"measure": "first sleeps, all", "repos": len(repos), "wall_s": round(wall, 1),
          "cpu_s": round(cpu1 - cpu0, 1), "rss_kb": rss, "state_dir_bytes": disk})
    with open(os.path.join(ROOT, "fixtures/webhooks/push.json")) as f:
        push = json.load(f)

    def pushed(label, move):
        """A `push` delivery to each repository (its branch moved on when
        `move`); the time and CPU until every one slept again."""
        mark = int(time.time() * 1000)
        cpu0 = serve.cpu_s()
        for i, r in enumerate(repos):
            if move:
                git("update-ref", f"refs/heads/{r['branch']}", r["later"], cwd=r["pub"])
            v = json.loads(json.dumps(push))
            v["ref"] = f"refs/heads/{r['branch']}"
            v["repository"]["full_name"] = r["name"]
            v["repository"]["default_branch"] = r["branch"]
            v["installation"] = {"id": INSTALLATION}
            body = json.dumps(v).encode()
            c = http.client.HTTPConnection("127.0.0.1", serve.port, timeout=30)
            c.request("POST", "/github/webhook", body=body, headers={
                "Content-Type": "application/json", "X-GitHub-Event": "push",
                "X-GitHub-Delivery": f"{label}-{i}", "X-Hub-Signature-256": sign(body)})
            answer = c.getresponse()
            answer.read()
            c.close()
            if answer.status != 202:
                sys.exit(f"push for {r['name']}: {answer.status}")
        spent, wall = track(label, ready_since(mark))
        cpu = serve.cpu_s() - cpu0
        what = f"a push of {args.push} first-parent commits" if move else "a push with nothing new"
        for n, t in sorted(spent.items()):
            emit({"measure": f"fetch and sleep after {what}", "repo": n, "seconds": round(t, 1)})
        total = sum(spent.values())
        emit({"measure": f"after {what}, all", "repos": len(repos), "wall_s": round(wall, 1),
              "cpu_s": round(cpu, 1), "cpu_s_per_repo": round(cpu / len(repos), 2),
              "sleep_s_sum": round(total, 1), "sleep_s_mean": round(total / max(len(spent), 1), 2)})

    pushed("push", True)
    pushed("again", False)

    # Predictions: PREDICTIONS pull requests per repository, each titled
    # after one of its benchmark instances when there are some.
    with open(os.path.join(ROOT, "fixtures/webhooks/pull_request.opened.json")) as f:
        template = json.load(f)
    bodies = []
    for r in repos:
        titles = ["Add an option to configure the timeout", "Fix a crash on empty input",
                  "Support a new output format", "Document the configuration file",
                  "Speed up the main loop"]
        bench = os.path.join(args.instances, r["bench"] + ".jsonl")
        if os.path.isfile(bench):
            with open(bench) as f:
                titles = [json.loads(line)["title"] for line in f if line.strip()][-args.predictions:] or titles
        for k in range(args.predictions):
            body = json.loads(pull_request(template, r["name"], 5000 + k, "opened"))
            body["pull_request"]["title"] = titles[k % len(titles)]
            body["pull_request"]["base"]["ref"] = r["branch"]
            bodies.append(json.dumps(body).encode())
    cpu0 = serve.cpu_s()
    started = time.perf_counter()
    sent = send_all(serve.port, bodies, 1, "predict")
    after = serve.drained()
    wall = time.perf_counter() - started
    cpu = serve.cpu_s() - cpu0
    emit({"measure": "predictions", "n": len(bodies), "codes": sent["codes"], "queue": after["service"]["queue"],
          "predictions_total": after["service"]["predictions"], "wall_s": round(wall, 2),
          "cpu_s": round(cpu, 2), "cpu_ms_per_prediction": round(1000 * cpu / len(bodies), 1),
          "wall_ms_per_prediction": round(1000 * wall / len(bodies), 1)})
    time.sleep(5)
    rss, disk = serve.rss_kb(), du(serve.state)
    emit({"measure": "idle, real repositories", "repos": len(repos), "rss_kb": rss, "state_dir_bytes": disk,
          "rss_kb_per_repo": round(rss / len(repos)), "disk_bytes_per_repo": round(disk / len(repos))})
    serve.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("binary")
    sub = p.add_subparsers(dest="what", required=True)
    w = sub.add_parser("webhook")
    w.add_argument("--deliveries", type=int, default=2000)
    w.add_argument("--senders", type=int, default=8)
    w.add_argument("--repos", type=int, default=20)
    w.add_argument("--rounds", type=int, default=2)
    i = sub.add_parser("idle")
    i.add_argument("--repos", type=int, default=20)
    c = sub.add_parser("current")
    c.add_argument("--back", type=int, default=40)
    c.add_argument("--push", type=int, default=8)
    c.add_argument("--predictions", type=int, default=5)
    c.add_argument("--instances", default=os.path.join(ROOT, "..", "shared", "bench", "dev"),
                   help="benchmark files (owner+name.jsonl) whose titles the predictions use")
    c.add_argument("mirrors", nargs="+")
    args = p.parse_args()
    binary = os.path.abspath(args.binary)
    scratch = tempfile.mkdtemp(prefix="fleet-bench-")
    try:
        {"webhook": webhook, "idle": idle, "current": current}[args.what](args, binary, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
