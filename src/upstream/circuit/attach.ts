/**
 * attachBreakers gives each target of an upstream an error-rate breaker fed
 * by the target's try observers, and keeps `Upstream.available` in step
 * with the breakers' states. State changes are published on
 * `portcullis:upstream:circuit` (message type in observe/channels.ts; the
 * channel is looked up by name, since upstream/ does not import observe/).
 */
import diagnostics from 'node:diagnostics_channel'
import { performance } from 'node:perf_hooks'
import type { CircuitBreakerConfig } from '../../config/resilience-schema.ts'
import type { ErrorCode } from '../../core/errors.ts'
import type { Target } from '../target.ts'
import { ErrorRateBreaker } from './breaker.ts'

const circuitChannel = diagnostics.channel('portcullis:upstream:circuit')

/** Error codes that say nothing about the target's health (the client left, our own queue or limits). */
const NOT_THE_TARGET: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'CLIENT_ABORTED',
  'UPSTREAM_TRY_CANCELLED',
  'UPSTREAM_QUEUE_TIMEOUT',
  'UPSTREAM_OVERFLOW_PENDING',
  'UPSTREAM_OVERFLOW_REQUESTS',
  'CIRCUIT_OPEN',
  'HOOK_FAILED',
  'INTERNAL_ERROR',
])

/** What attachBreakers needs of an upstream. */
export interface BreakerHost {
  readonly name: string
  readonly targets: readonly Target[]
  /** Told of targets added later (DNS re-resolution), when the upstream has any. */
  readonly targetsListeners?: ((added: readonly Target[], removed: readonly Target[]) => void)[]
  refresh(): void
}

/** attachBreakers gives every target of `upstream`, now and added later, a breaker. */
export function attachBreakers(
  upstream: BreakerHost,
  config: CircuitBreakerConfig,
  now: () => number = performance.now.bind(performance),
): void {
  const failing = new Set(config.statuses)
  for (const target of upstream.targets) attachBreaker(upstream, target, config, failing, now)
  upstream.targetsListeners?.push(function breakersForAdded(added, removed) {
    for (const target of added) attachBreaker(upstream, target, config, failing, now)
    for (const target of removed) target.breaker?.stop()
  })
}

function attachBreaker(
  upstream: BreakerHost,
  target: Target,
  config: CircuitBreakerConfig,
  failing: ReadonlySet<number>,
  now: () => number,
): void {
  if (target.breaker !== null) return
  const breaker = new ErrorRateBreaker(config, onChange, now)
  function onChange(b: ErrorRateBreaker): void {
    upstream.refresh()
    if (circuitChannel.hasSubscribers)
      circuitChannel.publish({
        upstream: upstream.name,
        target: target.origin,
        state: b.state,
        openUntil: b.openUntil,
        probes: b.probes,
        ...b.window(),
      } satisfies CircuitStateShape)
  }
  target.breaker = breaker
  target.tryObservers.push(function recordTry(_t, status, code) {
    if (code !== undefined && NOT_THE_TARGET.has(code)) return breaker.release()
    breaker.record(code !== undefined || failing.has(status))
  })
}

/** The message's shape; observe/channels.ts declares it (CircuitStateMessage) for subscribers. */
interface CircuitStateShape {
  upstream: string
  target: string
  state: string
  openUntil: number
  probes: number
  tries: number
  failures: number
}
