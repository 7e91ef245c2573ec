/**
 * Small HTTP client helpers for policy tests: one request with chosen
 * headers (status, lower-cased headers, body), and a burst of many
 * concurrent requests counted by status.
 */
import http from 'node:http'

/** What one request got. */
export interface GetResult {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
}

/** get sends one request (GET unless `method`) on a fresh connection and reads the whole answer. */
export function get(
  url: string,
  headers: Record<string, string> = {},
  options: { method?: string; agent?: http.Agent; timeout?: number } = {},
): Promise<GetResult> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: options.method ?? 'GET', headers, agent: options.agent ?? false },
      (res) => {
        let body = ''
        res.setEncoding('latin1')
        res.on('data', (d: string) => (body += d))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
        res.on('error', reject)
      },
    )
    req.setTimeout(options.timeout ?? 10_000, () => req.destroy(new Error(`timeout: ${url}`)))
    req.on('error', reject)
    req.end()
  })
}

/**
 * burst sends `n` requests at once, spread round-robin over `urls`, with at
 * most `sockets` connections per URL (keep-alive), and counts the statuses.
 */
export async function burst(
  urls: readonly string[],
  n: number,
  sockets = 128,
  headers: Record<string, string> = {},
): Promise<Map<number, number>> {
  const agents = urls.map(() => new http.Agent({ keepAlive: true, maxSockets: sockets }))
  try {
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        get(urls[i % urls.length]!, headers, { agent: agents[i % urls.length] }).then(
          (r) => r.status,
          () => -1,
        ),
      ),
    )
    const counts = new Map<number, number>()
    for (const s of results) counts.set(s, (counts.get(s) ?? 0) + 1)
    return counts
  } finally {
    for (const a of agents) a.destroy()
  }
}
