/**
 * Drives Portcullis's RequestReader the way a downstream connection does and
 * records what an application would see: each message's head, body bytes and
 * completion, and the error that ended the stream. Shared by the
 * differential (node:http) test and the fuzz test so both judge the exact
 * same observation.
 */
import type { GatewayError } from '../../src/core/errors.ts'
import type { RequestHead } from '../../src/http1/request-head.ts'
import { type ReaderLimits, RequestReader } from '../../src/http1/request-reader.ts'

/** The limits the gateway ships with (node:http's defaults are comparable). */
export const DEFAULT_READER_LIMITS: ReaderLimits = {
  maxHeadSize: 16384,
  maxHeaders: 100,
  maxTargetLength: 8192,
  maxBodySize: 0,
}

/** One request as an application sees it. */
export interface ObservedMessage {
  method: string
  /** The target in the form the application sees it (origin-form after normalisation). */
  target: string
  /** The authority of an absolute-form target, when there was one. */
  authority?: string | undefined
  rawHeaders: string[]
  /** Body bytes, latin1-decoded so that comparisons print readably. */
  body: string
  /** True once the message's body ended. */
  complete: boolean
  trailers?: string[] | undefined
}

/** Everything a byte stream produced. */
export interface Observation {
  messages: ObservedMessage[]
  /** Set when the stream was refused: the status the client would get, and the stable code. */
  error?: { status: number; code: string } | undefined
}

/** The full record kept by the reader observer, including the parsed heads. */
export interface ReaderObservation extends Observation {
  heads: RequestHead[]
  /** Decoded body byte counts per message, for exact-length checks. */
  bodyLengths: number[]
}

/**
 * observeRequestReader feeds `chunks` in order to a fresh RequestReader.
 * After a complete message it calls `next()` only when the connection would
 * carry on: keep-alive and no protocol upgrade (RFC 9112 §9.3, §9.6).
 */
export function observeRequestReader(
  chunks: readonly Buffer[],
  limits: ReaderLimits = DEFAULT_READER_LIMITS,
): ReaderObservation {
  const obs: ReaderObservation = { messages: [], heads: [], bodyLengths: [] }
  let current: ObservedMessage | undefined
  const bodies: Buffer[][] = []
  const reader: RequestReader = new RequestReader(
    {
      onHead(head: RequestHead) {
        obs.heads.push(head)
        current = {
          method: head.method,
          target: head.target,
          authority: head.absoluteAuthority,
          rawHeaders: head.rawHeaders,
          body: '',
          complete: false,
        }
        bodies.push([])
        obs.messages.push(current)
        obs.bodyLengths.push(0)
      },
      onBody(data: Buffer) {
        // The reader may hand out views of a buffer it later re-reads: copy.
        bodies[bodies.length - 1]!.push(Buffer.from(data))
        obs.bodyLengths[obs.bodyLengths.length - 1]! += data.length
      },
      onBodyEnd(trailers: string[] | undefined) {
        current!.complete = true
        if (trailers !== undefined) current!.trailers = trailers
        const head = obs.heads[obs.heads.length - 1]!
        if (head.keepAlive && head.upgradeProtocol === undefined) reader.next()
      },
      onError(err: GatewayError) {
        obs.error = { status: err.status, code: err.code }
      },
    },
    limits,
  )
  for (const chunk of chunks) reader.push(chunk)
  obs.messages.forEach((message, i) => {
    message.body = Buffer.concat(bodies[i]!).toString('latin1')
  })
  return obs
}
