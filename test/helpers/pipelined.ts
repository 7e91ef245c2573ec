/**
 * pipelined: many requests fast and counted exactly, for tests that need
 * tens of thousands of them (a load generator like wrk cannot stop at an
 * exact count). Each connection writes its share of GETs at once
 * (HTTP/1.1 pipelining, RFC 9112 §9.3.2) and counts the status lines that
 * come back; response bodies must not contain "HTTP/1.1 ".
 */
import net from 'node:net'

/**
 * pipelined sends `total` GETs for `path` over `connections` keep-alive
 * connections, spread round-robin over `ports` on 127.0.0.1, and resolves
 * to the count of each status. Rejects when a connection closes early or
 * `timeout` ms pass.
 */
export async function pipelined(
  ports: readonly number[],
  total: number,
  connections: number,
  options: { path?: string; timeout?: number } = {},
): Promise<Map<number, number>> {
  const counts = new Map<number, number>()
  const request = `GET ${options.path ?? '/'} HTTP/1.1\r\nHost: pipelined.test\r\n\r\n`
  const jobs: Promise<void>[] = []
  for (let i = 0; i < connections; i++) {
    const share = Math.floor(total / connections) + (i < total % connections ? 1 : 0)
    jobs.push(oneConnection(ports[i % ports.length]!, request, share, counts, options.timeout ?? 60_000))
  }
  await Promise.all(jobs)
  return counts
}

function oneConnection(
  port: number,
  request: string,
  n: number,
  counts: Map<number, number>,
  timeout: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    if (n === 0) return resolve()
    const socket = net.connect(port, '127.0.0.1')
    let seen = 0
    let rest = ''
    const timer = setTimeout(() => fail(new Error(`timeout after ${seen} of ${n} responses`)), timeout)
    function fail(err: Error): void {
      clearTimeout(timer)
      socket.destroy()
      reject(err)
    }
    socket.setEncoding('latin1')
    socket.on('connect', () => socket.write(request.repeat(n)))
    socket.on('data', (text: string) => {
      const s = rest + text
      let done = 0
      for (
        let at = s.indexOf('HTTP/1.1 ');
        at !== -1 && at + 12 <= s.length;
        at = s.indexOf('HTTP/1.1 ', done)
      ) {
        const status = Number(s.slice(at + 9, at + 12))
        counts.set(status, (counts.get(status) ?? 0) + 1)
        seen++
        done = at + 12
      }
      // No complete status line after `done`: keep only what could start one (at most 11 characters).
      rest = s.slice(Math.max(done, s.length - 11))
      if (seen === n) {
        clearTimeout(timer)
        socket.end()
        resolve()
      }
    })
    socket.on('error', (err) => fail(err))
    socket.on('close', () => seen < n && fail(new Error(`closed after ${seen} of ${n} responses`)))
  })
}
