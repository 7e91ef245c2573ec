/**
 * From a RedisStore's plain options to node-redis's: one server (`url`), a
 * Cluster (`cluster.nodes`) or a Sentinel-watched primary (`sentinel`). Kept
 * apart from the connection so a test can check the options each
 * configuration builds without a cluster to connect to.
 */
import {
  createClient,
  createCluster,
  createSentinel,
  type RedisClientOptions,
  type RedisClusterOptions,
  type RedisSentinelOptions,
} from 'redis'

/** Options of a RedisStore (the validated `stores.redis` block, in ms and plain values). */
export interface RedisStoreOptions {
  /** The name diagnostics report; default `redis`. */
  name?: string
  /** One server: `redis://[user:password@]host:port[/db]` or `rediss://` for TLS. */
  url?: string
  /** A Redis Cluster: seed node URLs; the client discovers the rest. */
  cluster?: { nodes: string[] }
  /** A primary watched by Sentinels. */
  sentinel?: {
    masterName: string
    sentinels: { host: string; port: number }[]
    /** Credentials of the data nodes (the Sentinels' own are rarely set). */
    username?: string
    password?: string
  }
  /** Prefixed to every key and channel, so several gateways or apps can share a server; default `portcullis:`. */
  keyPrefix?: string
  /** An operation without a reply after this rejects with STORE_TIMEOUT; default 250 ms. */
  operationTimeoutMs?: number
  /** A connection attempt is abandoned after this; default 2000 ms. */
  connectTimeoutMs?: number
  /** Reconnect backoff: the first delay, doubled per attempt up to `maxDelayMs`; default 100 ms and 5000 ms. */
  reconnect?: { minDelayMs?: number; maxDelayMs?: number }
}

/** The node-redis options a configuration builds, by deployment mode. */
export type RedisClientPlan =
  | { mode: 'single'; options: RedisClientOptions }
  | { mode: 'cluster'; options: RedisClusterOptions }
  | { mode: 'sentinel'; options: RedisSentinelOptions }

/** Called before each reconnect attempt with its number and the delay chosen. */
export type ReconnectObserver = (attempt: number, delayMs: number, cause: Error) => void

/**
 * backoffDelay is the wait before reconnect attempt `attempt` (0-based):
 * `minDelayMs * 2^attempt` capped at `maxDelayMs`, with up to 20% of jitter
 * taken off, so instances that lost Redis together do not return in step.
 */
export function backoffDelay(attempt: number, minDelayMs: number, maxDelayMs: number): number {
  const base = Math.min(maxDelayMs, minDelayMs * 2 ** Math.min(attempt, 30))
  return Math.round(base * (1 - Math.random() * 0.2))
}

/**
 * planRedisClient builds the node-redis options for `options`. The offline
 * queue is disabled so that, while Redis is unreachable, an operation fails
 * at once instead of waiting for a connection; reconnecting never stops.
 */
export function planRedisClient(
  options: RedisStoreOptions,
  onReconnect?: ReconnectObserver,
): RedisClientPlan {
  const min = options.reconnect?.minDelayMs ?? 100
  const max = options.reconnect?.maxDelayMs ?? 5000
  const socket = {
    connectTimeout: options.connectTimeoutMs ?? 2000,
    reconnectStrategy: function reconnectStrategy(retries: number, cause: Error): number {
      const delay = backoffDelay(retries, min, max)
      onReconnect?.(retries + 1, delay, cause)
      return delay
    },
  }
  const common = { socket, disableOfflineQueue: true }
  if (options.cluster !== undefined) {
    return {
      mode: 'cluster',
      options: { rootNodes: options.cluster.nodes.map((url) => ({ url })), defaults: common },
    }
  }
  if (options.sentinel !== undefined) {
    const s = options.sentinel
    const credentials = { username: s.username, password: s.password }
    return {
      mode: 'sentinel',
      options: {
        name: s.masterName,
        sentinelRootNodes: s.sentinels,
        nodeClientOptions: { ...common, ...credentials },
        sentinelClientOptions: common,
      },
    }
  }
  return { mode: 'single', options: { url: options.url ?? 'redis://127.0.0.1:6379', ...common } }
}

/**
 * RedisConnection is the part of a node-redis client, cluster or sentinel
 * the store uses; all three have it, so the store does not care which.
 */
export interface RedisConnection {
  connect(): Promise<unknown>
  destroy(): unknown
  on(event: 'error', listener: (err: Error) => void): unknown
  on(event: 'ready' | 'end', listener: () => void): unknown
  get(key: string): Promise<string | null>
  set(key: string, value: string, options?: object): Promise<string | null>
  del(key: string): Promise<number>
  incrBy(key: string, by: number): Promise<number>
  pTTL(key: string): Promise<number>
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>
  publish(channel: string, message: string): Promise<number>
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>
  unsubscribe(channel: string): Promise<unknown>
  withCommandOptions(options: { timeout: number; rejectInFlight: boolean }): RedisConnection
}

/** openRedisConnection creates (does not connect) the client a plan describes. */
export function openRedisConnection(plan: RedisClientPlan): RedisConnection {
  // The three client types differ in generics, not in the methods listed above.
  switch (plan.mode) {
    case 'single':
      return createClient(plan.options) as unknown as RedisConnection
    case 'cluster':
      return createCluster(plan.options) as unknown as RedisConnection
    case 'sentinel':
      return createSentinel(plan.options) as unknown as RedisConnection
  }
}
