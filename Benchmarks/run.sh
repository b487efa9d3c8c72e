#!/usr/bin/env bash
# Benchmarks/run.sh — alertgate's outbound path against the shared bench sinks, next to
# the machine's ceilings (the bench's own loadgen, openssl speed), in one run.
#
#   Benchmarks/run.sh [-n ALERTS] [-r REPS]
#
# Prints a markdown table (median of REPS) for docs/performance.md; raw JSON rows go to
# $OUT (default: a temporary folder, printed at the end).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
N=300000
REPS=3
while getopts "n:r:" option; do
  case $option in
    n) N=$OPTARG ;;
    r) REPS=$OPTARG ;;
    *) echo "usage: $0 [-n ALERTS] [-r REPS]" >&2; exit 2 ;;
  esac
done
bench=${BENCH_ROOT:-$root/../shared/bench}
work=$(mktemp -d /tmp/alertgate-bench.XXXXXX)
OUT=${OUT:-$work/results}
mkdir -p "$OUT"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

# The bench folder may be read-only (CI): build its tools in a copy.
cp -r "$bench/src" "$bench/Makefile" "$bench/mkcerts.sh" "$work/"
make -s -C "$work" >/dev/null
bash "$work/mkcerts.sh" "$work/certs" >/dev/null 2>&1
C=$work/certs
# A 4096-bit partner certificate from the same CA, for the handshake comparison.
openssl req -new -newkey rsa:4096 -nodes -keyout "$C/partner4096.key" -out "$C/partner4096.csr" -subj "/CN=partner.test" 2>/dev/null
printf 'subjectAltName=DNS:partner.test,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$C/p4096.ext"
issuer_key=$C/ca.key; [ -f "$C/int.key" ] && issuer_key=$C/int.key
openssl x509 -req -in "$C/partner4096.csr" -CA "$C/issuer.crt" -CAkey "$issuer_key" \
  -CAcreateserial -days 2 -sha256 -extfile "$C/p4096.ext" -out "$C/partner4096.crt" 2>/dev/null
cat "$C/partner4096.crt" $( [ -f "$C/int.crt" ] && echo "$C/int.crt") > "$C/partner4096-chain.pem"

(cd "$root" && swift build -c release --product alertgate-bench >/dev/null)
agbench=$root/.build/release/alertgate-bench
ID=(--ca "$C/ca-bundle.pem" --cert "$C/sensor-1-chain.pem" --key "$C/sensor-1.key")
SINK_TLS=(--ca "$C/ca-bundle.pem" --require-client-cert)
port=$((20000 + RANDOM % 20000))

sink() {  # sink NAME ARGS... : starts tlssink (or $SINK) on $port, JSON summary to $OUT/NAME.json
  local name=$1; shift
  "$work/build/${SINK:-tlssink}" --listen "127.0.0.1:$port" --json "$OUT/$name.json" "$@" > /dev/null 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && return 0; sleep 0.05; done
  echo "tlssink did not start" >&2; exit 1
}
stop_sink() { kill "${pids[-1]}" 2>/dev/null || true; wait "${pids[-1]}" 2>/dev/null || true; port=$((port + 1)); }

for rep in $(seq "$REPS"); do
  # 1. alerts through the syslog-tls plugin, one connection, full validation.
  # --linger-ms: the sink stays connected a moment after the last alert, as a partner does;
  # one that closes at once would make the last batch count as failed (and be resent).
  sink "plugin-syslog-tls-$rep" --cert "$C/partner-chain.pem" --key "$C/partner.key" "${SINK_TLS[@]}" --expect "$N" --linger-ms 2000
  "$agbench" throughput --port "$port" "${ID[@]}" --count "$N" --batch 500 --window 4 >> "$OUT/rows.jsonl"
  stop_sink
  # 2. the ceiling: the bench's C load generator over the same mutual TLS.
  sink "ceiling-syslog-tls-$rep" --cert "$C/partner-chain.pem" --key "$C/partner.key" "${SINK_TLS[@]}" --expect "$N"
  "$work/build/loadgen" -p "$port" -n "$N" --framing octet --tls --ca "$C/ca-bundle.pem" --cert "$C/sensor-1-chain.pem" \
    --key "$C/sensor-1.key" --servername partner.test | sed 's/^{/{"bench":"loadgen-tls",/' >> "$OUT/rows.jsonl"
  stop_sink
  # 3. alerts through the http2 plugin (NDJSON POSTs of 500, 4 in flight) into h2sink, and
  #    the ceiling: h2load with 100-alert bodies, 16 streams (it cannot present a client
  #    certificate, so its TLS is server-auth only).
  SINK=h2sink sink "plugin-http2-$rep" --cert "$C/partner-chain.pem" --key "$C/partner.key" "${SINK_TLS[@]}" --expect "$N" --linger-ms 2000
  "$agbench" throughput --transport http2 --port "$port" "${ID[@]}" --count "$N" --batch 500 --window 4 >> "$OUT/rows.jsonl"
  stop_sink
  if command -v h2load >/dev/null; then
    python3 -c "import sys; [print('{\"title\":\"t\",\"severity\":\"major\",\"msg\":\"seq=%d %s\"}' % (i + 1, 'x' * 240)) for i in range(100)]" > "$work/body100.ndjson"
    SINK=h2sink sink "ceiling-http2-$rep" --cert "$C/partner-chain.pem" --key "$C/partner.key"
    h2load -n $((N / 100)) -c 1 -m 16 -d "$work/body100.ndjson" -H 'content-type: application/x-ndjson' \
      "https://127.0.0.1:$port/ingest" 2>/dev/null | awk '/finished in/ { printf "{\"bench\":\"h2load\",\"alerts_per_s\":%d}\n", $4 * 100 }' >> "$OUT/rows.jsonl"
    stop_sink
  fi
  # 4. handshakes, RSA 2048 and 4096 partner keys, ours and the C ceiling.
  for bits in 2048 4096; do
    cert=$C/partner-chain.pem; key=$C/partner.key
    [ "$bits" = 4096 ] && cert=$C/partner4096-chain.pem && key=$C/partner4096.key
    sink "hs-$bits-$rep" --cert "$cert" --key "$key" "${SINK_TLS[@]}"
    "$agbench" handshakes --port "$port" "${ID[@]}" --count 300 | sed "s/^{/{\"bits\":$bits,/" >> "$OUT/rows.jsonl"
    "$work/build/loadgen" -p "$port" --tls --ca "$C/ca-bundle.pem" --cert "$C/sensor-1-chain.pem" --key "$C/sensor-1.key" \
      --servername partner.test --handshakes 300 | sed "s/^{/{\"bench\":\"loadgen-handshakes\",\"bits\":$bits,/" >> "$OUT/rows.jsonl"
    stop_sink
  done
done
openssl speed -seconds 2 rsa2048 rsa4096 2>/dev/null | grep -E '^rsa (2048|4096)' > "$OUT/speed.txt" || true

python3 - "$OUT" <<'PY'
import json, os, statistics, sys
out = sys.argv[1]
rows = [json.loads(l) for l in open(os.path.join(out, "rows.jsonl")) if l.strip()]
def med(pred, key):
    vals = [float(r[key]) for r in rows if pred(r) and key in r]
    return statistics.median(vals) if vals else float("nan")
ours = med(lambda r: r.get("bench") == "syslog-tls", "alerts_per_s")
cpu = med(lambda r: r.get("bench") == "syslog-tls", "cpu_us_per_alert")
ceiling_keys = [k for k in ("rate_msgs_s", "msgs_per_s") if any(k in r for r in rows if r.get("bench") == "loadgen-tls")]
ceiling = med(lambda r: r.get("bench") == "loadgen-tls", ceiling_keys[0]) if ceiling_keys else float("nan")
print("| measure | alertgate | ceiling (bench loadgen / openssl) | ratio |")
print("|---|---|---|---|")
print(f"| syslog-tls alerts/s, one connection, mTLS + full validation | {ours:,.0f} ({cpu:.2f} µs CPU/alert) | {ceiling:,.0f} msgs/s | {ours/ceiling:.2f} |")
h2 = med(lambda r: r.get("bench") == "http2", "alerts_per_s")
h2cpu = med(lambda r: r.get("bench") == "http2", "cpu_us_per_alert")
h2c = med(lambda r: r.get("bench") == "h2load", "alerts_per_s")
print(f"| http2 alerts/s, one connection, NDJSON POSTs of 500, mTLS + full validation | {h2:,.0f} ({h2cpu:.2f} µs CPU/alert) | {h2c:,.0f} alerts/s (h2load) | {h2/h2c:.2f} |")
for bits in (2048, 4096):
    h = med(lambda r: r.get("bench") == "handshakes" and r.get("bits") == bits, "handshakes_per_s")
    hk = [k for k in ("handshakes_per_s", "rate", "hs_per_s") if any(k in r for r in rows if r.get("bench") == "loadgen-handshakes")]
    c = med(lambda r: r.get("bench") == "loadgen-handshakes" and r.get("bits") == bits, hk[0]) if hk else float("nan")
    print(f"| full handshakes/s, RSA {bits} partner key | {h:,.0f} | {c:,.0f} | {h/c:.2f} |")
for line in open(os.path.join(out, "speed.txt")):
    parts = line.split()
    print(f"| openssl speed rsa {parts[1]}: sign/s, verify/s (one core) | | {parts[-2]} / {parts[-1]} | |")
PY
echo "raw rows: $OUT/rows.jsonl" >&2
