/**
 * `portcullis forward --listen HOST:PORT [--mitm] [--ca-dir DIR] [--allow
 * HOST[:PORT]]… [--har FILE]`: a forward proxy with no configuration file. It builds the
 * configuration a file would (`listen: []`, a `forward:` section) and runs
 * it through the same schema, so defaults and checks are identical.
 */
import { parseArgs } from 'node:util'
import { validateConfig } from '../config/load.ts'
import { type Command, EXIT_USAGE, parseOrUsage, printError } from './command.ts'
import { LOG_LEVEL_HELP, parseLogLevel } from './log-level.ts'
import { serve } from './serve.ts'

const HELP = `Usage: portcullis forward [--listen HOST:PORT] [--mitm] [--ca-dir DIR] [--allow HOST[:PORT]]... [--har FILE]

Run a forward proxy clients can use as their HTTP(S) proxy
(HTTP_PROXY / HTTPS_PROXY, curl -x, a browser's proxy setting): absolute-form
requests are proxied, CONNECT requests tunnelled. With --mitm, TLS is
intercepted with the local CA (create it with 'portcullis ca init').

Safe defaults: no destination that is loopback, private, link-local or the
proxy itself, and CONNECT only to port 443, unless --allow names it.

Options:
  -l, --listen HOST:PORT   where to listen (default 127.0.0.1:3128; a bare
                           PORT binds 127.0.0.1)
      --mitm               intercept TLS (every host)
      --ca-dir DIR         the CA directory for --mitm (default ./ca)
      --allow HOST[:PORT]  permit a destination the defaults refuse (a host,
                           *.domain, an IP or CIDR); repeat the flag
      --access-log         write an access log line per request to stdout
      --har FILE           record the traffic as HAR 1.2 (devtools open it),
                           written every 10 s and when the proxy stops;
                           Authorization and cookies redacted
${LOG_LEVEL_HELP}
  -h, --help               show this help

More (proxy authentication, deny rules, a parent proxy, which hosts to
intercept, policies per destination) is configured in a file's forward:
section and run with 'portcullis start -c FILE'.

Example:
  portcullis ca init --dir ./ca
  portcullis forward --listen 127.0.0.1:3128 --mitm --ca-dir ./ca
  curl --cacert ./ca/ca.pem -x http://127.0.0.1:3128 https://example.com/`

/** The `forward` command. */
export const forward: Command = {
  name: 'forward',
  summary: 'quick forward proxy (CONNECT; --mitm for TLS interception)',
  help: HELP,
  run: runForward,
}

async function runForward(args: string[]): Promise<number> {
  const { values } = parseOrUsage('forward', () =>
    parseArgs({
      args,
      options: {
        listen: { type: 'string', short: 'l', default: '127.0.0.1:3128' },
        mitm: { type: 'boolean', default: false },
        'ca-dir': { type: 'string', default: './ca' },
        allow: { type: 'string', multiple: true, default: [] },
        'access-log': { type: 'boolean', default: false },
        har: { type: 'string' },
        'log-level': { type: 'string' },
      },
      strict: true,
    }),
  )
  const logLevel = parseLogLevel('forward', values['log-level'])
  const result = validateConfig({
    listen: [],
    forward: {
      address: values.listen,
      allow: values.allow,
      ...(values.mitm && { mitm: { caDir: values['ca-dir'] } }),
      ...(values.har !== undefined && { har: { path: values.har } }),
    },
    accessLog: { enabled: values['access-log'] },
  })
  if (!result.ok) {
    for (const p of result.problems)
      printError(`portcullis forward: ${flagFor(p.path, values)}: ${p.message}`)
    return EXIT_USAGE
  }
  return serve(result.config, { logLevel })
}

/** flagFor names the flag (and value) a configuration problem came from. */
function flagFor(path: string, values: { listen: string; allow: string[] }): string {
  const [, key, index] = path.split('.')
  if (key === 'address') return `--listen ${values.listen}`
  if (key === 'allow' && index !== undefined) return `--allow ${values.allow[Number(index)]}`
  return path
}
