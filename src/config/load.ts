/**
 * Loading a configuration: read the file, parse YAML (JSON is YAML) keeping
 * positions, interpolate the environment, validate against `configSchema`,
 * resolve relative file paths against the file's directory. Every problem is
 * collected and returned at once, sorted by position, never thrown.
 */
import { accessSync, constants } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { LineCounter, parseDocument } from 'yaml'
import { type ConfigProblem, compareProblems, formatProblem } from './errors.ts'
import { type Environment, interpolateDocument } from './interpolate.ts'
import { type Locator, problemsFromIssues } from './issues.ts'
import { configSchema, type GatewayConfig } from './schema.ts'
import { offsetOf } from './yaml-nodes.ts'

export { ConfigError, type ConfigProblem, formatProblem } from './errors.ts'

/** The outcome of loading or validating a configuration. */
export type LoadResult =
  | { ok: true; config: GatewayConfig; file: string }
  | { ok: false; problems: ConfigProblem[] }

const NO_POSITION: Locator = () => ({ line: 0, col: 0 })

/**
 * loadConfig reads and validates the configuration file at `path`.
 *
 * Returns `{ ok: true, config, file }` with defaults applied, units converted
 * and relative paths made absolute (`file` is the absolute path of the file);
 * otherwise `{ ok: false, problems }` with every problem found, sorted by
 * position, and `problem.file` spelled as `path` was. Never throws for a bad
 * file; an unreadable file is a problem without position.
 */
export async function loadConfig(path: string, env: Environment = process.env): Promise<LoadResult> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    const message = `cannot read the configuration file: ${(err as Error).message}`
    return { ok: false, problems: [{ file: path, line: 0, col: 0, path: '', message }] }
  }
  return parseConfigText(text, path, env)
}

/**
 * parseConfigText validates configuration `text` as if read from `file`
 * (used for positions in problems and as the base of relative paths).
 */
export function parseConfigText(text: string, file: string, env: Environment = process.env): LoadResult {
  const lineCounter = new LineCounter()
  const at = (offset: number) => lineCounter.linePos(offset)
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true })
  if (doc.errors.length > 0) {
    return fail(
      doc.errors.map((e) => ({ file, ...at(e.pos[0]), path: '', message: syntaxMessage(e.message) })),
    )
  }
  const envProblems = interpolateDocument(doc, env).map((p) => ({
    file,
    ...at(p.offset),
    path: p.path,
    message: p.message,
  }))
  let input: unknown
  try {
    input = doc.toJS({ maxAliasCount: 1000 }) ?? {}
  } catch (err) {
    return fail([...envProblems, { file, line: 0, col: 0, path: '', message: (err as Error).message }])
  }
  const locate: Locator = (path, pointAt) => at(offsetOf(doc, path, pointAt))
  const checked = check(input, file, dirname(resolve(file)), locate)
  // A value whose variable is unset also fails the schema; the variable is the cause worth reporting.
  const schemaProblems = checked.problems.filter((p) => !envProblems.some((e) => within(p.path, e.path)))
  const problems = [...envProblems, ...schemaProblems]
  if (problems.length > 0 || !checked.config) return fail(problems)
  return { ok: true, config: checked.config, file: resolve(file) }
}

/**
 * validateConfig validates a configuration given as an object (the
 * programmatic API and `portcullis proxy`). Problems carry `file: source` and
 * no position (`line: 0, col: 0`); relative paths resolve against `baseDir`.
 * No environment interpolation happens: the caller already has the values.
 */
export function validateConfig(input: unknown, source = '<config>', baseDir = process.cwd()): LoadResult {
  const checked = check(input, source, baseDir, NO_POSITION)
  if (checked.problems.length > 0 || !checked.config) return fail(checked.problems)
  return { ok: true, config: checked.config, file: source }
}

/** formatProblems renders problems one per line, as `portcullis check` prints them. */
export function formatProblems(problems: readonly ConfigProblem[]): string {
  return problems.map(formatProblem).join('\n')
}

interface Checked {
  config?: GatewayConfig
  problems: ConfigProblem[]
}

function check(input: unknown, file: string, baseDir: string, locate: Locator): Checked {
  const parsed = configSchema.safeParse(input)
  if (!parsed.success) return { problems: problemsFromIssues(parsed.error.issues, input, file, locate) }
  const config = resolvePaths(parsed.data, baseDir)
  return { config, problems: unreadableFiles(config, file, locate) }
}

/** resolvePaths makes file paths in the config absolute, relative to `baseDir`. */
function resolvePaths(config: GatewayConfig, baseDir: string): GatewayConfig {
  const listen = config.listen.map((l) =>
    l.tls ? { ...l, tls: { cert: resolve(baseDir, l.tls.cert), key: resolve(baseDir, l.tls.key) } } : l,
  )
  const logPath = config.accessLog.path
  const toStream = logPath === 'stdout' || logPath === 'stderr'
  const accessLog = toStream ? config.accessLog : { ...config.accessLog, path: resolve(baseDir, logPath) }
  return { ...config, listen, accessLog }
}

/** unreadableFiles reports TLS files that cannot be read, so `check` catches them before `start` does. */
function unreadableFiles(config: GatewayConfig, file: string, locate: Locator): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  config.listen.forEach((l, i) => {
    for (const which of ['cert', 'key'] as const) {
      const path = l.tls?.[which]
      const reason = path === undefined ? undefined : unreadable(path)
      if (reason === undefined) continue
      const keyPath = ['listen', i, 'tls', which]
      problems.push({ file, ...locate(keyPath, 'value'), path: keyPath.join('.'), message: reason })
    }
  })
  return problems
}

function unreadable(path: string): string | undefined {
  try {
    accessSync(path, constants.R_OK)
    return undefined
  } catch (err) {
    return `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`
  }
}

function fail(problems: ConfigProblem[]): LoadResult {
  const seen = new Set<string>()
  const unique = problems.filter((p) => !seen.has(formatProblem(p)) && seen.add(formatProblem(p)))
  return { ok: false, problems: unique.sort(compareProblems) }
}

function within(path: string, ancestor: string): boolean {
  return path === ancestor || path.startsWith(`${ancestor}.`) || ancestor === ''
}

function syntaxMessage(message: string): string {
  return `syntax error: ${message.charAt(0).toLowerCase()}${message.slice(1)}`
}
