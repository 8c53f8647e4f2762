#!/usr/bin/env bash
# What SMART on FHIR costs: the complete server's read by id and two searches with a valid
# bearer token on every request (checked, its scopes enforced and every resource sent
# checked against them) against the same server on the same data without authorization.
# The runs alternate, open then protected, BENCH_ROUNDS times (default 3), each wrk run
# BENCH_SECONDS (default 10). Audit lines are off in both, so that only authorization is
# measured.
#
# The issuer is made here: an RSA key from openssl, its JWKS and discovery document served
# by Python's http.server, and one token (RS256, scopes system/*.rs) signed with openssl.
#
#     git clone --depth 1 https://github.com/smart-on-fhir/generated-sample-data /tmp/gsd
#     bash benches/auth.sh /tmp/gsd/R4/SYNTHEA
#
# BENCH_FILES=N loads only the first N Bundles (default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
synthea=$(realpath "${1:?usage: bash benches/auth.sh DIR-OF-SYNTHEA-R4-BUNDLES}")
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v openssl >/dev/null || { apt-get update -qq && apt-get install -y -qq openssl; }
cargo build --release --quiet --bin fhir
work=$(mktemp -d /tmp/fhir-auth-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

port=${BENCH_PORT:-8897}
base="http://127.0.0.1:$port/fhir"
issuer_port=$((port + 1))
issuer="http://127.0.0.1:$issuer_port/realm"

# The issuer: a key, its JWKS and discovery document, and a token for an hour.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/key.pem" 2>/dev/null
modulus=$(openssl rsa -in "$work/key.pem" -noout -modulus | cut -d= -f2)
signing_input=$(python3 - "$work/issuer" "$issuer" "$base" "$modulus" <<'EOF'
import base64, json, os, sys, time
folder, issuer, audience, modulus = sys.argv[1:5]
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
n = int(modulus, 16)
os.makedirs(os.path.join(folder, "realm", ".well-known"))
with open(os.path.join(folder, "realm", ".well-known", "openid-configuration"), "w") as f:
    json.dump({"issuer": issuer, "jwks_uri": issuer + "/jwks", "token_endpoint": issuer + "/token"}, f)
with open(os.path.join(folder, "realm", "jwks"), "w") as f:
    json.dump({"keys": [{"kty": "RSA", "kid": "bench", "use": "sig", "alg": "RS256", "e": "AQAB",
                         "n": b64(n.to_bytes((n.bit_length() + 7) // 8, "big"))}]}, f)
header = {"alg": "RS256", "typ": "JWT", "kid": "bench"}
now = int(time.time())
claims = {"iss": issuer, "aud": audience, "sub": "bench", "iat": now, "exp": now + 3600,
          "scope": "system/*.rs"}
print(b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode()))
EOF
)
signature=$(printf %s "$signing_input" | openssl dgst -sha256 -sign "$work/key.pem" | python3 -c 'import base64,sys; print(base64.urlsafe_b64encode(sys.stdin.buffer.read()).rstrip(b"=").decode())')
token="$signing_input.$signature"
python3 -m http.server "$issuer_port" --bind 127.0.0.1 --directory "$work/issuer" >/dev/null 2>&1 &
pids+=("$!")

# The data, loaded once into one SQLite file that both servers read.
mkdir "$work/data"
find "$synthea" -maxdepth 1 -name '*.json' | sort | head -n "${BENCH_FILES:-60}" |
  while read -r f; do ln -s "$f" "$work/data/"; done
target/release/fhir load --quiet --db "$work/bench.db" "$work/data" | tail -n 1

wait_up() {
  for _ in $(seq 1 300); do
    curl -sf "$base/metadata" >/dev/null && return 0
    sleep 0.2
  done
  echo "the server did not start" >&2
  exit 1
}
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.2f", v}'; }
# One wrk run: "requests/s p99-ms"; any answer but 200 fails the benchmark.
measure() {
  local out
  out=$(wrk -t2 -c16 -d"${BENCH_SECONDS:-10}"s --latency "$@")
  grep -q "Non-2xx" <<<"$out" && { echo "non-2xx answers from $*" >&2; exit 1; }
  echo "$(awk '/Requests\/sec/ {printf "%d", $2}' <<<"$out") $(awk '$1 == "99%" {print $2}' <<<"$out" | to_ms)"
}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
start() {
  ROCKET_LOG_LEVEL=off target/release/fhir serve --db "$work/bench.db" --port "$port" --no-audit "$@" >"$work/serve.log" 2>&1 &
  server=$!
  pids+=("$server")
  wait_up
}
stop() {
  kill "$server"
  wait "$server" 2>/dev/null || true
}

start
patient=$(curl -sf "$base/Patient?_count=1&_elements=id" | json 'd["entry"][0]["resource"]["id"]')
family=$(curl -sf "$base/Patient/$patient" | json 'd["name"][0]["family"]')
code=$(curl -sf "$base/Observation?patient=$patient&_count=1" | json 'd["entry"][0]["resource"]["code"]["coding"][0]["code"]')
stop
declare -A url=(
  [read]="$base/Patient/$patient"
  [observation]="$base/Observation?patient=$patient&code=$code"
  [name]="$base/Patient?name=$family")
queries=(read observation name)

declare -A rps p99
for round in $(seq 1 "${BENCH_ROUNDS:-3}"); do
  for mode in open token; do
    if [ "$mode" = open ]; then
      start
      headers=()
    else
      start --auth-issuer "$issuer" --auth-audience "$base"
      headers=(-H "Authorization: Bearer $token")
      # Without the token: refused, so the protected server is the one measured.
      [ "$(curl -s -o /dev/null -w '%{http_code}' "${url[read]}")" = 401 ] || { echo "not protected" >&2; exit 1; }
    fi
    for q in "${queries[@]}"; do
      read -r r l <<<"$(measure "${headers[@]}" "${url[$q]}")"
      rps[$mode-$q]="${rps[$mode-$q]:-} $r"
      p99[$mode-$q]="${p99[$mode-$q]:-} $l"
    done
    stop
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo
echo "$(ls "$work/data" | wc -l) Synthea Bundles on SQLite; wrk -t2 -c16 -d${BENCH_SECONDS:-10}s, ${BENCH_ROUNDS:-3} rounds alternating; medians"
echo
echo "| request | open, requests/s (p99 ms) | with a token | token / open |"
echo "| --- | --- | --- | --- |"
for q in "${queries[@]}"; do
  o=$(median <<<"${rps[open-$q]}"); t=$(median <<<"${rps[token-$q]}")
  lo=$(median <<<"${p99[open-$q]}"); lt=$(median <<<"${p99[token-$q]}")
  echo "| \`${url[$q]#"$base"}\` | $o ($lo) | $t ($lt) | $(awk -v a="$t" -v b="$o" 'BEGIN {printf "%.0f%%", 100*a/b}') |"
done
echo
echo "each run, requests/s:"
for q in "${queries[@]}"; do echo "  $q open:${rps[open-$q]}  token:${rps[token-$q]}"; done
