/**
 * Test helpers for the admin listener: a Prometheus text parser precise
 * enough to read single series back, and polling a scrape until a series
 * reaches a value (a request's end is published just after its last byte,
 * so a scrape right after the client read the response may miss it).
 */
import assert from 'node:assert/strict'

/** One sample: metric name, labels and value. */
export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** parseMetrics reads every sample line of a text exposition, checking each line's shape. */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    assert.ok(m, `not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\')
    out.push({ name: m[1]!, labels, value: Number(m[3]) })
  }
  return out
}

/** value sums the samples of `name` whose labels include `labels` (0 when none). */
export function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  let sum = 0
  for (const s of samples)
    if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value
  return sum
}

/** scrape fetches /metrics from an admin base URL. */
export async function scrape(base: string, token?: string): Promise<Sample[]> {
  const res = await fetch(`${base}/metrics`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  })
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
  return parseMetrics(await res.text())
}

/** scrapeUntil scrapes until `done` holds (at most ~5 s), then returns the last scrape. */
export async function scrapeUntil(
  base: string,
  done: (s: Sample[]) => boolean,
  token?: string,
): Promise<Sample[]> {
  let samples = await scrape(base, token)
  for (let i = 0; i < 50 && !done(samples); i++) {
    await new Promise((r) => setTimeout(r, 100))
    samples = await scrape(base, token)
  }
  return samples
}
