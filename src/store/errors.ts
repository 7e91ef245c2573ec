/**
 * Store failures as data. A module using a store decides what a failure
 * means for a request (a rate limit may fail open, a lock fails closed); it
 * matches on `code`, never on `message`.
 */
import type { StoreKind } from './store.ts'

/** The table of stable store error codes. Adding is fine; renaming breaks users. */
export const STORE_ERROR_KINDS = {
  /** The backing service cannot be reached (Redis down, owner thread gone). */
  STORE_UNAVAILABLE: { retryable: true },
  /** No answer within the configured operation timeout. The operation may still have happened. */
  STORE_TIMEOUT: { retryable: true },
  /** The store was closed. */
  STORE_CLOSED: { retryable: false },
  /** `incr` on a value that is not an integer. */
  STORE_WRONG_TYPE: { retryable: false },
  /** An update script failed (a Lua error, a throwing `run`). */
  STORE_SCRIPT_FAILED: { retryable: false },
} as const satisfies Record<string, { retryable: boolean }>

export type StoreErrorCode = keyof typeof STORE_ERROR_KINDS

/** StoreError is what every store operation rejects with. */
export class StoreError extends Error {
  readonly code: StoreErrorCode
  readonly store: StoreKind
  readonly retryable: boolean

  constructor(code: StoreErrorCode, store: StoreKind, message: string = code, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'StoreError'
    this.code = code
    this.store = store
    this.retryable = STORE_ERROR_KINDS[code].retryable
  }
}

/** isStoreErrorCode tells whether `code` names a StoreError (for errors that crossed a thread). */
export function isStoreErrorCode(code: unknown): code is StoreErrorCode {
  return typeof code === 'string' && Object.hasOwn(STORE_ERROR_KINDS, code)
}
