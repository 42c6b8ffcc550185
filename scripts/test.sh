#!/usr/bin/env bash
# Runs every hubd test: go vet, go test (race detector where affordable),
# builds bin/hubd, then the end-to-end suites in test/e2e with the official
# socket.io-client and the client package's tests (clients/js). Idempotent; meant for a fresh Debian machine and CI.
#
# Environment:
#   HUBD_TEST_SERVICES=0   do not install/start PostgreSQL and Redis (default 1:
#                          start them and export HUBD_TEST_DATABASE_URL /
#                          HUBD_TEST_REDIS_ADDR, so integration tests run)
#   HUBD_TEST_RACE=0       run go test without -race
#   HUBD_RACE_SKIP=REGEX   packages (import path regex) tested without -race
#   HUBD_GO_TEST_TIMEOUT   per-package go test timeout (default 10m)
#   HUBD_E2E_TIMEOUT_MS    per-test timeout of the e2e suites (default 120000)
#   HUBD_FUZZ_TIME         how long each fuzz target runs: a count of inputs
#                          (default 3000x) or a duration such as 30s
#   HUBD_E2E_ONLY=1        skip vet, go test and fuzz, run only build + e2e
#   HUBD_CHROMIUM          Chromium of the console's browser tests (default
#                          /usr/bin/chromium, installed from apt when missing)
#
# `scripts/test.sh services` only starts the services and prints the export
# lines for them; `scripts/test.sh services stop` stops the services this
# script started (and nothing it found already running).
#
# Installing packages and creating the PostgreSQL cluster need root: run as
# root, or set HUBD_TEST_SERVICES=0 and point HUBD_TEST_DATABASE_URL and
# HUBD_TEST_REDIS_ADDR at services of your own.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export LANG=C.UTF-8 LC_ALL=C.UTF-8

log() { printf '\n==> %s\n' "$*"; }
die() { printf 'test.sh: %s\n' "$*" >&2; exit 1; }

FAILED=()
SUMMARY=()

# step NAME CMD...: runs a step, records its result, keeps going.
step() {
  local name=$1; shift
  local start=$SECONDS rc
  log "$name"
  # A subshell keeps errexit in force inside the step's functions.
  set +e
  (
    set -e
    "$@"
  )
  rc=$?
  set -e
  local took=$((SECONDS - start))
  if [ "$rc" -eq 0 ]; then
    SUMMARY+=("ok    $name (${took}s)")
  else
    SUMMARY+=("FAIL  $name (${took}s, exit $rc)")
    FAILED+=("$name")
  fi
  return 0
}

check_tools() {
  command -v go >/dev/null 2>&1 || die "go is not installed (need Go $(awk '/^go /{print $2}' go.mod))"
  go version
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    log "installing nodejs and npm"
    apt_install nodejs npm
  fi
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$major" -ge 20 ] || die "node $major is too old, need >= 20"
  echo "node $(node --version), npm $(npm --version)"
  # The shutdown suite drives python-socketio (Debian's, with its
  # transports) as a second client implementation.
  if ! /usr/bin/python3 -c 'import socketio, requests, websocket' >/dev/null 2>&1; then
    log "installing python3-socketio"
    apt_install python3-socketio python3-requests python3-websocket
  fi
}

APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "cannot install $*: no apt-get"
  [ "$(id -u)" -eq 0 ] || die "installing $* needs root: run as root, or install them yourself"
  export DEBIAN_FRONTEND=noninteractive
  if [ "$APT_UPDATED" -eq 0 ]; then
    apt-get update -qq
    APT_UPDATED=1
  fi
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- services ---------------------------------------------------------------
# PostgreSQL and Redis on loopback for the integration suites. Only started
# unless HUBD_TEST_SERVICES=0. Safe to run again when they already run.
PGPORT=${HUBD_TEST_PGPORT:-55432}
REDIS_PORT=${HUBD_TEST_REDIS_PORT:-56379}
PG_DB=hubd_test PG_USER=hubd_test PG_PASS=hubd_test
SVC_DIR=${HUBD_TEST_SVC_DIR:-/tmp/hubd-test-services}

pg_version() { ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -1; }

start_postgres() {
  local v
  v=$(pg_version)
  if ! pg_lsclusters -h | awk -v v="$v" '$1==v && $2=="hubd"{f=1} END{exit !f}'; then
    pg_createcluster --locale C.UTF-8 --port "$PGPORT" "$v" hubd >/dev/null
  fi
  # Pin the port and listen on loopback only; conf.d wins over the main file.
  mkdir -p "/etc/postgresql/$v/hubd/conf.d"
  printf "port = %s\nlisten_addresses = '127.0.0.1'\n" "$PGPORT" >"/etc/postgresql/$v/hubd/conf.d/zz-hubd-test.conf"
  if ! pg_lsclusters -h | awk -v v="$v" '$1==v && $2=="hubd" && $4=="online"{f=1} END{exit !f}'; then
    pg_ctlcluster "$v" hubd start
    mkdir -p "$SVC_DIR" && echo "$v" >"$SVC_DIR/postgres.started"
  fi
  pg_isready -q -h 127.0.0.1 -p "$PGPORT" -t 30
  (cd / && runuser -u postgres -- psql -p "$PGPORT" -v ON_ERROR_STOP=1 -qAt) <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') THEN
    CREATE ROLE $PG_USER LOGIN PASSWORD '$PG_PASS' CREATEDB;
  END IF;
END \$\$;
-- CREATEROLE: sql.query runs each hub's scripts as a login role of its own.
ALTER ROLE $PG_USER CREATEROLE;
SELECT 'CREATE DATABASE $PG_DB OWNER $PG_USER TEMPLATE template0 ENCODING ''UTF8'' LC_COLLATE ''C.UTF-8'' LC_CTYPE ''C.UTF-8'''
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_DB')\gexec
SQL
  export HUBD_TEST_DATABASE_URL="postgres://$PG_USER:$PG_PASS@127.0.0.1:$PGPORT/$PG_DB?sslmode=disable"
}

start_redis() {
  mkdir -p "$SVC_DIR"
  if ! redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes \
      --save '' --appendonly no --dir "$SVC_DIR" \
      --pidfile "$SVC_DIR/redis.pid" --logfile "$SVC_DIR/redis.log"
    echo "$REDIS_PORT" >"$SVC_DIR/redis.started"
  fi
  local i
  for i in $(seq 1 100); do
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break
    sleep 0.1
  done
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping | grep -q PONG
  export HUBD_TEST_REDIS_ADDR="127.0.0.1:$REDIS_PORT"
}

# need_root stops at once, before anything runs, when the services need
# root and this is not root.
need_root() {
  [ "$(id -u)" -eq 0 ] && return 0
  die "starting PostgreSQL and Redis needs root (a PostgreSQL cluster of its own, packages).
Run as root, or HUBD_TEST_SERVICES=0 with HUBD_TEST_DATABASE_URL and HUBD_TEST_REDIS_ADDR
set to services of your own (the integration suites are skipped without them)."
}

start_services() {
  need_root
  local need=()
  { command -v pg_ctlcluster >/dev/null 2>&1 && [ -n "$(pg_version)" ]; } || need+=(postgresql)
  command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
  if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    apt_install "${need[@]}"
  fi
  start_postgres
  start_redis
  echo "HUBD_TEST_DATABASE_URL=$HUBD_TEST_DATABASE_URL"
  echo "HUBD_TEST_REDIS_ADDR=$HUBD_TEST_REDIS_ADDR"
}

# stop_services stops what start_services started (the markers in
# $SVC_DIR), not services that were already running.
stop_services() {
  if [ -f "$SVC_DIR/redis.started" ]; then
    local port
    port=$(cat "$SVC_DIR/redis.started")
    redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
    rm -f "$SVC_DIR/redis.started"
    echo "stopped Redis on 127.0.0.1:$port"
  fi
  if [ -f "$SVC_DIR/postgres.started" ]; then
    local v
    v=$(cat "$SVC_DIR/postgres.started")
    pg_ctlcluster "$v" hubd stop
    rm -f "$SVC_DIR/postgres.started"
    echo "stopped PostgreSQL cluster $v/hubd"
  fi
}

# --- Go -----------------------------------------------------------------------
GO_TEST_TIMEOUT=${HUBD_GO_TEST_TIMEOUT:-10m}
# Packages whose tests are too slow under the race detector on 2 cores.
RACE_SKIP=${HUBD_RACE_SKIP:-'^github.com/hubd/hubd/(cmd/hubload|bench)(/|$)'}

go_vet() {
  go vet ./...
}

go_tests() {
  local all race=() plain=()
  all=$(go list ./...)
  local use_race=${HUBD_TEST_RACE:-1}
  if [ "$use_race" = 1 ] && ! command -v gcc >/dev/null 2>&1; then
    log "installing gcc for the race detector"
    apt_install gcc libc6-dev || use_race=0
  fi
  local p
  for p in $all; do
    if [ "$use_race" = 1 ] && ! [[ $p =~ $RACE_SKIP ]]; then race+=("$p"); else plain+=("$p"); fi
  done
  local rc=0
  if [ ${#race[@]} -gt 0 ]; then
    log "go test -race (${#race[@]} packages)"
    CGO_ENABLED=1 go test -race -count=1 -timeout "$GO_TEST_TIMEOUT" "${race[@]}" || rc=1
  fi
  if [ ${#plain[@]} -gt 0 ]; then
    log "go test (${#plain[@]} packages)"
    go test -count=1 -timeout "$GO_TEST_TIMEOUT" "${plain[@]}" || rc=1
  fi
  return $rc
}

# Every fuzz target (func Fuzz* in a _test.go file) runs for FUZZ_TIME: its
# seeds, then new inputs. A crasher is saved under the package's
# testdata/fuzz/ (commit it as a seed once fixed) and fails the step.
# The default is a count of inputs, not a duration: Go 1.26's fuzz
# coordinator can report its own -fuzztime deadline as a failure ("context
# deadline exceeded", no crasher; go.dev/issue/75804, fixed in Go 1.27),
# and a count sets no deadline.
FUZZ_TIME=${HUBD_FUZZ_TIME:-3000x}

fuzz_targets() {
  local rc=0 dir name n=0
  while read -r dir name; do
    n=$((n + 1))
    echo "$dir $name"
    go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZ_TIME" "./$dir" || rc=1
  done < <(grep -r --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]*' . |
    sed -E 's#^\./(.*)/[^/]+_test\.go:func (Fuzz.*)$#\1 \2#' | sort -u)
  [ "$n" -gt 0 ] || die "no fuzz targets found"
  echo "$n fuzz targets"
  return $rc
}

build_hubd() {
  mkdir -p bin
  go build -o bin/hubd ./cmd/hubd
  # Validates the e2e REST traffic against the daemon's OpenAPI documents.
  go build -o bin/apicheck ./test/e2e/tools/apicheck
}

# --- end-to-end -----------------------------------------------------------------
E2E=test/e2e

# npm_ci DIR: npm ci in DIR when node_modules is missing or older than the
# lock file.
npm_ci() {
  local dir=$1
  if ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.hubd-lock-copy"; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$dir/package-lock.json" "$dir/node_modules/.hubd-lock-copy"
  fi
}

npm_deps() { npm_ci "$E2E"; }

# The client package (clients/js, docs/clients.md): npm ci, tsc to ESM and
# CJS, then its tests against bin/hubd in Node and headless Chromium, and
# the compile checks of the types `hubd gen ts` writes. It uses the e2e
# harness, so test/e2e's packages must be installed.
CLIENT_JS=clients/js

client_js() {
  npm_ci "$CLIENT_JS"
  (cd "$CLIENT_JS" && npm run --silent build)
  (cd "$CLIENT_JS" && HUBD_BIN="$ROOT/bin/hubd" node --test \
    --test-reporter=spec \
    --test-concurrency=1 \
    --test-timeout="${HUBD_E2E_TIMEOUT_MS:-120000}" \
    test/*.test.mjs)
}

# The console's browser tests (console.test.mjs) drive Debian's chromium
# with puppeteer-core; no browser is downloaded. HUBD_CHROMIUM names another
# Chromium executable.
browser_deps() {
  if [ -n "${HUBD_CHROMIUM:-}" ]; then
    [ -x "$HUBD_CHROMIUM" ] || die "HUBD_CHROMIUM=$HUBD_CHROMIUM is not executable"
    return 0
  fi
  if [ ! -x /usr/bin/chromium ]; then
    log "installing chromium"
    apt_install chromium fonts-noto-color-emoji
  fi
  /usr/bin/chromium --version 2>/dev/null
}

# e2e_tests [FILE...]: node --test over the given suites (default: all).
e2e_tests() {
  local files=("$@")
  if [ ${#files[@]} -eq 0 ]; then
    mapfile -t files < <(find "$E2E" -path "$E2E/node_modules" -prune -o -name '*.test.mjs' -type f -print | sort)
  fi
  [ ${#files[@]} -gt 0 ] || die "no e2e test files under $E2E"
  echo "${#files[@]} test files"
  HUBD_BIN="$ROOT/bin/hubd" HUBD_APICHECK="$ROOT/bin/apicheck" node --test \
    --test-reporter=spec \
    --test-concurrency=1 \
    --test-timeout="${HUBD_E2E_TIMEOUT_MS:-120000}" \
    "${files[@]}"
}

# Suites that run a second time with the PostgreSQL message store: the same
# hubs must behave the same on both stores.
E2E_PG_SUITES=(messages history ops moderation)

e2e_postgres() {
  local files=() s
  for s in "${E2E_PG_SUITES[@]}"; do files+=("$E2E/$s.test.mjs"); done
  HUBD_E2E_STORE=postgres e2e_tests "${files[@]}"
}

main() {
  local t0=$SECONDS
  check_tools
  if [ "${HUBD_TEST_SERVICES:-1}" != 0 ]; then
    log "start services"
    # Not a step: it exports the service addresses to the later steps.
    start_services
  fi
  if [ "${HUBD_E2E_ONLY:-0}" != 1 ]; then
    step "go vet" go_vet
    step "go test" go_tests
    step "fuzz (${FUZZ_TIME} per target)" fuzz_targets
  fi
  step "build bin/hubd" build_hubd
  if [[ " ${FAILED[*]} " == *" build bin/hubd "* ]]; then
    SUMMARY+=("skip  e2e (no binary)")
  else
    step "npm ci (test/e2e)" npm_deps
    step "chromium (console browser tests)" browser_deps
    step "e2e (node --test)" e2e_tests
    step "client package (clients/js)" client_js
    if [ -n "${HUBD_TEST_DATABASE_URL:-}" ]; then
      step "e2e on PostgreSQL (${E2E_PG_SUITES[*]})" e2e_postgres
    else
      SUMMARY+=("skip  e2e on PostgreSQL (HUBD_TEST_DATABASE_URL unset)")
    fi
  fi

  log "summary ($((SECONDS - t0))s)"
  printf '  %s\n' "${SUMMARY[@]}"
  if [ ${#FAILED[@]} -gt 0 ]; then
    printf 'test.sh: FAILED: %s\n' "${FAILED[*]}" >&2
    exit 1
  fi
  echo "test.sh: all steps passed"
}

case "${1:-all}" in
  all) main ;;
  services)
    if [ "${2:-start}" = stop ]; then
      stop_services
      exit 0
    fi
    # Start only the services, for running integration tests by hand:
    #   eval "$(scripts/test.sh services | grep ^export)"
    start_services >&2
    echo "export HUBD_TEST_DATABASE_URL='$HUBD_TEST_DATABASE_URL'"
    echo "export HUBD_TEST_REDIS_ADDR='$HUBD_TEST_REDIS_ADDR'"
    ;;
  *) die "usage: $0 [all|services [start|stop]]" ;;
esac
