/**
 * Forward-proxy test helpers: a gateway whose only listener is the forward
 * proxy (127.0.0.1:0), and curl run against it with a bounded time.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
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

/**
 * startBlackhole starts a python3 listener whose accept queue (backlog 0)
 * is full and never drained, so connecting hangs as to an unreachable host
 * (as in test/integration/errors.test.ts). Killed in t.after.
 */
export async function startBlackhole(t: Cleanup): Promise<{ port: number }> {
  const script = `
import socket, sys
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.bind(('127.0.0.1', 0))
srv.listen(0)
fillers = []
for _ in range(3):
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.setblocking(False)
    c.connect_ex(srv.getsockname())
    fillers.append(c)
print(srv.getsockname()[1], flush=True)
sys.stdin.read()
`
  const child: ChildProcess = spawn('python3', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] })
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  t.after(async () => {
    child.stdin?.end()
    child.kill()
    await exited
  })
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject)
    child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())))
  })
  await new Promise((r) => setTimeout(r, 100))
  return { port }
}
