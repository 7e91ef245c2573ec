/**
 * Reading a configuration file and the files it includes. Each file is
 * parsed on its own (keeping positions), interpolated from the environment,
 * and its top-level `include` (a path or glob, or a list of them, relative to
 * the including file) is followed depth first. The result is the list of
 * sources in reading order — the including file before what it includes —
 * ready to be merged (merge.ts), plus every problem met on the way.
 */
import { createHash } from 'node:crypto'
import { globSync, readFileSync, realpathSync, statSync } from 'node:fs'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { type Document, LineCounter, parseDocument } from 'yaml'
import type { ConfigProblem } from './errors.ts'
import { type Environment, interpolateDocument } from './interpolate.ts'
import { describeValue } from './issue-messages.ts'
import { type KeyPath, offsetOf, type PointAt } from './yaml-nodes.ts'

/** One file of a configuration. */
export interface Source {
  /** The file as problems name it: the main file as the user spelled it, included ones relative to it. */
  file: string
  /** The absolute path, the base of relative paths written in the file. */
  abs: string
  doc: Document
  /** The file's top-level value after interpolation, without its `include` key. */
  value: unknown
  /** 1-based line and column of a source offset. */
  at(offset: number): { line: number; col: number }
}

/** What a configuration was read from, for watching it and telling whether it changed. */
export interface ConfigInputs {
  /** Absolute paths of every file read or tried, the main file first. */
  files: string[]
  /** Absolute glob patterns of includes: a new file matching one changes the configuration. */
  patterns: string[]
  /** A digest of every file's path and text in reading order; equal digests mean unchanged inputs. */
  digest: string
}

/** The files of a configuration and the problems met reading them. */
export interface SourceTree {
  sources: Source[]
  /** Problems that make the merged configuration meaningless: unreadable files, syntax errors, broken includes. */
  fatal: ConfigProblem[]
  /** Unset variables and malformed references; reported along with schema problems. */
  env: ConfigProblem[]
  /** False when an include was skipped because its path has an unset variable. */
  complete: boolean
  inputs: ConfigInputs
}

const GLOB_RE = /[*?[\]{}]/

/**
 * readSourceTree reads the configuration file `file` (as the user spelled it)
 * and, depth first, every file it includes. When `text` is given it is the
 * main file's content and the main file is not read from disk (included
 * files still are, relative to `file`).
 */
export function readSourceTree(file: string, env: Environment, text?: string): SourceTree {
  const reader = new TreeReader(env)
  reader.read({ file, abs: resolve(file) }, [], text)
  return reader.result()
}

interface FileRef {
  file: string
  abs: string
}

/** Where an include entry is written, for problems about what it names. */
interface IncludeEntry {
  pattern: string
  source: Source
  path: KeyPath
}

class TreeReader {
  private readonly env: Environment
  private readonly sources: Source[] = []
  private readonly fatal: ConfigProblem[] = []
  private readonly envProblems: ConfigProblem[] = []
  private readonly files: string[] = []
  private readonly patterns: string[] = []
  private readonly digest = createHash('sha256')
  /** An include was skipped for an unset variable: the merged configuration would lack its files. */
  private incomplete = false
  /** Every file read, by real path: its name and the file that included it. */
  private readonly seen = new Map<string, { file: string; by: string }>()

  constructor(env: Environment) {
    this.env = env
  }

  result(): SourceTree {
    const inputs = { files: this.files, patterns: this.patterns, digest: this.digest.digest('hex') }
    const { sources, fatal, envProblems: env, incomplete } = this
    return { sources, fatal, env, complete: !incomplete, inputs }
  }

  /** read loads one file and then what it includes; `chain` holds the including files, outermost first. */
  read(ref: FileRef, chain: readonly FileRef[], text?: string, from?: IncludeEntry): void {
    this.files.push(ref.abs)
    if (text === undefined) {
      try {
        text = readFileSync(ref.abs, 'utf8')
      } catch (err) {
        this.cannotRead(ref, err as NodeJS.ErrnoException, from)
        return
      }
    }
    this.digest.update(`${ref.abs}\0${text}\0`)
    this.seen.set(realPath(ref.abs), { file: ref.file, by: from?.source.file ?? '' })
    const source = this.parse(ref, text)
    if (!source) return
    const entries = this.includeEntries(source)
    this.sources.push(source)
    for (const entry of entries) {
      for (const match of this.expand(entry)) this.include(match, entry, [...chain, ref])
    }
  }

  private cannotRead(ref: FileRef, err: NodeJS.ErrnoException, from: IncludeEntry | undefined): void {
    if (from) {
      this.fatal.push(problemAt(from, `cannot read ${ref.file} (${err.code ?? err.message})`))
    } else {
      const message = `cannot read the configuration file: ${err.message}`
      this.fatal.push({ file: ref.file, line: 0, col: 0, path: '', message })
    }
  }

  /** parse turns a file's text into a Source; syntax errors are fatal and yield none. */
  private parse(ref: FileRef, text: string): Source | undefined {
    const lineCounter = new LineCounter()
    const at = (offset: number) => lineCounter.linePos(offset)
    const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true })
    const fail = (offset: number, message: string) =>
      this.fatal.push({ file: ref.file, ...at(offset), path: '', message })
    if (doc.errors.length > 0) {
      for (const e of doc.errors) fail(e.pos[0], syntaxMessage(e.message))
      return undefined
    }
    for (const p of interpolateDocument(doc, this.env)) {
      this.envProblems.push({ file: ref.file, ...at(p.offset), path: p.path, message: p.message })
    }
    try {
      const value = doc.toJS({ maxAliasCount: 1000 }) ?? {}
      return { file: ref.file, abs: ref.abs, doc, value, at }
    } catch (err) {
      this.fatal.push({ file: ref.file, line: 0, col: 0, path: '', message: (err as Error).message })
      return undefined
    }
  }

  /** includeEntries takes the `include` key out of a source's value and checks its shape. */
  private includeEntries(source: Source): IncludeEntry[] {
    const value = source.value
    if (!isPlainObject(value) || !Object.hasOwn(value, 'include')) return []
    const raw = value.include
    delete value.include
    if (typeof raw !== 'string' && !Array.isArray(raw)) {
      const message = `expected a file path or glob, or a list of them, got ${describeValue(raw)}`
      this.fatal.push(problemAt({ source, path: ['include'] }, message))
      return []
    }
    const entries: [unknown, KeyPath][] = Array.isArray(raw)
      ? raw.map((pattern, i) => [pattern, ['include', i]])
      : [[raw, ['include']]]
    const valid: IncludeEntry[] = []
    for (const [pattern, path] of entries) {
      if (this.envProblems.some((p) => p.file === source.file && p.path === path.join('.'))) {
        // The unset variable is reported already; without the files it names
        // the rest would only add misleading problems.
        this.incomplete = true
      } else if (typeof pattern === 'string' && pattern !== '') {
        valid.push({ pattern, source, path })
      } else {
        const message = `expected a file path or glob, got ${describeValue(pattern)}`
        this.fatal.push(problemAt({ source, path }, message))
      }
    }
    return valid
  }

  /** expand lists the files an include entry names: a glob's matches sorted, or the one path. */
  private expand(entry: IncludeEntry): FileRef[] {
    const dir = dirname(entry.source.abs)
    const name = (match: string) => (isAbsolute(match) ? match : join(dirname(entry.source.file), match))
    if (!GLOB_RE.test(entry.pattern)) return [{ file: name(entry.pattern), abs: resolve(dir, entry.pattern) }]
    this.patterns.push(resolve(dir, entry.pattern))
    return globSync(entry.pattern, { cwd: dir })
      .filter((match) => isFile(resolve(dir, match)))
      .sort(byCodePoint)
      .map((match) => ({ file: name(match), abs: resolve(dir, match) }))
  }

  private include(ref: FileRef, entry: IncludeEntry, chain: readonly FileRef[]): void {
    const real = realPath(ref.abs)
    const cycleAt = chain.findIndex((c) => realPath(c.abs) === real)
    if (cycleAt !== -1) {
      const names = [...chain.slice(cycleAt), ref].map((c) => c.file)
      this.fatal.push(problemAt(entry, `include cycle: ${names.join(' → ')}`))
      return
    }
    const earlier = this.seen.get(real)
    if (earlier !== undefined) {
      const as = earlier.file === ref.file ? '' : ` (as ${earlier.file})`
      this.fatal.push(problemAt(entry, `${ref.file} is already included${as} by ${earlier.by}`))
      return
    }
    this.read(ref, chain, undefined, entry)
  }
}

/** problemAt places a problem at a node of a source. */
export function problemAt(
  where: { source: Source; path: KeyPath },
  message: string,
  pointAt: PointAt = 'value',
): ConfigProblem {
  const { source, path } = where
  const position = source.at(offsetOf(source.doc, path, pointAt))
  return { file: source.file, ...position, path: path.map(String).join('.'), message }
}

function realPath(abs: string): string {
  try {
    return realpathSync.native(abs)
  } catch {
    return abs
  }
}

function isFile(abs: string): boolean {
  try {
    return statSync(abs).isFile()
  } catch {
    return false
  }
}

function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function syntaxMessage(message: string): string {
  return `syntax error: ${message.charAt(0).toLowerCase()}${message.slice(1)}`
}
