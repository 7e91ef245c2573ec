/**
 * The shared-state stores (docs/architecture.md, "Shared state"): the
 * `Store` capability, its three implementations, the registry that builds
 * them from `stores:`, their errors and diagnostics channels.
 */
export * from './store.ts'
export { StoreError, STORE_ERROR_KINDS, type StoreErrorCode } from './errors.ts'
export {
  storeErrorChannel,
  storeStateChannel,
  type StoreErrorMessage,
  type StoreStateMessage,
} from './channels.ts'
export { MemoryStore, type MemoryStoreOptions } from './memory.ts'
export {
  ipcPort,
  SharedStore,
  SharedStoreHost,
  type IpcEndpoint,
  type MessagePortLike,
  type SharedStoreHostOptions,
  type SharedStoreOptions,
} from './shared.ts'
export { RedisStore, type RedisStoreOptions } from './redis.ts'
export { StoreRegistry, type StoreContext, type StoresOptions } from './registry.ts'
