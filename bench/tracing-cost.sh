#!/usr/bin/env bash
# What tracing costs per small GET: bench/ab-cpu.sh with B tracing every
# request (tracing.sampleRatio 1) to a local OTLP/HTTP sink, A as REV runs.
# The sink runs on the load core (0); only the gateways' CPU is compared, so
# B's figure includes building, encoding and posting the spans.
#
# usage: [RATIO=0.1] bench/tracing-cost.sh [REV] [ROUNDS]   (RATIO: tracing.sampleRatio, default 1)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
node="$root/node_modules/.bin/node"
sp=$("$node" -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
taskset -c 0 "$node" "$root/bench/servers/otlp-sink.ts" "$sp" &
sink=$!
trap 'kill $sink 2>/dev/null || true; wait $sink 2>/dev/null || true' EXIT INT TERM
B_ENV="PORTCULLIS_BENCH_OTLP=http://127.0.0.1:$sp/v1/traces PORTCULLIS_BENCH_OTLP_RATIO=${RATIO:-1}" bash "$root/bench/ab-cpu.sh" "${1:-HEAD}" "${2:-7}"
