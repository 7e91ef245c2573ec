/**
 * The serving side of admin extensions. An observer whose admin page needs
 * data from the processes that serve requests (the dashboard's recent
 * requests) registers a ServingExtension; every serving process (the one
 * process, or each worker) starts it once it listens, when `admin:` is
 * configured, and the admin listener reads what it publishes through
 * `AdminInstance.topic(name)` (with workers, over IPC, one answer per
 * worker). Nothing is started when `admin:` is absent.
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
}

const registered: ServingExtension[] = []

/** registerServingExtension adds an extension started by every serving process from now on. */
export function registerServingExtension(extension: ServingExtension): void {
  registered.push(extension)
}

/** ServingExtensions are the started extensions of one serving process. */
export class ServingExtensions {
  private readonly handles: ServingHandle[]

  constructor(gateway: object) {
    this.handles = registered.map((e) => e.start(gateway))
  }

  /** topic returns the data of `name`, or undefined when no extension publishes it. */
  topic(name: string): unknown {
    for (const h of this.handles) {
      const provider = h.topics?.[name]
      if (provider !== undefined) return provider()
    }
    return undefined
  }

  stop(): void {
    for (const h of this.handles) h.stop?.()
  }
}
