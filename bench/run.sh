#!/usr/bin/env bash
# Runs every hubload scenario against the no-framework Go ceiling
# (CEILING_SRC, default ../shared/bench/ceiling next to the repository), the
# socket.io 4 baseline (bench/node) and hubd (bench/hubs + bench/records,
# embedded store on), one server after the other on this machine, and prints
# a comparison table with hubd/ceiling and hubd/Node ratios.
#
#   bench/run.sh                      # all scenarios, every target
#   SCENARIOS="fanout rooms" bench/run.sh
#   TARGETS=hubd bench/run.sh         # only hubd
#   CEILING_SRC=/path/to/ceiling bench/run.sh   # where the ceiling's source is
#   BUILD_REF=HEAD bench/run.sh       # build from a commit (git archive), not the work tree
#   SKIP_BUILD=1 bench/run.sh         # reuse the binaries in bench/out/bin
#   PROFILE=1 bench/run.sh            # hubd under bench/hubdprof: CPU and heap
#                                     # profiles in bench/out/<scenario>-hubd.*.pprof
#   LOOP=open bench/run.sh            # fanout and rooms at a fixed offered rate
#                                     # (default: closed loop, see below)
#   SCENARIOS=idle100k bench/run.sh   # opt-in: 100,000 idle connections beside
#                                     # a 1000-member fan-out (needs ulimit -n > 101,000)
#
# Each scenario runs against a freshly started server and stays under ~30 s
# (idle100k: a few minutes).
# Reports land in bench/out/<scenario>-<target>.json; the table is also
# written to bench/out/table.md.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
out="$here/out"
bin="$out/bin"
secret="${BENCH_SECRET:-bench-secret-$$}"

SCENARIOS="${SCENARIOS:-fanout rooms idle connect}"
TARGETS="${TARGETS:-ceiling node hubd}"
# The ceiling's source sits outside the repository (it may be read-only):
# it is built into bench/out/bin. Relative paths are taken from the repo root.
CEILING_SRC="${CEILING_SRC:-../shared/bench/ceiling}"

# Scenario parameters (override with the environment).
# LOOP=closed (default): fanout and rooms senders send their next message when
# one of their FANOUT_INFLIGHT / ROOMS_INFLIGHT unacked sends is acked, so the
# figures are the server's throughput. LOOP=open: a fixed offered rate
# (FANOUT_RATE, ROOMS_RATE) whatever the server does.
LOOP="${LOOP:-closed}"
FANOUT_CLIENTS="${FANOUT_CLIENTS:-1000}"
FANOUT_SENDERS="${FANOUT_SENDERS:-10}"
FANOUT_INFLIGHT="${FANOUT_INFLIGHT:-1}"  # closed loop: unacked sends per sender
FANOUT_RATE="${FANOUT_RATE:-500}"        # open loop: msgs/s -> FANOUT_RATE*FANOUT_CLIENTS deliveries/s
ROOMS_ROOMS="${ROOMS_ROOMS:-100}"
ROOMS_CLIENTS="${ROOMS_CLIENTS:-1000}"   # 100 rooms of 10, every client sends
ROOMS_INFLIGHT="${ROOMS_INFLIGHT:-1}"    # closed loop: unacked sends per client
ROOMS_RATE="${ROOMS_RATE:-10000}"        # open loop: msgs/s in total
IDLE_CLIENTS="${IDLE_CLIENTS:-10000}"
IDLE_ROOMS="${IDLE_ROOMS:-100}"
CONNECT_CLIENTS="${CONNECT_CLIENTS:-5000}"
# idle100k (opt-in: SCENARIOS=idle100k): CROWD_CLIENTS idle joined connections
# over CROWD_ROOMS rooms, dialled from CROWD_SOURCES (about 28k connections per
# source address), then a fan-out in a room of CROWD_MEMBERS more clients
# (CROWD_SENDERS send, paced by LOOP like fanout) while the idle ones stay.
CROWD_CLIENTS="${CROWD_CLIENTS:-100000}"
CROWD_ROOMS="${CROWD_ROOMS:-100}"
CROWD_MEMBERS="${CROWD_MEMBERS:-1000}"
CROWD_SENDERS="${CROWD_SENDERS:-10}"
CROWD_INFLIGHT="${CROWD_INFLIGHT:-1}"
CROWD_RATE="${CROWD_RATE:-500}"
CROWD_SOURCES="${CROWD_SOURCES:-127.0.0.2-127.0.0.9}"
CONCURRENCY="${CONCURRENCY:-64}"
DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-2s}"
DRAIN="${DRAIN:-5s}"

# Open files: as root the hard limit can be raised too (idle100k needs more
# than 100,000 descriptors in hubload and in the server).
ulimit -Hn "${NOFILE:-1048576}" 2>/dev/null || true
ulimit -n "$(ulimit -Hn)" || true
mkdir -p "$bin"
rm -f "$out"/*.json "$out"/*.pprof "$out"/table.md

echo "== machine: $(nproc) cores, $(free -h | awk '/^Mem:/{print $2}') memory, ulimit -n $(ulimit -n), $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
src="$root"
if [[ -n "${SKIP_BUILD:-}" ]]; then
  echo "== reusing the binaries in $bin"
elif [[ -n "${BUILD_REF:-}" ]]; then
  src="$(mktemp -d)"
  git -C "$root" archive "$BUILD_REF" | tar -x -C "$src"
  echo "== building hubd and hubload from $BUILD_REF ($(git -C "$root" rev-parse --short "$BUILD_REF"))"
else
  echo "== building hubd and hubload from the work tree"
fi
if [[ -z "${SKIP_BUILD:-}" ]]; then
  (cd "$src" && go build -o "$bin/hubd" ./cmd/hubd && go build -o "$bin/hubload" ./cmd/hubload)
  if [[ -n "${PROFILE:-}" ]]; then
    (cd "$src" && go build -o "$bin/hubdprof" ./bench/hubdprof)
  fi
  if [[ -n "${BUILD_REF:-}" ]]; then rm -rf "$src"; fi
fi
if [[ -z "${SKIP_BUILD:-}" && " $TARGETS " == *" ceiling "* ]]; then
  ceiling_src="$(cd "$root" && cd "$CEILING_SRC" && pwd)" || {
    echo "ceiling source $CEILING_SRC not found (set CEILING_SRC)" >&2; exit 1; }
  echo "== building the ceiling from $ceiling_src"
  go build -C "$ceiling_src" -o "$bin/ceiling" .
fi
if [[ " $TARGETS " == *" node "* && ! -d "$here/node/node_modules/socket.io" ]]; then
  echo "== installing the node baseline"
  (cd "$here/node" && npm ci --no-audit --no-fund >/dev/null)
fi

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do
    [[ -n "$p" ]] && kill "$p" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

server_pid=""
server_url=""
# memory_flags: how hubload makes the server collect before a memory reading.
memory_flags=""

# wait_for FILE PATTERN: polls FILE until a line matches, for at most 15 s.
wait_for() {
  local file="$1" pattern="$2" i
  for i in $(seq 1 150); do
    if grep -q "$pattern" "$file" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "server did not start; its output:" >&2
  cat "$file" >&2
  return 1
}

# free_port prints a TCP port that was free on 127.0.0.1 a moment ago (for a
# server that cannot listen on port 0 and report it).
free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}

# wait_for_port PORT LOG: polls until 127.0.0.1:PORT accepts, for at most 15 s.
wait_for_port() {
  local port="$1" log="$2" i
  for i in $(seq 1 150); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "server did not start; its output:" >&2
  cat "$log" >&2
  return 1
}

start_server() {
  local target="$1" scenario="$2" log="$work/$1.log"
  : >"$log"
  case "$target" in
    node)
      node --expose-gc "$here/node/server.mjs" --port 0 --secret "$secret" >"$log" 2>&1 &
      server_pid=$!
      pids+=("$server_pid")
      wait_for "$log" '^listening '
      server_url="ws://127.0.0.1:$(awk '/^listening /{print $2; exit}' "$log")"
      memory_flags="--gc-signal USR2"
      ;;
    hubd)
      rm -rf "$work/data" && mkdir -p "$work/data" "$work/lib"
      local cmd=("$bin/hubd")
      if [[ -n "${PROFILE:-}" ]]; then
        cmd=("$bin/hubdprof" --cpuprofile "$out/$scenario-hubd.cpu.pprof"
          --memprofile "$out/$scenario-hubd.heap.pprof" --)
      fi
      "${cmd[@]}" serve --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --hubs "$here/hubs" --records "$here/records" \
        --lib "$work/lib" --data "$work/data" --jwt-secret "$secret" --log-format json --log-level info \
        2>"$log" >/dev/null &
      server_pid=$!
      pids+=("$server_pid")
      wait_for "$log" '"msg":"listening"'
      server_url="ws://$(grep '"msg":"listening"' "$log" | grep -o '"addr":"[^"]*"' | head -1 | cut -d'"' -f4)"
      memory_flags="--admin-url http://$(grep '"msg":"admin listening"' "$log" | grep -o '"addr":"[^"]*"' | head -1 | cut -d'"' -f4)"
      ;;
    ceiling)
      local port
      port="$(free_port)"
      "$bin/ceiling" -addr "127.0.0.1:$port" -ns /hub/chatHub -join-event hub:join -send-event hub:send \
        -msg-event hub:messageArrived -include-sender >"$log" 2>&1 &
      server_pid=$!
      pids+=("$server_pid")
      wait_for_port "$port" "$log"
      server_url="ws://127.0.0.1:$port"
      memory_flags="--gc-signal USR2"
      ;;
    *) echo "unknown target $target" >&2; return 1 ;;
  esac
}

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

# pace RATE INFLIGHT: hubload's pacing flags for LOOP.
pace() {
  case "$LOOP" in
    closed) echo "--closed-loop --inflight $2" ;;
    open) echo "--rate $1" ;;
    *) echo "LOOP=$LOOP: want closed or open" >&2; return 1 ;;
  esac
}

scenario_args() {
  local window="--duration $DURATION --warmup $WARMUP --drain $DRAIN"
  case "$1" in
    fanout) echo "--clients $FANOUT_CLIENTS --senders $FANOUT_SENDERS $(pace "$FANOUT_RATE" "$FANOUT_INFLIGHT") $window" ;;
    rooms) echo "--clients $ROOMS_CLIENTS --rooms $ROOMS_ROOMS $(pace "$ROOMS_RATE" "$ROOMS_INFLIGHT") $window" ;;
    idle) echo "--clients $IDLE_CLIENTS --rooms $IDLE_ROOMS --settle 3s" ;;
    connect) echo "--clients $CONNECT_CLIENTS" ;;
    idle100k) echo "--scenario crowd --clients $CROWD_CLIENTS --rooms $CROWD_ROOMS --members $CROWD_MEMBERS" \
      "--senders $CROWD_SENDERS $(pace "$CROWD_RATE" "$CROWD_INFLIGHT") --source-addrs $CROWD_SOURCES" \
      "--settle 3s --timeout 60s $window" ;;
  esac
}

# enough_files SCENARIO: false (with a note) when the open-file limit cannot
# hold the scenario's connections in hubload and in the server.
enough_files() {
  local need=0
  case "$1" in
    idle100k) need=$((CROWD_CLIENTS + CROWD_MEMBERS + 1000)) ;;
  esac
  if (( need > $(ulimit -n) )); then
    echo "== skipping $1: it needs $need open files, ulimit -n is $(ulimit -n)" \
      "(raising the hard limit needs root with CAP_SYS_RESOURCE; or lower CROWD_CLIENTS)" >&2
    return 1
  fi
}

for scenario in $SCENARIOS; do
  enough_files "$scenario" || continue
  for target in $TARGETS; do
    start_server "$target" "$scenario"
    echo "== $scenario against $target ($server_url, pid $server_pid; load average $(cut -d' ' -f1-3 /proc/loadavg))"
    # shellcheck disable=SC2046
    # A scenario's own --scenario (idle100k runs hubload's crowd) comes later and wins.
    "$bin/hubload" --url "$server_url" --token-secret "$secret" --scenario "$scenario" \
      --concurrency "$CONCURRENCY" --server-pid "$server_pid" $(scenario_args "$scenario") $memory_flags \
      --json >"$out/$scenario-$target.json" 2>"$work/hubload.log" || {
        echo "hubload failed:" >&2; cat "$work/hubload.log" >&2; }
    grep -v '^$' "$work/hubload.log" | sed 's/^/   /' || true
    stop_server
  done
done

node "$here/table.mjs" "$out" $TARGETS | tee "$out/table.md"
