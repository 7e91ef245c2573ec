#!/usr/bin/env bash
# The slow-upload attack of issue 10, measured: slowhttptest -B holds
# CONNECTIONS connections that each trickle a request body (24 bytes every
# 10 s, Content-Length 1 MB) at the gateway, while a probe asks for /small
# once a second (curl, 2 s timeout). Prints, per build, how many probes were
# answered 200 while the attack ran (it ends early when the gateway has closed
# every attacking connection). Nothing else should run on the machine.
#
# usage: bench/slow-upload.sh [REV] [CONNECTIONS] [SECONDS]
#   REV (default HEAD~1) is run from a temporary worktree first, then the
#   working tree; CONNECTIONS defaults to 2000, SECONDS (the attack) to 45.
set -euo pipefail
rev=${1:-HEAD~1} conns=${2:-2000} secs=${3:-45}
root=$(cd "$(dirname "$0")/.." && pwd)
node="$root/node_modules/.bin/node"
command -v slowhttptest >/dev/null || { echo "slowhttptest is not installed (apt-get install slowhttptest)"; exit 1; }
ulimit -n 65536 2>/dev/null || true
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  git -C "$root" worktree remove --force "$tmp/a" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
git -C "$root" worktree add -q --detach "$tmp/a" "$rev"
ln -s "$root/node_modules" "$tmp/a/node_modules"

free_port() { "$node" -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

run() { # run NAME DIR
  local name=$1 dir=$2 op gp
  op=$(free_port) gp=$(free_port)
  "$node" "$root/bench/servers/node-origin.ts" "$op" & pids+=($!)
  (cd "$dir" && exec "$node" bench/servers/portcullis.ts "$gp" "$op") & pids+=($!)
  local gw=$!
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$gp/small" && break; sleep 0.1; done
  slowhttptest -B -c "$conns" -r 200 -i 10 -x 24 -s 1000000 -t POST -l "$secs" \
    -u "http://127.0.0.1:$gp/upload" -p 3 >"$tmp/slow-$name.txt" 2>&1 &
  local attack=$!
  sleep 12 # let the attack reach its connection count
  local ok=0 total=0 codes=""
  while kill -0 "$attack" 2>/dev/null && ((total < secs - 15)); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -m 2 "http://127.0.0.1:$gp/small" || true)
    total=$((total + 1)); [[ $code == 200 ]] && ok=$((ok + 1)); codes+="$code "
    sleep 1
  done
  wait "$attack" || true
  echo "$name: $ok of $total probes answered 200 during the attack ($codes)"
  sed 's/\x1b\[[0-9;]*m//g' "$tmp/slow-$name.txt" | grep -E "service available|closed|connected" | tail -3 |
    sed "s/^/  $name slowhttptest, last sample: /" || true
  kill "$gw" 2>/dev/null || true
}

run "A ($rev)" "$tmp/a"
run "B (working tree)" "$root"
