/**
 * Command-line options of `npm run bench`, and the two profiles: the default
 * run (under 5 minutes) and `--quick` (under 1 minute).
 */
import { parseArgs } from 'node:util'

export interface Options {
  quick: boolean
  /** Rounds of every scenario but the idle one (measured once, on a fresh process). */
  rounds: number
  /** The streams run in the first this many rounds only (they are long and steady). */
  streamRounds: number
  /** A round that would end after this many seconds from the start is not begun. */
  budgetSeconds: number
  /** No contestant is measured that would finish after this many seconds. */
  limitSeconds: number
  /** Seconds of each closed-loop measurement (wrk takes whole seconds). */
  seconds: number
  /** Seconds of warm-up load before a contestant's first measurement. */
  warmSeconds: number
  /** Connections of every closed-loop and fixed-rate run. */
  connections: number
  /** Requests/s of the latency scenario. */
  rate: number
  latencySeconds: number
  idleConnections: number
  streamBytes: number
  /** Give up on one streamed transfer after this long (it is reported as truncated). */
  streamTimeoutMs: number
  /** Contestant ids to run (nginx is always kept: it is every ratio's reference). */
  only: string[] | undefined
  /** Where latest.json and latest.svg go. */
  out: string
  /**
   * Run the harness and everything it starts at nice -10, so other work on
   * a shared machine disturbs the measurements less (and is slowed instead).
   */
  priority: boolean
}

const HELP = `Usage: npm run bench -- [--quick] [--rounds N] [--seconds N] [--only id,id] [--rate N]
                        [--out DIR] [--priority]

Runs every contestant (direct, portcullis, nginx, haproxy, http-proxy,
fastify, l4) in front of the same origin, round after round, and writes
bench/results/latest.json and latest.svg. See bench/README.md.`

export function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      seconds: { type: 'string' },
      only: { type: 'string' },
      rate: { type: 'string' },
      out: { type: 'string' },
      priority: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  })
  if (values.help) {
    console.log(HELP)
    process.exit(0)
  }
  const quick = values.quick
  const rounds = positive(values.rounds, quick ? 1 : 3)
  return {
    quick,
    rounds,
    streamRounds: 1,
    budgetSeconds: quick ? 50 : 282,
    limitSeconds: quick ? 57 : 288,
    seconds: positive(values.seconds, quick ? 1 : 2),
    // Quick is a smoke run: it skips the warm-up, so Node contestants are measured cold.
    warmSeconds: quick ? 0 : 1,
    connections: 50,
    rate: positive(values.rate, 2000),
    latencySeconds: quick ? 0.5 : 1.5,
    idleConnections: quick ? 500 : 10_000,
    streamBytes: (quick ? 64 : 1024) * 1024 ** 2,
    streamTimeoutMs: quick ? 1000 : 6000,
    only: values.only?.split(',').map((s) => s.trim()),
    out: values.out ?? new URL('../results/', import.meta.url).pathname,
    priority: values.priority,
  }
}

function positive(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1) throw new Error(`expected a positive integer, got ${text}`)
  return n
}
