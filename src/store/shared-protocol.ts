/**
 * The messages between a shared store's host and its clients. They are plain
 * objects of strings, numbers, arrays and null, so they cross a worker
 * thread's MessagePort (structured clone) and a cluster process's IPC
 * channel (JSON) alike. Every message carries `ps: 1` so a port that also
 * carries other traffic can tell them apart.
 */
import type { UpdateScript } from './store.ts'

/**
 * MessagePortLike is what the shared store talks through: a worker_threads
 * `MessagePort` as it is, or an adapter over a cluster worker's IPC
 * (`postMessage` → `send`, `'close'` ← `'disconnect'`).
 */
export interface MessagePortLike {
  postMessage(message: unknown): void
  on(event: 'message', listener: (message: unknown) => void): unknown
  on(event: 'close', listener: () => void): unknown
  /** Optional: the client calls it on close (a MessagePort has it). */
  close?(): void
}

/** The operations a client asks the host for. */
export type SharedOp = 'get' | 'set' | 'delete' | 'incr' | 'cas' | 'ttl' | 'update' | 'pub' | 'sub' | 'unsub'

/** One operation `op` with arguments `a`, answered by a reply with the same `id`. */
export interface SharedRequest {
  id: number
  op: SharedOp
  a: unknown[]
}

/** The result `v` of request `id`, or an error code `e` with message `m`. */
export interface SharedReply {
  id: number
  v?: unknown
  e?: string
  m?: string
}

/**
 * Client → host: the requests a client made in one tick of its event loop,
 * in order. One message per batch, not per request: under load a message's
 * fixed cost is most of a round trip's.
 */
export interface SharedRequests {
  ps: 1
  q: SharedRequest[]
}

/** Host → client: the replies to one batch, in its order. */
export interface SharedReplies {
  ps: 1
  r: SharedReply[]
}

/** Host → client: a message published on channel `ch`. */
export interface SharedPush {
  ps: 1
  ch: string
  msg: string
}

/** isSharedMessage tells a store message from other traffic on the same port. */
export function isSharedMessage(m: unknown): m is SharedRequests | SharedReplies | SharedPush {
  return typeof m === 'object' && m !== null && (m as { ps?: unknown }).ps === 1
}

type Run = UpdateScript['run']

/**
 * compileRun turns the source text of an UpdateScript's `run` back into a
 * function, in the host's thread. `Function.prototype.toString` gives an
 * arrow or function expression as written, or `run(…) { … }` for a method
 * shorthand, which is read as an object literal's method. The text comes
 * from the gateway's own modules in its own workers, never from a client.
 */
export function compileRun(source: string): Run {
  try {
    return new Function(`return (${source})`)() as Run
  } catch {
    const obj = new Function(`return ({${source}})`)() as Record<string, Run>
    const fn = Object.values(obj)[0]
    if (typeof fn !== 'function') throw new TypeError('script source is not a function')
    return fn
  }
}
