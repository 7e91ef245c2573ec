/**
 * The generator and the oracle of the RequestReader fuzz test. Inputs are
 * valid requests (alone or pipelined) with a few random mutations; each is
 * fed whole and in random pieces, and the two observations must be identical
 * (split-invariance: the framing cannot depend on how TCP cut the bytes, or a
 * keep-alive connection desynchronises). Accepted messages must carry exactly
 * their framed body bytes and survive a serialise-and-parse round trip.
 *
 * Everything is a pure function of (seed, index), so one failing input can be
 * replayed with PORTCULLIS_FUZZ_SEED and PORTCULLIS_FUZZ_INDEX.
 */
import type { RequestHead } from '../../src/http1/request-head.ts'
import type { ReaderLimits } from '../../src/http1/request-reader.ts'
import { DEFAULT_READER_LIMITS, type ReaderObservation } from '../helpers/observe-request-reader.ts'

/** A small, fast, seedable PRNG (mulberry32). */
export class Rng {
  private state: number

  constructor(seed: number) {
    this.state = seed >>> 0
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n)
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!
  }
}

/** The PRNG of input `index` under `seed`: inputs are independent, so any one can be replayed. */
export function inputRng(seed: number, index: number): Rng {
  return new Rng(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35))
}

/** Tight limits so that size and count refusals happen on small inputs too. */
const SMALL_LIMITS: ReaderLimits = { maxHeadSize: 256, maxHeaders: 6, maxTargetLength: 64, maxBodySize: 24 }

const SEEDS: readonly string[] = [
  'GET / HTTP/1.1\r\nHost: example.com\r\n\r\n',
  'GET /search?q=a%20b HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\nUser-Agent: fuzz/1\r\n\r\n',
  'POST /submit HTTP/1.1\r\nHost: example.com\r\nContent-Length: 11\r\nContent-Type: text/plain\r\n\r\nhello world',
  'PUT /r HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n\r\n',
  'POST /upload HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n',
  'POST /t HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\na;n="q v"\r\n0123456789\r\n0\r\nX-Sum: 1\r\nX-Other: two\r\n\r\n',
  'GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
  'GET http://example.com/abs?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n',
  'OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n',
  'POST /e HTTP/1.1\r\nHost: example.com\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc',
  'GET /ws HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
  'GET /c HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n',
  '\r\nDELETE /item/7 HTTP/1.1\r\nHost: example.com:8080\r\nX-A:  spaced\t\r\n\r\n',
]

const INSERTS = [
  '\r',
  '\n',
  '\0',
  ' ',
  ':',
  ';',
  '\t',
  ',',
  '"',
  '=',
  '\r\n',
  '\r\n\r\n',
  '0',
  'f',
  'a',
  '\x7f',
  '\xff',
]

type Mutator = (s: string, rng: Rng) => string

const MUTATORS: readonly Mutator[] = [
  function flipByte(s, rng) {
    const i = rng.int(s.length)
    return s.slice(0, i) + String.fromCharCode(rng.int(256)) + s.slice(i + 1)
  },
  function insertSpecial(s, rng) {
    const i = rng.int(s.length + 1)
    return s.slice(0, i) + rng.pick(INSERTS) + s.slice(i)
  },
  function deleteBytes(s, rng) {
    const i = rng.int(s.length)
    return s.slice(0, i) + s.slice(i + 1 + rng.int(3))
  },
  function duplicateLine(s, rng) {
    const lines = s.split('\r\n')
    const i = rng.int(lines.length)
    lines.splice(i, 0, lines[i]!)
    return lines.join('\r\n')
  },
  function swapFraming(s, rng) {
    switch (rng.int(4)) {
      case 0:
        return s.replace(/Content-Length: \d+/, 'Transfer-Encoding: chunked')
      case 1:
        return s.replace('Transfer-Encoding: chunked', `Content-Length: ${rng.int(40)}`)
      case 2:
        return s.replace('Host: example.com', `Host: example.com\r\nContent-Length: ${rng.int(20)}`)
      default:
        return s.replace('Host: example.com', 'Host: example.com\r\nTransfer-Encoding: chunked')
    }
  },
  function truncate(s, rng) {
    return s.slice(0, rng.int(s.length))
  },
  function tweakNumber(s, rng) {
    const runs = [...s.matchAll(/[0-9a-f]+/g)]
    if (runs.length === 0) return s
    const m = rng.pick(runs)
    const replacement = rng.pick([
      '0',
      `0${m[0]}`,
      `${m[0]}0`,
      '1',
      'ffffffffffffff',
      String(rng.int(100)),
      '-1',
      '',
    ])
    return s.slice(0, m.index) + replacement + s.slice(m.index + m[0].length)
  },
  function spliceCopy(s, rng) {
    const from = rng.int(s.length)
    const piece = s.slice(from, from + 1 + rng.int(40))
    const at = rng.int(s.length + 1)
    return s.slice(0, at) + piece + s.slice(at)
  },
]

/** One generated case: the bytes and the limits they are read with. */
export interface FuzzCase {
  input: Buffer
  limits: ReaderLimits
  small: boolean
}

/** generateCase builds input `index` under `seed`; `rng` continues to drive the split. */
export function generateCase(rng: Rng): FuzzCase {
  let text = ''
  const messages = 1 + rng.int(3)
  for (let i = 0; i < messages; i++) text += rng.pick(SEEDS)
  if (rng.int(40) === 0)
    text = text.replace('\r\n\r\n', `\r\nX-Big: ${'b'.repeat(16100 + rng.int(600))}\r\n\r\n`)
  const mutations = rng.int(4)
  for (let i = 0; i < mutations && text.length > 0; i++) text = rng.pick(MUTATORS)(text, rng)
  const small = rng.int(4) === 0
  return { input: Buffer.from(text, 'latin1'), limits: small ? SMALL_LIMITS : DEFAULT_READER_LIMITS, small }
}

/** splitRandomly cuts `input` into 2–40 pieces at random points (some empty). */
export function splitRandomly(input: Buffer, rng: Rng): Buffer[] {
  const cuts = new Set<number>()
  const count = 1 + rng.int(Math.min(39, input.length + 1))
  for (let i = 0; i < count; i++) cuts.add(rng.int(input.length + 1))
  const points = [...cuts].sort((a, b) => a - b)
  const pieces: Buffer[] = []
  let from = 0
  for (const p of points) {
    pieces.push(input.subarray(from, p))
    from = p
  }
  pieces.push(input.subarray(from))
  return pieces
}

/** bytewise feeds one byte per push: the harshest split. */
export function bytewise(input: Buffer): Buffer[] {
  return Array.from({ length: input.length }, (_, i) => input.subarray(i, i + 1))
}

/** The framing-relevant view of one head. */
function headView(h: RequestHead) {
  return {
    minor: h.minor,
    contentLength: h.contentLength,
    chunked: h.chunked,
    keepAlive: h.keepAlive,
    upgrade: h.upgradeProtocol,
    expectContinue: h.expectContinue,
    host: h.host,
    scheme: h.absoluteScheme,
  }
}

/**
 * view is what must not depend on how the bytes were cut: every message
 * (head, body, completion, trailers), the framing view of its head, and the
 * error (and the head sizes, unless `withHeadSize` is false: a canonical
 * re-serialisation changes them). A body cut short by BODY_TOO_LARGE is left out: how much of it was
 * delivered before the limit tripped depends on the slices (by design).
 */
export function view(obs: ReaderObservation, withHeadSize = true): string {
  const tooLarge = obs.error?.code === 'BODY_TOO_LARGE'
  const messages = obs.messages.map((m, i) => ({
    ...m,
    body: tooLarge && !m.complete ? '(cut)' : m.body,
    head: headView(obs.heads[i]!),
    headSize: withHeadSize ? obs.heads[i]!.size : undefined,
  }))
  return JSON.stringify({ messages, error: obs.error })
}
