/**
 * Leaf certificates for intercepted hosts, signed by the local CA and kept
 * as ready `SecureContext`s in a bounded LRU; concurrent CONNECTs for the
 * same new host share one generation (the cache holds the promise).
 *
 * What a new host costs the event loop, and why it is small:
 * - All leaves share one P-256 key made once (off the loop, by WebCrypto),
 *   mitmproxy's way; or, with `leafKey: per-host`, each leaf has a fresh
 *   key of its own, made in the thread pool (a spare, below, made ahead
 *   carries one), so no two hosts' certificates share a key.
 * - The leaf is written directly in DER (leaf-der.ts; @peculiar/x509's
 *   generic encoder took ~4-8 ms of loop time per leaf) and signed with one
 *   synchronous `crypto.sign` (measured: submitting the same signature to
 *   the thread pool cost the loop more, ~95 µs, than signing, ~40 µs).
 * - The dearest part is OpenSSL's: a new `SSL_CTX` (cipher lists, provider
 *   look-ups) and loading the key into it, several times the rest together.
 *   So `spare` contexts with a leaf key already loaded (the shared key, or
 *   per host a fresh key each) are made ahead,
 *   one per event-loop turn when nothing else waits (setImmediate), and a new
 *   host only loads its certificate chain into one of them. A burst of new
 *   hosts larger than the spares makes the rest inline.
 * - A context that leaves the cache is retired once no connection can
 *   still be handed it: kept for a new host's leaf (shared key), or closed
 *   (retirement.ts).
 */
import { generateKeyPair, randomBytes, webcrypto } from 'node:crypto'
import tls from 'node:tls'
import * as x509 from '@peculiar/x509'
import { EC_ALGORITHM, type LocalCa, pem } from './ca.ts'
import { type LeafTemplate, leafDer, subjectOf } from './leaf-der.ts'
import { Retirement } from './retirement.ts'

/** Leaves are valid this long (short: they are made on demand and never leave the machine). */
const LEAF_DAYS = 7
/** A cached leaf is replaced once it has less than this left. */
const RENEW_MS = 86400_000

interface Leaf {
  context: tls.SecureContext
  notAfter: number
}

/**
 * Loop time a burst of new leaves may take before the event loop polls again
 * (about two leaves). Measured with bench/forward/new-hosts.ts at load avg ~3,
 * against 1 ms: the probe request's median 29-30 ms instead of 34 ms, the
 * burst's 100 200s 57-61 ms instead of 47-50 ms.
 */
const SLICE_MS = 0.25
/**
 * Between two slices of leaves nobody waits for yet (no ClientHello came):
 * the loop is then free ~80 % of the time for the connections being
 * accepted and the handshakes clients wait on (see drain).
 */
const BACKGROUND_PAUSE_MS = 1
/** Spares are made again once no new leaf was asked for this long. */
const REFILL_QUIET_MS = 50

/** Which key a leaf carries: one made once for all leaves, or a fresh one per host. */
export type LeafKey = 'shared' | 'per-host'

/** A leaf key: its SubjectPublicKeyInfo (DER, written into the leaf) and its PEM. */
interface Key {
  spki: Buffer
  keyPem: string
}

/** A context made ahead with a leaf key loaded: only a certificate is missing. */
interface Spare extends Key {
  context: tls.SecureContext
}

/** A leaf waiting to be made. */
interface Job {
  name: string
  t: LeafTemplate
  key: Key | Spare
  resolve: (leaf: Leaf) => void
  reject: (err: unknown) => void
}

/** The native context behind a SecureContext (what `tls.createSecureContext` configures). */
interface NativeContext {
  setCert?: (pem: string) => void
  setTicketKeys?: (keys: Buffer) => void
}

export class LeafCache {
  private readonly entries = new Map<string, Promise<Leaf>>()
  private readonly ca: LocalCa
  private readonly max: number
  private readonly spareTarget: number
  private readonly spares: Spare[] = []
  private readonly perHost: boolean
  private refilling = false
  private closed = false
  /** Leaves asked for that no client waits on yet (its CONNECT came, its ClientHello not). */
  private readonly queue: Job[] = []
  /** Leaves a client waits on (hurry): made first, a slice per turn. */
  private readonly waiting: Job[] = []
  /** Queued leaves exist, or a drain is scheduled. */
  private draining = false
  private immediate = false
  private timer: NodeJS.Timeout | undefined
  private nextBackground = 0
  private lastAsked = 0
  private template: Promise<LeafTemplate> | undefined
  private sharedKey: Promise<Key> | undefined
  /** Contexts out of the cache: held, then recycled (shared key) or closed. */
  private readonly retirement: Retirement

  /** `spares`: contexts with a leaf key loaded, made ahead in idle turns (0: none). */
  constructor(ca: LocalCa, max: number, spares = 0, leafKey: LeafKey = 'shared') {
    this.ca = ca
    this.max = max
    this.spareTarget = spares
    this.perHost = leafKey === 'per-host'
    this.retirement = new Retirement(!this.perHost)
    if (spares > 0)
      void this.leafTemplate().then(
        () => this.refill(),
        () => {},
      )
  }

  /** Spare contexts ready now. */
  get spareCount(): number {
    return this.spares.length
  }

  /** close stops making spares and retiring contexts (those left are dropped with the cache, for the GC). */
  close(): void {
    this.closed = true
    this.spares.length = 0
    this.retirement.close()
  }

  /** retireAfter: the handshake limit connections are accepted under (a context left the cache is held twice that). */
  retireAfter(handshakeLimitMs: number): void {
    this.retirement.holdFor(handshakeLimitMs)
  }

  /**
   * usable: `context` still presents `host`'s leaf (it was not retired); a
   * connection that held it longer makes the host's leaf again.
   */
  usable(context: tls.SecureContext, host: string): boolean {
    return this.retirement.usable(context, host.toLowerCase())
  }

  /** Leaves waiting to be made: a burst of new hosts is being served while this is not 0. */
  get pending(): number {
    return this.queue.length + this.waiting.length
  }

  /**
   * hurry: a client waits on `host`'s leaf now (its ClientHello came), so
   * it is made before the leaves nobody waits on yet.
   */
  hurry(host: string): void {
    if (this.queue.length === 0) return
    const name = host.toLowerCase()
    for (let i = this.queue.length - 1; i >= 0; i--) {
      if (this.queue[i]!.name !== name) continue
      this.waiting.push(this.queue.splice(i, 1)[0]!)
      this.schedule()
      return
    }
  }

  /** Hosts cached (made or being made). */
  get size(): number {
    return this.entries.size
  }

  /**
   * contextFor resolves to a SecureContext presenting a leaf for `host` (a
   * DNS name or IP); `waited`: a client waits on it now (see hurry).
   */
  async contextFor(host: string, waited = false): Promise<tls.SecureContext> {
    const name = host.toLowerCase()
    let entry = this.entries.get(name)
    if (entry !== undefined) {
      if (waited) this.hurry(name)
      this.entries.delete(name)
      this.entries.set(name, entry) // most recently used last
      const leaf = await entry
      if (leaf.notAfter - Date.now() > RENEW_MS) return leaf.context
      if (this.entries.get(name) === entry) {
        this.entries.delete(name)
        this.retirement.retire(entry.then((l) => l.context))
      }
    }
    entry = this.make(name, waited)
    this.entries.set(name, entry)
    entry.catch(() => this.entries.get(name) === entry && this.entries.delete(name))
    if (this.entries.size > this.max) {
      const [oldest, evicted] = this.entries.entries().next().value!
      this.entries.delete(oldest)
      this.retirement.retire(evicted.then((l) => l.context))
    }
    return (await entry).context
  }

  private async make(name: string, waited: boolean): Promise<Leaf> {
    const t = await this.leafTemplate()
    // Per host: a spare's key, else a fresh one (in the thread pool, the loop free meanwhile).
    const key = this.perHost ? (this.spares.pop() ?? (await freshKey())) : await this.shared()
    if (!this.draining) {
      // A host alone is made at once (no turn of the loop waited for); the
      // hosts asked for after it, until the queues are empty again, wait for drain.
      this.draining = true
      this.nextBackground = performance.now() + BACKGROUND_PAUSE_MS
      this.immediate = true
      setImmediate(this.drain)
      return this.makeNow(name, t, key)
    }
    return new Promise((resolve, reject) => {
      ;(waited ? this.waiting : this.queue).push({ name, t, key, resolve, reject })
      if (waited) this.schedule()
    })
  }

  /**
   * drain makes queued leaves for at most SLICE_MS, then lets the event loop
   * poll before the next slice: a burst of new hosts never holds the loop
   * for more than a slice (and the connections its leaves complete), so
   * connections being accepted, handshakes and requests go on meanwhile,
   * each step waiting for one slice at most. Leaves a client waits on
   * (hurry) come first, a slice every turn; the others a slice every
   * BACKGROUND_PAUSE_MS (a timer, so the loop sleeps in its poll between
   * them and answers I/O at once): a burst of CONNECTs whose clients have
   * not sent their ClientHello yet (or never will: a scanner, a browser's
   * spare connection) takes at most a fifth of the loop from the clients
   * that are waiting, among them the host asked for during the burst.
   * Newest first (LIFO) in each: the hosts of a burst arrived together and
   * finish together whatever their order, and a host asked for during the
   * burst is not made to wait for all of it (adaptive LIFO).
   *
   * Measured with bench/forward/new-hosts.ts (probe requests to new hosts
   * while 100 others' leaves are made): see bench/README.md.
   */
  private readonly drain = (): void => {
    this.immediate = false
    this.timer = undefined
    const urgent = this.waiting.length > 0
    if (!urgent && performance.now() < this.nextBackground) return this.schedule()
    const from = urgent ? this.waiting : this.queue
    const end = performance.now() + SLICE_MS
    while (from.length > 0) {
      const job = from.pop()!
      try {
        job.resolve(this.makeNow(job.name, job.t, job.key))
      } catch (err) {
        job.reject(err)
      }
      if (performance.now() >= end) break
    }
    if (!urgent) this.nextBackground = performance.now() + BACKGROUND_PAUSE_MS
    this.schedule()
  }

  /** schedule: the next drain, this turn's end for waited-on leaves, a timer for the others; none when both are empty. */
  private schedule(): void {
    if (this.waiting.length > 0) {
      if (this.timer !== undefined) clearTimeout(this.timer)
      this.timer = undefined
      if (!this.immediate) setImmediate(this.drain)
      this.immediate = true
    } else if (this.queue.length > 0) {
      if (this.immediate || this.timer !== undefined) return
      // Not unref'd: a leaf's promise does not keep the process alive, its timer must.
      this.timer = setTimeout(this.drain, Math.max(0, this.nextBackground - performance.now()))
    } else if (!this.immediate && this.timer === undefined) this.draining = false
  }

  /** makeNow makes `name`'s leaf for `key`; a spare's context when one is at hand (a per-host key's own). */
  private makeNow(name: string, t: LeafTemplate, key: Key | Spare): Leaf {
    const now = Date.now()
    const notAfter = now + LEAF_DAYS * 86400_000
    const der = leafDer(t, name, new Date(now - 3600_000), new Date(notAfter), key.spki)
    // The leaf alone: the CA is a trust anchor the client has, which a
    // server need not send (RFC 8446 §4.4.2); one certificate less to parse
    // here and to send in every handshake.
    const chain = pem('CERTIFICATE', der)
    const recycled = this.perHost ? undefined : this.retirement.take()
    const spare =
      recycled ?? ('context' in key ? key.context : this.perHost ? undefined : this.spares.pop()?.context)
    this.refill()
    const native = (spare as { context?: NativeContext } | undefined)?.context
    let context: tls.SecureContext
    if (spare !== undefined && typeof native?.setCert === 'function') {
      native.setCert(chain)
      // New ticket keys: a ticket the context issued for its last host resumes nothing here.
      if (recycled !== undefined) native.setTicketKeys?.(randomBytes(48))
      context = spare
    } else context = tls.createSecureContext({ cert: chain, key: key.keyPem })
    this.retirement.own(context, name)
    return { context, notAfter }
  }

  /**
   * refill makes spare contexts, one per turn of the event loop, once no
   * leaf has been asked for during REFILL_QUIET_MS: a spare costs more than
   * the certificate it saves loading, so making spares while a burst is
   * being served would only slow the burst down.
   */
  private refill(): void {
    this.lastAsked = performance.now()
    if (this.refilling || this.closed || this.spares.length >= this.spareTarget) return
    this.refilling = true
    const one = () => {
      if (this.closed || this.spares.length >= this.spareTarget) {
        this.refilling = false
        return
      }
      const quietFor = performance.now() - this.lastAsked
      if (this.draining || quietFor < REFILL_QUIET_MS) {
        setTimeout(one, Math.max(1, REFILL_QUIET_MS - quietFor)).unref()
        return
      }
      void (this.perHost ? freshKey() : this.shared()).then(
        (key) => {
          if (this.closed) return
          // No `ca` here: adding one makes Node copy the whole system root store into this context (~1 ms).
          this.spares.push({ ...key, context: tls.createSecureContext({ key: key.keyPem }) })
          setImmediate(one)
        },
        () => (this.refilling = false),
      )
    }
    // Not unref'd: with only unref'd immediates pending the loop blocks in its
    // poll until unrelated I/O or a timer wakes it, one spare per wake-up
    // (measured: 100 spares took 626 ms to come back instead of ~30 ms).
    setImmediate(one)
  }

  /** shared: the one key every leaf carries (leafKey shared), made once. */
  private shared(): Promise<Key> {
    this.sharedKey ??= (async () => {
      const pair = (await webcrypto.subtle.generateKey(EC_ALGORITHM, true, [
        'sign',
        'verify',
      ])) as webcrypto.CryptoKeyPair
      return {
        spki: Buffer.from(await webcrypto.subtle.exportKey('spki', pair.publicKey)),
        keyPem: pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', pair.privateKey)),
      }
    })()
    return this.sharedKey
  }

  /** leafTemplate: what every leaf shares (the issuer, the CA key id), made once. */
  private leafTemplate(): Promise<LeafTemplate> {
    this.template ??= (async () => {
      const ski = this.ca.cert.getExtension(x509.SubjectKeyIdentifierExtension)
      const caKeyId = ski
        ? Buffer.from(ski.keyId, 'hex')
        : Buffer.from(
            (await x509.AuthorityKeyIdentifierExtension.create(this.ca.cert.publicKey)).keyId!,
            'hex',
          )
      return {
        issuer: subjectOf(Buffer.from(this.ca.cert.rawData)),
        caKeyId,
        caKey: this.ca.signer,
      }
    })()
    return this.template
  }
}

/** freshKey makes a P-256 key in the thread pool (the event loop free meanwhile), encoded there too. */
function freshKey(): Promise<Key> {
  return new Promise((resolve, reject) =>
    generateKeyPair(
      'ec',
      {
        namedCurve: 'P-256',
        publicKeyEncoding: { type: 'spki', format: 'der' },
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      },
      (err, spki, keyPem) => (err ? reject(err) : resolve({ spki, keyPem })),
    ),
  )
}
