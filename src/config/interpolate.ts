/**
 * Environment interpolation. `${NAME}` in a string value is replaced from the
 * environment; `${NAME:-default}` uses `default` when NAME is unset or empty;
 * `$${` writes a literal `${`. It runs on the parsed YAML nodes rather than on
 * the text, so positions of everything else stay exact and a variable's value
 * can never change the structure of the file.
 */
import { type Document, isPair, isScalar, isSeq, type Scalar, visit } from 'yaml'

/** An interpolation failure at a scalar, with the scalar's key path. */
export interface InterpolationProblem {
  offset: number
  path: string
  message: string
}

export type Environment = Readonly<Record<string, string | undefined>>

const REFERENCE_RE = /\$\$\{|\$\{([^}]*)(\}|$)/g
const WHOLE_RE = /^\$\{[^}]*\}$/
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/
const NUMBER_RE = /^-?\d+(?:\.\d+)?$/

/**
 * interpolateDocument replaces references in every string value of `doc` in
 * place (mapping keys are left alone) and returns the problems: unset
 * variables and malformed references. A scalar that is exactly one reference
 * whose text is a number or `true`/`false` becomes that type, so
 * `port: ${PORT}` works in YAML and in JSON (where it must be quoted).
 */
export function interpolateDocument(doc: Document, env: Environment): InterpolationProblem[] {
  const problems: InterpolationProblem[] = []
  visit(doc, {
    Scalar(key, node, ancestors) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('$')) return
      const errors: string[] = []
      node.value = expand(node.value, env, errors)
      for (const message of errors) {
        problems.push({ offset: node.range?.[0] ?? 0, path: keyPath(ancestors, node), message })
      }
    },
  })
  return problems
}

/** expand interpolates one string; failures are appended to `errors`. */
export function expand(text: string, env: Environment, errors: string[]): string | number | boolean {
  const result = text.replace(REFERENCE_RE, function replaceReference(match, body, close) {
    if (match === '$${') return '${'
    if (close !== '}') {
      errors.push(`unterminated '\${' (write '$\${' for a literal '\${')`)
      return match
    }
    return lookup(body, env, errors) ?? match
  })
  if (errors.length === 0 && WHOLE_RE.test(text)) return coerce(result)
  return result
}

function lookup(body: string, env: Environment, errors: string[]): string | undefined {
  const sep = body.indexOf(':-')
  const name = sep === -1 ? body : body.slice(0, sep)
  if (!NAME_RE.test(name)) {
    errors.push(`invalid environment variable reference '\${${body}}'`)
    return undefined
  }
  const value = env[name]
  if (sep !== -1) return value === undefined || value === '' ? body.slice(sep + 2) : value
  if (value === undefined) errors.push(`environment variable ${name} is not set`)
  return value
}

function coerce(text: string): string | number | boolean {
  if (NUMBER_RE.test(text)) return Number(text)
  if (text === 'true') return true
  if (text === 'false') return false
  return text
}

/** keyPath renders the dotted key path of `node` from the visitor's ancestor list. */
function keyPath(ancestors: readonly unknown[], node: Scalar): string {
  const parts: string[] = []
  const chain = [...ancestors, node]
  for (let i = 0; i < chain.length - 1; i++) {
    const here = chain[i]
    const next = chain[i + 1]
    if (isPair(here) && isScalar(here.key)) parts.push(String(here.key.value))
    if (isSeq(here)) parts.push(String(here.items.indexOf(next as never)))
  }
  return parts.join('.')
}
