import assert from 'node:assert/strict'
import { X509Certificate } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import net from 'node:net'
import tls from 'node:tls'
import { createCa, loadCa } from './ca.ts'
import { LeafCache } from './leaf-cache.ts'

/**
 * presented serves `secureContext` as interception does (a TLSSocket in
 * server mode over an accepted socket) and resolves with the certificate a
 * client trusting `caPem` is shown.
 */
async function presented(
  t: { after(fn: () => unknown): void },
  secureContext: tls.SecureContext,
  caPem: string,
  servername?: string,
): Promise<X509Certificate> {
  const server = net.createServer((raw) => {
    const s = new tls.TLSSocket(raw, { isServer: true, secureContext })
    s.on('error', () => {})
    s.on('secure', () => s.end())
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => server.close())
  const port = (server.address() as { port: number }).port
  return new Promise<X509Certificate>((resolve, reject) => {
    const c = tls.connect({ host: '127.0.0.1', port, servername, ca: caPem }, () => {
      resolve(c.getPeerX509Certificate()!)
      c.destroy()
    })
    c.on('error', reject)
  })
}

for (const spares of [0, 2])
  test(`one generation per host however many ask at once; bounded; leaves verify against the CA (${spares} spare contexts)`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'portcullis-leaf-'))
    t.after(() => rm(dir, { recursive: true, force: true }))
    const ca = await createCa(join(dir, 'ca'))
    const cache = new LeafCache(ca, 3, spares)
    t.after(() => cache.close())
    const spareReady = async () => {
      for (let i = 0; i < 200 && cache.spareCount < spares; i++) await new Promise((r) => setTimeout(r, 5))
      assert.equal(cache.spareCount, spares)
    }
    // With spares, the first leaf is loaded into a spare context (its certificate set, the key already there).
    await spareReady()
    const first = await cache.contextFor('127.0.0.1')
    const same = await Promise.all(Array.from({ length: 20 }, () => cache.contextFor('a.example')))
    assert.ok(
      same.every((c) => c === same[0]),
      'one SecureContext for all',
    )
    for (const h of ['b.example', 'c.example', 'd.example', '127.0.0.1']) await cache.contextFor(h)
    assert.equal(cache.size, 3)
    // The leaf a TLS server presents: SAN for an IP, signed by the CA, for server auth.
    const peer = await presented(t, first, ca.certPem)
    assert.equal(peer.subjectAltName, 'IP Address:127.0.0.1')
    assert.ok(peer.checkIssued(new X509Certificate(ca.certPem)))
    assert.ok(peer.keyUsage?.includes('1.3.6.1.5.5.7.3.1'))
    // Spares are made again in idle turns after being used.
    await spareReady()
  })

test('an RSA CA (ca init --rsa) signs leaves that verify (sha256WithRSAEncryption, P-256 leaf key)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-leaf-rsa-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  await createCa(join(dir, 'ca'), undefined, { rsa: true })
  const ca = await loadCa(join(dir, 'ca'))
  assert.equal(ca.signer.asymmetricKeyType, 'rsa')
  const cache = new LeafCache(ca, 10, 1)
  t.after(() => cache.close())
  const peer = await presented(t, await cache.contextFor('rsa.example'), ca.certPem, 'rsa.example')
  assert.equal(peer.subjectAltName, 'DNS:rsa.example')
  assert.ok(peer.checkIssued(new X509Certificate(ca.certPem)))
  assert.ok(peer.verify(new X509Certificate(ca.certPem).publicKey))
  assert.equal(peer.publicKey.asymmetricKeyType, 'ec')
})

test('a host alone is made without waiting for a turn of the loop; a host asked for during a burst is made before the burst is done (newest first)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-leaf-order-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const cache = new LeafCache(await createCa(join(dir, 'ca')), 1000, 0)
  t.after(() => cache.close())
  await cache.contextFor('first.example') // the shared leaf key and template made
  await new Promise((r) => setImmediate(r))
  let turned = false
  setImmediate(() => (turned = true))
  await cache.contextFor('alone.example')
  assert.equal(turned, false, 'made within the same turn')

  const done: string[] = []
  const burst = Array.from({ length: 40 }, (_, i) =>
    cache.contextFor(`burst${i}.example`).then(() => done.push(`burst${i}`)),
  )
  await new Promise((r) => setImmediate(r))
  const late = cache.contextFor('late.example').then(() => done.push('late'))
  await Promise.all([...burst, late])
  assert.equal(done.length, 41)
  assert.ok(done.indexOf('late') < 40, `late made before the last of the burst: ${done.join(' ')}`)
})

test('a leaf a client waits on (hurry) is made before the leaves of a burst nobody waits on yet', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-leaf-hurry-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const cache = new LeafCache(await createCa(join(dir, 'ca')), 1000, 0)
  t.after(() => cache.close())
  await cache.contextFor('first.example')
  await new Promise((r) => setImmediate(r))
  const done: string[] = []
  const burst = Array.from({ length: 40 }, (_, i) =>
    cache.contextFor(`quiet${i}.example`).then(() => done.push(`quiet${i}`)),
  )
  await new Promise((r) => setImmediate(r))
  assert.ok(cache.pending > 30, `a burst is queued: ${cache.pending}`)
  cache.hurry('QUIET3.example') // its ClientHello came
  const asked = cache.contextFor('asked.example', true).then(() => done.push('asked'))
  await Promise.all([...burst, asked])
  assert.equal(cache.pending, 0)
  assert.ok(done.indexOf('quiet3') < 3, `hurried leaf made among the first: ${done.join(' ')}`)
  assert.ok(done.indexOf('asked') < 3, `waited-on leaf made among the first: ${done.join(' ')}`)
})

for (const spares of [0, 2])
  test(`leafKey per-host: each host's leaf has a key of its own (shared: one for all), verified by clients (${spares} spare contexts)`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'portcullis-leaf-key-'))
    t.after(() => rm(dir, { recursive: true, force: true }))
    const ca = await createCa(join(dir, 'ca'))
    const keyOf = async (cache: LeafCache, host: string) => {
      const peer = await presented(t, await cache.contextFor(host), ca.certPem, host)
      assert.ok(peer.checkIssued(new X509Certificate(ca.certPem)))
      assert.equal(peer.subjectAltName, `DNS:${host}`)
      return peer.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')
    }
    const perHost = new LeafCache(ca, 10, spares, 'per-host')
    t.after(() => perHost.close())
    for (let i = 0; i < 200 && perHost.spareCount < spares; i++) await new Promise((r) => setTimeout(r, 5))
    assert.equal(perHost.spareCount, spares)
    // Concurrent asks for one new host share its one generation, and so its one key.
    const [a1, a2] = await Promise.all([perHost.contextFor('a.example'), perHost.contextFor('a.example')])
    assert.equal(a1, a2)
    const keys = await Promise.all(['a.example', 'b.example', 'c.example'].map((h) => keyOf(perHost, h)))
    assert.equal(new Set(keys).size, 3, 'three hosts, three keys')
    assert.equal(await keyOf(perHost, 'a.example'), keys[0], 'a cached leaf keeps its key')

    const shared = new LeafCache(ca, 10, spares)
    t.after(() => shared.close())
    const one = await Promise.all(['a.example', 'b.example'].map((h) => keyOf(shared, h)))
    assert.equal(one[0], one[1], 'one key for all')
    assert.ok(!keys.includes(one[0]!))
  })

for (const leafKey of ['shared', 'per-host'] as const)
  test(`a leaf out of the cache is retired once no connection can be handed it any more (${leafKey} key: ${leafKey === 'shared' ? 'its context kept for a new leaf' : 'closed'}); a TLS socket made with it before ends its handshake with its own leaf`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'portcullis-leaf-retire-'))
    t.after(() => rm(dir, { recursive: true, force: true }))
    const ca = await createCa(join(dir, 'ca'))
    const cache = new LeafCache(ca, 1, 0, leafKey)
    t.after(() => cache.close())
    cache.retireAfter(0) // held 1 s after it leaves the cache
    const a = await cache.contextFor('a.example')
    const native = (a as unknown as { context: { getCertificate(): Buffer | null; getTicketKeys(): Buffer } })
      .context
    const ticketKeys = native.getTicketKeys()
    // A server TLSSocket made with a's context now; its client sends the ClientHello only once a is retired.
    let made!: () => void
    const socketMade = new Promise<void>((r) => (made = r))
    const server = net.createServer((raw) => {
      const s = new tls.TLSSocket(raw, { isServer: true, secureContext: a })
      s.on('error', () => {})
      s.on('secure', () => s.end('hi'))
      made()
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    t.after(() => server.close())
    const raw = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1')
    await socketMade

    const left = performance.now()
    await cache.contextFor('b.example') // a leaves the cache (size 1)
    assert.ok(cache.usable(a, 'A.example'), 'held while a connection may still be handed it')
    assert.ok(!cache.usable(a, 'b.example'))
    while (cache.usable(a, 'a.example') && performance.now() - left < 5000)
      await new Promise((r) => setTimeout(r, 20))
    assert.ok(!cache.usable(a, 'a.example'), 'retired')
    assert.ok(performance.now() - left >= 900, `held ${performance.now() - left} ms`)
    let c: tls.SecureContext | undefined
    if (leafKey === 'per-host') assert.equal(native.getCertificate(), null, "OpenSSL's context freed")
    else {
      // The next new host's leaf goes into a's context, with new ticket keys.
      c = await cache.contextFor('c.example')
      assert.equal(c, a)
      assert.ok(cache.usable(c, 'c.example') && !cache.usable(c, 'a.example'))
      assert.ok(!native.getTicketKeys().equals(ticketKeys), 'new ticket keys')
      const peer = await presented(t, c, ca.certPem, 'c.example')
      assert.equal(peer.subjectAltName, 'DNS:c.example')
    }

    // The socket made before still presents a's leaf.
    const secure = tls.connect({ socket: raw, ca: ca.certPem, servername: 'a.example' })
    const [peer, said] = await new Promise<[X509Certificate, string]>((resolve, reject) => {
      let got = ''
      secure.on('data', (d: Buffer) => (got += d))
      secure.on('end', () => resolve([secure.getPeerX509Certificate()!, got]))
      secure.on('error', reject)
    })
    assert.equal(peer.subjectAltName, 'DNS:a.example')
    assert.equal(said, 'hi')
    // Asked for again: a new leaf in a context of its own.
    const again = await cache.contextFor('a.example')
    assert.notEqual(again, a)
    assert.ok(cache.usable(again, 'a.example'))
  })
