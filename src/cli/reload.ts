/**
 * Reloading a running gateway's configuration, on SIGHUP and, when watching
 * is on (`reload.watch` in the file or `--watch`), when one of its files
 * changes. Both take the same path: load and validate everything first; an
 * invalid configuration is refused with its problems logged and the running
 * one keeps serving; a valid one is handed to `Gateway.reload`, after which
 * new requests use it while in-flight ones finish on the old one.
 */
import { statSync } from 'node:fs'
import { type ConfigInputs, formatProblems, type LoadResult } from '../config/load.ts'
import type { GatewayConfig } from '../config/schema.ts'
import { type ConfigWatcher, watchConfig } from '../config/watch.ts'
import { announce } from './announce.ts'

/** The part of the gateway a reload drives. */
export interface Reloadable {
  reload(config: GatewayConfig): Promise<void>
}

export interface ReloaderOptions {
  gateway: Reloadable
  /** Loads the configuration again (the file and everything it includes). */
  load: () => Promise<LoadResult>
  /** The configuration the gateway started with, and what it was read from. */
  config: GatewayConfig
  inputs: ConfigInputs
  /** Watch the files even when the configuration does not ask to (`--watch`). */
  watch: boolean
}

type Cause = 'signal' | 'change'

/** How many more debounce periods a change may take to stop changing before it is loaded anyway. */
const SETTLE_ATTEMPTS = 20

/**
 * Reloader serializes reloads: one runs at a time, and changes noticed while
 * one runs collapse into a single reload after it.
 */
export class Reloader {
  private readonly options: ReloaderOptions
  private config: GatewayConfig
  /** The digest of the inputs last loaded, valid or not: a file event that leaves it unchanged is noise. */
  private digest: string
  private inputs: ConfigInputs
  private watcher: ConfigWatcher | undefined
  private queue: Promise<void> = Promise.resolve()
  private changeQueued = false
  private closed = false

  constructor(options: ReloaderOptions) {
    this.options = options
    this.config = options.config
    this.inputs = options.inputs
    this.digest = options.inputs.digest
    this.rearm()
  }

  /** onSignal reloads (SIGHUP): always, even when the files did not change. */
  onSignal(): void {
    this.enqueue('signal')
  }

  /** settled resolves once every reload asked for so far has finished. */
  settled(): Promise<void> {
    return this.queue
  }

  /** close stops watching; reloads already queued still run. */
  close(): void {
    this.closed = true
    this.watcher?.close()
    this.watcher = undefined
  }

  private onChange(): void {
    if (this.changeQueued) return
    this.changeQueued = true
    this.enqueue('change')
  }

  private enqueue(cause: Cause): void {
    this.queue = this.queue.then(() => this.run(cause)).catch(reportUnexpected)
  }

  private async run(cause: Cause): Promise<void> {
    if (cause === 'change') this.changeQueued = false
    const result = cause === 'change' ? await this.settledLoad() : await this.options.load()
    // An empty main file is a valid configuration (all defaults, watching
    // off), but on a file event it is nearly always a save in progress: the
    // editor truncated the file and has not written it yet.
    if (cause === 'change' && isEmptyFile(result.inputs.files[0])) return
    const unchanged = result.inputs.digest === this.digest
    this.digest = result.inputs.digest
    if (cause === 'change' && unchanged) return
    if (cause === 'change') announce('info', 'portcullis: configuration files changed; reloading')
    if (result.ok) await this.apply(result.config, result.inputs)
    else this.refuse(formatProblems(result.problems), result.inputs)
  }

  /**
   * settledLoad loads until two loads `debounce` apart read the same bytes,
   * so a file written in place (truncated first, filled after) by a writer
   * slower than the debounce is not taken half written.
   */
  private async settledLoad(): Promise<LoadResult> {
    let result = await this.options.load()
    for (let i = 0; i < SETTLE_ATTEMPTS; i++) {
      await new Promise((resolve) => setTimeout(resolve, this.config.reload.debounce))
      const again = await this.options.load()
      if (again.inputs.digest === result.inputs.digest) return again
      result = again
    }
    return result
  }

  private async apply(config: GatewayConfig, inputs: ConfigInputs): Promise<void> {
    try {
      await this.options.gateway.reload(config)
    } catch (err) {
      this.refuse(`portcullis: reload failed: ${err instanceof Error ? err.message : String(err)}`, inputs)
      return
    }
    if (JSON.stringify(config.listen) !== JSON.stringify(this.config.listen)) {
      announce('warn', 'portcullis: note: changed listen addresses take effect on restart')
    }
    this.config = config
    this.inputs = inputs
    announce('info', 'configuration reloaded', { event: 'reload', outcome: 'ok' })
    this.rearm()
  }

  private refuse(why: string, inputs: ConfigInputs): void {
    announce(
      'error',
      'reload refused; keeping the running configuration',
      { event: 'reload', outcome: 'refused' },
      why,
    )
    // Keep watching what the running configuration came from, and also what
    // the refused one read, so fixing any of them is noticed.
    this.watcher?.update(union(this.inputs, inputs), this.config.reload.debounce)
  }

  /** rearm starts, updates or stops the watch to match the running configuration. */
  private rearm(): void {
    if (this.closed) return
    const want = this.options.watch || this.config.reload.watch
    const debounce = this.config.reload.debounce
    if (want && this.watcher) this.watcher.update(this.inputs, debounce)
    else if (want) {
      this.watcher = watchConfig(this.inputs, debounce, () => this.onChange())
      const n = this.inputs.files.length
      announce(
        'info',
        `portcullis: watching the configuration for changes (${n} ${n === 1 ? 'file' : 'files'})`,
      )
    } else if (this.watcher) {
      this.watcher.close()
      this.watcher = undefined
      announce('info', 'portcullis: stopped watching the configuration')
    }
  }
}

function isEmptyFile(path: string | undefined): boolean {
  try {
    return path !== undefined && statSync(path).size === 0
  } catch {
    return false
  }
}

function union(a: ConfigInputs, b: ConfigInputs): ConfigInputs {
  const files = [...new Set([...a.files, ...b.files])]
  return { files, patterns: [...new Set([...a.patterns, ...b.patterns])], digest: b.digest }
}

function reportUnexpected(err: unknown): void {
  announce(
    'error',
    `portcullis: reload failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
  )
}
