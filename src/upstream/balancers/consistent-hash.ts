/**
 * Consistent hashing on a ring with virtual nodes (Karger et al., 1997; the
 * ketama layout nginx's `hash … consistent` and Envoy's RING_HASH use).
 *
 * Why a ring and not Maglev: removing a target from a ring moves exactly the
 * keys that target held and no other, which is the property sticky routing
 * is bought for (a cache behind the gateway keeps its hit rate). Maglev's
 * table balances a little more evenly and looks up in O(1), but a change
 * also moves a small share of other targets' keys. Lookup here is a binary
 * search over the points (about ten steps for three targets).
 *
 * Each target owns `1024 × weight` points placed by hashing its identity, so
 * a target's points do not depend on the others and remapping stays minimal
 * (fewer per weight unit when the total weight passes 128, to bound the ring
 * at 131 072 points). With 1024 points a target's share of the ring is
 * within about 2% of its weighted share (160, ketama's count, gives 4-5%,
 * and up to 20% off for unlucky names). The ring is built once per
 * `available` array.
 *
 * Bounded load (Mirrokni, Thorup, Zadimoghaddam, "Consistent Hashing with
 * Bounded Loads", 2016): with `boundedLoad: c`, no target takes a request
 * while it has more than c × its weighted share of the tries in flight;
 * the walk goes clockwise to the next target under its bound. Keys move only
 * while a target is over its bound.
 *
 * A request without the key (no such header, cookie …) is spread over the
 * ring by a golden-ratio stride, so it still follows the weights.
 */
import type { Session } from '../../core/session.ts'
import type { Balancer, Weighted } from './balancer.ts'
import { type HashKey, hashString } from './hash-key.ts'

const POINTS_PER_WEIGHT = 1024
const MAX_POINTS = 131_072

interface Ring<T> {
  /** The targets the ring was built from (the identity it is cached by). */
  readonly targets: readonly T[]
  /** Point positions, ascending. */
  readonly points: Uint32Array
  /** owners[k] is the index in `targets` of the target owning points[k]. */
  readonly owners: Uint32Array
  /** The weight each target had when the ring was built. */
  readonly weights: Float64Array
  readonly totalWeight: number
}

export interface ConsistentHashOptions<T> {
  /** Reads the request's key hash; -1 when absent. */
  key: HashKey
  /** A target's identity, stable across rebuilds (its URL and address): where its points go. */
  idOf: (target: T) => string
  /** c ≥ 1, or undefined for no bound. */
  boundedLoad?: number | undefined
}

export class ConsistentHash<T extends Weighted> implements Balancer<T> {
  /** The ring of the last target set, and of the one before (a retry's set without the target that failed). */
  private ring: Ring<T> | undefined = undefined
  private previous: Ring<T> | undefined = undefined
  private stride = 0
  private readonly key: HashKey
  private readonly idOf: (target: T) => string
  private readonly bound: number

  constructor(options: ConsistentHashOptions<T>) {
    this.key = options.key
    this.idOf = options.idOf
    this.bound = options.boundedLoad ?? 0
  }

  pick(targets: readonly T[], session: Session | undefined): T | undefined {
    const n = targets.length
    if (n < 2) return targets[0]
    let ring = this.ring
    if (ring === undefined || ring.targets !== targets) ring = this.ringFor(targets)
    let h = session === undefined ? -1 : this.key(session)
    if (h === -1) h = this.stride = (this.stride + 0x9e3779b9) >>> 0
    const at = search(ring.points, h)
    if (this.bound === 0) return targets[ring.owners[at]!]
    return this.bounded(ring, at)
  }

  /** ringFor finds or builds the ring of `targets`, keeping the last two. */
  private ringFor(targets: readonly T[]): Ring<T> {
    const ring =
      this.previous !== undefined && this.previous.targets === targets
        ? this.previous
        : buildRing(targets, this.idOf)
    this.previous = this.ring
    this.ring = ring
    return ring
  }

  /** bounded walks clockwise from `at` to the first target under its share of the load. */
  private bounded(ring: Ring<T>, at: number): T {
    const targets = ring.targets
    let load = 1 // the request being placed
    for (let i = 0; i < targets.length; i++) load += targets[i]!.inflight
    const limit = (this.bound * load) / ring.totalWeight
    const points = ring.points.length
    for (let k = 0; k < points; k++) {
      const owner = ring.owners[(at + k) % points]!
      const t = targets[owner]!
      if (t.inflight + 1 <= Math.ceil(limit * ring.weights[owner]!)) return t
    }
    return targets[ring.owners[at]!]!
  }
}

/** buildRing places POINTS_PER_WEIGHT × weight points per target, keyed by the target's identity. */
function buildRing<T extends Weighted>(targets: readonly T[], idOf: (t: T) => string): Ring<T> {
  const weights = new Float64Array(targets.length)
  let total = 0
  for (let i = 0; i < targets.length; i++) total += weights[i] = targets[i]!.weight
  const perWeight = Math.max(1, Math.min(POINTS_PER_WEIGHT, Math.floor(MAX_POINTS / total)))
  // Each point is packed as hash × 2^16 + owner (exact in a double: under 2^48) so a plain
  // typed-array sort orders them, with no comparator and no object per point.
  let count = 0
  const counts = new Uint32Array(targets.length)
  for (let i = 0; i < targets.length; i++)
    count += counts[i] = Math.max(1, Math.round(weights[i]! * perWeight))
  const packed = new Float64Array(count)
  let k = 0
  for (let i = 0; i < targets.length; i++) {
    const id = idOf(targets[i]!)
    for (let j = 0; j < counts[i]!; j++) packed[k++] = hashString(`${id}#${j}`) * 65_536 + i
  }
  packed.sort()
  const points = new Uint32Array(count)
  const owners = new Uint32Array(count)
  for (let p = 0; p < count; p++) {
    const v = packed[p]!
    owners[p] = v % 65_536
    points[p] = (v - owners[p]!) / 65_536
  }
  return { targets, points, owners, weights, totalWeight: total }
}

/** search returns the index of the first point ≥ h, wrapping to 0 past the last. */
function search(points: Uint32Array, h: number): number {
  let lo = 0
  let hi = points.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (points[mid]! < h) lo = mid + 1
    else hi = mid
  }
  return lo === points.length ? 0 : lo
}
