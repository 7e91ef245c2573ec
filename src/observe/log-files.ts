/**
 * The log destinations open in this process (access logs, error logs), so
 * that they can be reopened together on SIGUSR1 (logrotate's "move, then
 * signal") and flushed synchronously when the process exits, whatever the
 * way out: a drained shutdown, `process.exit()`, or an uncaught exception
 * (Node emits 'exit' for those too, and an 'exit' listener may only do
 * synchronous work, hence flushSync).
 */
import pino from 'pino'

/** A pino destination (SonicBoom) with the internals the flush timer reads. */
export type LogDestination = pino.DestinationStream & {
  flush(cb?: (err?: Error) => void): void
  flushSync(): void
  reopen(file?: string): void
  end(): void
  /** Bytes held (SonicBoom's own count, including a write in flight). */
  readonly _len: number
  readonly _writing: boolean
}

interface OpenLog {
  destination: LogDestination
  /** A file path; undefined for stdout/stderr, which cannot be reopened. */
  file: string | undefined
}

const open = new Set<OpenLog>()
let exitHookInstalled = false

/**
 * openLogDestination opens `path` (`stdout`, `stderr` or a file, created with
 * its directory, appended to) for asynchronous writes that wait until
 * `minLength` bytes are held (0: written at once), or for synchronous ones.
 */
export function openLogDestination(path: string, minLength: number, sync = false): LogDestination {
  const file = path === 'stdout' || path === 'stderr' ? undefined : path
  const dest = file ?? (path === 'stdout' ? 1 : 2)
  // SonicBoom refuses a minLength not below maxWrite (its largest single write, 16 KiB by default).
  const maxWrite = Math.max(16 * 1024, minLength * 2)
  const boom = pino.destination({ dest, sync, mkdir: true, minLength: sync ? 0 : minLength, maxWrite })
  // A failed open or write (permissions, disk full, a closed pipe) must not
  // crash the gateway; it is said once on stderr, the last place left to say it.
  let said = false
  boom.on('error', (err: Error) => {
    if (said) return
    said = true
    process.stderr.write(`portcullis: cannot write the log ${path}: ${err.message}\n`)
  })
  const destination = boom as unknown as LogDestination
  open.add({ destination, file })
  if (!exitHookInstalled) {
    exitHookInstalled = true
    process.on('exit', flushLogsSync)
  }
  return destination
}

/** closeLogDestination flushes what is held, closes a file, and forgets the destination. */
export function closeLogDestination(destination: LogDestination): Promise<void> {
  const entry = [...open].find((o) => o.destination === destination)
  if (entry === undefined) return Promise.resolve()
  open.delete(entry)
  return new Promise<void>((resolve) => {
    const done = () => {
      // stdout and stderr stay open for everyone else writing to them.
      if (entry.file !== undefined) {
        try {
          destination.end()
        } catch {}
      }
      resolve()
    }
    if (destination._len === 0) return done()
    try {
      destination.flush(() => done())
    } catch {
      done()
    }
  })
}

/** flushLogsSync writes everything held by every open log, synchronously (exit, fatal errors). */
export function flushLogsSync(): void {
  for (const { destination } of open) {
    try {
      if (destination._len > 0) destination.flushSync()
    } catch {
      // Not open yet, or the file is gone: nothing more can be done on the way out.
    }
  }
}

/** reopenLogFiles reopens every log file (SIGUSR1), so a rotated file is let go and a new one started. */
export function reopenLogFiles(): void {
  for (const { destination, file } of open) {
    if (file === undefined) continue
    try {
      destination.reopen()
    } catch {}
  }
}
