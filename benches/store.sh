#!/usr/bin/env bash
# The complete server on a real database, with Synthea's patients: load speed, peak memory
# and size on disk, then requests per second and p99 latency of a read by id and four
# searches, on SQLite and (BENCH_PG=1) on PostgreSQL. Beside them, measured in the same run:
# the ceiling of the load (the same compact JSON rows inserted into SQLite with no index, one
# transaction per Bundle, the server's durability settings) and the in-memory server's read
# of the same Patient.
#
#     git clone --depth 1 https://github.com/smart-on-fhir/generated-sample-data /tmp/gsd
#     bash benches/store.sh /tmp/gsd/R4/SYNTHEA            # SQLite
#     BENCH_PG=1 bash benches/store.sh /tmp/gsd/R4/SYNTHEA # and PostgreSQL
#
# BENCH_FILES=N loads only the first N Bundles; BENCH_SECONDS (default 10) is each wrk run.
set -euo pipefail
cd "$(dirname "$0")/.."
synthea=$(realpath "${1:?usage: bash benches/store.sh DIR-OF-SYNTHEA-R4-BUNDLES}")
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release --quiet --bin fhir --bin memory-server
work=$(mktemp -d /tmp/fhir-store-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "${pgdata:-}" ]; then runuser -u nobody -- "$pgbin/pg_ctl" -D "$pgdata" -m immediate stop >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The Bundles to load (all, or the first BENCH_FILES), as links in one folder.
mkdir "$work/data"
find "$synthea" -maxdepth 1 -name '*.json' | sort | head -n "${BENCH_FILES:-100000}" |
  while read -r f; do ln -s "$f" "$work/data/"; done
files=$(find "$work/data" -name '*.json' | wc -l)

# The data's resources as compact JSON lines: their size is what the database is compared
# with, and the ceiling inserts exactly these.
python3 - "$work/data" "$work/compact.tsv" <<'EOF'
import json, os, sys
folder, out = sys.argv[1], sys.argv[2]
with open(out, "w") as o:
    for name in sorted(os.listdir(folder)):
        entries = json.load(open(os.path.join(folder, name))).get("entry", [])
        for e in entries:
            r = e["resource"]
            o.write(r["resourceType"] + "\t" + r.get("id", "") + "\t" + name + "\t"
                    + json.dumps(r, separators=(",", ":"), ensure_ascii=False) + "\n")
EOF
resources=$(wc -l <"$work/compact.tsv")
compact=$(python3 -c 'import sys; print(sum(len(l.rstrip("\n").split("\t", 3)[3].encode()) for l in open(sys.argv[1], encoding="utf-8")))' "$work/compact.tsv")
echo "data: $files Bundles, $resources resources, $((compact / 1000000)) MB of compact JSON"

# The ceiling: the same rows into SQLite, no index, WAL and synchronous=FULL like the server,
# one transaction per Bundle. The rows are read into memory before the clock starts.
ceiling=$(python3 - "$work/compact.tsv" "$work/ceiling.db" <<'EOF'
import sqlite3, sys, time
rows = {}
for line in open(sys.argv[1], encoding="utf-8"):
    t, i, bundle, body = line.rstrip("\n").split("\t", 3)
    rows.setdefault(bundle, []).append((t, i, body))
db = sqlite3.connect(sys.argv[2], isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=FULL")
db.execute("CREATE TABLE resource (res_pk INTEGER PRIMARY KEY, res_type TEXT, fhir_id TEXT, body TEXT)")
start, n = time.time(), 0
for bundle in rows.values():
    db.execute("BEGIN IMMEDIATE")
    db.executemany("INSERT INTO resource (res_type, fhir_id, body) VALUES (?, ?, ?)", bundle)
    db.execute("COMMIT")
    n += len(bundle)
print(round(n / (time.time() - start)))
EOF
)

port=${BENCH_PORT:-8797}
base="http://127.0.0.1:$port/fhir"
wait_up() {
  for _ in $(seq 1 300); do
    curl -sf "$1/metadata" >/dev/null && return 0
    sleep 0.2
  done
  echo "the server at $1 did not start" >&2
  exit 1
}
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.2f", v}'; }
# One wrk run: "requests/s p99-ms", after checking the request answers 200 with entries.
measure() {
  local out
  out=$(wrk -t2 -c16 -d"${BENCH_SECONDS:-10}"s --latency "$1")
  grep -q "Non-2xx" <<<"$out" && { echo "non-2xx answers from $1" >&2; exit 1; }
  echo "$(awk '/Requests\/sec/ {printf "%d", $2}' <<<"$out") $(awk '$1 == "99%" {print $2}' <<<"$out" | to_ms)"
}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

declare -A result
run_engine() {
  local engine=$1 db=$2
  ROCKET_LOG_LEVEL=off target/release/fhir serve --db "$db" --port "$port" >"$work/serve-$engine.log" 2>&1 &
  local server=$!
  pids+=("$server")
  wait_up "$base"
  local line
  # Two Bundles in flight: the server reads one while it writes the other.
  line=$(target/release/fhir load --quiet --concurrency 2 --server "$base" "$work/data" | tail -n 1)
  echo "$engine load: $line"
  result[$engine-load]=$(sed -E 's/.*\(([0-9.]+) resources\/s\).*/\1/' <<<"$line")
  result[$engine-failures]=$(sed -E 's/.* ([0-9]+) failures.*/\1/' <<<"$line")
  result[$engine-memory]=$(awk '/VmHWM/ {printf "%d", $2 / 1024}' "/proc/$server/status")
  if [ "$engine" = postgres ]; then
    # What autovacuum does within minutes of a load, done now so that it does not run
    # during the measurements: statistics of the loaded tables (without them PostgreSQL
    # plans as if they were empty: ten searches a second, not thousands) and the visibility
    # map (without it an index-only scan visits the table for every row); and the load's
    # checkpoint, which otherwise writes a gigabyte during the first measurements.
    runuser -u nobody -- "$pgbin/psql" -h 127.0.0.1 -p $((port + 2)) -U fhir -d synthea -qc "VACUUM ANALYZE"
    runuser -u nobody -- "$pgbin/psql" -h 127.0.0.1 -p $((port + 2)) -U fhir -d synthea -qc "CHECKPOINT"
  fi

  # What the requests ask for: a Patient of the data, its Observations of one code, its
  # family name, and the start of the year before the last Encounter's.
  local patient family obs_code date
  patient=$(curl -sf "$base/Patient?_count=1&_elements=id" | json 'd["entry"][0]["resource"]["id"]')
  family=$(curl -sf "$base/Patient/$patient" | json 'd["name"][0]["family"]')
  obs_code=$(curl -sf "$base/Observation?patient=$patient&_count=1" | json 'd["entry"][0]["resource"]["code"]["coding"][0]["system"] + "|" + d["entry"][0]["resource"]["code"]["coding"][0]["code"]')
  date=$(curl -sf "$base/Encounter?_sort=-date&_count=1&_elements=period" | json 'd["entry"][0]["resource"]["period"]["start"][:4]')
  curl -sf "$base/Patient/$patient" >"$work/patient.json"
  declare -A url=(
    [read]="$base/Patient/$patient"
    [observation]="$base/Observation?patient=$patient&code=$obs_code"
    [name]="$base/Patient?name=$family"
    [encounter]="$base/Encounter?date=ge$((date - 1))-01-01&_count=20"
    [chain]="$base/Observation?subject:Patient.name=$family&code=$obs_code&_count=20")
  for q in observation name encounter chain; do
    local n
    n=$(curl -sf "${url[$q]}&_summary=count" | json 'd["total"]')
    [ "$n" -gt 0 ] || { echo "$engine: ${url[$q]} finds nothing" >&2; exit 1; }
    result[$engine-$q-total]=$n
  done
  for q in read observation name encounter chain; do
    result[$engine-$q]=$(measure "${url[$q]}")
    result[$engine-$q-url]=${url[$q]#"$base"}
  done
  kill "$server"
  wait "$server" 2>/dev/null || true
}

# SQLite: the database file and its write-ahead log, after the server stopped.
run_engine sqlite "$work/synthea.db"
result[sqlite-bytes]=$(cat "$work"/synthea.db* | wc -c)

# The in-memory server's read of the same Patient (PUT there under the same id).
ROCKET_PORT=$((port + 1)) ROCKET_ADDRESS=127.0.0.1 ROCKET_LOG_LEVEL=off target/release/memory-server >/dev/null 2>&1 &
pids+=("$!")
memory="http://127.0.0.1:$((port + 1))/fhir"
wait_up "$memory"
patient=$(json 'd["id"]' <"$work/patient.json")
curl -sf -X PUT -H 'Content-Type: application/fhir+json' --data-binary @"$work/patient.json" "$memory/Patient/$patient" >/dev/null
result[memory-read]=$(measure "$memory/Patient/$patient")

if [ "${BENCH_PG:-0}" = 1 ]; then
  pgbin=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1)")
  if [ ! -x "$pgbin/initdb" ]; then
    apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
    pgbin=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")
  fi
  pgdata=$work/pg
  mkdir "$pgdata" && chown nobody "$pgdata" "$work"
  runuser -u nobody -- "$pgbin/initdb" -D "$pgdata" -A trust -U fhir >/dev/null
  runuser -u nobody -- "$pgbin/pg_ctl" -D "$pgdata" -l "$pgdata/log" -w \
    -o "-p $((port + 2)) -k $pgdata -c listen_addresses=127.0.0.1 -c shared_buffers=256MB" start >/dev/null
  runuser -u nobody -- "$pgbin/createdb" -h 127.0.0.1 -p $((port + 2)) -U fhir synthea
  url="postgres://fhir@127.0.0.1:$((port + 2))/synthea"
  run_engine postgres "$url"
  result[postgres-bytes]=$(runuser -u nobody -- "$pgbin/psql" -h 127.0.0.1 -p $((port + 2)) -U fhir -d synthea -Atc "SELECT pg_database_size('synthea')")
fi

engines=(sqlite)
[ "${BENCH_PG:-0}" = 1 ] && engines+=(postgres)
echo
echo "$files Synthea Bundles, $resources resources, $((compact / 1000000)) MB of compact JSON; wrk -t2 -c16 -d${BENCH_SECONDS:-10}s"
echo
row() { printf '| %s |' "$1"; shift; for v in "$@"; do printf ' %s |' "$v"; done; echo; }
row load "${engines[@]}"
echo "| --- |$(printf ' --- |%.0s' "${engines[@]}")"
loads=(); mems=(); sizes=(); ratios=(); fails=()
for e in "${engines[@]}"; do
  loads+=("${result[$e-load]}")
  fails+=("${result[$e-failures]}")
  mems+=("${result[$e-memory]} MB")
  sizes+=("$((result[$e-bytes] / 1000000)) MB")
  ratios+=("$(awk -v a="${result[$e-bytes]}" -v b="$compact" 'BEGIN {printf "%.2f", a/b}')x")
done
row "resources/s by transaction Bundles (fhir load)" "${loads[@]}"
row "failed entries" "${fails[@]}"
row "server peak memory (VmHWM)" "${mems[@]}"
row "size on disk" "${sizes[@]}"
row "size / compact JSON" "${ratios[@]}"
echo
echo "ceiling: the same rows into SQLite with no index: $ceiling resources/s; the server's load is $(awk -v a="${result[sqlite-load]}" -v b="$ceiling" 'BEGIN {printf "%.0f%%", 100*a/b}') of it"
echo
echo "| request | matches | $(printf '%s requests/s, p99 ms | ' "${engines[@]}")"
echo "| --- | --- |$(printf ' --- |%.0s' "${engines[@]}")"
for q in read observation name encounter chain; do
  cells=()
  for e in "${engines[@]}"; do cells+=("$(awk '{printf "%s, %s", $1, $2}' <<<"${result[$e-$q]}")"); done
  row "\`GET ${result[sqlite-$q-url]}\`" "${result[sqlite-$q-total]:-1}" "${cells[@]}"
done
echo
read_rps=$(awk '{print $1}' <<<"${result[sqlite-read]}")
mem_rps=$(awk '{print $1}' <<<"${result[memory-read]}")
echo "read by id: SQLite $read_rps requests/s against the in-memory server's $mem_rps on the same Patient ($(awk -v a="$read_rps" -v b="$mem_rps" 'BEGIN {printf "%.0f%%", 100*a/b}'))"
if [ "${BENCH_PG:-0}" = 1 ]; then
  for q in read observation name encounter chain; do
    printf '%s: PostgreSQL at %s of SQLite; ' "$q" "$(awk -v a="${result[postgres-$q]%% *}" -v b="${result[sqlite-$q]%% *}" 'BEGIN {printf "%.0f%%", 100*a/b}')"
  done
  echo "load: PostgreSQL at $(awk -v a="${result[postgres-load]}" -v b="${result[sqlite-load]}" 'BEGIN {printf "%.0f%%", 100*a/b}') of SQLite"
fi
