#!/usr/bin/env bash
# Requests per second and p99 latency of the FHIR server kit against the framework's own
# ceiling: GET Patient/{id} and a 20-entry search, each beside a bare Rocket route returning
# the same bytes. Loopback only; every wrk run is bounded in time.
#
#     bash benches/http.sh            # prints a Markdown table
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release --quiet --bin bench-server
port=${BENCH_PORT:-8787}
ROCKET_PORT=$port ROCKET_ADDRESS=127.0.0.1 ROCKET_LOG_LEVEL=off ROCKET_WORKERS=2 \
  target/release/bench-server >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/fhir/metadata" >/dev/null && break
  sleep 0.1
done
base="http://127.0.0.1:$port"
# The same bytes from both sides, or the comparison means nothing.
cmp <(curl -sf "$base/fhir/Patient/1") <(curl -sf "$base/bare/patient")
cmp <(curl -sf "$base/fhir/Patient?family=bench") <(curl -sf "$base/bare/search")

run() { # name url
  local out rps p99
  out=$(wrk -t2 -c32 -d${BENCH_SECONDS:-10}s --latency "$2")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  printf '| %s | %s | %s |\n' "$1" "$rps" "$p99"
  echo "$rps" >"/tmp/bench-$3"
}
echo "| request | requests/s | p99 latency |"
echo "| --- | --- | --- |"
run "GET /fhir/Patient/1 (fhir-rocket)" "$base/fhir/Patient/1" read
run "GET /bare/patient (bare Rocket, same bytes)" "$base/bare/patient" bare-read
run "GET /fhir/Patient?family=bench, 20 entries (fhir-rocket)" "$base/fhir/Patient?family=bench" search
run "GET /bare/search (bare Rocket, same bytes)" "$base/bare/search" bare-search
awk -v a="$(cat /tmp/bench-read)" -v b="$(cat /tmp/bench-bare-read)" 'BEGIN {printf "\nread: %.0f%% of the bare route\n", 100*a/b}'
awk -v a="$(cat /tmp/bench-search)" -v b="$(cat /tmp/bench-bare-search)" 'BEGIN {printf "search: %.0f%% of the bare route\n", 100*a/b}'
