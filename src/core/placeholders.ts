/**
 * Placeholders: request facts substituted into configured text at request
 * time — header values, redirect targets, rewritten paths and hosts.
 *
 * The syntax is `{name}` (`{client.ip}`, `{params.id}`). It cannot collide
 * with the loader's `${NAME}` environment interpolation: that runs first, at
 * load time, and only on `$`-prefixed references. `{{` and `}}` write literal
 * braces. Every placeholder is checked when the configuration is validated;
 * an unknown one is a configuration error, never an empty string at run time.
 */
import type { Session } from './session.ts'

/** A request fact a placeholder reads. */
type Getter = (session: Session) => string

const GETTERS: Readonly<Record<string, Getter>> = {
  'client.ip': (s) => s.clientAddress,
  'client.port': (s) => String(s.clientPort),
  'request.id': (s) => s.id,
  'request.method': (s) => s.method,
  'request.scheme': (s) => (s.tls ? 'https' : 'http'),
  'request.host': (s) => s.host,
  'request.hostname': (s) => hostname(s.host),
  'request.path': (s) => s.path,
  'request.query': (s) => s.query,
  'request.uri': (s) => s.head.target,
  'route.name': (s) => s.route?.name ?? '',
}

/** The names a template may use, for docs and error messages. */
export const PLACEHOLDER_NAMES: readonly string[] = [...Object.keys(GETTERS), 'params.NAME', 'env.NAME']

const PARAM_NAME_RE = /^[A-Za-z0-9_]+$/
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/

/** What a template may refer to besides the fixed request facts. */
export interface TemplateScope {
  /** Parameter names the route's path matcher captures; undefined accepts any name (syntax check only). */
  readonly params?: ReadonlySet<string> | undefined
  /** Where `{env.NAME}` is read, once, when the template is compiled. */
  readonly env?: Readonly<Record<string, string | undefined>>
}

/** A compiled template. `constant` is set when it has no request-time placeholder. */
export interface Template {
  readonly source: string
  readonly constant: string | undefined
  /** The placeholder names it uses (`params.id`, `request.path` …). */
  readonly names: readonly string[]
  render(session: Session): string
}

/** A template that did not compile, with the offset of the offending `{`. */
export class TemplateError extends Error {
  readonly offset: number
  constructor(message: string, offset: number) {
    super(message)
    this.name = 'TemplateError'
    this.offset = offset
  }
}

/**
 * compileTemplate parses `text` into a Template. Throws TemplateError for an
 * unterminated or unknown placeholder, a parameter the route does not
 * capture, or an unset `{env.NAME}`.
 */
export function compileTemplate(text: string, scope: TemplateScope = {}): Template {
  const parts: (string | Getter)[] = []
  const names: string[] = []
  let literal = ''
  let i = 0
  while (i < text.length) {
    const c = text[i]!
    if ((c === '{' || c === '}') && text[i + 1] === c) {
      literal += c
      i += 2
      continue
    }
    if (c !== '{') {
      literal += c
      i++
      continue
    }
    const close = text.indexOf('}', i + 1)
    if (close === -1)
      throw new TemplateError(`unterminated placeholder at ${i} (write {{ for a literal {)`, i)
    const name = text.slice(i + 1, close)
    const resolved = resolve(name, scope, i)
    names.push(name)
    if (typeof resolved === 'string') literal += resolved
    else {
      if (literal !== '') parts.push(literal)
      literal = ''
      parts.push(resolved)
    }
    i = close + 1
  }
  if (literal !== '') parts.push(literal)
  return makeTemplate(text, parts, names)
}

/** templateProblem returns why `text` does not compile, or undefined when it does. */
export function templateProblem(text: string, scope: TemplateScope = {}): string | undefined {
  try {
    compileTemplate(text, scope)
    return undefined
  } catch (err) {
    if (err instanceof TemplateError) return err.message
    throw err
  }
}

/** resolve returns a getter for a request-time placeholder, or the text of an `{env.NAME}`. */
function resolve(name: string, scope: TemplateScope, at: number): Getter | string {
  const getter = GETTERS[name]
  if (getter !== undefined) return getter
  if (name.startsWith('params.')) {
    const param = name.slice(7)
    if (!PARAM_NAME_RE.test(param))
      throw new TemplateError(`invalid parameter name in {${name}} at ${at}`, at)
    if (scope.params !== undefined && !scope.params.has(param)) {
      const known = [...scope.params].map((p) => `{params.${p}}`).join(', ') || 'none'
      throw new TemplateError(
        `{${name}} at ${at}: the route's path does not capture '${param}' (captured: ${known})`,
        at,
      )
    }
    return function paramValue(s: Session): string {
      return s.params[param] ?? ''
    }
  }
  if (name.startsWith('env.')) {
    const variable = name.slice(4)
    if (!ENV_NAME_RE.test(variable))
      throw new TemplateError(`invalid variable name in {${name}} at ${at}`, at)
    const value = (scope.env ?? process.env)[variable]
    if (value === undefined) throw new TemplateError(`environment variable ${variable} is not set`, at)
    if (/[\r\n\0]/.test(value))
      throw new TemplateError(`environment variable ${variable} contains a line break`, at)
    return value
  }
  throw new TemplateError(
    `unknown placeholder {${name}} at ${at} (known: ${PLACEHOLDER_NAMES.map((n) => `{${n}}`).join(', ')}; write {{ for a literal {)`,
    at,
  )
}

function makeTemplate(source: string, parts: readonly (string | Getter)[], names: string[]): Template {
  if (parts.length === 0) return constantTemplate(source, '', names)
  if (parts.length === 1 && typeof parts[0] === 'string') return constantTemplate(source, parts[0], names)
  if (parts.length === 1) {
    const only = parts[0] as Getter
    return { source, constant: undefined, names, render: only }
  }
  return {
    source,
    constant: undefined,
    names,
    render(session: Session): string {
      let out = ''
      for (let i = 0; i < parts.length; i++) {
        const p = parts[i]!
        out += typeof p === 'string' ? p : p(session)
      }
      return out
    },
  }
}

function constantTemplate(source: string, value: string, names: string[]): Template {
  return { source, constant: value, names, render: () => value }
}

/** hostname drops the port from a Host value and lowercases it, keeping IPv6 brackets. */
function hostname(host: string): string {
  const colon = host.lastIndexOf(':')
  const end = colon !== -1 && host.indexOf(']', colon) === -1 ? colon : host.length
  return host.slice(0, end).toLowerCase()
}
