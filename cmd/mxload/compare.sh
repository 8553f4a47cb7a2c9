#!/bin/bash
# compare.sh: the performance table of the README, reproducible.
#
# Builds ticketmx and mxload, then runs each load RUNS times (default 3)
# against ticketmx (fsync before 250, auth_policy none, merge on) and, when
# it is installed, against Postfix's smtp-sink (the protocol limit),
# alternating, on loopback. One line per run: msg/s, p50, p99, failures,
# peak RSS and the peak of its anonymous part (the daemon's own memory).
#
#   cmd/mxload/compare.sh                 # the three loads of the README
#   RUNS=1 DURATION=5s cmd/mxload/compare.sh "16 4096"
#
# smtp-sink is in Debian's postfix package (apt-get install postfix).
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
loads=("$@")
[ ${#loads[@]} -eq 0 ] && loads=("16 4096" "1 4096" "8 102400")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/ticketmx" ./cmd/ticketmx
go build -o "$work/mxload" ./cmd/mxload
sink=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)

waitport() {
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done
  echo "server on port $1 did not start" >&2; exit 1
}

# one SERVER CONNS SIZE: one run, one line.
one() {
  local server=$1 conns=$2 size=$3 port=$((20000 + RANDOM % 20000)) dir pid
  dir=$(mktemp -d "$work/run.XXXX")
  if [ "$server" = ticketmx ]; then
    cat > "$dir/cfg.yaml" <<CFG
smtp: {listen: ["127.0.0.1:$port"], hostname: mx.bench.test}
store: {path: $dir/tickets.db}
admin: {socket: $dir/admin.sock}
log: {level: warn}
defaults: {merge: {enabled: true}, auth_policy: none}
tenants:
  - id: demo
    domain: demo.sobot.com
    system_channel: {enabled: true, category: general}
CFG
    "$work/ticketmx" serve --config "$dir/cfg.yaml" > "$dir/log" 2>&1 &
  else
    "$sink" -u nobody "127.0.0.1:$port" 100 > "$dir/log" 2>&1 &
  fi
  pid=$!
  waitport "$port"
  ( max=0; while kill -0 "$pid" 2>/dev/null; do
      a=$(awk '/RssAnon/{print $2}' "/proc/$pid/status" 2>/dev/null || true)
      if [ -n "$a" ] && [ "$a" -gt "$max" ]; then max=$a; echo "$max" > "$dir/anon"; fi
      sleep 0.1
    done ) &
  "$work/mxload" -addr "127.0.0.1:$port" -c "$conns" -size "$size" -duration "$DURATION" -json > "$dir/out.json"
  local hwm anon
  hwm=$(awk '/VmHWM/{print $2}' "/proc/$pid/status")
  anon=$(cat "$dir/anon" 2>/dev/null || echo 0)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  python3 -c "
import json
r = json.load(open('$dir/out.json'))
print(f\"$server c=$conns size=$size: {r['msgs_per_s']:.0f} msg/s p50={r['p50_ms']:.2f}ms p99={r['p99_ms']:.2f}ms failed={r['failed']} peakRSS={$hwm // 1024}MB peakAnon={$anon // 1024}MB\")"
}

for load in "${loads[@]}"; do
  for _ in $(seq "$RUNS"); do
    one ticketmx $load
    if [ -x "$sink" ]; then one sink $load; fi
  done
done
