/**
 * Merging the files of a configuration into the one input the schema
 * validates, remembering where every part came from so a problem found in
 * the merged input is reported in the file, line and key path it was written
 * at. Lists (`routes`, `listen`) are concatenated in reading order, maps
 * (`upstreams`) merged by name, and any other section may be defined in one
 * file only.
 */
import type { ConfigProblem } from './errors.ts'
import { describeValue } from './issue-messages.ts'
import { configSchema } from './schema.ts'
import { type SectionKind, sectionKind } from './schema-keys.ts'
import { isPlainObject, problemAt, type Source } from './sources.ts'
import type { KeyPath } from './yaml-nodes.ts'

/** Where a key path of the merged input was written. */
export interface Origin {
  source: Source
  /** The key path as written in `source`. */
  path: KeyPath
}

export interface Merged {
  input: unknown
  /** Sections defined twice, duplicate names, included files that are not mappings. */
  problems: ConfigProblem[]
  origin(path: KeyPath): Origin
}

/** Where one top-level section of the merged input came from. */
type SectionOrigin =
  | { kind: 'single'; source: Source }
  | { kind: 'list'; first: Source; items: { source: Source; index: number }[] }
  | { kind: 'map'; first: Source; keys: Map<string, Source> }

interface Definition {
  source: Source
  value: unknown
}

/**
 * mergeSources combines `sources` (the main file first). A single source
 * passes through untouched, so a file without includes validates exactly
 * as written.
 */
export function mergeSources(sources: readonly Source[]): Merged {
  const main = sources[0]!
  if (sources.length === 1)
    return { input: main.value, problems: [], origin: (path) => ({ source: main, path }) }
  const problems: ConfigProblem[] = []
  const sections = new Map<string, Definition[]>()
  for (const source of sources) {
    if (!isPlainObject(source.value)) {
      const message = `an included file must be a mapping of top-level keys, got ${describeValue(source.value)}`
      problems.push(problemAt({ source, path: [] }, message))
      continue
    }
    for (const [key, value] of Object.entries(source.value)) {
      const defs = sections.get(key) ?? []
      defs.push({ source, value })
      sections.set(key, defs)
    }
  }
  const input: Record<string, unknown> = {}
  const origins = new Map<string, SectionOrigin>()
  for (const [key, defs] of sections) {
    const merged = mergeSection(key, defs, sectionKind(configSchema, key), problems)
    input[key] = merged.value
    origins.set(key, merged.origin)
  }
  return { input, problems, origin: (path) => originOf(path, origins, main) }
}

function mergeSection(
  key: string,
  defs: Definition[],
  kind: SectionKind,
  problems: ConfigProblem[],
): { value: unknown; origin: SectionOrigin } {
  const first = defs[0]!
  if (defs.length === 1) return { value: first.value, origin: { kind: 'single', source: first.source } }
  if (kind === 'list') return concatLists(key, defs, problems)
  if (kind === 'map') return mergeMaps(key, defs, problems)
  for (const def of defs) {
    const others = defs.filter((d) => d !== def).map((d) => where(d.source, [key], 'key'))
    const message = `defined more than once (also at ${others.join(', ')}); only lists and maps combine across files`
    problems.push(problemAt({ source: def.source, path: [key] }, message, 'key'))
  }
  return { value: first.value, origin: { kind: 'single', source: first.source } }
}

function concatLists(key: string, defs: Definition[], problems: ConfigProblem[]) {
  const value: unknown[] = []
  const items: { source: Source; index: number }[] = []
  for (const { source, value: list } of defs) {
    if (!Array.isArray(list)) {
      problems.push(problemAt({ source, path: [key] }, `expected a list, got ${describeValue(list)}`))
      continue
    }
    list.forEach((item, index) => {
      value.push(item)
      items.push({ source, index })
    })
  }
  return { value, origin: { kind: 'list', first: defs[0]!.source, items } as const }
}

function mergeMaps(key: string, defs: Definition[], problems: ConfigProblem[]) {
  const value: Record<string, unknown> = {}
  const keys = new Map<string, Source>()
  for (const { source, value: map } of defs) {
    if (!isPlainObject(map)) {
      problems.push(problemAt({ source, path: [key] }, `expected a mapping, got ${describeValue(map)}`))
      continue
    }
    for (const [name, entry] of Object.entries(map)) {
      const earlier = keys.get(name)
      if (earlier === undefined) {
        value[name] = entry
        keys.set(name, source)
        continue
      }
      // Both places are reported: either one may be the mistake.
      const path = [key, name]
      problems.push(problemAt({ source: earlier, path }, duplicate(name, where(source, path, 'key')), 'key'))
      problems.push(problemAt({ source, path }, duplicate(name, where(earlier, path, 'key')), 'key'))
    }
  }
  return { value, origin: { kind: 'map', first: defs[0]!.source, keys } as const }
}

function duplicate(name: string, elsewhere: string): string {
  return `'${name}' is defined more than once (also at ${elsewhere})`
}

/** where renders `FILE:LINE:COL` of a key path in a source, for messages that point elsewhere. */
function where(source: Source, path: KeyPath, pointAt: 'key' | 'value'): string {
  const p = problemAt({ source, path }, '', pointAt)
  return `${p.file}:${p.line}:${p.col}`
}

function originOf(path: KeyPath, origins: ReadonlyMap<string, SectionOrigin>, main: Source): Origin {
  const section = origins.get(String(path[0]))
  if (path.length === 0 || section === undefined) return { source: main, path }
  if (section.kind === 'single') return { source: section.source, path }
  if (section.kind === 'list') {
    const item = typeof path[1] === 'number' ? section.items[path[1]] : undefined
    if (item === undefined) return { source: section.first, path }
    return { source: item.source, path: [path[0]!, item.index, ...path.slice(2)] }
  }
  return { source: section.keys.get(String(path[1])) ?? section.first, path }
}
