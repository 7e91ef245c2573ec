/**
 * Loading a configuration: read the file and the files it includes, parse
 * YAML (JSON is YAML) keeping positions, interpolate the environment, merge
 * the files, validate against `configSchema`, resolve relative file paths
 * against the directory of the file that wrote them. Every problem is
 * collected and returned at once, sorted by file and position, never thrown.
 */
import { dirname, resolve } from 'node:path'
import { type ConfigProblem, compareProblems, formatProblem } from './errors.ts'
import { type DirOf, fileProblems } from './file-checks.ts'
import type { Environment } from './interpolate.ts'
import { type Locator, problemsFromIssues } from './issues.ts'
import { mergeSources } from './merge.ts'
import { configSchema, type GatewayConfig } from './schema.ts'
import { type ConfigInputs, readSourceTree } from './sources.ts'
import { type KeyPath, offsetOf } from './yaml-nodes.ts'

export { ConfigError, type ConfigProblem, formatProblem } from './errors.ts'
export type { ConfigInputs } from './sources.ts'

/**
 * The outcome of loading or validating a configuration. `inputs` names the
 * files it was read from (also when it is invalid, so a watcher can wait for
 * a fix) and a digest of their content.
 */
export type LoadResult =
  | { ok: true; config: GatewayConfig; file: string; inputs: ConfigInputs }
  | { ok: false; problems: ConfigProblem[]; inputs: ConfigInputs }

const NO_INPUTS: ConfigInputs = { files: [], patterns: [], digest: '' }

/**
 * loadConfig reads and validates the configuration file at `path` and every
 * file it includes.
 *
 * Returns `{ ok: true, config, file, inputs }` with defaults applied, units
 * converted and relative paths made absolute (`file` is the absolute path of
 * the file); otherwise `{ ok: false, problems, inputs }` with every problem
 * found, sorted by file (in reading order) and position, and `problem.file`
 * spelled as `path` was (included files relative to it). Never throws for a
 * bad file; an unreadable main file is a problem without position.
 */
export async function loadConfig(path: string, env: Environment = process.env): Promise<LoadResult> {
  return load(path, env)
}

/**
 * parseConfigText validates configuration `text` as if read from `file`
 * (used for positions in problems and as the base of relative paths and
 * includes, which are read from disk).
 */
export function parseConfigText(text: string, file: string, env: Environment = process.env): LoadResult {
  return load(file, env, text)
}

function load(file: string, env: Environment, text?: string): LoadResult {
  const tree = readSourceTree(file, env, text)
  const files = tree.sources.map((s) => s.file)
  const order = (problems: ConfigProblem[]) => fail(problems, tree.inputs, files)
  if (tree.fatal.length > 0 || !tree.complete || tree.sources.length === 0) {
    return order([...tree.fatal, ...tree.env])
  }
  const merged = mergeSources(tree.sources)
  const locate: Locator = (path, pointAt) => {
    const { source, path: local } = merged.origin(path)
    const position = source.at(offsetOf(source.doc, local, pointAt))
    return { file: source.file, ...position, path: local.map(String).join('.') }
  }
  const dirOf = (path: KeyPath) => dirname(merged.origin(path).source.abs)
  const checked = check(merged.input, dirOf, locate)
  // A value whose variable is unset also fails the schema; the variable is the cause worth reporting.
  const caused = (p: ConfigProblem) => tree.env.some((e) => e.file === p.file && within(p.path, e.path))
  const problems = [...tree.env, ...merged.problems, ...checked.problems.filter((p) => !caused(p))]
  if (problems.length > 0 || !checked.config) return order(problems)
  return { ok: true, config: checked.config, file: resolve(file), inputs: tree.inputs }
}

/**
 * validateConfig validates a configuration given as an object (the
 * programmatic API and `portcullis proxy`). Problems carry `file: source` and
 * no position (`line: 0, col: 0`); relative paths resolve against `baseDir`.
 * No environment interpolation happens: the caller already has the values,
 * and there are no includes.
 */
export function validateConfig(input: unknown, source = '<config>', baseDir = process.cwd()): LoadResult {
  const locate: Locator = (path) => ({ file: source, line: 0, col: 0, path: path.map(String).join('.') })
  const checked = check(input, () => baseDir, locate)
  if (checked.problems.length > 0 || !checked.config) return fail(checked.problems, NO_INPUTS)
  return { ok: true, config: checked.config, file: source, inputs: NO_INPUTS }
}

/** formatProblems renders problems one per line, as `portcullis check` prints them. */
export function formatProblems(problems: readonly ConfigProblem[]): string {
  return problems.map(formatProblem).join('\n')
}

interface Checked {
  config?: GatewayConfig
  problems: ConfigProblem[]
}

function check(input: unknown, dirOf: DirOf, locate: Locator): Checked {
  const parsed = configSchema.safeParse(input)
  // Files are checked on the raw input, so a missing certificate shows up with the schema's problems.
  const files = fileProblems(input, dirOf, locate)
  if (!parsed.success)
    return { problems: [...problemsFromIssues(parsed.error.issues, input, locate), ...files] }
  return { config: resolvePaths(parsed.data, dirOf), problems: files }
}

/**
 * resolvePaths makes file paths in the config absolute, each relative to the
 * directory of the file it was written in.
 */
function resolvePaths(config: GatewayConfig, dirOf: DirOf): GatewayConfig {
  const listen = config.listen.map((l, i) => {
    if (!l.tls) return l
    const dir = dirOf(['listen', i])
    return { ...l, tls: { cert: resolve(dir, l.tls.cert), key: resolve(dir, l.tls.key) } }
  })
  const routes = config.routes.map((r, i) =>
    r.static ? { ...r, static: { ...r.static, root: resolve(dirOf(['routes', i]), r.static.root) } } : r,
  )
  const upstreams = Object.fromEntries(
    Object.entries(config.upstreams).map(([name, u]) => [
      name,
      u.tls.ca === undefined
        ? u
        : { ...u, tls: { ...u.tls, ca: resolve(dirOf(['upstreams', name]), u.tls.ca) } },
    ]),
  )
  const logPath = config.accessLog.path
  const toStream = logPath === 'stdout' || logPath === 'stderr'
  const accessLog = toStream
    ? config.accessLog
    : { ...config.accessLog, path: resolve(dirOf(['accessLog']), logPath) }
  const logFile = config.log.file
  const log = logFile === undefined ? config.log : { ...config.log, file: resolve(dirOf(['log']), logFile) }
  const forward = forwardPaths(config.forward, dirOf)
  return { ...config, listen, routes, upstreams, accessLog, log, forward }
}

/** forwardPaths: the CA directory and upstream CA file of `forward.mitm`, and `forward.har`'s file, relative to their file. */
function forwardPaths(forward: GatewayConfig['forward'], dirOf: DirOf): GatewayConfig['forward'] {
  if (forward === undefined) return forward
  const { mitm, har } = forward
  const withHar =
    har === undefined
      ? forward
      : { ...forward, har: { ...har, path: resolve(dirOf(['forward', 'har']), har.path) } }
  if (mitm === undefined) return withHar
  const dir = dirOf(['forward', 'mitm'])
  const upstreamCa = mitm.upstreamCa === undefined ? undefined : resolve(dir, mitm.upstreamCa)
  return { ...withHar, mitm: { ...mitm, caDir: resolve(dir, mitm.caDir), upstreamCa } }
}

/**
 * fail dedupes and orders problems: by file in reading order (`files`, the
 * problem file names of the sources), then by position within a file.
 */
function fail(problems: ConfigProblem[], inputs: ConfigInputs, files: readonly string[] = []): LoadResult {
  const seen = new Set<string>()
  const unique = problems.filter((p) => !seen.has(formatProblem(p)) && seen.add(formatProblem(p)))
  const rank = (p: ConfigProblem) => Math.max(files.indexOf(p.file), 0)
  return { ok: false, problems: unique.sort((a, b) => rank(a) - rank(b) || compareProblems(a, b)), inputs }
}

function within(path: string, ancestor: string): boolean {
  return path === ancestor || path.startsWith(`${ancestor}.`) || ancestor === ''
}
