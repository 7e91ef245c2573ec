/**
 * createBalancer builds the balancer an upstream's `balance` key names,
 * with its options (config/balance-schema.ts).
 */
import type { HashConfig } from '../../config/balance-schema.ts'
import type { Balancer, Weighted } from './balancer.ts'
import { ConsistentHash } from './consistent-hash.ts'
import { compileHashKey } from './hash-key.ts'
import { LeastRequest } from './least-request.ts'
import { PeakEwma } from './peak-ewma.ts'
import { RandomBalancer } from './random.ts'
import { RoundRobin } from './round-robin.ts'

/** The balancing part of an upstream's configuration. */
export interface BalanceSettings {
  readonly balance: 'round-robin' | 'least-request' | 'consistent-hash' | 'random' | 'peak-ewma'
  readonly hash?: HashConfig | undefined
  readonly peakEwma?: { readonly decay: number } | undefined
}

/** `idOf`: a target's stable identity, where consistent hashing places its points. */
export function createBalancer<T extends Weighted>(
  settings: BalanceSettings,
  idOf: (target: T) => string,
): Balancer<T> {
  switch (settings.balance) {
    case 'least-request':
      return new LeastRequest<T>()
    case 'random':
      return new RandomBalancer<T>()
    case 'peak-ewma':
      return new PeakEwma<T>(settings.peakEwma?.decay ?? 10_000)
    case 'consistent-hash':
      return new ConsistentHash<T>({
        key: compileHashKey(settings.hash?.key ?? 'client.ip'),
        idOf,
        boundedLoad: settings.hash?.boundedLoad,
      })
    default:
      return new RoundRobin<T>()
  }
}
