/**
 * `portcullis proxy --from HOST:PORT --to URL[,URL…]`: a reverse proxy with
 * no configuration file. It builds the same configuration a file would (one
 * listener, one upstream `default`, one route matching everything) and runs
 * it through the same schema, so defaults and checks are identical.
 */
import { parseArgs } from 'node:util'
import type { ConfigProblem } from '../config/errors.ts'
import { validateConfig } from '../config/load.ts'
import { type Command, EXIT_USAGE, parseOrUsage, printError, UsageError } from './command.ts'
import { LOG_LEVEL_HELP, parseLogLevel } from './log-level.ts'
import { serve } from './serve.ts'

const HELP = `Usage: portcullis proxy [--from HOST:PORT] --to URL[,URL...] [options]

Reverse-proxy every request received on --from to the --to targets
(round-robin). No configuration file needed.

Options:
  -f, --from HOST:PORT     where to listen (default 127.0.0.1:8080; a bare
                           PORT binds 127.0.0.1)
  -t, --to URL[,URL...]    upstream targets; repeat the flag or separate with
                           commas; http:// is assumed when no scheme is given
      --change-host-header send the target's host upstream instead of the
                           client's Host
      --access-log         write an access log line per request to stdout
${LOG_LEVEL_HELP}
      --max-body SIZE      answer 413 to request bodies larger than SIZE
                           (e.g. 10mb; default 0: no limit, bodies stream)
      --timeout DURATION   how long a target may take to start its response
                           (e.g. 30s; default 60s)
      --connect-timeout DURATION
                           how long connecting to a target may take (default 5s)
      --upstream-ca FILE   PEM CA certificates trusted for https:// targets,
                           besides the system ones
      --insecure           do not verify https:// targets' certificates
                           (development only; prints a warning)
      --tls-cert FILE      serve HTTPS on --from with this certificate (PEM)
      --tls-key FILE       and this private key (PEM); both or neither
  -h, --help               show this help

Examples:
  portcullis proxy --from 127.0.0.1:8080 --to http://127.0.0.1:3001,http://127.0.0.1:3002
  portcullis proxy --from :8443 --tls-cert cert.pem --tls-key key.pem --to https://10.0.0.5 --upstream-ca ca.pem`

/** The `proxy` command. */
export const proxy: Command = {
  name: 'proxy',
  summary: 'quick reverse proxy, no configuration file',
  help: HELP,
  run: runProxy,
}

async function runProxy(args: string[]): Promise<number> {
  const { values } = parseOrUsage('proxy', () =>
    parseArgs({
      args,
      options: {
        from: { type: 'string', short: 'f', default: '127.0.0.1:8080' },
        to: { type: 'string', short: 't', multiple: true },
        'change-host-header': { type: 'boolean', default: false },
        'access-log': { type: 'boolean', default: false },
        'log-level': { type: 'string' },
        'max-body': { type: 'string' },
        timeout: { type: 'string' },
        'connect-timeout': { type: 'string' },
        'upstream-ca': { type: 'string' },
        insecure: { type: 'boolean', default: false },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
      },
      strict: true,
    }),
  )
  const targets = (values.to ?? []).flatMap((v) => v.split(',')).map((v) => v.trim())
  if (targets.length === 0 || targets.includes('')) throw new UsageError('proxy', 'missing --to URL')
  const urls = targets.map(withScheme)
  const logLevel = parseLogLevel('proxy', values['log-level'])
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined))
    throw new UsageError('proxy', '--tls-cert and --tls-key go together')
  const result = validateConfig({
    listen: [{ address: values.from, ...(values['tls-cert'] && { tls: listenerTls(values) }) }],
    upstreams: { default: { targets: urls.map((url) => ({ url })), ...upstreamOptions(values) } },
    routes: [{ name: 'default', upstream: 'default' }],
    proxy: { preserveHost: !values['change-host-header'] },
    accessLog: { enabled: values['access-log'] },
    ...(values['max-body'] !== undefined && { limits: { maxBodySize: values['max-body'] } }),
  })
  if (!result.ok) {
    for (const p of result.problems) printError(`portcullis proxy: ${flagFor(p, values, urls)}: ${p.message}`)
    return EXIT_USAGE
  }
  if (values.insecure) printError(insecureWarning(urls))
  return serve(result.config, { logLevel })
}

type ProxyFlags = Partial<
  Record<'from' | 'timeout' | 'connect-timeout' | 'upstream-ca' | 'tls-cert' | 'tls-key' | 'max-body', string>
> & {
  insecure?: boolean
}

function listenerTls(values: ProxyFlags): { cert: string; key: string } {
  return { cert: values['tls-cert']!, key: values['tls-key']! }
}

/** upstreamOptions: the upstream keys the flags set; the schema's defaults fill the rest. */
function upstreamOptions(values: ProxyFlags): Record<string, unknown> {
  const timeouts = {
    ...(values.timeout !== undefined && { response: values.timeout }),
    ...(values['connect-timeout'] !== undefined && { connect: values['connect-timeout'] }),
  }
  const tls = {
    ...(values['upstream-ca'] !== undefined && { ca: values['upstream-ca'] }),
    ...(values.insecure && { verify: false }),
  }
  return { timeouts, tls }
}

/**
 * insecureWarning: --insecure turns off what makes https:// to a target
 * worth having (anyone on the path can pose as the target), so it says so
 * every time, as curl's --insecure documentation does.
 */
function insecureWarning(urls: readonly string[]): string {
  const https = urls.some((u) => u.startsWith('https://'))
  return https
    ? 'portcullis proxy: warning: --insecure: certificates of https:// targets are NOT verified; ' +
        'anyone between this proxy and them can read and change the traffic. For development only.'
    : 'portcullis proxy: warning: --insecure has no effect: no --to target is https://'
}

/** withScheme lets `--to 127.0.0.1:3000` mean `http://127.0.0.1:3000`. */
function withScheme(target: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(target) ? target : `http://${target}`
}

/** Which flag set each configuration key the command builds. */
const FLAG_OF_PATH: Record<string, keyof ProxyFlags> = {
  'listen.0.address': 'from',
  'listen.0.tls.cert': 'tls-cert',
  'listen.0.tls.key': 'tls-key',
  'limits.maxBodySize': 'max-body',
  'upstreams.default.timeouts.response': 'timeout',
  'upstreams.default.timeouts.connect': 'connect-timeout',
  'upstreams.default.tls.ca': 'upstream-ca',
}

/** flagFor names the flag (and value) a configuration problem came from. */
function flagFor(problem: ConfigProblem, values: ProxyFlags, urls: readonly string[]): string {
  const flag = FLAG_OF_PATH[problem.path]
  if (flag !== undefined) return `--${flag} ${values[flag]}`
  const [section, , , index] = problem.path.split('.')
  if (section === 'listen') return `--from ${values.from}`
  if (section === 'upstreams' && index !== undefined) return `--to ${urls[Number(index)]}`
  return problem.path
}
