#!/usr/bin/env python3
"""Measures what building fhir-model costs a user: the tiny binary in benches/build-time
(R4 only, parses one Patient) built from scratch in debug and release, and a release rebuild
after a one-line change to the binary's own code.

Peak memory is the largest sum of the resident memory of all processes of the build (cargo,
rustc, build scripts, linker) at any moment, sampled every 50 ms.

    python3 benches/build-time.py            # prints a Markdown table
"""

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CRATE = os.path.join(HERE, "build-time")
MAIN = os.path.join(CRATE, "src", "main.rs")


def descendants(pid):
    """The pids of pid and all its descendants."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
        except OSError:
            continue
    out, stack = [], [pid]
    while stack:
        p = stack.pop()
        out.append(p)
        stack.extend(children.get(p, []))
    return out


def rss_bytes(pid):
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def build(args, target_dir):
    """Runs cargo build; returns (seconds, peak bytes)."""
    env = dict(os.environ, CARGO_TARGET_DIR=target_dir)
    start = time.monotonic()
    proc = subprocess.Popen(["cargo", "build", "--quiet", *args], cwd=CRATE, env=env)
    peak = 0
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, sum(rss_bytes(p) for p in descendants(proc.pid)))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    code = proc.wait()
    elapsed = time.monotonic() - start
    done.set()
    sampler.join()
    if code != 0:
        sys.exit(f"cargo build {' '.join(args)} failed with exit code {code}")
    return elapsed, peak


def main():
    target = tempfile.mkdtemp(prefix="fhir-build-time-")
    original = open(MAIN).read()
    rows = []
    try:
        # Dependencies are fetched first so that the timings measure compiling only.
        subprocess.run(["cargo", "fetch", "--quiet"], cwd=CRATE, check=True)
        rows.append(("clean debug build", *build([], target)))
        rows.append(("clean release build", *build(["--release"], target)))
        with open(MAIN, "w") as f:
            f.write(original.replace('"{} {}"', '"{} {}!"'))
        rows.append(("release rebuild after a one-line change", *build(["--release"], target)))
    finally:
        with open(MAIN, "w") as f:
            f.write(original)
        shutil.rmtree(target, ignore_errors=True)
    print(f"cores: {os.cpu_count()}, rustc: {subprocess.run(['rustc', '--version'], capture_output=True, text=True).stdout.strip()}")
    print()
    print("| build | wall time | peak memory |")
    print("| --- | --- | --- |")
    for name, seconds, peak in rows:
        print(f"| {name} | {seconds:.1f} s | {peak / 2**30:.2f} GiB |")


if __name__ == "__main__":
    main()
