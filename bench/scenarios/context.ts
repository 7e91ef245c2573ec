/**
 * What every scenario gets: the run's settings and store, and the running
 * contestant it measures.
 */
import type { Contestant } from '../contestants/index.ts'
import type { Samples } from '../lib/metrics.ts'
import type { Options } from '../lib/options.ts'
import type { Managed, Placement } from '../lib/processes.ts'

export interface RunContext {
  readonly dir: string
  readonly options: Options
  readonly placement: Placement
  readonly samples: Samples
  /** When the run began (Date.now()), for the time budget. */
  readonly started: number
}

/** A contestant started for one round of one phase. */
export interface Target {
  readonly contestant: Contestant
  readonly process: Managed
  readonly port: number
  readonly round: number
}

/** clientScript is the path of one of bench/clients/*.ts. */
export function clientScript(name: string): string {
  return new URL(`../clients/${name}`, import.meta.url).pathname
}

/** lastJson parses the last JSON line a client printed. */
export function lastJson<T>(stdout: string): T {
  const line = stdout.trim().split('\n').pop() ?? ''
  try {
    return JSON.parse(line) as T
  } catch {
    throw new Error(`client printed no result: ${stdout.slice(-300) || '(nothing)'}`)
  }
}

/** fmt renders a number for progress lines and tables: 12,345 or 0.123. */
export function fmt(n: number | null | undefined): string {
  if (n === null || n === undefined || Number.isNaN(n)) return '—'
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US')
  if (Math.abs(n) >= 10) return n.toFixed(1)
  return n.toFixed(n === 0 ? 0 : 3)
}
