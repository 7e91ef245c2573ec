/**
 * Configuration problems as data. Every problem the loader finds (YAML
 * syntax, unset environment variables, schema violations, unreadable files)
 * becomes one `ConfigProblem`, so `portcullis check` can print them all at
 * once, one per line, in the format editors and CI annotations understand.
 */

/**
 * One thing wrong with a configuration.
 *
 * `line` and `col` are 1-based. A problem with no position in a file (the
 * file cannot be read, or the configuration was given as an object rather
 * than text) has `line: 0, col: 0`. `path` is the dotted key path of the
 * offending node (`routes.0.upstream`); it is `''` for problems that belong
 * to no key, such as YAML syntax errors.
 */
export interface ConfigProblem {
  file: string
  line: number
  col: number
  path: string
  message: string
}

/**
 * formatProblem renders a problem as `FILE:LINE:COL key.path: message`.
 *
 * When the problem has no position (`line` 0) the `:LINE:COL` part is left
 * out (`FILE key.path: message`); when it has no key path, the path and its
 * colon are left out (`FILE:LINE:COL message`).
 */
export function formatProblem(p: ConfigProblem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}:${p.col}` : p.file
  return p.path === '' ? `${where} ${p.message}` : `${where} ${p.path}: ${p.message}`
}

/** compareProblems orders problems by file position; positionless ones come first. */
export function compareProblems(a: ConfigProblem, b: ConfigProblem): number {
  return a.line - b.line || a.col - b.col || a.path.localeCompare(b.path)
}

/**
 * ConfigError is thrown by APIs that cannot return problems as a value (for
 * example `createGateway(path)` given an invalid file). Its message holds one
 * formatted problem per line; `problems` holds them as data.
 */
export class ConfigError extends Error {
  readonly code = 'PORTCULLIS_CONFIG_INVALID'
  readonly problems: readonly ConfigProblem[]

  constructor(problems: readonly ConfigProblem[]) {
    super(`invalid configuration:\n${problems.map(formatProblem).join('\n')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}
