/**
 * The schema of `admin:` (docs/configuration.md, "admin"): the admin
 * listener (JSON API, /metrics, /healthz, /readyz, pages other observers
 * register) and who may use it. The address schema is schema.ts's, passed in
 * by `.extend` there, so both read addresses the same way.
 */
import { isIP } from 'node:net'
import { z } from 'zod'

/** A token is sent as `Authorization: Bearer TOKEN` (RFC 6750 §2.1: b64token characters). */
const token = z
  .string()
  .min(16, 'must be at least 16 characters (use a random value, e.g. `openssl rand -hex 24`)')
  .regex(/^[A-Za-z0-9\-._~+/]+=*$/, 'may use only A-Z a-z 0-9 - . _ ~ + / and trailing =')

export const adminSchema = z.strictObject({
  /** The bearer token every request but /healthz and /readyz must carry; required off loopback. */
  token: token.optional(),
  /**
   * More tokens by name (`ops: ${OPS_TOKEN}`): the name is who asked in the
   * action log lines. `token` is named `default`.
   */
  tokens: z
    .record(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'token names use A-Z a-z 0-9 _ . -'), token)
    .optional(),
  /**
   * Collect Prometheus metrics (served at /metrics). Off, nothing subscribes
   * to the request channels and requests pay nothing.
   */
  metrics: z.boolean().default(true),
})

/**
 * isLoopback tells whether an admin listener on `host` is reachable only
 * from this machine (127.0.0.0/8, ::1, localhost).
 */
export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true
  return isIP(host) === 4 && host.startsWith('127.')
}

/**
 * checkAdminToken refuses an admin listener that binds beyond loopback with
 * no token: the API can drain targets and reload, so it is never open to a
 * network by accident. Reads defensively (the config may be partly invalid).
 */
export function checkAdminToken(cfg: unknown, ctx: z.RefinementCtx): void {
  if (typeof cfg !== 'object' || cfg === null) return
  const admin = (cfg as { admin?: unknown }).admin
  if (typeof admin !== 'object' || admin === null) return
  const { address, token, tokens } = admin as { address?: unknown; token?: unknown; tokens?: unknown }
  if (typeof address !== 'object' || address === null) return
  const host = (address as { host?: unknown }).host
  if (typeof host !== 'string' || isLoopback(host)) return
  const named = typeof tokens === 'object' && tokens !== null && Object.keys(tokens).length > 0
  if (token === undefined && !named)
    ctx.addIssue({
      code: 'custom',
      path: ['admin', 'address'],
      message: `the admin listener binds ${host}, beyond loopback: set admin.token (or admin.tokens), e.g. token: \${ADMIN_TOKEN}`,
    })
}

/** The validated `admin:` section (with its address). */
export type AdminConfig = z.output<typeof adminSchema> & { address: { host: string; port: number } }
