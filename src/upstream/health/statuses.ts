/**
 * statusTable compiles a configured status list (numbers and `"200-299"`
 * ranges, see config/health-schema.ts) into a lookup table indexed by
 * status: one array read per check, on the request path for passive checks.
 */
export function statusTable(list: readonly (number | string)[]): Uint8Array {
  const table = new Uint8Array(600)
  for (const item of list) {
    if (typeof item === 'number') {
      table[item] = 1
      continue
    }
    const [lo, hi] = item.split('-').map(Number) as [number, number]
    for (let s = lo; s <= hi && s < 600; s++) table[s] = 1
  }
  return table
}
