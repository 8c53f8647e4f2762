#!/usr/bin/env python3
"""Transaction throughput: a real Synthea R4 patient Bundle (297 entries, 950 KB) posted as a
transaction to the release memory server over loopback, beside `fhir check` reading the same
bytes (the parsing ceiling). Rounds are interleaved and medians reported, as the machine is
shared and noisy.

    python3 benches/transaction.py [POSTS_PER_ROUND] [ROUNDS]
"""
import http.client
import os
import statistics
import subprocess
import sys
import time
import urllib.request

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.chdir(root)
posts = int(sys.argv[1]) if len(sys.argv) > 1 else 20
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
bundle_path = "examples/data/synthea/Burton_Kozey_0c7764a9-ede1-44de-9c32-8d41151a713e.json"
body = open(bundle_path, "rb").read()
entries = body.count(b'"request"')

subprocess.run(
    ["cargo", "build", "--release", "--quiet", "--bin", "memory-server", "--bin", "fhir"],
    check=True,
)
port = os.environ.get("BENCH_PORT", "8788")
env = dict(os.environ, ROCKET_PORT=port, ROCKET_ADDRESS="127.0.0.1", ROCKET_LOG_LEVEL="off",
           ROCKET_WORKERS="2")
server = subprocess.Popen(["target/release/memory-server"], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
base = f"http://127.0.0.1:{port}/fhir"
try:
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{base}/metadata", timeout=2).read()
            break
        except OSError:
            time.sleep(0.1)

    def post_round():
        # One kept-alive connection, as a loader posting many Bundles uses: a new connection
        # per request would time the client's connection setup too.
        conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=120)
        start = time.perf_counter()
        for _ in range(posts):
            conn.request("POST", "/fhir", body=body,
                         headers={"Content-Type": "application/fhir+json",
                                  "Prefer": "return=minimal"})
            reply = conn.getresponse()
            assert reply.status == 200, reply.status
            reply.read()
        elapsed = time.perf_counter() - start
        conn.close()
        return elapsed

    def check_round():
        start = time.perf_counter()
        out = subprocess.run(["target/release/fhir", "check"] + [bundle_path] * posts,
                             check=True, capture_output=True, text=True).stdout
        assert f"{posts} passed, 0 failed" in out, out
        return time.perf_counter() - start

    post_times, check_times = [], []
    for _ in range(rounds):
        post_times.append(post_round())
        check_times.append(check_round())
finally:
    server.terminate()
    server.wait()

mb = len(body) * posts / 1e6
post_t, check_t = statistics.median(post_times), statistics.median(check_times)
print(f"| what | entries/s | MB/s of body (median of {rounds} rounds of {posts} Bundles) |")
print("| --- | --- | --- |")
print(f"| transaction POST to the memory server | {entries * posts / post_t:,.0f} | {mb / post_t:.1f} |")
print(f"| fhir check of the same bytes (parse ceiling) | {entries * posts / check_t:,.0f} | {mb / check_t:.1f} |")
print()
print(f"transactions at {100 * check_t / post_t:.0f}% of the parsing ceiling")
