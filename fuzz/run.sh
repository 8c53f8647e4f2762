#!/usr/bin/env bash
# Runs one fuzz target for a given number of executions, with its corpus seeded first.
#
#   fuzz/run.sh TARGET EXECUTIONS [LIBFUZZER_ARGS...]
#
# TARGET is one of the fuzz targets (json, xml, search, patch, route, bundle; `fuzz/run.sh --list`). The run
# stops after EXECUTIONS inputs, or after FUZZ_MAX_TIME seconds (default 3600), whichever comes
# first; extra arguments go to libFuzzer. Not part of CI: see docs/reliability.md.
#
# The corpus is fuzz/corpus/TARGET (kept between runs, git-ignored); the seeds are made under
# fuzz/target/seeds/TARGET and given to libFuzzer as a second, read-only corpus:
#   json    the JSON resources of the official R4 examples package (hl7.fhir.r4.examples#4.0.1)
#   xml     the same examples written as FHIR XML by fhir-model (fuzz/to-xml)
#   search  fuzz/seeds/search (queries)
#   patch   fuzz/seeds/patch (patches), alone and after each official Patient example and a NUL
#   route   fuzz/seeds/route (a method byte, then a path and query)
#   bundle  fuzz/seeds/bundle (batch and transaction Bundles, JSON and XML)
# The examples come from the FHIR package cache ($FHIR_PACKAGE_CACHE, else ~/.fhir/packages),
# fetched with the project's own downloader (fhir-codegen fetch) when missing.
#
# Crashes, hangs (-timeout, default 10 s) and memory blow-ups (-rss_limit_mb, default 2048)
# are written to fuzz/artifacts/TARGET/. Reproduce one with
#   cargo fuzz run -s none TARGET fuzz/artifacts/TARGET/crash-...
#
# Environment: FUZZ_MAX_TIME (seconds), FUZZ_MAX_SEED_BYTES (largest example used as a seed,
# default 65536), FUZZ_FEATURES (e.g. r5: the json and xml targets also read the R5 model),
# FUZZ_SANITIZER (default none; e.g. `address`).
#
# To add a target: a [[bin]] in fuzz/Cargo.toml, its file in fuzz/fuzz_targets/, and a case
# in seed() below (a target without one starts from an empty corpus).
set -euo pipefail

fuzz_dir="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$fuzz_dir")"
cd "$fuzz_dir"

targets() { sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^fhir-fuzz$'; }

if [ "${1:-}" = "--list" ]; then
  targets
  exit 0
fi
if [ $# -lt 2 ] || ! [[ "$2" =~ ^[0-9]+$ ]]; then
  echo "usage: fuzz/run.sh TARGET EXECUTIONS [LIBFUZZER_ARGS...]   (targets: $(targets | tr '\n' ' '))" >&2
  exit 2
fi
target="$1"
runs="$2"
shift 2
if ! targets | grep -qx "$target"; then
  echo "unknown target '$target' (targets: $(targets | tr '\n' ' '))" >&2
  exit 2
fi

max_time="${FUZZ_MAX_TIME:-3600}"
max_seed="${FUZZ_MAX_SEED_BYTES:-65536}"
sanitizer="${FUZZ_SANITIZER:-none}"
features=()
[ -n "${FUZZ_FEATURES:-}" ] && features=(--features "$FUZZ_FEATURES")
# With --sanitizer none cargo-fuzz gives rustc only stable flags; a sanitizer needs -Zsanitizer,
# which RUSTC_BOOTSTRAP lets the stable toolchain accept. No nightly toolchain is needed.
export RUSTC_BOOTSTRAP=1
export CARGO_INCREMENTAL=0
if ! command -v cargo-fuzz >/dev/null; then
  echo "cargo-fuzz is not installed: cargo install cargo-fuzz" >&2
  exit 1
fi
tools_target="$fuzz_dir/target/tools"

# The official examples package, from the cache or fetched with the project's downloader.
examples_package() {
  local name="hl7.fhir.r4.examples" version="4.0.1"
  local cache="${FHIR_PACKAGE_CACHE:-$HOME/.fhir/packages}"
  local dir="$cache/$name#$version/package"
  if [ ! -d "$dir" ]; then
    echo "fetching $name@$version into $cache" >&2
    dir="$(cd "$root" && CARGO_TARGET_DIR="$tools_target" cargo run --quiet --release \
      -p fhir-codegen -- fetch "$name@$version" | tail -n 1)"
  fi
  echo "$dir"
}

# The example files no larger than the seed limit.
small_examples() {
  find "$(examples_package)" -maxdepth 1 -name '*.json' -size -"$((max_seed + 1))"c | sort
}

seed() {
  local out="$1"
  case "$target" in
    json)
      small_examples | while read -r f; do ln -sf "$f" "$out/"; done
      ;;
    xml)
      (cd to-xml && CARGO_TARGET_DIR="$tools_target" cargo build --quiet --release)
      small_examples | xargs "$tools_target/release/fhir-fuzz-to-xml" "$out" 2>&1 | tail -n 1
      ;;
    search)
      cp seeds/search/* "$out/"
      ;;
    route)
      cp seeds/route/* "$out/"
      ;;
    bundle)
      cp seeds/bundle/* "$out/"
      ;;
    patch)
      cp seeds/patch/* "$out/"
      local pkg
      pkg="$(examples_package)"
      for r in "$pkg"/Patient-*.json; do
        [ "$(stat -c %s "$r")" -le 16384 ] || continue
        for p in seeds/patch/*; do
          { cat "$r"; printf '\0'; cat "$p"; } >"$out/$(basename "$r" .json)-$(basename "$p")"
        done
      done
      ;;
  esac
}

seeds="$fuzz_dir/target/seeds/$target"
if [ ! -f "$seeds/.done" ]; then
  rm -rf "$seeds"
  mkdir -p "$seeds"
  seed "$seeds"
  touch "$seeds/.done"
fi
corpus="$fuzz_dir/corpus/$target"
mkdir -p "$corpus"
echo "$target: $(find "$seeds" -type f -o -type l | grep -vc '/\.done$') seeds, $(find "$corpus" -type f | wc -l) corpus inputs" >&2

case "$target" in
  json | xml) max_len="$max_seed" ;;
  patch) max_len=20000 ;;
  bundle) max_len=65536 ;;
  *) max_len=4096 ;;
esac

log="$fuzz_dir/target/$target.log"
# One process (no -jobs/-workers): one target at a time, on one core.
set +e
cargo fuzz run -s "$sanitizer" "${features[@]}" "$target" "$corpus" "$seeds" -- \
  -runs="$runs" -max_total_time="$max_time" -max_len="$max_len" \
  -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 -print_final_stats=1 "$@" \
  2>&1 | tee "$log" | grep -v -e '^#[0-9]*[[:space:]]*\(NEW\|REDUCE\)' -e 'NEW_FUNC' -e '# Uses: '
status="${PIPESTATUS[0]}"
set -e

executions="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
rss="$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n 1)"
echo "== $target: ${executions:-?} executions, ${rate:-?} exec/s, peak RSS ${rss:-?} MB, corpus $(find "$corpus" -type f | wc -l) inputs, exit $status (log: $log)"
if ls artifacts/"$target"/* >/dev/null 2>&1; then
  echo "== artifacts (crashes, timeouts, out-of-memory) in fuzz/artifacts/$target:"
  ls -l artifacts/"$target"/
fi
exit "$status"
