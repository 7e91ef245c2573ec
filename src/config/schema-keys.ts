/**
 * The keys a zod object schema accepts at a key path, read from the schema
 * itself so "did you mean" hints can never drift from what is valid.
 */
import type { z } from 'zod'
import type { KeyPath } from './yaml-nodes.ts'

/** The parts of zod 4's schema definitions this walk reads. */
interface SchemaDef {
  type: string
  innerType?: Schema
  in?: Schema
  shape?: Record<string, Schema>
  element?: Schema
  valueType?: Schema
  options?: readonly Schema[]
}

interface Schema {
  _zod: { def: SchemaDef }
}

/**
 * knownKeys returns the keys the object schema at `path` accepts, or `[]`
 * when the path does not lead to an object schema.
 */
export function knownKeys(schema: z.ZodType, path: KeyPath): string[] {
  let current: Schema[] = [schema as unknown as Schema]
  for (const segment of path) current = current.flatMap((s) => child(unwrap(s), segment))
  return [...new Set(current.flatMap((s) => unwrap(s).flatMap(keysOf)))]
}

/** unwrap looks through wrappers (defaults, optionals, transforms) and unions. */
function unwrap(schema: Schema): Schema[] {
  const def = schema._zod.def
  if (def.innerType) return unwrap(def.innerType)
  if (def.type === 'pipe' && def.in) return unwrap(def.in)
  if (def.type === 'union' && def.options) return def.options.flatMap(unwrap)
  return [schema]
}

function child(schemas: Schema[], segment: PropertyKey): Schema[] {
  const out: Schema[] = []
  for (const { _zod } of schemas) {
    const def = _zod.def
    if (
      def.type === 'object' &&
      def.shape &&
      typeof segment === 'string' &&
      Object.hasOwn(def.shape, segment)
    ) {
      out.push(def.shape[segment]!)
    } else if (def.type === 'array' && def.element && typeof segment === 'number') {
      out.push(def.element)
    } else if (def.type === 'record' && def.valueType) {
      out.push(def.valueType)
    }
  }
  return out
}

function keysOf(schema: Schema): string[] {
  const def = schema._zod.def
  return def.type === 'object' && def.shape ? Object.keys(def.shape) : []
}

/** How a top-level section combines across included files. */
export type SectionKind = 'list' | 'map' | 'single'

/**
 * sectionKind says how the top-level key `key` of `schema` combines when
 * several files define it: a list (`routes`, `listen`) is concatenated, a map
 * (`upstreams`) merged by name, anything else may be defined once. A key the
 * schema does not know is `single`, so the schema reports it where it is.
 */
export function sectionKind(schema: z.ZodType, key: string): SectionKind {
  const types = knownSchemas(schema, key)
    .flatMap(unwrap)
    .map((s) => s._zod.def.type)
  if (types.length === 1 && types[0] === 'array') return 'list'
  if (types.length === 1 && types[0] === 'record') return 'map'
  return 'single'
}

function knownSchemas(schema: z.ZodType, key: string): Schema[] {
  return unwrap(schema as unknown as Schema).flatMap((s) => child([s], key))
}
