/**
 * Content-coding negotiation: which of the codings we offer a client's
 * Accept-Encoding asks for (RFC 9110 §12.5.3).
 *
 * - No Accept-Encoding, or an empty one, gets identity. The RFC lets a server
 *   pick any coding when the field is absent, but clients that cannot decode
 *   are exactly the ones that omit it, so nginx and Caddy send identity too.
 * - A coding's weight is its own entry's `q`, else the `*` entry's, else 0
 *   (not acceptable). `q=0` excludes. `x-gzip` is `gzip` (§8.4.1.3).
 * - The highest weight wins; ties go to the server's order (`encodings`,
 *   by default br > zstd > gzip: smallest output first at similar speed).
 * - identity is preferred only when the client weights it (or `*`) strictly
 *   higher than every offered coding: `gzip;q=0.5, identity` gets identity.
 * - When nothing offered is acceptable the response goes out as identity,
 *   even if the client said `identity;q=0`: §12.5.3 allows a 415, but a
 *   gateway that refused would break more clients than it helps.
 */
import type { Encoding } from '../../config/modules/compress.ts'
import { trimOws } from '../../http1/fields.ts'

/** Weight of a coding the client did not list (and no `*` covered). */
const UNLISTED = -1

/**
 * negotiate returns the coding to use, or undefined for identity.
 * `offered` is in server preference order.
 */
export function negotiate(
  acceptEncoding: string | undefined,
  offered: readonly Encoding[],
): Encoding | undefined {
  if (acceptEncoding === undefined || acceptEncoding === '') return undefined
  const w = parseWeights(acceptEncoding)
  let best: Encoding | undefined
  let bestQ = 0
  for (const coding of offered) {
    let q = coding === 'br' ? w.br : coding === 'zstd' ? w.zstd : w.gzip
    if (q === UNLISTED) q = w.star === UNLISTED ? 0 : w.star
    if (q > bestQ) {
      best = coding
      bestQ = q
    }
  }
  if (best === undefined) return undefined
  const identity = w.identity === UNLISTED ? w.star : w.identity
  return identity > bestQ ? undefined : best
}

/** The weights of the codings negotiation cares about; UNLISTED when absent. */
export interface Weights {
  br: number
  zstd: number
  gzip: number
  identity: number
  star: number
}

/**
 * parseWeights reads `coding[;q=W]` members separated by commas. Codings are
 * case-insensitive; unknown ones are ignored. A member whose `q` is not a
 * valid qvalue (§12.4.2: 0–1, at most three decimals) is ignored, as if
 * unlisted; a coding listed twice keeps its lowest weight, so an exclusion
 * is never overridden.
 */
export function parseWeights(field: string): Weights {
  const w: Weights = { br: UNLISTED, zstd: UNLISTED, gzip: UNLISTED, identity: UNLISTED, star: UNLISTED }
  let at = 0
  while (at <= field.length) {
    let end = field.indexOf(',', at)
    if (end === -1) end = field.length
    readMember(field.slice(at, end), w)
    at = end + 1
  }
  return w
}

const QVALUE_RE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/

function readMember(member: string, w: Weights): void {
  const semi = member.indexOf(';')
  const coding = trimOws(semi === -1 ? member : member.slice(0, semi)).toLowerCase()
  if (coding === '') return
  let q = 1
  if (semi !== -1) {
    const weight = qParameter(member.slice(semi + 1))
    if (weight === undefined) return
    q = weight
  }
  switch (coding) {
    case 'br':
      w.br = lowest(w.br, q)
      break
    case 'zstd':
      w.zstd = lowest(w.zstd, q)
      break
    case 'gzip':
    case 'x-gzip':
      w.gzip = lowest(w.gzip, q)
      break
    case 'identity':
      w.identity = lowest(w.identity, q)
      break
    case '*':
      w.star = lowest(w.star, q)
  }
}

/** qParameter reads `q=W` from a member's parameters: 1 when absent, undefined when invalid. */
function qParameter(params: string): number | undefined {
  for (const p of params.split(';')) {
    const eq = p.indexOf('=')
    if (eq === -1) continue
    if (trimOws(p.slice(0, eq)).toLowerCase() !== 'q') continue
    const value = trimOws(p.slice(eq + 1))
    return QVALUE_RE.test(value) ? Number(value) : undefined
  }
  return 1
}

function lowest(current: number, q: number): number {
  return current === UNLISTED ? q : Math.min(current, q)
}
