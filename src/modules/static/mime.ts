/**
 * Content-Type by file extension: a compact table of the types a web site
 * actually serves. Text types carry `charset=utf-8` (RFC 9110 §8.3.2: without
 * it a recipient may guess, and guessing is what `nosniff` forbids).
 * Anything else is `application/octet-stream`, which browsers download
 * rather than render.
 */

const UTF8 = '; charset=utf-8'

const TYPES: ReadonlyMap<string, string> = new Map(
  Object.entries({
    // text
    html: `text/html${UTF8}`,
    htm: `text/html${UTF8}`,
    css: `text/css${UTF8}`,
    js: `text/javascript${UTF8}`,
    mjs: `text/javascript${UTF8}`,
    cjs: `text/javascript${UTF8}`,
    txt: `text/plain${UTF8}`,
    md: `text/markdown${UTF8}`,
    csv: `text/csv${UTF8}`,
    xml: `application/xml${UTF8}`,
    json: `application/json${UTF8}`,
    map: `application/json${UTF8}`,
    webmanifest: `application/manifest+json${UTF8}`,
    svg: `image/svg+xml${UTF8}`,
    ics: `text/calendar${UTF8}`,
    vtt: `text/vtt${UTF8}`,
    // images
    png: 'image/png',
    jpg: 'image/jpeg',
    jpeg: 'image/jpeg',
    gif: 'image/gif',
    webp: 'image/webp',
    avif: 'image/avif',
    ico: 'image/x-icon',
    bmp: 'image/bmp',
    tif: 'image/tiff',
    tiff: 'image/tiff',
    // fonts
    woff: 'font/woff',
    woff2: 'font/woff2',
    ttf: 'font/ttf',
    otf: 'font/otf',
    // audio and video
    mp3: 'audio/mpeg',
    ogg: 'audio/ogg',
    oga: 'audio/ogg',
    wav: 'audio/wav',
    flac: 'audio/flac',
    m4a: 'audio/mp4',
    mp4: 'video/mp4',
    m4v: 'video/mp4',
    webm: 'video/webm',
    ogv: 'video/ogg',
    mov: 'video/quicktime',
    // applications and archives
    wasm: 'application/wasm',
    pdf: 'application/pdf',
    zip: 'application/zip',
    gz: 'application/gzip',
    tgz: 'application/gzip',
    br: 'application/x-brotli',
    zst: 'application/zstd',
    tar: 'application/x-tar',
    '7z': 'application/x-7z-compressed',
    bin: 'application/octet-stream',
  }),
)

/** The type of files whose extension the table does not know. */
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream'

/**
 * contentType returns the Content-Type for a file name by its last
 * extension, case-insensitively (`a.JS` → text/javascript). A name without
 * an extension, or with an unknown one, gets `application/octet-stream`.
 */
export function contentType(fileName: string): string {
  const slash = fileName.lastIndexOf('/')
  const dot = fileName.lastIndexOf('.')
  if (dot <= slash + 1) return DEFAULT_CONTENT_TYPE // no extension, or a dot-file like `.env`
  return TYPES.get(fileName.slice(dot + 1).toLowerCase()) ?? DEFAULT_CONTENT_TYPE
}
