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
  -h, --help               show this help

Example:
  portcullis proxy --from 127.0.0.1:8080 --to http://127.0.0.1:3001,http://127.0.0.1:3002`

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
      },
      strict: true,
    }),
  )
  const targets = (values.to ?? []).flatMap((v) => v.split(',')).map((v) => v.trim())
  if (targets.length === 0 || targets.includes('')) throw new UsageError('proxy', 'missing --to URL')
  const urls = targets.map(withScheme)
  const result = validateConfig({
    listen: [{ address: values.from }],
    upstreams: { default: { targets: urls.map((url) => ({ url })) } },
    routes: [{ name: 'default', upstream: 'default' }],
    proxy: { preserveHost: !values['change-host-header'] },
    accessLog: { enabled: values['access-log'] },
  })
  if (!result.ok) {
    for (const p of result.problems)
      printError(`portcullis proxy: ${flagFor(p, values.from, urls)}: ${p.message}`)
    return EXIT_USAGE
  }
  return serve(result.config)
}

/** withScheme lets `--to 127.0.0.1:3000` mean `http://127.0.0.1:3000`. */
function withScheme(target: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(target) ? target : `http://${target}`
}

/** flagFor names the flag (and value) a configuration problem came from. */
function flagFor(problem: ConfigProblem, from: string, urls: readonly string[]): string {
  const [section, , , index] = problem.path.split('.')
  if (section === 'listen') return `--from ${from}`
  if (section === 'upstreams' && index !== undefined) return `--to ${urls[Number(index)]}`
  return problem.path
}
