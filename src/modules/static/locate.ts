/**
 * The file-system half of path safety: find the file a request names below
 * the root and open it, refusing anything whose real path leaves the root.
 *
 * 1. The root's real path is taken per request, not cached: deployments
 *    that swap a `current -> releases/N` symlink keep working.
 * 2. The candidate's real path must be the root or below it, so a symlink
 *    inside the root that points outside is refused; one that stays inside
 *    is followed.
 * 3. The real path is opened with O_NOFOLLOW (its last component was just
 *    resolved, so a symlink there now means a swap) and O_NONBLOCK (a FIFO
 *    would otherwise block a libuv thread until a writer comes).
 * 4. On Linux, the path of the opened descriptor (`/proc/self/fd/N`) is
 *    checked again: this closes the race where a directory between steps 2
 *    and 3 is swapped for a symlink out of the root. What is checked is
 *    then exactly what is served, since the body streams from that
 *    descriptor.
 *
 * Refusals are indistinguishable from missing files (404): a client cannot
 * probe what exists outside the root or behind a refused symlink.
 */
import { constants, type Stats } from 'node:fs'
import { type FileHandle, open, readlink, realpath } from 'node:fs/promises'
import { join, sep } from 'node:path'
import { GatewayError } from '../../core/errors.ts'

/** An opened regular file or directory below the root. */
export interface OpenedFile {
  readonly handle: FileHandle
  readonly stat: Stats
}

/** What a request path located. */
export type Located =
  /** A regular file, opened; `path` is its unresolved path (siblings are looked up next to it). */
  | { readonly kind: 'file'; readonly file: OpenedFile; readonly path: string }
  /** A directory named without its trailing slash. */
  | { readonly kind: 'redirect' }
  | { readonly kind: 'not-found' }

const NOT_FOUND: Located = Object.freeze({ kind: 'not-found' })
const REDIRECT: Located = Object.freeze({ kind: 'redirect' })

// O_NONBLOCK does nothing for regular files; O_NOFOLLOW and O_NONBLOCK are 0 where undefined (Windows).
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0)

/** Errors that mean "there is nothing servable at this path". */
const ABSENT = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG', 'EACCES', 'EPERM', 'EISDIR'])

/**
 * rootRealPath resolves the configured root. A root that is missing at
 * request time is the operator's problem, not the client's: it fails with
 * INTERNAL_ERROR (500) so it shows in logs and metrics.
 */
export async function rootRealPath(root: string): Promise<string> {
  try {
    return await realpath(root)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error'
    throw new GatewayError('INTERNAL_ERROR', `static root ${root} is unavailable (${code})`, { cause: err })
  }
}

/**
 * locate finds what `segments` name below `rootReal` (a real path). A
 * directory named with a trailing slash is answered by its first existing
 * `index` file; without the slash it is a redirect. Anything but a regular
 * file or directory (FIFOs, devices, sockets) is not found. The caller owns
 * the returned handle.
 */
export async function locate(
  rootReal: string,
  segments: readonly string[],
  directory: boolean,
  index: readonly string[],
): Promise<Located> {
  const path = segments.length === 0 ? rootReal : join(rootReal, ...segments)
  const opened = await openBelow(rootReal, path)
  if (opened === undefined) return NOT_FOUND
  if (opened.stat.isFile()) {
    if (directory) {
      // `/a.txt/` names a directory that does not exist.
      await opened.handle.close()
      return NOT_FOUND
    }
    return { kind: 'file', file: opened, path }
  }
  const isDirectory = opened.stat.isDirectory()
  await opened.handle.close()
  if (!isDirectory) return NOT_FOUND
  if (!directory) return REDIRECT
  for (const name of index) {
    const indexPath = join(path, name)
    const file = await openRegularBelow(rootReal, indexPath)
    if (file !== undefined) return { kind: 'file', file, path: indexPath }
  }
  return NOT_FOUND
}

/** openRegularBelow opens `path` when it is a regular file whose real path is below `rootReal`. */
export async function openRegularBelow(rootReal: string, path: string): Promise<OpenedFile | undefined> {
  const opened = await openBelow(rootReal, path)
  if (opened === undefined || opened.stat.isFile()) return opened
  await opened.handle.close()
  return undefined
}

/**
 * openBelow opens `path` when its real path is `rootReal` or below it.
 * Returns undefined when it is absent, unreadable or outside; other errors
 * (EMFILE, EIO) are thrown.
 */
async function openBelow(rootReal: string, path: string): Promise<OpenedFile | undefined> {
  let real: string
  let handle: FileHandle
  try {
    real = await realpath(path)
    if (!isBelow(rootReal, real)) return undefined
    handle = await open(real, OPEN_FLAGS)
  } catch (err) {
    if (ABSENT.has((err as NodeJS.ErrnoException).code ?? '')) return undefined
    throw err
  }
  try {
    const stat = await handle.stat()
    if (await openedOutside(rootReal, handle)) {
      await handle.close()
      return undefined
    }
    return { handle, stat }
  } catch (err) {
    await handle.close()
    throw err
  }
}

/** isBelow tells whether real path `real` is `rootReal` or inside it. */
export function isBelow(rootReal: string, real: string): boolean {
  if (real === rootReal) return true
  const base = rootReal.endsWith(sep) ? rootReal : rootReal + sep
  return real.startsWith(base)
}

let procFd = process.platform === 'linux'

/**
 * openedOutside checks, where the OS tells (Linux `/proc/self/fd`), that
 * the opened descriptor's path is below the root. Without /proc (other
 * systems, some containers) the realpath check before opening stands alone.
 */
async function openedOutside(rootReal: string, handle: FileHandle): Promise<boolean> {
  if (!procFd) return false
  let actual: string
  try {
    actual = await readlink(`/proc/self/fd/${handle.fd}`)
  } catch {
    procFd = false
    return false
  }
  // A file deleted since it was opened reads as `PATH (deleted)`: still the path it had.
  return !isBelow(rootReal, actual)
}
