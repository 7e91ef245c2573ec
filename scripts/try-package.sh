#!/usr/bin/env bash
# A fresh project using the packed tarball on plain Node (no flags, no tsx):
# npm pack here (which builds dist/), npm install the tarball in a new
# directory, then import createGateway and serve a request through a hook,
# run the installed bin's --version and `proxy`, and type-check a consumer.
#
#   scripts/try-package.sh [--offline]
#
# The Node used is `node` on PATH (set PATH to try another: it must be
# >= 22.19). By default npm fetches the dependencies as for any user;
# --offline links them from this repository's node_modules instead.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'kill "${proxy_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

echo "\$ node --version"; node --version
echo "\$ npm pack   # in the repository; prepack builds dist/"
(cd "$root" && npm pack --pack-destination "$work" 2>/dev/null | tail -1)
mkdir "$work/app" && cd "$work/app"
echo '{ "name": "app", "private": true, "type": "module" }' > package.json
if [ "${1:-}" = "--offline" ]; then
  # The runtime dependencies, linked from the repository (npm accepts them as installed).
  (cd "$root" && npm ls --omit=dev --all --parseable 2>/dev/null) | sed -n "s#^$root/node_modules/##p" |
    grep -v '/node_modules/' | while read -r dep; do
      mkdir -p "node_modules/$(dirname "$dep")" && ln -s "$root/node_modules/$dep" "node_modules/$dep"
    done
  flags=(--offline)
fi
echo "\$ npm install${flags[*]:+ ${flags[*]}} ./portcullis-0.1.0.tgz"
npm install ${flags[@]+"${flags[@]}"} --no-audit --no-fund "$work"/portcullis-*.tgz 2>&1 | grep -v '^npm warn' || true

cat > app.mjs <<'JS'
import http from 'node:http'
import { createGateway, respond } from 'portcullis'

const origin = http.createServer((req, res) => res.end(`origin saw ${req.url}\n`))
await new Promise((r) => origin.listen(0, '127.0.0.1', r))
const gw = await createGateway(
  {
    listen: [{ address: '127.0.0.1:0' }],
    upstreams: { app: { targets: [{ url: `http://127.0.0.1:${origin.address().port}` }] } },
    routes: [{ name: 'all', upstream: 'app' }],
  },
  { hooks: { onRequestHead: (s) => (s.path === '/hook' ? respond(200, 'answered by a hook\n') : undefined) } },
)
await gw.listen()
const base = `http://127.0.0.1:${gw.addresses()[0].port}`
for (const path of ['/hook', '/proxied'])
  process.stdout.write(`GET ${path} -> ${await (await fetch(base + path)).text()}`)
await gw.close()
origin.close()
JS
echo "\$ node app.mjs"; node app.mjs

echo "\$ npx portcullis --version"; npx portcullis --version
python3 -m http.server 0 --bind 127.0.0.1 >"$work/origin.log" 2>&1 &
origin_pid=$!
trap 'kill "${proxy_pid:-}" "$origin_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 50); do grep -q 'port' "$work/origin.log" && break; sleep 0.1; done
port=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$work/origin.log" | head -1)
echo "\$ npx portcullis proxy --from 127.0.0.1:0 --to 127.0.0.1:$port &"
./node_modules/.bin/portcullis proxy --from 127.0.0.1:0 --to "127.0.0.1:$port" 2>"$work/proxy.log" &
proxy_pid=$!
for _ in $(seq 100); do grep -q 'listening on' "$work/proxy.log" && break; sleep 0.1; done
head -1 "$work/proxy.log"
url=$(sed -n 's/^portcullis listening on \(http[^ "]*\).*/\1/p' "$work/proxy.log" | head -1)
echo "\$ curl -s -o /dev/null -w '%{http_code}' $url/"; curl -s -o /dev/null -w '%{http_code}\n' "$url/"

cat > consumer.ts <<'TS'
import { createGateway, respond, type Gateway, type GatewayHooks } from 'portcullis'
const hooks: GatewayHooks = { onRequestHead: (s) => (s.path === '/ping' ? respond(200, 'pong') : undefined) }
export const start = (): Promise<Gateway> => createGateway({ routes: [] }, { hooks })
TS
tsc="$root/node_modules/typescript/bin/tsc"
node "$tsc" --init >/dev/null
echo "\$ tsc --init && tsc --noEmit   # TypeScript $(node "$tsc" --version | cut -d' ' -f2), the settings tsc --init writes"
node "$tsc" --noEmit && echo "type check: ok"
