/**
 * Precompressed siblings: `FILE.br` and `FILE.gz` made at build time and
 * served instead of FILE when the client accepts the coding (as nginx's
 * `gzip_static` and `brotli_static`). The sibling is its own representation:
 * its own length, ETag and Last-Modified, and ranges apply to its bytes.
 */
import { type OpenedFile, openRegularBelow } from './locate.ts'
import { trimOws } from '../../http1/fields.ts'

/** A content coding the module can serve from a sibling file. */
export interface Coding {
  /** The Content-Encoding token. */
  readonly name: 'br' | 'gzip'
  /** The sibling's suffix. */
  readonly suffix: string
}

/** Codings in server preference order: brotli is smaller, so it wins ties. */
export const CODINGS: readonly Coding[] = [
  { name: 'br', suffix: '.br' },
  { name: 'gzip', suffix: '.gz' },
]

/**
 * acceptedCodings returns the codings of CODINGS the client accepts, best
 * first, from its Accept-Encoding (RFC 9110 §12.5.3): by q-value, ties in
 * server preference. `q=0` refuses a coding; `*` gives its weight to the
 * codings not named; `x-gzip` is `gzip`. No header, or none acceptable,
 * gives an empty list (identity).
 */
export function acceptedCodings(acceptEncoding: string | undefined): Coding[] {
  if (acceptEncoding === undefined || acceptEncoding === '') return []
  const weights = new Map<string, number>()
  let star: number | undefined
  for (const element of acceptEncoding.split(',')) {
    const [token = '', ...params] = element.split(';')
    const name = trimOws(token).toLowerCase()
    if (name === '') continue
    const q = qValue(params)
    if (name === '*') star = q
    else weights.set(name === 'x-gzip' ? 'gzip' : name, q)
  }
  const weighted: { coding: Coding; q: number }[] = []
  for (const coding of CODINGS) {
    const q = weights.get(coding.name) ?? star ?? 0
    if (q > 0) weighted.push({ coding, q })
  }
  // Array.prototype.sort is stable: equal weights keep server preference.
  return weighted.sort((a, b) => b.q - a.q).map((w) => w.coding)
}

/** qValue reads `q=` from a coding's parameters (RFC 9110 §12.4.2); absent or malformed is 1. */
function qValue(params: readonly string[]): number {
  for (const p of params) {
    const m = /^\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*$/i.exec(p)
    if (m !== null) return Math.min(Number(m[1]), 1)
    if (/^\s*q\s*=/i.test(p)) return 0 // an unreadable weight is safest read as "not acceptable"
  }
  return 1
}

/** A sibling that was found and opened. */
export interface Precompressed {
  readonly coding: Coding
  readonly file: OpenedFile
}

/**
 * openPrecompressed opens the first sibling of `path` (in `codings` order)
 * that is a regular file below the root, or returns undefined. The caller
 * owns the returned handle.
 */
export async function openPrecompressed(
  rootReal: string,
  path: string,
  codings: readonly Coding[],
): Promise<Precompressed | undefined> {
  for (const coding of codings) {
    const file = await openRegularBelow(rootReal, path + coding.suffix)
    if (file !== undefined) return { coding, file }
  }
  return undefined
}

/** isCompressedName tells names whose content is already a coding (`x.gz`): no sibling is looked for. */
export function isCompressedName(path: string): boolean {
  return path.endsWith('.br') || path.endsWith('.gz')
}
