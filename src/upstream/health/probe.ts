/**
 * One active health probe of one target, on a connection of its own (never
 * the request pool: a probe must not queue behind traffic, and a pooled
 * connection that works says nothing about whether a new one would).
 */
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import type { ActiveHealthConfig } from '../../config/health-schema.ts'
import type { UpstreamConfig } from '../../config/schema.ts'
import { type Target, trustedCas } from '../target.ts'
import { statusTable } from './statuses.ts'

/** What a probe found: `ok`, or why not (for the health channel and logs). */
export interface ProbeResult {
  ok: boolean
  reason: string
}

/** The first bytes of a body a `body` match reads; a health page is small. */
const BODY_LIMIT = 64 * 1024

/** A Prober probes one target as configured; `run` never rejects. */
export type Prober = (target: Target) => Promise<ProbeResult>

/** prober builds the probe function of an upstream's `health.active` section. */
export function prober(active: ActiveHealthConfig, upstream: UpstreamConfig): Prober {
  if (active.type === 'tcp') return (target) => tcpProbe(endpoint(target), active.timeout)
  const statuses = statusTable(active.statuses)
  const tlsOptions = {
    rejectUnauthorized: upstream.tls.verify,
    ca: upstream.tls.ca === undefined ? undefined : trustedCas(upstream.tls.ca),
  }
  return (target) => httpProbe(target, active, statuses, tlsOptions)
}

interface Endpoint {
  host: string
  port: number
  secure: boolean
  servername: string | undefined
}

function endpoint(target: Target): Endpoint {
  const u = new URL(target.url)
  const secure = u.protocol === 'https:'
  const name = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname
  return {
    host: target.address ?? name,
    port: u.port === '' ? (secure ? 443 : 80) : Number(u.port),
    secure,
    servername: net.isIP(name) === 0 ? name : undefined,
  }
}

/** tcpProbe succeeds when a TCP connection opens within `timeout` ms. */
export function tcpProbe(e: { host: string; port: number }, timeout: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: e.host, port: e.port })
    const timer = setTimeout(() => done({ ok: false, reason: 'connect timeout' }), timeout)
    function done(r: ProbeResult): void {
      clearTimeout(timer)
      socket.destroy()
      resolve(r)
    }
    socket.once('connect', () => done({ ok: true, reason: 'connected' }))
    socket.once('error', (err: NodeJS.ErrnoException) => done({ ok: false, reason: err.code ?? err.message }))
  })
}

function httpProbe(
  target: Target,
  active: ActiveHealthConfig,
  statuses: Uint8Array,
  tlsOptions: { rejectUnauthorized: boolean; ca: string[] | undefined },
): Promise<ProbeResult> {
  const e = endpoint(target)
  return new Promise((resolve) => {
    let settled = false
    const timer = setTimeout(() => done({ ok: false, reason: 'timeout' }), active.timeout)
    function done(r: ProbeResult): void {
      if (settled) return
      settled = true
      clearTimeout(timer)
      req.destroy()
      resolve(r)
    }
    const options = {
      host: e.host,
      port: e.port,
      method: active.method,
      path: active.path,
      headers: {
        host: active.host ?? target.hostHeader,
        'user-agent': 'portcullis-health',
        connection: 'close',
      },
      agent: false as const,
    }
    const req = e.secure
      ? https.request({ ...options, ...tlsOptions, servername: e.servername })
      : http.request(options)
    req.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, reason: err.code ?? err.message }))
    req.on('response', (res) => {
      const status = res.statusCode ?? 0
      if (statuses[status] !== 1) return done({ ok: false, reason: `status ${status}` })
      const want = active.body
      if (want === undefined) return done({ ok: true, reason: `status ${status}` })
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        body += chunk
        if (body.includes(want)) done({ ok: true, reason: `status ${status}, body matched` })
        else if (body.length >= BODY_LIMIT) done({ ok: false, reason: 'body did not match' })
      })
      res.on('end', () => done({ ok: false, reason: 'body did not match' }))
      res.on('error', (err) => done({ ok: false, reason: err.message }))
    })
    req.end()
  })
}
