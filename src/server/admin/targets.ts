/**
 * The admin API's view of upstream targets, and the target actions
 * (drain, undrain, weight) with the overrides that keep them across reloads
 * and worker restarts: a reload builds new Target objects from the file,
 * and an operator's drain must not silently end with it.
 */
import type { UpstreamConfig } from '../../config/schema.ts'
import type { TargetAction, TargetState, UpstreamState } from '../../observe/admin/instance.ts'
import { AdminError } from '../../observe/admin/routes.ts'
import type { Target, Upstream } from '../../upstream/upstream.ts'

/** Target fields the view lists itself, or that are not state (the pool, callbacks, config). */
const KNOWN = new Set([
  'url',
  'origin',
  'hostHeader',
  'basePath',
  'weight',
  'pool',
  'drained',
  'inflight',
  'tryObservers',
])

/** upstreamStates is the live state of every upstream and target of a runtime. */
export function upstreamStates(upstreams: ReadonlyMap<string, Upstream>): UpstreamState[] {
  return [...upstreams.values()].map((u) => {
    const available = new Set(u.available)
    return {
      name: u.name,
      balance: u.config.balance,
      required: (u.config as UpstreamConfig & { required?: boolean }).required === true,
      available: u.available.length,
      targets: u.targets.map((t, i) =>
        targetState(t, u.config.targets[i]?.weight ?? t.weight, available.has(t)),
      ),
    }
  })
}

function targetState(t: Target, configuredWeight: number, available: boolean): TargetState {
  const state: TargetState = {
    url: t.url,
    origin: t.origin,
    weight: t.weight,
    configuredWeight,
    drained: t.drained,
    inflight: t.inflight,
    pool: { open: t.pool.size, idle: t.pool.idleCount },
    available,
  }
  // Health and circuit state other features keep on the target, when they
  // are plain data: shown as they are, so the API needs no change for them.
  for (const [key, value] of Object.entries(t)) {
    if (KNOWN.has(key) || key.startsWith('_')) continue
    const plain = plainData(value, 2)
    if (plain !== undefined) state[key] = plain
  }
  return state
}

function plainData(v: unknown, depth: number): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v
  if (typeof v === 'number') return Number.isFinite(v) ? v : null
  if (depth === 0 || typeof v !== 'object') return undefined
  const proto = Object.getPrototypeOf(v)
  if (proto !== Object.prototype && proto !== null && !Array.isArray(v)) {
    // A class instance (a breaker, a health checker): its plain fields only.
    if (typeof (v as { toJSON?: unknown }).toJSON === 'function')
      return plainData((v as { toJSON(): unknown }).toJSON(), depth - 1)
  }
  if (Array.isArray(v)) return undefined
  const out: Record<string, unknown> = {}
  for (const [k, x] of Object.entries(v)) {
    if (k.startsWith('_')) continue
    const p = plainData(x, depth - 1)
    if (p !== undefined) out[k] = p
  }
  return Object.keys(out).length > 0 ? out : undefined
}

/**
 * findTargets finds the targets of `u` named by their URL (as configured) or
 * origin: several when a host name target was resolved to several addresses
 * (upstreams' `resolve`), which an action applies to together.
 */
export function findTargets(u: Upstream, text: string): Target[] {
  const bare = text.replace(/\/$/, '')
  return u.targets.filter((t) => t.url === text || t.url.replace(/\/$/, '') === bare || t.origin === bare)
}

/**
 * applyAction applies one action to a runtime's upstreams; returns the
 * target's URL, throws an AdminError for an unknown upstream or target.
 */
export function applyAction(upstreams: ReadonlyMap<string, Upstream>, action: TargetAction): string {
  const u = upstreams.get(action.upstream)
  if (u === undefined) throw new AdminError(404, 'UNKNOWN_UPSTREAM', `no upstream named ${action.upstream}`)
  const targets = findTargets(u, action.target)
  if (targets.length === 0)
    throw new AdminError(404, 'UNKNOWN_TARGET', `upstream ${action.upstream} has no target ${action.target}`)
  for (const t of targets) {
    if (action.kind === 'weight') t.weight = action.weight
    else t.drained = action.kind === 'drain'
  }
  // Also for a weight: a consistent-hash ring is rebuilt when `available` is replaced.
  u.refresh()
  return targets[0]!.url
}

/**
 * TargetOverrides remembers the actions applied, by upstream and target
 * URL, so that a reloaded runtime (or a restarted worker) gets them again.
 * A target that a reload removes loses its override; weight and drained
 * are independent.
 */
export class TargetOverrides {
  private readonly byTarget = new Map<
    string,
    { upstream: string; target: string; drained?: boolean; weight?: number }
  >()

  record(action: TargetAction, url: string): void {
    const key = `${action.upstream}\u0000${url}`
    const o = this.byTarget.get(key) ?? { upstream: action.upstream, target: url }
    if (action.kind === 'weight') o.weight = action.weight
    else o.drained = action.kind === 'drain'
    this.byTarget.set(key, o)
  }

  /** actions lists the overrides as actions (to send to a new worker). */
  actions(): TargetAction[] {
    const out: TargetAction[] = []
    for (const o of this.byTarget.values()) {
      if (o.drained !== undefined)
        out.push({ kind: o.drained ? 'drain' : 'undrain', upstream: o.upstream, target: o.target })
      if (o.weight !== undefined)
        out.push({ kind: 'weight', upstream: o.upstream, target: o.target, weight: o.weight })
    }
    return out
  }

  /** applyTo applies every override to a runtime's upstreams; targets no longer there are skipped. */
  applyTo(upstreams: ReadonlyMap<string, Upstream>): void {
    for (const a of this.actions()) {
      try {
        applyAction(upstreams, a)
      } catch {
        // The reload removed that target or upstream: nothing to keep.
      }
    }
  }
}
