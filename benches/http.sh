#!/usr/bin/env bash
# Requests per second and p99 latency of the FHIR server kit against the framework's own
# ceiling: GET Patient/{id} and a 20-entry search, each beside a bare Rocket route returning
# the same bytes; and the same two requests answered in XML (`_format=xml`: the resource and
# the searchset Bundle written as XML straight from the model). Loopback only;
# every wrk run is bounded in time.
#
#     bash benches/http.sh            # prints a Markdown table
#     BENCH_SUBSET=1 bash benches/http.sh   # also the same requests with _summary=true and
#                                           # _elements=name,gender (what subsetting costs)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release --quiet --bin bench-server
port=${BENCH_PORT:-8787}
# BENCH_FRONT_END=1 serves both sides through fhir_rocket::connection (the timeouts front end).
# BENCH_AUDIT=1 adds the audit interceptor to the FHIR side (a line per request).
ROCKET_PORT=$port ROCKET_ADDRESS=127.0.0.1 ROCKET_LOG_LEVEL=off ROCKET_WORKERS=2 \
  BENCH_FRONT_END=${BENCH_FRONT_END:-0} BENCH_AUDIT=${BENCH_AUDIT:-0} target/release/bench-server >/dev/null 2>&1 &
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

# Each row is the median of ROUNDS runs (default 3), the four rows interleaved round by
# round, because two cores shared by the server and wrk give noisy single runs.
rounds=${ROUNDS:-3}
declare -A rps p99
names=(read bare-read search bare-search read-xml search-xml)
declare -A url=(
  [read]="$base/fhir/Patient/1" [bare-read]="$base/bare/patient"
  [search]="$base/fhir/Patient?family=bench" [bare-search]="$base/bare/search"
  [read-xml]="$base/fhir/Patient/1?_format=xml" [search-xml]="$base/fhir/Patient?family=bench&_format=xml")
declare -A label=(
  [read]="GET /fhir/Patient/1 (fhir-rocket)"
  [bare-read]="GET /bare/patient (bare Rocket, same bytes)"
  [search]="GET /fhir/Patient?family=bench, 20 entries (fhir-rocket)"
  [bare-search]="GET /bare/search (bare Rocket, same bytes)"
  [read-xml]="GET /fhir/Patient/1?_format=xml"
  [search-xml]="GET /fhir/Patient?family=bench&_format=xml, 20 entries")
if [ "${BENCH_SUBSET:-0}" = 1 ]; then
  names+=(read-summary read-elements search-summary search-elements)
  url[read-summary]="$base/fhir/Patient/1?_summary=true"
  url[read-elements]="$base/fhir/Patient/1?_elements=name,gender"
  url[search-summary]="$base/fhir/Patient?family=bench&_summary=true"
  url[search-elements]="$base/fhir/Patient?family=bench&_elements=name,gender"
  label[read-summary]="GET /fhir/Patient/1?_summary=true"
  label[read-elements]="GET /fhir/Patient/1?_elements=name,gender"
  label[search-summary]="GET /fhir/Patient?family=bench&_summary=true, 20 entries"
  label[search-elements]="GET /fhir/Patient?family=bench&_elements=name,gender, 20 entries"
fi
for _ in $(seq 1 "$rounds"); do
  for n in "${names[@]}"; do
    out=$(wrk -t2 -c32 -d${BENCH_SECONDS:-10}s --latency "${url[$n]}")
    rps[$n]+="$(awk '/Requests\/sec/ {print $2}' <<<"$out") "
    p99[$n]+="$(awk '$1 == "99%" {print $2}' <<<"$out") "
  done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "| request | requests/s (median of $rounds) | p99 latency (median) | runs |"
echo "| --- | --- | --- | --- |"
for n in "${names[@]}"; do
  printf '| %s | %s | %s | %s|\n' "${label[$n]}" "$(median <<<"${rps[$n]}")" \
    "$(sed 's/ms//g' <<<"${p99[$n]}" | median) ms" "${rps[$n]}"
done
ratio() { awk -v a="$(median <<<"${rps[$1]}")" -v b="$(median <<<"${rps[$2]}")" 'BEGIN {printf "%.0f%%", 100*a/b}'; }
echo
echo "read: $(ratio read bare-read) of the bare route; search: $(ratio search bare-search) of the bare route"
echo "XML against JSON: read $(ratio read-xml read), search $(ratio search-xml search)"
if [ "${BENCH_SUBSET:-0}" = 1 ]; then
  echo "subset against the whole resources: read _summary $(ratio read-summary read), _elements $(ratio read-elements read); search _summary $(ratio search-summary search), _elements $(ratio search-elements search)"
fi
