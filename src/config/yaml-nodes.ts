/**
 * Mapping configuration key paths back to where they were written, so a
 * schema issue at `routes.0.upstream` can be reported at `FILE:LINE:COL`.
 */
import { type Document, isAlias, isCollection, isMap, isScalar, isSeq, type Node } from 'yaml'

/** A key path as zod reports it: object keys and array indices. */
export type KeyPath = readonly PropertyKey[]

/**
 * Where to point for a key path:
 * - `value`: at the value (for a block mapping or list, at its key instead,
 *   because the collection itself starts on the line below);
 * - `key`: at the key itself (unknown keys, invalid record keys).
 */
export type PointAt = 'value' | 'key'

interface Found {
  /** Segments of the path that exist in the document. */
  depth: number
  /** The node reached after `depth` segments, if it has a node. */
  node: Node | undefined
  /** The key of the last mapping entry walked through, if any. */
  key: Node | undefined
}

/**
 * offsetOf returns the source offset for a key path. When the path does not
 * fully exist (a missing key), it points at the deepest part that does, which
 * is where the user would add the missing key.
 */
export function offsetOf(doc: Document, path: KeyPath, at: PointAt): number {
  const found = walk(doc, path)
  const complete = found.depth === path.length
  if (at === 'key' && complete && found.key?.range) return found.key.range[0]
  const node = found.node
  const blockCollection = isCollection(node) && !node.flow
  if (blockCollection && found.key?.range) return found.key.range[0]
  return node?.range?.[0] ?? found.key?.range?.[0] ?? 0
}

function walk(doc: Document, path: KeyPath): Found {
  let node = deref(doc, doc.contents)
  let key: Node | undefined
  let depth = 0
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment))
      if (!pair) break
      key = pair.key as Node
      node = deref(doc, pair.value as Node | null)
    } else if (isSeq(node) && typeof segment === 'number' && segment < node.items.length) {
      key = undefined
      node = deref(doc, node.items[segment] as Node | null)
    } else {
      break
    }
    depth++
    if (!node) break
  }
  return { depth, node, key }
}

/** deref follows an alias (`*name`) to its anchored node, so issues inside it have a place. */
function deref(doc: Document, node: Node | null | undefined): Node | undefined {
  if (isAlias(node)) return node.resolve(doc) as Node | undefined
  return node ?? undefined
}
