/**
 * Wording for schema issues. zod's default messages are written for
 * developers ("Invalid input: expected number, received string"); these are
 * written for someone editing a YAML file ("expected a number, got \"eighty\"").
 * Messages the schema sets itself (custom checks, `min(1, '…')`) pass through.
 */
import type { z } from 'zod'
import { nearest } from './schema.ts'

type Issue = z.core.$ZodIssue

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  array: 'a list',
  tuple: 'a list',
  object: 'a mapping',
  record: 'a mapping',
}

/** expectedName names a zod `expected` type the way the docs do. */
export function expectedName(expected: string): string {
  return EXPECTED[expected] ?? expected
}

/** describeValue shows what the user wrote, briefly. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing'
  if (value === null) return 'an empty value'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'a mapping'
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value)
  return String(value)
}

/** issueMessage words one (non-union, non-key) issue; `value` is what sits at its path. */
export function issueMessage(issue: Issue, value: unknown): string {
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${expectedName(issue.expected)}, got ${describeValue(value)}`
    case 'too_small':
      return isDefault(issue.message, 'Too small') ? tooSmall(issue) : issue.message
    case 'too_big':
      return isDefault(issue.message, 'Too big') ? tooBig(issue) : issue.message
    case 'invalid_value':
      // zod words a single value 'Invalid input: …' and several 'Invalid option: …'.
      return isDefault(issue.message, 'Invalid input') || isDefault(issue.message, 'Invalid option')
        ? oneOf(issue.values, value)
        : issue.message
    default:
      return issue.message.replace(/^Invalid (input|string): /, '')
  }
}

function isDefault(message: string, prefix: string): boolean {
  return message.startsWith(`${prefix}:`)
}

function tooSmall(issue: z.core.$ZodIssueTooSmall): string {
  const n = issue.minimum
  if (issue.origin === 'array') return `needs at least ${n} ${n === 1 ? 'entry' : 'entries'}`
  if (issue.origin === 'string') return n === 1 ? 'must not be empty' : `must be at least ${n} characters`
  return issue.inclusive === false ? `must be greater than ${n}` : `must be at least ${n}`
}

function tooBig(issue: z.core.$ZodIssueTooBig): string {
  const n = issue.maximum
  if (issue.origin === 'array') return `has more than ${n} ${n === 1 ? 'entry' : 'entries'}`
  if (issue.origin === 'string') return `must be at most ${n} characters`
  return issue.inclusive === false ? `must be less than ${n}` : `must be at most ${n}`
}

function oneOf(values: readonly unknown[], value: unknown): string {
  const list = values.map((v) => `'${String(v)}'`).join(', ')
  const hint = typeof value === 'string' && values.length > 1 ? nearest(value, values.map(String)) : undefined
  const head = values.length === 1 ? `must be ${list}` : `must be one of ${list}`
  return `${head}, got ${describeValue(value)}${hint ? ` — did you mean '${hint}'?` : ''}`
}

/** unknownKeyMessage says a key is not valid here and suggests the nearest valid one. */
export function unknownKeyMessage(key: string, validKeys: readonly string[]): string {
  const hint = nearest(key, validKeys)
  return `unknown key '${key}'${hint ? ` — did you mean '${hint}'?` : ''}`
}
