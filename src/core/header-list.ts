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

/** sameName compares field names ASCII case-insensitively, cheaply rejecting on length first. */
export function sameName(a: string, b: string): boolean {
  return a.length === b.length && (a === b || a.toLowerCase() === b.toLowerCase())
}
