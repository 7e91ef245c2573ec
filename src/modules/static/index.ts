/**
 * The `static` route action: serve files from a directory.
 *
 * An `onRequest` hook answers every request of the route: GET and HEAD
 * with the file (or 304/412/206/416, see response.ts), other methods with
 * 405 and `Allow: GET, HEAD`. Which file: the request path, below the
 * route's `match.path` when `stripPrefix`, decoded and checked lexically
 * (resolve.ts), then found and opened below the root's real path
 * (locate.ts). Anything refused answers 404, exactly like a missing file;
 * a malformed percent-encoding answers 400.
 *
 * ```yaml
 * routes:
 *   - match: { path: /assets }
 *     static: { root: ./public, maxAge: 1h }
 * ```
 */
import type { RouteConfig } from '../../config/schema.ts'
import type { GatewayResponse, HookResult } from '../../core/hooks.ts'
import type { Session } from '../../core/session.ts'
import type { RouteModule } from '../registry.ts'
import { locate, rootRealPath } from './locate.ts'
import { contentType } from './mime.ts'
import { acceptedCodings, isCompressedName, openPrecompressed } from './precompressed.ts'
import { belowPrefix, directoryLocation, parseRequestPath } from './resolve.ts'
import { fileResponse, type Representation, textResponse } from './response.ts'
import type { StaticConfig } from '../../config/modules/static.ts'

/** staticFiles is the route module of the `static` action; undefined for other routes. */
export const staticFiles: RouteModule = function staticFiles(route) {
  const config = route.static
  if (config === undefined) return undefined
  const files = new StaticFiles(config, route)
  return {
    onRequest: function serveStaticFile(session: Session) {
      return files.serve(session)
    },
  }
}

const NOT_FOUND = answer(textResponse(404, 'Not Found'))
const BAD_REQUEST = answer(textResponse(400, 'Bad Request'))
const NOT_ALLOWED = answer(textResponse(405, 'Method Not Allowed', [['Allow', 'GET, HEAD']]))

/** StaticFiles serves one route's directory. */
export class StaticFiles {
  private readonly root: string
  /** The prefix removed from request paths, or undefined to keep them whole. */
  private readonly prefix: string | undefined
  private readonly index: readonly string[]
  private readonly allowDotfiles: boolean
  private readonly precompressed: boolean
  private readonly cacheControl: string | undefined

  constructor(config: StaticConfig, route: RouteConfig) {
    this.root = config.root
    this.prefix = config.stripPrefix ? route.match.path : undefined
    this.index = config.index
    this.allowDotfiles = config.dotfiles === 'allow'
    this.precompressed = config.precompressed
    this.cacheControl =
      config.maxAge === undefined ? undefined : `max-age=${Math.floor(config.maxAge / 1000)}`
  }

  /** serve answers one request of the route; it never continues to another action. */
  async serve(session: Session): Promise<HookResult> {
    const method = session.method
    if (method !== 'GET' && method !== 'HEAD') return NOT_ALLOWED
    const parsed = parseRequestPath(belowPrefix(session.path, this.prefix), this.allowDotfiles)
    if (parsed.kind === 'malformed') return BAD_REQUEST
    if (parsed.kind === 'refused') return NOT_FOUND
    const rootReal = await rootRealPath(this.root)
    const found = await locate(rootReal, parsed.segments, parsed.directory, this.index)
    if (found.kind === 'not-found') return NOT_FOUND
    if (found.kind === 'redirect') {
      const location = directoryLocation(session.path, session.query)
      return answer(textResponse(301, 'Moved Permanently', [['Location', location]]))
    }
    const rep = await this.representation(session, rootReal, found.file, found.path)
    try {
      return answer(await fileResponse(session, rep, this.cacheControl))
    } catch (err) {
      await rep.file.handle.close().catch(() => {})
      throw err
    }
  }

  /**
   * representation picks the file or, when the client accepts one of their
   * codings, a precompressed sibling (closing the file it does not serve).
   */
  private async representation(
    session: Session,
    rootReal: string,
    file: Representation['file'],
    path: string,
  ): Promise<Representation> {
    const type = contentType(path)
    if (!this.precompressed || isCompressedName(path)) return { file, coding: undefined, type, vary: false }
    const codings = acceptedCodings(listField(session.headers.getAll('accept-encoding')))
    let sibling: Awaited<ReturnType<typeof openPrecompressed>>
    try {
      sibling = codings.length === 0 ? undefined : await openPrecompressed(rootReal, path, codings)
    } catch (err) {
      await file.handle.close()
      throw err
    }
    if (sibling === undefined) return { file, coding: undefined, type, vary: true }
    await file.handle.close()
    return { file: sibling.file, coding: sibling.coding, type, vary: true }
  }
}

function answer(response: GatewayResponse): HookResult {
  return { kind: 'respond', response }
}

function listField(values: readonly string[]): string | undefined {
  return values.length === 0 ? undefined : values.join(', ')
}
