/**
 * The schema of `workers:` and `supervisor:` (docs/configuration.md): how
 * many event loops run, and the knobs of the supervisor that keeps them
 * alive (src/server/workers/). Durations come out in milliseconds and sizes
 * in bytes, so a validated configuration validates again unchanged.
 */
import { z } from 'zod'
import { duration, size } from './unit-schemas.ts'

/** `workers: auto | N`: event loops (processes); `auto` is one per available core. `--workers` overrides. */
export const workersSchema = z.union([z.literal('auto'), z.number().int().min(1)]).default(1)

/** `supervisor:` — read only when more than one worker runs. */
export const supervisorSchema = z
  .strictObject({
    /** How often the supervisor asks each worker's event loop for a sign of life. */
    heartbeatInterval: duration.default(1000),
    /** A worker that has not answered for this long is stuck (e.g. a busy loop) and is replaced. */
    heartbeatTimeout: duration.default(5000),
    /** Delay before restarting a crashed worker: `initial`, doubling per crash in a row up to `max`. */
    restartBackoff: z
      .strictObject({ initial: duration.default(100), max: duration.default(30_000) })
      .prefault({}),
    /**
     * Memory watchdog (pm2's max_memory_restart, done gracefully): a worker
     * whose V8 heap or resident set stays above a limit for `for` is replaced
     * (a new one starts, then the old one drains). 0 means no limit.
     */
    maxMemory: z
      .strictObject({ heap: size.default(0), rss: size.default(0), for: duration.default(10_000) })
      .prefault({}),
    /**
     * How workers get connections: `shared`, each accepts from one listening
     * socket the supervisor holds (nginx's default); `round-robin`, the
     * supervisor accepts and hands them out in turn (even spread, but every
     * connection costs the supervisor an accept and an fd pass).
     */
    accept: z.enum(['shared', 'round-robin']).default('shared'),
    /** How often each worker samples its event-loop delay and memory (diagnostics channel `portcullis:worker:sample`). */
    sampleInterval: duration.default(1000),
  })
  .prefault({})

/** The validated `supervisor:` section. */
export type SupervisorConfig = z.output<typeof supervisorSchema>
