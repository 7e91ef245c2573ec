/**
 * Diagnostics channels stores publish on. Metrics and logs subscribe; with no
 * subscriber a publish costs one `hasSubscribers` check, so a store never
 * calls an observer directly. A degraded store always shows here.
 */
import diagnostics from 'node:diagnostics_channel'
import type { StoreErrorCode } from './errors.ts'
import type { StoreKind } from './store.ts'

/** Published when a store operation fails with STORE_UNAVAILABLE, STORE_TIMEOUT or STORE_SCRIPT_FAILED. */
export interface StoreErrorMessage {
  store: StoreKind
  /** The store's name under `stores:` (e.g. `redis`), when it has one. */
  name: string
  /** The operation: `get`, `set`, `incr`, `update`, `publish`, `deliver` (a subscriber threw) … */
  operation: string
  code: StoreErrorCode | 'HANDLER_FAILED'
  error: unknown
}

export const storeErrorChannel = diagnostics.channel('portcullis:store:error')

/** Published when a store's connection changes state (Redis connect, loss, reconnect attempts). */
export interface StoreStateMessage {
  store: StoreKind
  name: string
  state: 'ready' | 'unavailable' | 'reconnecting'
  /** For `reconnecting`: the attempt number and the delay before it, in ms. */
  attempt?: number
  delayMs?: number
  error?: unknown
}

export const storeStateChannel = diagnostics.channel('portcullis:store:state')

/** reportStoreError publishes on storeErrorChannel when someone listens. */
export function reportStoreError(message: StoreErrorMessage): void {
  if (storeErrorChannel.hasSubscribers) storeErrorChannel.publish(message)
}

/** reportStoreState publishes on storeStateChannel when someone listens. */
export function reportStoreState(message: StoreStateMessage): void {
  if (storeStateChannel.hasSubscribers) storeStateChannel.publish(message)
}
