/**
 * Forward-proxy test helpers: a gateway whose only listener is the forward
 * proxy (127.0.0.1:0), and curl run against it with a bounded time.
 */
import { execFile } from 'node:child_process'
import type { GatewayConfigInput } from '../../src/config/schema.ts'
import type { GatewayHooks } from '../../src/core/hooks.ts'
import { createGateway, type Gateway } from '../../src/server/gateway.ts'
import type { Cleanup } from './gateway.ts'

/** A listening forward proxy. */
export interface ForwardHandle {
  gw: Gateway
  port: number
  /** `http://127.0.0.1:PORT`, what `curl -x` takes. */
  proxy: string
  close(): Promise<void>
}

/** startForward starts a gateway with `forward` (address 127.0.0.1:0 unless given) and no reverse listener. */
export async function startForward(
  forward: Partial<NonNullable<GatewayConfigInput['forward']>>,
  options: { hooks?: GatewayHooks | readonly GatewayHooks[]; t?: Cleanup; extra?: GatewayConfigInput } = {},
): Promise<ForwardHandle> {
  const gw = await createGateway(
    { listen: [], ...options.extra, forward: { address: '127.0.0.1:0', ...forward } },
    { hooks: options.hooks },
  )
  let closing: Promise<void> | undefined
  const close = () => (closing ??= gw.close({ drainTimeout: 0 }))
  options.t?.after(close)
  await gw.listen()
  const port = gw.addresses().find((a) => a.forward)!.port
  return { gw, port, proxy: `http://127.0.0.1:${port}`, close }
}

/** What curl did. */
export interface CurlResult {
  /** curl's exit code (0 ok, 7 cannot connect, 56 proxy CONNECT refused, 60 certificate not trusted …). */
  code: number
  stdout: string
  stderr: string
}

/** curl runs `curl -sS ARGS` with a 10 s bound; never rejects. */
export function curl(args: readonly string[], timeoutMs = 10_000): Promise<CurlResult> {
  return new Promise((resolve) => {
    execFile(
      'curl',
      ['-sS', '--max-time', String(timeoutMs / 1000), ...args],
      { timeout: timeoutMs + 2000 },
      (err, stdout, stderr) => {
        const code =
          err === null
            ? 0
            : typeof (err as { code?: unknown }).code === 'number'
              ? (err as { code: number }).code
              : -1
        resolve({ code, stdout, stderr })
      },
    )
  })
}

/** waitFor polls `check` every 20 ms until it holds or `ms` passed. */
export async function waitFor(check: () => boolean, ms = 2000): Promise<boolean> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) return false
    await new Promise((r) => setTimeout(r, 20))
  }
  return true
}

export { startBlackhole } from './blackhole.ts'
