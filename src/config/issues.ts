/**
 * Turning zod issues into `ConfigProblem`s that point at the right place:
 * unknown keys at the key, missing keys at their parent, everything else at
 * the offending value.
 */
import type { z } from 'zod'
import type { ConfigProblem } from './errors.ts'
import { describeValue, expectedName, issueMessage, unknownKeyMessage } from './issue-messages.ts'
import { configSchema, nearest } from './schema.ts'
import { knownKeys } from './schema-keys.ts'
import type { KeyPath, PointAt } from './yaml-nodes.ts'

type Issue = z.core.$ZodIssue

/**
 * Where a key path of the validated input was written: the file, the 1-based
 * line and column (`0, 0` when unknown) and the key path as written in that
 * file (which differs from the merged one for items of an included file).
 */
export type Place = Omit<ConfigProblem, 'message'>

/** Locator gives the place of a key path of the validated input. */
export type Locator = (path: KeyPath, at: PointAt) => Place

/** Top-level keys the loader handles itself, before the schema sees the file. */
const LOADER_KEYS = ['include']

/**
 * problemsFromIssues converts the issues of `configSchema.safeParse(input)`
 * into problems placed by `locate`. Union issues are opened up so the user
 * sees why the value failed, not "Invalid input".
 */
export function problemsFromIssues(
  issues: readonly Issue[],
  input: unknown,
  locate: Locator,
): ConfigProblem[] {
  function problem(path: KeyPath, at: PointAt, message: string): ConfigProblem {
    return { ...locate(path, at), message }
  }
  const out: ConfigProblem[] = []
  const opened = issues.flatMap(openUnion)
  const misspelt = misspeltKeys(opened)
  for (const issue of opened) {
    const path = issue.path
    // `adress:` is one mistake: its "did you mean 'address'" says it, not also "missing address".
    if (misspelt.has(pathKey(path)) && valueAt(input, path) === undefined) continue
    if (issue.code === 'unrecognized_keys') {
      const valid = knownKeys(configSchema, path)
      if (path.length === 0) valid.push(...LOADER_KEYS)
      for (const key of issue.keys) out.push(problem([...path, key], 'key', unknownKeyMessage(key, valid)))
    } else if (issue.code === 'invalid_key') {
      const reasons = issue.issues.map((i) => issueMessage(i, path.at(-1))).join('; ')
      out.push(problem(path, 'key', `invalid name '${String(path.at(-1))}': ${reasons}`))
    } else if (issue.code === 'invalid_type' && isMissingKey(input, path)) {
      out.push(problem(path.slice(0, -1), 'value', `missing required key '${String(path.at(-1))}'`))
    } else if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const expected = issue.errors.map((b) =>
        b[0]?.code === 'invalid_type' ? expectedName(b[0].expected) : '?',
      )
      const got = describeValue(valueAt(input, path))
      out.push(problem(path, 'value', `expected ${[...new Set(expected)].join(' or ')}, got ${got}`))
    } else {
      out.push(problem(path, 'value', issueMessage(issue, valueAt(input, path))))
    }
  }
  return out
}

/**
 * misspeltKeys: the key paths that unknown keys' "did you mean" suggestions
 * point at (`listen.0.address` for a `listen.0.adress`).
 */
function misspeltKeys(issues: readonly Issue[]): Set<string> {
  const paths = new Set<string>()
  for (const issue of issues) {
    if (issue.code !== 'unrecognized_keys') continue
    const valid = knownKeys(configSchema, issue.path)
    for (const key of issue.keys) {
      const hint = nearest(key, valid)
      if (hint !== undefined) paths.add(pathKey([...issue.path, hint]))
    }
  }
  return paths
}

function pathKey(path: KeyPath): string {
  return path.map(String).join('\0')
}

/**
 * openUnion replaces a union issue by the issues of the branch the value
 * matched in type (a list of strings where one item is a number reports that
 * item). When no branch matched the type, the union issue stays and is
 * worded as "expected a string or a list".
 */
function openUnion(issue: Issue): Issue[] {
  if (issue.code !== 'invalid_union') return [issue]
  const typeMatched = issue.errors.filter((branch) => !isRootTypeFailure(branch))
  if (issue.errors.length === 0 || typeMatched.length === 0) return [issue]
  return typeMatched[0]!.flatMap((inner) => openUnion({ ...inner, path: [...issue.path, ...inner.path] }))
}

function isRootTypeFailure(branch: readonly Issue[]): boolean {
  return branch.length === 1 && branch[0]!.code === 'invalid_type' && branch[0]!.path.length === 0
}

function isMissingKey(input: unknown, path: KeyPath): boolean {
  if (path.length === 0) return false
  const parent = valueAt(input, path.slice(0, -1))
  const key = path.at(-1)
  return isPlainObject(parent) && typeof key === 'string' && !Object.hasOwn(parent, key)
}

/** valueAt reads the raw input at a key path. */
export function valueAt(input: unknown, path: KeyPath): unknown {
  let value = input
  for (const segment of path) {
    if (Array.isArray(value) && typeof segment === 'number') value = value[segment]
    else if (isPlainObject(value) && typeof segment === 'string' && Object.hasOwn(value, segment))
      value = value[segment]
    else return undefined
  }
  return value
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
