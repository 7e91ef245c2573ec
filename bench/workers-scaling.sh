#!/usr/bin/env bash
# Scaling with workers: `portcullis start --workers 1` (one process, no
# supervisor) against `--workers 2` (a supervisor and two worker processes),
# both in front of the same Node origin, measured in one run with the rounds
# alternating (1 2 1 2 …) so both share whatever else the machine does.
# Per run: requests/s (wrk -t1 -c50), CPU per request of the gateway (every
# process of it, the supervisor included, from /proc/PID/stat), and the cores
# wrk and the origin used meanwhile: on a 2-core machine they compete with
# the second worker for the second core, which caps what 2 workers can show.
#
# usage: bench/workers-scaling.sh [ROUNDS] [SECONDS]   (defaults 3 3)
set -euo pipefail
rounds=${1:-3} secs=${2:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
node="$root/node_modules/.bin/node"
mapfile -t flags < <("$node" -e 'import("'"$root"'/src/cli/node-flags.ts").then((m) => console.log(m.PORTCULLIS_NODE_FLAGS.join("\n")))')
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
port() { "$node" -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
op=$(port)
"$node" "$root/bench/servers/node-origin.ts" "$op" & pids+=($!)
origin=$!
declare -A gport gpid
for n in 1 2; do
  gport[$n]=$(port)
  cat >"$tmp/g$n.yaml" <<YAML
listen:
  - address: 127.0.0.1:${gport[$n]}
upstreams:
  origin:
    targets:
      - url: http://127.0.0.1:$op
routes:
  - upstream: origin
limits: { maxBodySize: 0, maxRequestsPerConnection: 1000000 }
YAML
  "$node" "${flags[@]}" "$root/bin/portcullis.ts" start -c "$tmp/g$n.yaml" --workers "$n" 2>"$tmp/g$n.log" & pids+=($!)
  gpid[$n]=$!
done
until grep -q 'listening on' "$tmp/g1.log" && grep -q 'listening on' "$tmp/g2.log"; do sleep 0.1; done
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# tree sums the CPU ticks of a process and its children (the workers).
tree() {
  local total=0 p
  for p in "$1" $(pgrep -P "$1" || true); do total=$((total + $(ticks "$p"))); done
  echo "$total"
}
run() {
  local n=$1 c0 c1 o0 o1 out
  c0=$(tree "${gpid[$n]}") o0=$(ticks "$origin")
  out=$(bash -c 'wrk -t1 -c50 -d'"$secs"'s "$0" 2>&1; times' "http://127.0.0.1:${gport[$n]}/small")
  c1=$(tree "${gpid[$n]}") o1=$(ticks "$origin")
  awk -v n="$n" -v c=$((c1 - c0)) -v o=$((o1 - o0)) -v t="$(getconf CLK_TCK)" -v s="$secs" '
    /requests in/ { r = $1 }
    /Socket errors|Non-2xx/ { e = e " " $0 }
    /^[0-9]+m[0-9.]+s [0-9]+m[0-9.]+s$/ { k++; if (k == 2) { split($1, u, /[ms]/); split($2, y, /[ms]/); w = u[1] * 60 + u[2] + y[1] * 60 + y[2] } }
    END { printf "workers %s  req/s %7.0f  gateway %5.1f us/request (%.2f cores)  wrk %.2f cores  origin %.2f cores%s\n", n, r / s, c / t * 1e6 / r, c / t / s, w / s, o / t / s, e }' <<<"$out"
}
run 1 >/dev/null && run 2 >/dev/null # warm-up: both JITs reach their steady code first
echo "cores: $(nproc)  load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq 1 "$rounds"); do run 1; run 2; done
