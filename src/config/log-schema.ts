/**
 * The schema of `log:` (the gateway's own error log: startup, reloads,
 * shutdown, worker restarts, upstream and policy failures) and of
 * `accessLog:` (one line per request). docs/configuration.md documents both.
 * Durations come out in milliseconds and sizes in bytes, so a validated
 * configuration validates again unchanged.
 */
import { z } from 'zod'
import { duration, size } from './unit-schemas.ts'

/** Log levels, most severe first; `silent` logs nothing. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

/** `log:` — the error log. */
export const logSchema = z
  .strictObject({
    /** The least severe level written; `--log-level` overrides. */
    level: z.enum(LOG_LEVELS).default('info'),
    /** `pretty` (one human-readable line per event) or `json`; default: pretty on a terminal, else json. */
    format: z.enum(['pretty', 'json']).optional(),
    /** A file to append to (reopened on SIGUSR1); default stderr. */
    file: z.string().optional(),
  })
  .prefault({})

/** `accessLog:` — one JSON line per request. */
export const accessLogSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    /** `stdout`, `stderr` or a file path (reopened on SIGUSR1). */
    path: z.string().default('stdout'),
    /** Lines are held until this many bytes are waiting (fewer writes under load); 0 writes each line. */
    buffer: size.default(4096),
    /** ...or until the oldest held line is this old, so a quiet gateway's lines still arrive. */
    flushInterval: duration.default(1000),
  })
  .prefault({})

export type LogConfig = z.output<typeof logSchema>
export type AccessLogConfig = z.output<typeof accessLogSchema>
