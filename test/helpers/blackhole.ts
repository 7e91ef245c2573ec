/**
 * A TCP port that never accepts, for connect timeouts over real sockets.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import type { Cleanup } from './gateway.ts'

/**
 * startBlackhole starts a python3 listener whose accept queue (backlog 0) is
 * full and never drained: the kernel drops further SYNs, so connecting hangs
 * exactly like an unreachable host. The child is killed in t.after.
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
  // Let the fillers' handshakes land so the queue is full before the test connects.
  await new Promise((r) => setTimeout(r, 100))
  return { port }
}
