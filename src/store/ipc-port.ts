/**
 * ipcPort adapts a process IPC channel to the MessagePortLike the shared
 * store talks through, so cluster processes share one SharedStoreHost as
 * worker threads do: in the primary, `ipcPort(clusterWorker)` (or a forked
 * ChildProcess) is attached to the host; in the child, `new
 * SharedStore(ipcPort(process))`. Store messages carry `ps: 1`, so the
 * channel may carry the supervisor's other messages too.
 */
import type { MessagePortLike } from './shared-protocol.ts'

/** The IPC side of a cluster Worker, a forked ChildProcess, or `process` in the child. */
export interface IpcEndpoint {
  send?(message: unknown, callback: (error: Error | null) => void): unknown
  on(event: 'message', listener: (message: unknown) => void): unknown
  on(event: 'disconnect', listener: () => void): unknown
  off(event: 'message', listener: (message: unknown) => void): unknown
  off(event: 'disconnect', listener: () => void): unknown
}

/**
 * ipcPort returns a MessagePortLike over `endpoint`: 'close' is the IPC
 * channel's 'disconnect'; `close()` stops listening without disconnecting
 * the channel, which belongs to the process, not to the store.
 */
export function ipcPort(endpoint: IpcEndpoint): MessagePortLike {
  const added: [string, (...args: never[]) => void][] = []
  return {
    postMessage(message: unknown): void {
      try {
        // With a callback a failed send is passed to it instead of emitted as
        // 'error', which would be an uncaught exception in the supervisor.
        endpoint.send?.(message, ignoreSendError)
      } catch {
        // The channel closed under us: 'disconnect' fails the client's calls.
      }
    },
    on(event: 'message' | 'close', listener: (message: unknown) => void): unknown {
      const name = event === 'close' ? 'disconnect' : 'message'
      endpoint.on(name as 'message', listener)
      added.push([name, listener])
      return this
    },
    close(): void {
      for (const [name, listener] of added.splice(0)) endpoint.off(name as 'message', listener as () => void)
    },
  }
}

/** A send to a channel that is closing fails; 'disconnect' reports that, so the error itself is dropped. */
function ignoreSendError(): void {}
