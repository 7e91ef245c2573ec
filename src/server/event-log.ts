/**
 * watchEvents connects a gateway's error log to the diagnostics channels the
 * core, the modules and the stores publish on: failed upstream tries (with
 * their cause), failed TLS interceptions (with OpenSSL's reason), JWKS fetches that failed, stores that went away or came
 * back, targets marked down or up, rate limits failing open or closed. The
 * channels are the only coupling, so a gateway never calls its log on the
 * request path; a successful try costs the one `error === undefined` check.
 */
import diagnostics from 'node:diagnostics_channel'
import { setRateLimitLog } from '../modules/rate-limit/failures.ts'
import { jwksErrorChannel, type JwksErrorMessage } from '../modules/jwt/jwks.ts'
import {
  type InterceptFailureMessage,
  interceptFailureChannel,
  type UpstreamTryMessage,
  upstreamTryChannel,
} from '../observe/channels.ts'
import { interceptFailureEvent } from '../observe/intercept-failure.ts'
import { traceIdOf } from '../proxy/forwarding.ts'
import type { Session } from '../core/session.ts'
import type { ErrorLog } from '../observe/error-log.ts'
import { upstreamFailureEvent } from '../observe/upstream-failure.ts'
import { type StoreStateMessage, storeStateChannel } from '../store/channels.ts'

/** The health channel's message, as far as the log reads it (src/observe/channels.ts). */
interface HealthMessage {
  gateway: object
  upstream: string
  target: string
  event: string
  reason: string
}

const HEALTH_CHANNEL = 'portcullis:upstream:health'
const BAD_HEALTH = new Set(['down', 'ejected', 'panic'])

/** watchEvents subscribes `log` to `gateway`'s events; the returned function unsubscribes. */
export function watchEvents(gateway: object, log: ErrorLog): () => void {
  function onTry(message: unknown): void {
    const m = message as UpstreamTryMessage
    if (m.error === undefined || m.gateway !== gateway) return
    const event = upstreamFailureEvent(m, traceIdOfSession(m.session))
    if (event !== undefined) log.log(event.level, event.msg, event.fields)
  }
  function onJwks(message: unknown): void {
    const m = message as JwksErrorMessage
    log.warn('JWKS fetch failed; the keys already known stay in use', {
      url: withoutQuery(m.url),
      cause: errorText(m.error),
    })
  }
  function onStore(message: unknown): void {
    const m = message as StoreStateMessage
    const fields = { store: m.store, name: m.name, attempt: m.attempt, cause: errorText(m.error) }
    if (m.state === 'ready') log.info(`store ${m.name} ready`, fields)
    else if (m.state === 'unavailable') log.error(`store ${m.name} unavailable`, fields)
    else log.warn(`store ${m.name} reconnecting`, { ...fields, delayMs: m.delayMs })
  }
  function onHealth(message: unknown): void {
    const m = message as HealthMessage
    if (m.gateway !== gateway) return
    const fields = { upstream: m.upstream, target: m.target, reason: m.reason }
    log.log(BAD_HEALTH.has(m.event) ? 'warn' : 'info', `upstream target ${m.event}`, fields)
  }
  function onInterceptFailure(message: unknown): void {
    const m = message as InterceptFailureMessage
    if (m.gateway !== gateway) return
    const event = interceptFailureEvent(m)
    log.log(event.level, event.msg, event.fields)
  }
  upstreamTryChannel.subscribe(onTry)
  interceptFailureChannel.subscribe(onInterceptFailure)
  jwksErrorChannel.subscribe(onJwks)
  storeStateChannel.subscribe(onStore)
  diagnostics.subscribe(HEALTH_CHANNEL, onHealth)
  // The rate limit writes its own throttled lines (one per 10 s while a store fails).
  const previous = setRateLimitLog((line) => log.warn(line.replace(/^portcullis: /, '')))
  return function unwatch(): void {
    upstreamTryChannel.unsubscribe(onTry)
    interceptFailureChannel.unsubscribe(onInterceptFailure)
    jwksErrorChannel.unsubscribe(onJwks)
    storeStateChannel.unsubscribe(onStore)
    diagnostics.unsubscribe(HEALTH_CHANNEL, onHealth)
    setRateLimitLog(previous)
  }
}

/**
 * traceIdOfSession is the session's trace id; before the upstream head is
 * built (a connect that failed) it is read from the client's traceparent.
 */
function traceIdOfSession(s: Session): string | undefined {
  if (s.traceId !== undefined) return s.traceId
  const raw = s.head.rawHeaders
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === 'traceparent') return traceIdOf(raw[i + 1]!)
  }
  return undefined
}

/** errorText is an error's message with its code, never its stack; undefined for none. */
function errorText(err: unknown): string | undefined {
  if (err === undefined || err === null) return undefined
  if (!(err instanceof Error)) return String(err)
  const code = (err as { code?: unknown }).code
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : ''
  return `${typeof code === 'string' && !err.message.includes(code) ? `${code} ` : ''}${err.message}${cause}`
}

/** A URL without its query and credentials, which may hold secrets. */
function withoutQuery(url: string): string {
  try {
    const u = new URL(url)
    return `${u.origin}${u.pathname}`
  } catch {
    return '(invalid URL)'
  }
}
