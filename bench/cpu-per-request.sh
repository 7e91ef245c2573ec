#!/usr/bin/env bash
# CPU time a server process spends per request under wrk load: user and
# kernel time from /proc/PID/stat around one wrk run, divided by the requests
# wrk completed. Unlike requests/s it barely moves when other processes share
# the machine, so it is the figure to compare two builds with (alternate
# them: A B A B …).
#
# usage: bench/cpu-per-request.sh URL PID [SECONDS] [CONNECTIONS]
#   e.g. bench/cpu-per-request.sh http://127.0.0.1:8080/ "$(pgrep -f 'portcullis.ts proxy')" 3 50
# Pin the server (taskset -c 1 …) and the origin; wrk runs on core 0.
set -euo pipefail
url=$1 pid=$2 secs=${3:-3} conns=${4:-50}
read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
out=$(taskset -c 0 wrk -t1 -c"$conns" -d"${secs}s" "$url" 2>&1)
read -r u2 s2 < <(awk '{print $14, $15}' "/proc/$pid/stat")
reqs=$(awk '/requests in/ {print $1}' <<<"$out")
rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
awk -v u=$((u2 - u1)) -v s=$((s2 - s1)) -v r="$reqs" -v t="$(getconf CLK_TCK)" -v rps="$rps" 'BEGIN {
  printf "req/s %8.0f  cpu/request %6.1f us (user %5.1f, kernel %5.1f)\n", rps, (u + s) / t * 1e6 / r, u / t * 1e6 / r, s / t * 1e6 / r
}'
