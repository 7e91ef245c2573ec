/**
 * Compressor streams for each coding, sized for on-the-fly use. zlib does the
 * work on libuv's thread pool, so compression never blocks the event loop;
 * each stream holds only its window and one output chunk, so memory per
 * response is bounded whatever the body size.
 */
import type { Transform } from 'node:stream'
import zlib from 'node:zlib'
import type { CompressionConfig, Encoding } from '../../config/modules/compress.ts'

const C = zlib.constants

/**
 * zstdAvailable says whether this Node has zstd (added in 22.15 and 23.8,
 * @experimental there). Without it, `zstd` is never offered.
 */
export const zstdAvailable: boolean = typeof zlib.createZstdCompress === 'function'

/** The codings of `configured` this Node can produce, in the same order. */
export function availableEncodings(configured: readonly Encoding[]): Encoding[] {
  return configured.filter((e) => e !== 'zstd' || zstdAvailable)
}

/**
 * createEncoder makes the compressor for one response. `length` is the
 * identity body's length, or -1 when unknown: when known, small bodies get
 * small windows (less memory, same output). With `flushEachChunk` every
 * chunk written is emitted at once (server-sent events), at some cost in ratio.
 */
export function createEncoder(
  coding: Encoding,
  level: CompressionConfig['level'],
  length: number,
  flushEachChunk: boolean,
): Transform {
  switch (coding) {
    case 'gzip':
      return createGzip(level.gzip, length, flushEachChunk)
    case 'br':
      return createBrotli(level.brotli, length, flushEachChunk)
    case 'zstd':
      return zlib.createZstdCompress({
        params: { [C.ZSTD_c_compressionLevel]: level.zstd },
        // Lets zstd pick a window no larger than the body and record the size in the frame.
        ...(length >= 0 && { pledgedSrcSize: length }),
        ...(flushEachChunk && { flush: C.ZSTD_e_flush }),
      })
  }
}

/** As nginx's gzip filter: shrink the window and hash memory to what a known length needs. */
function createGzip(level: number, length: number, flush: boolean): Transform {
  let windowBits = 15
  let memLevel = 8
  if (length >= 0) {
    // 262 is zlib's MIN_LOOKAHEAD: the window must hold the body plus it.
    while (windowBits > 9 && length < (1 << (windowBits - 1)) - 262) {
      windowBits--
      memLevel--
    }
  }
  return zlib.createGzip({
    level,
    windowBits,
    memLevel: Math.max(memLevel, 1),
    ...(flush && { flush: C.Z_SYNC_FLUSH }),
  })
}

function createBrotli(quality: number, length: number, flush: boolean): Transform {
  const params: Record<number, number> = { [C.BROTLI_PARAM_QUALITY]: quality }
  if (length >= 0) {
    params[C.BROTLI_PARAM_SIZE_HINT] = Math.min(length, 2 ** 30)
    // A window (2^lgwin − 16 bytes) just large enough for the body; brotli's default is 2^22.
    params[C.BROTLI_PARAM_LGWIN] = Math.min(Math.max(Math.ceil(Math.log2(length + 16)), 10), 22)
  }
  return zlib.createBrotliCompress({
    params,
    ...(flush && { flush: C.BROTLI_OPERATION_FLUSH }),
  })
}
