#!/usr/bin/env bash
# Same-time A/B of CPU per request: a git revision (A) and the working tree
# (B) run side by side on one core, each in front of the same Node origin and
# each loaded by its own wrk at the same time, so whatever else the machine
# does hits both alike. CPU time comes from /proc/PID/stat. Prints each round
# and the median of B/A; below 1.000 means the working tree costs less.
# An A/A run gives a median near 1.000 with rounds within about ±3.5 %: use
# 7 rounds or more to see a 2 % change.
#
# usage: bench/ab-cpu.sh [REV] [ROUNDS] [PATH]
#   REV defaults to HEAD, ROUNDS to 7, PATH to /small (see servers/node-origin.ts);
#   BODY=16384 sends POSTs of that many bytes to /post instead;
#   B_FLAGS="--some-v8-flag" runs B with extra Node flags (with REV=HEAD and a
#   clean tree, that compares a flag alone); B_ENV="NAME=VALUE …" sets
#   environment variables for B only (bench/tracing-cost.sh);
#   SERVER=bench/servers/X.ts runs that script of the working tree on both
#   sides, each in its own tree (e.g. portcullis-access-log.ts: access log on).
# Pins the servers to core 1 and the origin and load to core 0 (2 cores).
set -euo pipefail
rev=${1:-HEAD} rounds=${2:-7} path=${3:-/small}
root=$(cd "$(dirname "$0")/.." && pwd)
node="$root/node_modules/.bin/node"
# Both run with the working tree's Node flags (src/cli/node-flags.ts), as users do.
mapfile -t flags < <("$node" -e 'import("'"$root"'/src/cli/node-flags.ts").then((m) => console.log(m.PORTCULLIS_NODE_FLAGS.join("\n")))')
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  git -C "$root" worktree remove --force "$tmp/a" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

git -C "$root" worktree add --detach -q "$tmp/a" "$rev"
ln -s "$root/node_modules" "$tmp/a/node_modules"
port() { "$node" -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
op=$(port) pa=$(port) pb=$(port)
taskset -c 0 "$node" "$root/bench/servers/node-origin.ts" "$op" & pids+=($!)
server_a=bench/servers/portcullis.ts server_b=$server_a
if [[ -n ${SERVER:-} ]]; then server_a="$root/$SERVER" server_b="$root/$SERVER"; fi
(cd "$tmp/a" && exec taskset -c 1 "$node" "${flags[@]}" "$server_a" "$pa" "$op") & pids+=($!)
ia=$!
# shellcheck disable=SC2086 # B_FLAGS is a list of flags
(cd "$root" && exec env ${B_ENV:-} taskset -c 1 "$node" "${flags[@]}" ${B_FLAGS:-} "$server_b" "$pb" "$op") & pids+=($!)
ib=$!
# Wait until both gateways answer (a fixed sleep was too short once start-up
# grew past it on a loaded machine, and wrk then failed to connect).
for _ in $(seq 200); do
  curl -s -o /dev/null "http://127.0.0.1:$pa/small" && curl -s -o /dev/null "http://127.0.0.1:$pb/small" && break
  sleep 0.1
done

wrk_args=(-t1 -c50 -d4s)
if [[ -n ${BODY:-} ]]; then
  printf 'wrk.method = "POST"\nwrk.body = string.rep("p", %d)\nwrk.headers["Content-Type"] = "application/octet-stream"\n' "$BODY" >"$tmp/post.lua"
  wrk_args+=(-s "$tmp/post.lua")
  path=/post
fi
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
round() {
  local a0 b0 a1 b1 ra rb
  a0=$(cpu "$ia") b0=$(cpu "$ib")
  taskset -c 0 wrk "${wrk_args[@]}" "http://127.0.0.1:$pa$path" >"$tmp/wa" 2>&1 &
  local w1=$!
  taskset -c 0 wrk "${wrk_args[@]}" "http://127.0.0.1:$pb$path" >"$tmp/wb" 2>&1 &
  local w2=$!
  wait "$w1" "$w2"
  a1=$(cpu "$ia") b1=$(cpu "$ib")
  ra=$(awk '/requests in/ {print $1}' "$tmp/wa") rb=$(awk '/requests in/ {print $1}' "$tmp/wb")
  awk -v a=$((a1 - a0)) -v b=$((b1 - b0)) -v ra="$ra" -v rb="$rb" -v t="$(getconf CLK_TCK)" 'BEGIN {
    x = a / t * 1e6 / ra; y = b / t * 1e6 / rb
    printf "A %s %6.1f us   B working tree %6.1f us   B/A %.3f\n", "'"$rev"'", x, y, y / x
  }'
}
round >/dev/null # warm-up: both JITs reach their steady code first
for _ in $(seq 1 "$rounds"); do round; done | tee "$tmp/rounds"
awk '{print $NF}' "$tmp/rounds" | sort -n | awk '{v[NR] = $1} END { printf "median B/A %.3f over %d rounds\n", v[int((NR + 1) / 2)], NR }'
