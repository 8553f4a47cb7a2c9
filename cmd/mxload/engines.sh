#!/bin/bash
# engines.sh: the store engines' table of the README, in one run.
#
# Builds ticketmx at BASE (default: the commit before the storage boundary)
# and at the work tree, starts a throwaway PostgreSQL (Debian's postgresql,
# fsync and synchronous_commit on, as in production) on a free loopback
# port, and runs each load RUNS times (default 3), the rows interleaved:
#
#   bolt-base / bolt      16 connections, 4 KiB, the bbolt engine
#   pg-16 / pg-1          one host on PostgreSQL, 16 and 1 connections
#   pg-2x8                two hosts on one database, 8 connections each
#   pg-16-tenants         one host, 16 connections over 16 tenants
#
#   cmd/mxload/engines.sh                       # RUNS=3 DURATION=10s
#   RUNS=1 DURATION=5s cmd/mxload/engines.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
BASE=${BASE:-459bcd6}
work=$(mktemp -d /tmp/engines.XXXX)
chmod 755 "$work"
cleanup() {
  # runuser does not pass signals on: stop the postmaster itself.
  if [ -f "$work/pg/data/postmaster.pid" ]; then
    kill -INT "$(head -1 "$work/pg/data/postmaster.pid")" 2>/dev/null || true
    wait "${pgpid:-}" 2>/dev/null || true
  fi
  git worktree remove --force "$work/base" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
git worktree add -q "$work/base" "$BASE"
(cd "$work/base" && go build -o "$work/ticketmx-base" ./cmd/ticketmx)
go build -o "$work/ticketmx" ./cmd/ticketmx
go build -o "$work/mxload" ./cmd/mxload

# PostgreSQL, as the postgres user when root.
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
asuser() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
mkdir -p "$work/pg" && chown postgres "$work/pg" 2>/dev/null || true
asuser "$pgbin/initdb" -D "$work/pg/data" -U bench --auth=trust -E UTF8 --no-locale > "$work/pg/initdb.log"
pgport=$((40000 + RANDOM % 10000))
asuser "$pgbin/postgres" -D "$work/pg/data" -p "$pgport" -k "$work/pg" -c listen_addresses=127.0.0.1 \
  -c max_connections=200 -c shared_buffers=128MB > "$work/pg/log" 2>&1 &
pgpid=$!
for _ in $(seq 100); do asuser "$pgbin/pg_isready" -q -h 127.0.0.1 -p "$pgport" -U bench && break; sleep 0.1; done
dbn=0

waitport() {
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done
  echo "server on port $1 did not start" >&2; exit 1
}

tenants() { # N: N tenants with their system channel on
  for i in $(seq "$1"); do printf '  - {id: t%d, domain: t%d.sobot.com, system_channel: {enabled: true}}\n' "$i" "$i"; done
}

# start BIN DIR PORT STORE-YAML NTENANTS: one daemon in the background.
start() {
  cat > "$2/cfg.yaml" <<CFG
smtp: {listen: ["127.0.0.1:$3"], hostname: mx.bench.test}
store: $4
admin: {socket: $2/admin.sock}
log: {level: warn}
defaults: {merge: {enabled: true}, auth_policy: none}
tenants:
$(tenants "$5")
CFG
  "$1" serve --config "$2/cfg.yaml" > "$2/log" 2>&1 &
  echo $!
}

rcpts() { local out=""; for i in $(seq "$1"); do out+="t$i@t$i.sobot.com,"; done; echo "${out%,}"; }

# run NAME BIN HOSTS CONNS TENANTS ENGINE: one row, the hosts' rates summed.
run() {
  local name=$1 bin=$2 hosts=$3 conns=$4 nt=$5 engine=$6 pids=() outs=() store
  if [ "$engine" = pg ]; then
    dbn=$((dbn + 1))
    asuser "$pgbin/createdb" -h 127.0.0.1 -p "$pgport" -U bench "b$dbn"
    store="{engine: postgres, postgres: {dsn: \"host=127.0.0.1 port=$pgport user=bench dbname=b$dbn\", max_conns: 16, timeout: 5s}}"
  fi
  for h in $(seq "$hosts"); do
    local dir port
    dir=$(mktemp -d "$work/run.XXXX"); port=$((20000 + RANDOM % 20000))
    [ "$engine" = bolt ] && store="{path: $dir/tickets.db}"
    pids+=("$(start "$bin" "$dir" "$port" "$store" "$nt")")
    waitport "$port"
    outs+=("$dir:$port")
  done
  local mx=()
  for o in "${outs[@]}"; do
    "$work/mxload" -addr "127.0.0.1:${o#*:}" -c "$conns" -size 4096 -duration "$DURATION" -rcpt "$(rcpts "$nt")" -json > "${o%:*}/out.json" &
    mx+=($!)
  done
  wait "${mx[@]}"
  kill "${pids[@]}"; wait "${pids[@]}" 2>/dev/null || true
  python3 - "$name" "${outs[@]}" <<'PY'
import json, sys
rs = [json.load(open(o.split(':')[0] + '/out.json')) for o in sys.argv[2:]]
rate = sum(r['msgs_per_s'] for r in rs)
p99 = max(r['p99_ms'] for r in rs)
p50 = max(r['p50_ms'] for r in rs)
failed = sum(r['failed'] for r in rs)
print(f"{sys.argv[1]:14s} {rate:7.0f} msg/s  p50={p50:.2f}ms p99={p99:.2f}ms failed={failed}")
PY
}

for _ in $(seq "$RUNS"); do
  run bolt-base "$work/ticketmx-base" 1 16 1 bolt
  run bolt "$work/ticketmx" 1 16 1 bolt
  run pg-16 "$work/ticketmx" 1 16 1 pg
  run pg-1 "$work/ticketmx" 1 1 1 pg
  run pg-2x8 "$work/ticketmx" 2 8 1 pg
  run pg-16-tenants "$work/ticketmx" 1 16 16 pg
done
