/**
 * The serving side of admin extensions. An observer whose admin page needs
 * data from the processes that serve requests (the dashboard's recent
 * requests) registers a ServingExtension; every serving process (the one
 * process, or each worker) starts it when `admin:` is configured, and the
 * admin listener reads what it publishes through `AdminInstance.topic(name)`
 * (with workers, over IPC, one answer per worker). Nothing is started when
 * `admin:` is absent; an extension registered `onDemand` is started only
 * while someone asks for its topics, so an unwatched page costs the request
 * path nothing.
 */

/** What a started extension gives the admin side. */
export interface ServingHandle {
  /** Data by topic name, read when the admin listener asks (must be structured-cloneable). */
  topics?: Record<string, () => unknown>
  /** Stops it (unsubscribe channels, clear timers); called when the gateway closes. */
  stop?(): void
}

export interface ServingExtension {
  name: string
  /** start runs in a serving process; `gateway` identifies it on diagnostics channels (message.gateway). */
  start(gateway: object): ServingHandle
  /**
   * Start on demand: `start` runs at the first ask for one of `topics` (a
   * page was opened; that first answer is whatever a fresh start reports),
   * and the handle is stopped after `idleStop` ms (default 60 s) with no
   * ask. Without it the extension runs from the gateway's start to its close.
   */
  onDemand?: { topics: readonly string[]; idleStop?: number }
}

const registered: ServingExtension[] = []

/** registerServingExtension adds an extension started by every serving process from now on. */
export function registerServingExtension(extension: ServingExtension): void {
  registered.push(extension)
}

const DEFAULT_IDLE_STOP_MS = 60_000

/** One extension in one serving process: started, or waiting for an ask. */
class Slot {
  readonly extension: ServingExtension
  handle: ServingHandle | undefined
  lastAsk = 0
  private timer: NodeJS.Timeout | undefined

  constructor(extension: ServingExtension) {
    this.extension = extension
  }

  /** wanted tells whether an ask for `topic` should start this on-demand extension. */
  wanted(topic: string): boolean {
    return this.handle === undefined && this.extension.onDemand?.topics.includes(topic) === true
  }

  /** startOnDemand starts it, and stops it again once no ask came for idleStop. */
  startOnDemand(gateway: object): void {
    this.handle = this.extension.start(gateway)
    const idle = this.extension.onDemand?.idleStop ?? DEFAULT_IDLE_STOP_MS
    this.timer = setInterval(
      () => {
        if (performance.now() - this.lastAsk > idle) this.stop()
      },
      Math.max(10, idle / 4),
    ).unref()
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
    this.handle?.stop?.()
    this.handle = undefined
  }
}

/** ServingExtensions are the extensions of one serving process. */
export class ServingExtensions {
  private readonly gateway: object
  private readonly slots: Slot[]

  constructor(gateway: object) {
    this.gateway = gateway
    this.slots = registered.map((e) => new Slot(e))
    for (const s of this.slots) if (s.extension.onDemand === undefined) s.handle = s.extension.start(gateway)
  }

  /** topic returns the data of `name`, or undefined when no extension publishes it. */
  topic(name: string): unknown {
    for (const s of this.slots) {
      if (s.wanted(name)) s.startOnDemand(this.gateway)
      const provider = s.handle?.topics?.[name]
      if (provider === undefined) continue
      s.lastAsk = performance.now()
      return provider()
    }
    return undefined
  }

  stop(): void {
    for (const s of this.slots) s.stop()
  }
}
