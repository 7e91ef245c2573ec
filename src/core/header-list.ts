/**
 * HeaderList is a view over a flat `[name, value, name, value, …]` array,
 * the form the parser produces and the serializer consumes. It keeps the
 * original case and order (RFC 9110 §5.3: order of same-name fields matters)
 * and compares names case-insensitively.
 */
export class HeaderList {
  /** The underlying flat array; mutations are visible to whoever shares it. */
  readonly raw: string[]

  constructor(raw: string[] = []) {
    this.raw = raw
  }

  /** get returns the first value of `name`, or undefined. */
  get(name: string): string | undefined {
    const raw = this.raw
    for (let i = 0; i < raw.length; i += 2) {
      if (sameName(raw[i]!, name)) return raw[i + 1]
    }
    return undefined
  }

  /** getAll returns every value of `name` in order. */
  getAll(name: string): string[] {
    const out: string[] = []
    for (let i = 0; i < this.raw.length; i += 2) {
      if (sameName(this.raw[i]!, name)) out.push(this.raw[i + 1]!)
    }
    return out
  }

  has(name: string): boolean {
    return this.get(name) !== undefined
  }

  /** set replaces every field named `name` with one (at the first one's place, or at the end). */
  set(name: string, value: string): void {
    checkField(name, value)
    const raw = this.raw
    let at = -1
    for (let i = 0; i < raw.length; i += 2) {
      if (!sameName(raw[i]!, name)) continue
      if (at === -1) {
        at = i
        raw[i + 1] = value
      } else {
        raw.splice(i, 2)
        i -= 2
      }
    }
    if (at === -1) raw.push(name, value)
  }

  append(name: string, value: string): void {
    checkField(name, value)
    this.raw.push(name, value)
  }

  /** delete removes every field named `name`; returns whether any was. */
  delete(name: string): boolean {
    const raw = this.raw
    let found = false
    for (let i = raw.length - 2; i >= 0; i -= 2) {
      if (sameName(raw[i]!, name)) {
        raw.splice(i, 2)
        found = true
      }
    }
    return found
  }

  *entries(): IterableIterator<[string, string]> {
    for (let i = 0; i < this.raw.length; i += 2) yield [this.raw[i]!, this.raw[i + 1]!]
  }
}

/** RFC 9110 §5.6.2: field names are tokens. */
const NAME_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
/** RFC 9110 §5.5: no CR, LF or NUL in a value (they would end the field or the head); other CTLs but HTAB neither. */
const BAD_VALUE_RE = /[\x00-\x08\x0a-\x1f\x7f]/

/**
 * checkField refuses a field a hook adds that could not be sent as is: a
 * CR or LF in it would split the message (response splitting, RFC 9112
 * §11.1). Node's http module refuses these the same way.
 */
function checkField(name: string, value: string): void {
  if (!NAME_RE.test(name)) throw new TypeError(`invalid header name ${JSON.stringify(name)}`)
  if (typeof value !== 'string' || BAD_VALUE_RE.test(value))
    throw new TypeError(`invalid value for header ${name}`)
}

/** sameName compares field names ASCII case-insensitively, cheaply rejecting on length first. */
export function sameName(a: string, b: string): boolean {
  return a.length === b.length && (a === b || a.toLowerCase() === b.toLowerCase())
}
