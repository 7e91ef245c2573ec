/**
 * `forward.har`: the forward proxy's traffic (plain and intercepted; not
 * the reverse proxy's routes of the same process) recorded as HAR 1.2 by
 * forward/har.ts's HarRecorder, written to a file every `interval` while the
 * gateway runs and once more when it stops (mitmproxy's `hardump`). The file
 * is written whole to a temporary file renamed over it, so a reader never
 * sees half of one; a failed write is logged and tried again at the next.
 * The recorder's hooks run after the user's: the HAR shows what went to the
 * client and the origin, hooks' changes included. With workers each process
 * records its own connections, so each writes its own file
 * (`capture.har` → `capture.worker-2.har`).
 */
import cluster from 'node:cluster'
import { rename, writeFile } from 'node:fs/promises'
import type { GatewayConfig } from '../config/schema.ts'
import type { GatewayHooks } from '../core/hooks.ts'
import { HarRecorder } from '../forward/har.ts'
import type { ErrorLog } from '../observe/error-log.ts'

type HarConfig = NonNullable<NonNullable<GatewayConfig['forward']>['har']>

export class HarCapture {
  private readonly log: ErrorLog
  private config: HarConfig | undefined
  private recorder: HarRecorder | undefined
  private timer: NodeJS.Timeout | undefined
  /** `recorder.changes` at the last write. */
  private written = 0
  /** Writes run one at a time. */
  private writing: Promise<void> = Promise.resolve()

  constructor(log: ErrorLog) {
    this.log = log
  }

  /**
   * configure follows `forward.har`, at start and on each reload, and
   * returns the hooks to run after the user's (none without it). A changed
   * section writes the old recorder's file and starts a new recorder.
   */
  configure(config: GatewayConfig): GatewayHooks<never>[] {
    const want = config.forward?.har
    if (JSON.stringify(want) !== JSON.stringify(this.config)) {
      void this.write()
      clearInterval(this.timer)
      this.timer = undefined
      this.config = want
      this.written = 0
      this.recorder =
        want &&
        new HarRecorder({
          maxEntries: want.maxEntries,
          maxBodySize: want.maxBodySize,
          webSocketMessages: want.webSocketMessages,
          redact: want.redact,
          sources: ['forward', 'mitm'],
        })
      if (want !== undefined && want.interval > 0)
        this.timer = setInterval(() => void this.write(), want.interval).unref()
    }
    return this.recorder === undefined ? [] : [this.recorder.hooks as GatewayHooks<never>]
  }

  /** close stops the timer and writes the file a last time (an empty HAR when nothing was recorded). */
  async close(): Promise<void> {
    clearInterval(this.timer)
    this.timer = undefined
    await this.write(true)
  }

  /** write saves what the current recorder holds, unless nothing was recorded since the last write. */
  private write(always = false): Promise<void> {
    const recorder = this.recorder
    const path = this.config === undefined ? undefined : ownFile(this.config.path)
    if (recorder === undefined || path === undefined) return this.writing
    if (!always && recorder.changes === this.written) return this.writing
    const changes = recorder.changes
    this.writing = this.writing.then(async () => {
      const temporary = `${path}.${process.pid}.tmp`
      try {
        await writeFile(temporary, JSON.stringify(recorder.toJSON(), null, 1))
        await rename(temporary, path)
        if (this.recorder === recorder) this.written = changes
      } catch (err) {
        this.log.warn('HAR capture: cannot write the file', {
          path,
          cause: err instanceof Error ? err.message : String(err),
        })
      }
    })
    return this.writing
  }
}

/** ownFile: `path` in one process; with workers, the worker's own file beside it. */
function ownFile(path: string): string {
  const id = cluster.worker?.id
  if (id === undefined) return path
  const dot = path.lastIndexOf('.')
  const slash = path.lastIndexOf('/')
  return dot > slash + 1 ? `${path.slice(0, dot)}.worker-${id}${path.slice(dot)}` : `${path}.worker-${id}`
}
