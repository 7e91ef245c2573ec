/**
 * Filesystem checks of a configuration: the files and directories it names
 * must exist and be readable, so `portcullis check` catches them before
 * `start` does. They read the raw input (before the schema), so they run in
 * the same pass as the schema checks and one run of `check` reports a
 * missing certificate and a misspelt key together.
 */
import { accessSync, constants, statSync } from 'node:fs'
import { resolve } from 'node:path'
import type { ConfigProblem } from './errors.ts'
import { type Locator, valueAt } from './issues.ts'
import type { KeyPath } from './yaml-nodes.ts'

/** dirOf gives the directory relative paths at a key path are resolved against. */
export type DirOf = (path: KeyPath) => string

type Need = 'file' | 'directory'

/**
 * fileProblems checks every path the raw configuration `input` names: TLS
 * certificates and keys of listeners, CA files of upstreams and of the
 * forward proxy's interception, and static roots. A value that is not a
 * string is left to the schema.
 */
export function fileProblems(input: unknown, dirOf: DirOf, locate: Locator): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  function need(path: KeyPath, what: Need): void {
    const value = valueAt(input, path)
    if (typeof value !== 'string' || value === '') return
    const reason = problemWith(resolve(dirOf(path.slice(0, -1)), value), what)
    if (reason !== undefined) problems.push({ ...locate(path, 'value'), message: reason })
  }
  entries(valueAt(input, ['listen'])).forEach(([i]) => {
    need(['listen', i, 'tls', 'cert'], 'file')
    need(['listen', i, 'tls', 'key'], 'file')
  })
  entries(valueAt(input, ['routes'])).forEach(([i]) => need(['routes', i, 'static', 'root'], 'directory'))
  entries(valueAt(input, ['upstreams'])).forEach(([name]) => need(['upstreams', name, 'tls', 'ca'], 'file'))
  need(['forward', 'mitm', 'upstreamCa'], 'file')
  // The access log's directory is not checked: the log creates it (pino's mkdir).
  return problems
}

function problemWith(path: string, what: Need): string | undefined {
  if (what === 'directory') return directoryProblem(path)
  try {
    if (statSync(path).isDirectory()) return `${path} is a directory, not a file`
    accessSync(path, constants.R_OK)
    return undefined
  } catch (err) {
    return `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`
  }
}

function directoryProblem(dir: string): string | undefined {
  try {
    return statSync(dir).isDirectory() ? undefined : `${dir} is not a directory`
  } catch (err) {
    return `cannot read ${dir} (${(err as NodeJS.ErrnoException).code ?? 'error'})`
  }
}

/** entries lists a list's indexes or a mapping's keys with their values; nothing for other values. */
function entries(value: unknown): [string | number, unknown][] {
  if (Array.isArray(value)) return value.map((v, i) => [i, v])
  if (typeof value === 'object' && value !== null) return Object.entries(value)
  return []
}
