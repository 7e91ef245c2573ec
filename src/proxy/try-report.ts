/**
 * The end of one upstream try, reported to the target's observers (health,
 * breakers, latency-aware balancers) and, when someone listens, on the
 * `portcullis:upstream:try` channel (metrics, traces, the error log); and
 * the error a request gets when its upstream has no target to offer.
 */
import { performance } from 'node:perf_hooks'
import { GatewayError } from '../core/errors.ts'
import type { Session } from '../core/session.ts'
import { type UpstreamTryMessage, upstreamTryChannel } from '../observe/channels.ts'
import type { Target, Upstream } from '../upstream/upstream.ts'
import type { ExchangeRuntime } from './client-side.ts'

/** endTry reports a try on `target` begun at `t0` (performance.now()) that ended with `status` (0: no head) or `err`. */
export function endTry(
  rt: ExchangeRuntime,
  session: Session,
  upstream: Upstream,
  target: Target,
  t0: number,
  status: number,
  err: GatewayError | undefined,
): void {
  const ms = performance.now() - t0
  const code = err?.code
  target.tryEnded(status, code, ms)
  if (upstreamTryChannel.hasSubscribers)
    upstreamTryChannel.publish({
      gateway: rt.owner,
      session,
      upstream: upstream.name,
      target: target.origin,
      status,
      code,
      error: err,
      ms,
      attempt: session.attempts,
    } satisfies UpstreamTryMessage)
}

/**
 * noTargetError is the answer when no target may take the request: 503
 * CIRCUIT_OPEN when breakers keep some out, else the upstream's own code
 * (no healthy target, or none at all).
 */
export function noTargetError(upstream: Upstream): GatewayError {
  for (const t of upstream.targets) {
    if (t.breaker !== null && !t.drained && !t.breaker.takesRequests())
      return new GatewayError('CIRCUIT_OPEN', `upstream ${upstream.name}: circuit open`)
  }
  return new GatewayError(upstream.unavailableCode(), `upstream ${upstream.name} has no target`)
}
