#!/usr/bin/env bash
# The two multi-core models Node offers, measured against each other in one
# run: worker threads on SO_REUSEPORT listeners, cluster with the primary
# handing out connections round-robin, and cluster sharing one socket
# (servers/portcullis-workers.ts). Each runs N gateways in front of the same
# Node origin; the rounds alternate the models (A B C A B C …) so they share
# whatever else the machine does. Per run: requests/s from wrk, and CPU per
# request of the whole contestant (every thread or process) from
# /proc/PID/stat. Nothing is pinned: N gateways, wrk and the origin share the
# machine's cores, as they would in production.
#
# usage: bench/workers-models.sh [N] [ROUNDS] [SECONDS]   (defaults 2 3 3)
#   WRK_HEADER="Connection: close" makes every request a new connection
#   (what the accept path costs in each model).
set -euo pipefail
n=${1:-2} rounds=${2:-3} secs=${3:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
node="$root/node_modules/.bin/node"
mapfile -t flags < <("$node" -e 'import("'"$root"'/src/cli/node-flags.ts").then((m) => console.log(m.PORTCULLIS_NODE_FLAGS.join("\n")))')
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do pkill -P "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
port() { "$node" -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
op=$(port)
"$node" "$root/bench/servers/node-origin.ts" "$op" & pids+=($!)
models=(threads cluster cluster-shared)
declare -A mport mpid
for m in "${models[@]}"; do
  mport[$m]=$(port)
  "$node" "${flags[@]}" "$root/bench/servers/portcullis-workers.ts" "$m" "$n" "${mport[$m]}" "$op" & pids+=($!)
  mpid[$m]=$!
done
sleep 3
# cpu sums user+system ticks of a process and its children (cluster workers).
cpu() {
  local total=0 p
  for p in "$1" $(pgrep -P "$1" || true); do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$total"
}
run() {
  local m=$1 c0 c1 out
  c0=$(cpu "${mpid[$m]}")
  out=$(bash -c 'wrk -t1 -c50 ${WRK_HEADER:+-H "$WRK_HEADER"} -d'"$secs"'s "$0" 2>&1; times' "http://127.0.0.1:${mport[$m]}/small")
  c1=$(cpu "${mpid[$m]}")
  awk -v m="$m" -v c=$((c1 - c0)) -v t="$(getconf CLK_TCK)" -v s="$secs" '
    /requests in/ { r = $1 }
    /^[0-9]+m[0-9.]+s [0-9]+m[0-9.]+s$/ { n++; if (n == 2) { split($1, u, /[ms]/); split($2, k, /[ms]/); w = u[1] * 60 + u[2] + k[1] * 60 + k[2] } }
    END { printf "%-15s req/s %7.0f  cpu/request %5.1f us (%.2f cores)  wrk %.2f cores\n", m, r / s, c / t * 1e6 / r, c / t / s, w / s }' <<<"$out"
}
for m in "${models[@]}"; do run "$m" >/dev/null; done # warm-up
for _ in $(seq 1 "$rounds"); do for m in "${models[@]}"; do run "$m"; done; done
