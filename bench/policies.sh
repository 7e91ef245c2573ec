#!/usr/bin/env bash
# What each gateway policy costs: CPU per small proxied GET on a route with
# the policy against the same route without it, in one gateway process,
# scenarios alternating round by round so machine noise hits all alike.
#
#   plain   a proxied GET (3-byte answer), no policy
#   jwt     auth.jwt with an HS256 secret; the client repeats one token
#           (as clients do), so after the first request it is a cache hit
#   shared  rateLimit on the shared store (one process: the memory store)
#   redis   rateLimit on the redis store (a local redis-server; its own CPU
#           is printed apart)
#   both    jwt + the shared-store rate limit
#
# Then, with WORKERS=2 (default; 0 skips it): `portcullis start --workers 2`
# with the same routes, plain vs shared vs both (jwt + shared), CPU of the
# supervisor (which holds the shared store) and both workers together.
#
# usage: bench/policies.sh [ROUNDS]   (default 5; each round 3 s per scenario)
#   WORKERS=0 skips the workers part, WORKERS_ONLY=1 runs only it.
# Pins the gateway to core 1, the origin, wrk and redis to core 0 (2 cores).
set -euo pipefail
rounds=${1:-5}
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
secret=bench-secret-of-at-least-32-bytes-long
token=$("$node" -e '
const c = require("crypto"), b = (o) => Buffer.from(JSON.stringify(o)).toString("base64url")
const s = b({ alg: "HS256", typ: "JWT" }) + "." + b({ sub: "bench", exp: Math.floor(Date.now() / 1000) + 3600 })
console.log(s + "." + c.createHmac("sha256", process.argv[1]).update(s).digest("base64url"))' "$secret")
op=$(port) gp=$(port) rp=$(port)
taskset -c 0 redis-server --port "$rp" --bind 127.0.0.1 --save '' --appendonly no >/dev/null & pids+=($!)
ir=$!
ir2=$ir # the second figure measure prints: redis-server, then the supervisor alone
taskset -c 0 "$node" "$root/bench/servers/node-origin.ts" "$op" & pids+=($!)
taskset -c 1 "$node" "${flags[@]}" "$root/bench/servers/portcullis-policies.ts" "$gp" "$op" "redis://127.0.0.1:$rp" "$secret" 2>"$tmp/gw.log" & pids+=($!)
ig=$!
listening() { for _ in $(seq 1 100); do (: </dev/tcp/127.0.0.1/"$1") 2>/dev/null && return; sleep 0.1; done; echo "nothing on $1" >&2; exit 1; }
listening "$gp"

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# measure PATH PIDS...: prints "us_per_request_of_first_pid redis_us" for one 3 s wrk run.
measure() {
  local path=$1 g0 r0 g1 r1 n
  g0=$(cpu "$ig") r0=$(awk '{print $14 + $15}' "/proc/$ir2/stat")
  taskset -c 0 wrk -t1 -c50 -d3s -H "Authorization: Bearer $token" "http://127.0.0.1:$gp$path" >"$tmp/w" 2>&1
  g1=$(cpu "$ig") r1=$(awk '{print $14 + $15}' "/proc/$ir2/stat")
  n=$(awk '/requests in/ {print $1}' "$tmp/w")
  if grep -q 'Non-2xx' "$tmp/w"; then echo "non-2xx answers on $path" >&2; cat "$tmp/w" >&2; exit 1; fi
  awk -v g=$((g1 - g0)) -v r=$((r1 - r0)) -v n="$n" -v t="$(getconf CLK_TCK)" \
    'BEGIN { printf "%.1f %.1f\n", g / t * 1e6 / n, r / t * 1e6 / n }'
}
scenarios=(plain jwt shared redis both)
[[ ${WORKERS_ONLY:-} == 1 ]] && scenarios=()
for s in "${scenarios[@]}"; do measure "/$s/x" >/dev/null; done # warm-up
for i in $(seq 1 "$rounds"); do
  [[ ${#scenarios[@]} == 0 ]] && break
  line="round $i:"
  for s in "${scenarios[@]}"; do
    read -r us rus < <(measure "/$s/x")
    echo "$s $us $rus" >>"$tmp/all"
    line+=$(printf '  %s %5.1f us' "$s" "$us")
  done
  echo "$line"
done
# A policy that failed (a store error, failing open) would be measured as its failure path.
if grep -q 'failed' "$tmp/gw.log"; then cat "$tmp/gw.log" >&2; echo "a policy failed: figures invalid" >&2; exit 1; fi
median() { sort -n | awk '{v[NR] = $1} END { print v[int((NR + 1) / 2)] }'; }
touch "$tmp/all"
plain=$(awk '$1 == "plain" {print $2}' "$tmp/all" | median)
[[ ${#scenarios[@]} == 0 ]] || echo "median gateway CPU per request over $rounds rounds (one process):"
for s in "${scenarios[@]}"; do
  m=$(awk -v s="$s" '$1 == s {print $2}' "$tmp/all" | median)
  extra=""
  [[ $s == redis ]] && extra=$(printf ', redis-server %s us' "$(awk '$1 == "redis" {print $3}' "$tmp/all" | median)")
  awk -v s="$s" -v m="$m" -v p="$plain" -v e="$extra" \
    'BEGIN { printf "  %-7s %6.1f us  %+6.1f us  %+5.1f %%%s\n", s, m, m - p, (m - p) / p * 100, e }'
done

workers=${WORKERS:-2}
[[ $workers == 0 ]] && exit 0
kill "$ig"
wait "$ig" 2>/dev/null || true
cat >"$tmp/workers.yaml" <<YAML
workers: $workers
listen: [{ address: 127.0.0.1:$gp }]
upstreams: { origin: { targets: [{ url: http://127.0.0.1:$op }] } }
routes:
  - { name: plain, match: { path: /plain }, upstream: origin }
  - { name: shared, match: { path: /shared }, upstream: origin, rateLimit: { rate: 1000000000/s, key: client.ip, store: shared } }
  - { name: both, match: { path: /both }, upstream: origin, auth: { jwt: { secret: $secret } }, rateLimit: { rate: 1000000000/s, key: client.ip, store: shared } }
limits: { maxRequestsPerConnection: 1000000 }
YAML
"$node" "${flags[@]}" "$root/bin/portcullis.ts" start -c "$tmp/workers.yaml" 2>"$tmp/sup.log" & pids+=($!)
ig=$!
listening "$gp"
sleep 1 # both workers
ir2=$ig
proc_cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# The supervisor (which holds the shared store) and its workers together; measure's second figure is the supervisor alone.
cpu() {
  if [[ $1 != "$ig" ]]; then proc_cpu "$1"; return; fi
  local sum=0 p
  for p in $ig $(pgrep -P "$ig"); do sum=$((sum + $(proc_cpu "$p"))); done
  echo $sum
}
: >"$tmp/all"
for s in plain shared both; do measure "/$s/x" >/dev/null; done
for i in $(seq 1 "$rounds"); do
  line="workers=$workers round $i:"
  for s in plain shared both; do
    read -r us sup < <(measure "/$s/x")
    echo "$s $us $sup" >>"$tmp/all"
    line+=$(printf '  %s %5.1f us (supervisor %4.1f)' "$s" "$us" "$sup")
  done
  echo "$line"
done
if grep -q 'failed' "$tmp/sup.log"; then cat "$tmp/sup.log" >&2; echo "a policy failed: figures invalid" >&2; exit 1; fi
plain=$(awk '$1 == "plain" {print $2}' "$tmp/all" | median)
shared=$(awk '$1 == "shared" {print $2}' "$tmp/all" | median)
both=$(awk '$1 == "both" {print $2}' "$tmp/all" | median)
sup=$(awk '$1 == "shared" {print $3}' "$tmp/all" | median)
awk -v p="$plain" -v s="$shared" -v b="$both" -v w="$workers" -v u="$sup" 'BEGIN {
  printf "median CPU per request, supervisor + %d workers: plain %.1f us, shared-store rate limit %.1f us (%+.1f us, %+.1f %%; the supervisor %.1f us of it), jwt + shared-store rate limit %.1f us (%+.1f %%)\n", w, p, s, s - p, (s - p) / p * 100, u, b, (b - p) / p * 100 }'
