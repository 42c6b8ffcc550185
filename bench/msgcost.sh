#!/usr/bin/env bash
# Allocations and CPU per stored message of hubd binaries in the rooms
# scenario (bench/run.sh's: 1000 clients in 100 rooms of 10, every client
# sending, closed loop), read from each daemon's own /metrics around one
# hubload run: go_memstats_mallocs_total, go_memstats_alloc_bytes_total,
# process_cpu_seconds_total and hubd_hub_messages_total. Binaries are run alternately, ROUNDS times, so
# that load from other processes falls on all of them alike; allocations
# per message hardly move with that load, CPU per message less than rates.
#
#   bench/msgcost.sh OLD_HUBD NEW_HUBD      # e.g. two builds of cmd/hubd
#   ROUNDS=5 bench/msgcost.sh bin/hubd
#
# hubload is built into bench/out/bin when it is not there.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
bin="$here/out/bin"
secret="bench-secret-$$"
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-10s}"

if (( $# == 0 )); then
  echo "usage: $0 HUBD_BINARY..." >&2
  exit 2
fi
mkdir -p "$bin"
[[ -x "$bin/hubload" ]] || (cd "$root" && go build -o "$bin/hubload" ./cmd/hubload)

# metric URL NAME: the sum of the series of NAME.
metric() {
  curl -fsS "$1/metrics" | awk -v m="$2" 'index($1, m "{") == 1 || $1 == m { s += $2 } END { printf "%.0f\n", s }'
}

# addr LOG MSG: the address the daemon logged with MSG.
addr() { grep "\"msg\":\"$2\"" "$1" | grep -o '"addr":"[^"]*"' | head -1 | cut -d'"' -f4; }

run() {
  local hubd="$1" round="$2" work pid url admin m0 b0 c0 n0 m1 b1 c1 n1
  work="$(mktemp -d)"
  mkdir -p "$work/data" "$work/lib"
  "$hubd" serve --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --hubs "$here/hubs" --records "$here/records" \
    --lib "$work/lib" --data "$work/data" --jwt-secret "$secret" --log-format json --log-level info \
    2>"$work/log" >/dev/null &
  pid=$!
  for _ in $(seq 1 150); do
    if grep -q '"msg":"admin listening"' "$work/log" && grep -q '"msg":"listening"' "$work/log"; then break; fi
    sleep 0.1
  done
  url="ws://$(addr "$work/log" listening)"
  admin="http://$(addr "$work/log" "admin listening")"
  m0="$(metric "$admin" go_memstats_mallocs_total)"
  b0="$(metric "$admin" go_memstats_alloc_bytes_total)"
  c0="$(metric "$admin" process_cpu_seconds_total)"
  n0="$(metric "$admin" hubd_hub_messages_total)"
  "$bin/hubload" --url "$url" --token-secret "$secret" --scenario rooms --concurrency 64 --clients 1000 --rooms 100 \
    --closed-loop --inflight 1 --duration "$DURATION" --warmup 2s --drain 5s --json >"$work/report.json" 2>"$work/hubload.log" || {
    echo "hubload failed:" >&2; cat "$work/hubload.log" >&2; }
  m1="$(metric "$admin" go_memstats_mallocs_total)"
  b1="$(metric "$admin" go_memstats_alloc_bytes_total)"
  c1="$(metric "$admin" process_cpu_seconds_total)"
  n1="$(metric "$admin" hubd_hub_messages_total)"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$work"
  awk -v b="$hubd" -v r="$round" -v m="$((m1 - m0))" -v by="$((b1 - b0))" -v c0="$c0" -v c1="$c1" -v n="$((n1 - n0))" \
    -v la="$(cut -d' ' -f1-3 /proc/loadavg)" 'BEGIN {
      if (n <= 0) { printf "round %s %s: no message stored\n", r, b; exit }
      printf "round %s %s: %d messages, %.1f allocations and %.0f bytes/message, %.1f us CPU/message, load %s\n",
        r, b, n, m / n, by / n, (c1 - c0) * 1e6 / n, la }'
}

for round in $(seq 1 "$ROUNDS"); do
  for hubd in "$@"; do
    run "$hubd" "$round"
  done
done
