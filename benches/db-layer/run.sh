#!/usr/bin/env bash
# Runs the database-layer benchmark (README.md). Usage:
#   bash run.sh            # runtime benchmark, ROUNDS rounds (default 3), interleaved
#   bash run.sh build      # build cost of each choice, ROUNDS clean release builds each
# Installs PostgreSQL if missing, runs a throwaway cluster (fsync on) on port PGPORT (default
# 55432) in a temp dir, and stops and deletes it at the end. Needs root (apt-get, su postgres).
set -euo pipefail
cd "$(dirname "$0")"
HERE=$(pwd)
ROUNDS=${ROUNDS:-3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HERE/target}
OUT=${OUT:-$HERE/results}
mkdir -p "$OUT"

median_table() { python3 "$HERE/summarize.py" "$@"; }

if [ "${1:-}" = build ]; then
  # Clean release builds of trivial binaries that depend only on each choice's crates.
  LOG="$OUT/build-$(date -u +%Y%m%dT%H%M%SZ).txt"
  uptime | tee -a "$LOG"
  for v in build-cost/*/; do (cd "$v" && cargo fetch -q); done   # downloads are not timed
  for r in $(seq "$ROUNDS"); do
    for v in build-cost/*/; do
      name=$(basename "$v")
      dir="$CARGO_TARGET_DIR/build-$name"
      rm -rf "$dir"
      s=$(date +%s.%N)
      (cd "$v" && CARGO_TARGET_DIR="$dir" cargo build --release --offline -q)
      e=$(date +%s.%N)
      crates=$(cd "$v" && cargo metadata --format-version 1 --offline 2>/dev/null \
        | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["packages"]))')
      echo "BUILD round=$r choice=$name seconds=$(python3 -c "print(round($e-$s,1))") lock_packages=$crates" | tee -a "$LOG"
      rm -rf "$dir"
    done
  done
  uptime | tee -a "$LOG"
  median_table build "$LOG"
  exit 0
fi

# --- PostgreSQL: find or install the server binaries.
PGBIN=$(dirname "$(readlink -f "$(command -v initdb 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1 || true)")")
if [ ! -x "$PGBIN/initdb" ]; then
  apt-get update && apt-get install -y postgresql
  PGBIN=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")
fi
PGPORT=${PGPORT:-55432}
PGDATA=$(mktemp -d /tmp/pgdb-bench.XXXXXX)
SQLDIR=$(mktemp -d /tmp/sqlite-bench.XXXXXX)
chown postgres "$PGDATA"
cleanup() {
  su postgres -c "$PGBIN/pg_ctl -D $PGDATA/data -m fast stop" >/dev/null 2>&1 || true
  rm -rf "$PGDATA" "$SQLDIR"
}
trap cleanup EXIT
su postgres -c "$PGBIN/initdb -A trust -U postgres -D $PGDATA/data" >/dev/null
# fsync and synchronous_commit stay at their defaults (on), like SQLite's synchronous=FULL.
su postgres -c "$PGBIN/pg_ctl -D $PGDATA/data -l $PGDATA/log -w -o '-p $PGPORT -k $PGDATA -c listen_addresses=127.0.0.1' start" >/dev/null
su postgres -c "$PGBIN/psql -h $PGDATA -p $PGPORT -d postgres -qc 'CREATE DATABASE bench'"
PGURL="postgres://postgres@127.0.0.1:$PGPORT/bench"

cargo build --release -q
BIN="$CARGO_TARGET_DIR/release/db-layer-bench"
LOG="$OUT/run-$(date -u +%Y%m%dT%H%M%SZ).txt"
{ date -u; uptime; nproc; "$PGBIN/postgres" --version; } | tee "$LOG"

read -r -a LAYERS <<< "${LAYERS:-rusqlite sqlx-sqlite any-sqlite tokio-postgres sqlx-postgres any-postgres}"
for r in $(seq "$ROUNDS"); do
  # Rotate the order each round so no layer always runs first or last.
  n=${#LAYERS[@]}
  for i in $(seq 0 $((n - 1))); do
    layer=${LAYERS[$(( (i + r - 1) % n ))]}
    if [[ $layer == *sqlite ]]; then target="$SQLDIR/$layer-$r.db"; else target=$PGURL; fi
    echo -n "round=$r " | tee -a "$LOG"
    "$BIN" "$layer" "$target" | sed "s/$/ rt=${DB_BENCH_RUNTIME:-multi}/" | tee -a "$LOG"
    rm -f "$SQLDIR"/*.db*
  done
done
uptime | tee -a "$LOG"
median_table run "$LOG"
