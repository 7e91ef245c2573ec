/**
 * LocalHub delivers published messages to the handlers of one process or
 * thread. Each store keeps one: the memory store for its own subscribers,
 * the shared and Redis stores to fan one upstream subscription out to many
 * handlers. A throwing handler is reported and does not stop the others.
 */
import { reportStoreError } from './channels.ts'
import type { MessageHandler, StoreKind } from './store.ts'

export class LocalHub {
  readonly #channels = new Map<string, Set<MessageHandler>>()
  readonly #kind: StoreKind
  readonly #name: string

  constructor(kind: StoreKind, name: string) {
    this.#kind = kind
    this.#name = name
  }

  /**
   * add registers `handler` on `channel` and returns whether it is the
   * channel's first handler (the caller then subscribes upstream). The same
   * function added twice is two subscriptions, each removed by its own call.
   */
  add(channel: string, handler: MessageHandler): { first: boolean; remove: () => boolean } {
    let set = this.#channels.get(channel)
    const first = set === undefined
    if (set === undefined) this.#channels.set(channel, (set = new Set()))
    // A wrapper per subscription, so adding one function twice is two entries.
    const entry: MessageHandler = (m) => handler(m)
    set.add(entry)
    const channels = this.#channels
    return {
      first,
      /** remove drops this subscription; returns whether the channel has no handler left. */
      remove(): boolean {
        const current = channels.get(channel)
        if (current === undefined || !current.delete(entry)) return false
        if (current.size > 0) return false
        channels.delete(channel)
        return true
      },
    }
  }

  /** deliver calls every handler of `channel` with `message`. */
  deliver(channel: string, message: string): void {
    const set = this.#channels.get(channel)
    if (set === undefined) return
    for (const handler of set) {
      try {
        handler(message)
      } catch (error) {
        reportStoreError({
          store: this.#kind,
          name: this.#name,
          operation: 'deliver',
          code: 'HANDLER_FAILED',
          error,
        })
      }
    }
  }

  /** channels lists the channels that have handlers (to subscribe again after a reconnect). */
  channels(): string[] {
    return [...this.#channels.keys()]
  }

  /** clear drops every handler. */
  clear(): void {
    this.#channels.clear()
  }
}
