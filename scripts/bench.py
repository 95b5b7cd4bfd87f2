#!/usr/bin/env python3
"""Times swe-sleep against its peers on repositories you already have,
back to back, alternating, several repetitions; prints ratios.

  scripts/bench.py [--swe-sleep BIN] [--baseline BIN] [--reps N]
                   [--ctags CMD] [--aider-python PYTHON] REPO...

REPO is a git directory or a work tree (its HEAD is read; nothing is
fetched, nothing in it is written). For each repository and repetition,
in an order that alternates between repetitions:

  git log     `git log --first-parent --name-only --no-renames` over HEAD's
              history (what history mining reads), output discarded
  swe-sleep   a cold `swe-sleep sleep --rev HEAD` into a fresh state
              directory (its report gives the history and blob phases),
              then the same sleep again (nothing changed: a no-op)
  baseline    the same with another binary (--baseline), e.g. main's
  ctags       `ctags -R` over a checkout of HEAD (universal-ctags, when
              on PATH or given with --ctags)
  aider       Aider's repo map of the checkout, cold (its cache removed),
              when --aider-python names a Python that can import aider
              (files whose tag query fails with the installed grammars are
              left untagged rather than failing the run)

The checkout (for ctags and Aider) is HEAD's files written to a temporary
directory (`git cat-file --batch`; blobs a mirror lacks are left out),
once per repository. Prints one line per repository
and measure with the median of the repetitions, and the ratios:
history/git log, cold sleep/ctags, cold sleep/Aider, blob MB/s, and
new/baseline for each phase. Standard library only. A shared machine is
noisy: trust ratios taken in the same run, not absolute seconds.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

AIDER_SNIPPET = r"""
import os, sys
from aider.io import InputOutput
from aider.models import Model
from aider.repomap import RepoMap
# A file whose language query does not compile with the installed grammars
# is left untagged, as if Aider had no query for it (counted on stderr).
skipped = []
original = RepoMap.get_tags_raw
def tolerant(self, fname, rel_fname):
    try:
        yield from original(self, fname, rel_fname)
    except Exception:
        skipped.append(rel_fname)
RepoMap.get_tags_raw = tolerant
root = sys.argv[1]
files = []
for d, _, names in os.walk(root):
    files += [os.path.join(d, n) for n in names]
rm = RepoMap(root=root, io=InputOutput(yes=True), main_model=Model("gpt-4o-mini"), map_tokens=1024)
out = rm.get_repo_map([], files) or ""
print(f"map {len(out)} chars, {len(skipped)} files untagged", file=sys.stderr)
"""


def timed(cmd, **kw):
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    took = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr.decode(errors='replace')[-2000:]}")
    return took, r.stdout


def git_log(repo):
    cmd = ["git", "-C", repo, "log", "--first-parent", "--name-only", "--no-renames", "--format=%H", "HEAD"]
    return timed(cmd)[0]


def sleep_pair(binary, repo):
    """A cold sleep and a no-op sleep; (cold s, report, no-op s)."""
    state = tempfile.mkdtemp(prefix="bench-state-")
    try:
        cmd = [binary, "sleep", "--repo", repo, "--rev", "HEAD", "--state-dir", state, "--json", "--quiet"]
        cold, out = timed(cmd)
        report = json.loads(out)
        noop, out = timed(cmd)
        if not json.loads(out).get("unchanged", True):
            print(f"note: {binary}: the second sleep was not a no-op", file=sys.stderr)
        return cold, report, noop
    finally:
        shutil.rmtree(state, ignore_errors=True)


def ctags(cmd, checkout):
    out = tempfile.mktemp(prefix="bench-tags-")
    try:
        return timed([cmd, "-R", "-f", out, checkout])[0]
    finally:
        if os.path.exists(out):
            os.remove(out)


def aider(python, checkout):
    shutil.rmtree(os.path.join(checkout, ".aider.tags.cache.v4"), ignore_errors=True)
    for name in os.listdir(checkout):
        if name.startswith(".aider.tags.cache"):
            shutil.rmtree(os.path.join(checkout, name), ignore_errors=True)
    return timed([python, "-c", AIDER_SNIPPET, checkout], cwd=checkout)[0]


def checkout_of(repo):
    """HEAD's files written under a temporary directory. Blobs the object
    database lacks (a mirror without its largest files) are left out, as
    swe-sleep indexes them by path only; symbolic links and submodules too."""
    d = tempfile.mkdtemp(prefix="bench-checkout-")
    listing = subprocess.run(["git", "-C", repo, "ls-tree", "-r", "-z", "HEAD"], stdout=subprocess.PIPE, check=True)
    files = []
    for entry in listing.stdout.split(b"\0"):
        if not entry:
            continue
        meta, path = entry.split(b"\t", 1)
        mode, kind, oid = meta.split()
        if kind == b"blob" and mode in (b"100644", b"100755"):
            files.append((oid, path))
    batch = subprocess.Popen(["git", "-C", repo, "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    # Feed the ids from another thread: the answers fill the pipe long
    # before the questions are all asked.
    def ask():
        batch.stdin.write(b"".join(oid + b"\n" for oid, _ in files))
        batch.stdin.close()

    asking = threading.Thread(target=ask)
    asking.start()
    for _, path in files:
        header = batch.stdout.readline().split()
        if header[-1] == b"missing":
            continue
        data = batch.stdout.read(int(header[2]))
        batch.stdout.read(1)
        target = os.path.join(d.encode(), path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(data)
    asking.join()
    batch.wait()
    return d


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("repos", nargs="+")
    ap.add_argument("--swe-sleep", default=shutil.which("swe-sleep") or "target/release/swe-sleep")
    ap.add_argument("--baseline")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--ctags", default=shutil.which("ctags"))
    ap.add_argument("--aider-python")
    a = ap.parse_args()
    for repo in a.repos:
        repo = os.path.abspath(repo)
        checkout = checkout_of(repo) if (a.ctags or a.aider_python) else None
        m = {}

        def add(key, v):
            m.setdefault(key, []).append(v)

        def run_sleep(name, binary):
            cold, rep, noop = sleep_pair(binary, repo)
            add(f"{name} cold", cold)
            add(f"{name} history", rep["timings"]["history_s"])
            add(f"{name} blobs", rep["timings"]["blobs_s"])
            add(f"{name} no-op", noop)
            add(f"{name} MB", rep["bytes_read"] / 1e6)

        steps = [("git log", lambda: add("git log", git_log(repo))), ("new", lambda: run_sleep("new", a.swe_sleep))]
        if a.baseline:
            steps.append(("base", lambda: run_sleep("base", a.baseline)))
        if a.ctags:
            steps.append(("ctags", lambda: add("ctags", ctags(a.ctags, checkout))))
        if a.aider_python:
            steps.append(("aider", lambda: add("aider", aider(a.aider_python, checkout))))
        try:
            for rep in range(a.reps):
                order = steps if rep % 2 == 0 else list(reversed(steps))
                for _, step in order:
                    step()
        finally:
            if checkout:
                shutil.rmtree(checkout, ignore_errors=True)
        med = {k: median(v) for k, v in m.items()}
        name = os.path.basename(repo.rstrip("/"))
        if name in ("repo", ".git"):
            name = os.path.basename(os.path.dirname(repo.rstrip("/")))
        print(f"== {name} (median of {a.reps}; seconds)")
        print("   " + "  ".join(f"{k} {v:.3f}" for k, v in sorted(med.items())))
        ratios = []
        for who in ["new", "base"] if a.baseline else ["new"]:
            if f"{who} history" not in med:
                continue
            ratios.append(f"{who} history/git log {med[f'{who} history'] / med['git log']:.2f}x")
            ratios.append(f"{who} blobs {med[f'{who} MB'] / max(med[f'{who} blobs'], 1e-9):.1f} MB/s")
            if "ctags" in med:
                ratios.append(f"{who} cold/ctags {med[f'{who} cold'] / med['ctags']:.1f}x")
            if "aider" in med:
                ratios.append(f"{who} cold/aider {med[f'{who} cold'] / med['aider']:.2f}x")
        if a.baseline:
            for phase in ["cold", "history", "blobs", "no-op"]:
                ratios.append(f"base/new {phase} {med[f'base {phase}'] / max(med[f'new {phase}'], 1e-9):.1f}x")
        print("   " + "; ".join(ratios))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
