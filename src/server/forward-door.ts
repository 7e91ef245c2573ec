/**
 * The forward proxy's doors into the gateway: its listener (absolute-form
 * and CONNECT requests, ForwardRuntime.handle) and the decrypted
 * connections of intercepted CONNECTs (origin-form requests to one
 * destination, ForwardRuntime.handleInside). Each is a ConnectionHost with
 * an Entry; reverse-proxy listeners have none and never reach this file.
 */
import net from 'node:net'
import type { ForwardConfig } from '../config/schema.ts'
import { GatewayError } from '../core/errors.ts'
import type { Destination, Session } from '../core/session.ts'
import type { LeafCache } from '../forward/mitm/leaf-cache.ts'
import { interceptFailureChannel } from '../observe/channels.ts'
import { REVERSE_PROXY_FORMS, type TargetForms } from '../http1/request-head.ts'
import type { ConnectionHost, Entry } from './connection-host.ts'
import type { DownstreamConnection } from './downstream.ts'
import type { Runtime } from './runtime.ts'

/** RFC 9112 §3.2: a forward proxy reads absolute-form, and authority-form for CONNECT. */
const FORWARD_FORMS: TargetForms = { absolute: true, authority: true }

/** The forward listener's entry: ForwardRuntime.handle, or 404 when a reload removed `forward:`. */
export const forwardEntry: Entry = {
  forms: FORWARD_FORMS,
  run: function forwardPhases(client, rt, session) {
    if (rt.forward !== undefined) return rt.forward.handle(client, session)
    client.closeAfter = true
    client.respondError(new GatewayError('NO_ROUTE', 'the forward proxy is not configured'))
  },
}

/** insideEntry: the entry of one intercepted connection to `dest`. */
function insideEntry(dest: Destination): Entry {
  return {
    forms: REVERSE_PROXY_FORMS,
    run: function interceptedPhases(client, rt, session) {
      if (rt.forward !== undefined) return rt.forward.handleInside(client, session, dest)
      client.closeAfter = true
      client.respondError(new GatewayError('NO_ROUTE', 'the forward proxy is not configured'))
    },
  }
}

/** What a door needs from the gateway. */
export interface DoorGateway extends ConnectionHost {
  /** adopt serves `socket` as a client connection of `host`. */
  adopt(socket: net.Socket, host: ConnectionHost, tls: boolean): void
}

/** A ConnectionHost for a door: the gateway's runtime and drain state, with the door's entry. */
export class DoorHost implements ConnectionHost {
  readonly entry: Entry
  private readonly gw: DoorGateway

  constructor(gw: DoorGateway, entry: Entry) {
    this.gw = gw
    this.entry = entry
  }

  get runtime(): Runtime {
    return this.gw.runtime
  }

  get draining(): boolean {
    return this.gw.draining
  }

  onConnectionClosed(conn: DownstreamConnection): void {
    this.gw.onConnectionClosed(conn)
  }
}

/**
 * Interception: the CA loaded once per `caDir` and its leaf cache kept
 * across reloads, so a reload does not throw away made leaves (unless the
 * CA directory or `leafKey` changed).
 */
export class Interception {
  private caDir: string | undefined
  private leafKey: string | undefined
  private leaves: LeafCache | undefined

  /** attach gives `rt`'s forward proxy its interceptor when `mitm` is configured (loading the CA if needed). */
  async attach(rt: Runtime, gw: DoorGateway): Promise<void> {
    const cfg: ForwardConfig['mitm'] = rt.forward?.config.mitm
    if (cfg === undefined) return
    // Loaded on first use: a gateway without interception never loads the X.509 library.
    const [{ loadCa }, { LeafCache }, { createInterceptor }] = await Promise.all([
      import('../forward/mitm/ca.ts'),
      import('../forward/mitm/leaf-cache.ts'),
      import('../forward/mitm/intercept.ts'),
    ])
    if (this.caDir !== cfg.caDir || this.leafKey !== cfg.leafKey || this.leaves === undefined) {
      const ca = await loadCa(cfg.caDir).catch((err: Error) => {
        throw new Error(
          `forward.mitm: cannot load the CA in ${cfg.caDir} (run 'portcullis ca init --dir ${cfg.caDir}'): ${err.message}`,
        )
      })
      this.leaves?.close()
      this.leaves = new LeafCache(ca, cfg.cacheSize, cfg.spareContexts, cfg.leafKey)
      this.caDir = cfg.caDir
      this.leafKey = cfg.leafKey
    }
    this.leaves.retireAfter(rt.config.timeouts.head)
    const serve = (socket: net.Socket, dest: Destination, tls: boolean) =>
      gw.adopt(socket, new DoorHost(gw, insideEntry(dest)), tls)
    // Why an interception failed goes to the error log (server/event-log.ts) through the channel.
    const report = (session: Session, error: GatewayError) => {
      if (interceptFailureChannel.hasSubscribers)
        interceptFailureChannel.publish({ gateway: gw, session, error })
    }
    rt.forward!.interceptor = createInterceptor(
      this.leaves,
      serve,
      rt.config.timeouts.head,
      cfg.sniffPorts,
      report,
    )
  }
}

/** forwardServer makes the forward listener's server; sockets are read as streams, so TLS can wrap them. */
export function forwardServer(onSocket: (socket: net.Socket) => void): net.Server {
  return net.createServer({ allowHalfOpen: true, noDelay: true }, onSocket)
}
