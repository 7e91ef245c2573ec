import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseAuthority } from './authority.ts'
import { DestinationRules, isSpecialAddress } from './destinations.ts'

test('special-purpose addresses, IPv4-mapped included; public ones are not', () => {
  for (const a of [
    '127.0.0.1',
    '10.1.2.3',
    '172.31.0.1',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '::1',
    '::',
    'fe80::1',
    'fd00::1',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
    '224.0.0.1',
  ])
    assert.equal(isSpecialAddress(a), true, a)
  for (const a of ['93.184.216.34', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8', '172.32.0.1'])
    assert.equal(isSpecialAddress(a), false, a)
})

test('rules: deny first, allow by name, address or CIDR, ports for CONNECT, never the proxy itself', () => {
  const rules = new DestinationRules(
    {
      allow: ['localhost', '10.0.0.0/8', '*.internal:8443'],
      deny: ['*.ads.example', '10.9.9.9'],
      ports: [8443],
    },
    () => [3128],
  )
  assert.equal(rules.checkName('x.ads.example', 443)?.code, 'DESTINATION_FORBIDDEN')
  assert.equal(rules.checkName('ads.example', 443), undefined, '*.domain matches subdomains only')
  assert.equal(rules.checkAddress('evil.example', 443, '127.0.0.1', true)?.code, 'DESTINATION_FORBIDDEN')
  assert.equal(rules.checkAddress('localhost', 80, '127.0.0.1', false), undefined)
  assert.equal(rules.checkAddress('db', 5432, '10.1.1.1', false), undefined)
  assert.equal(rules.checkAddress('db', 5432, '10.9.9.9', false)?.code, 'DESTINATION_FORBIDDEN')
  assert.equal(rules.checkAddress('a.internal', 8443, '192.168.0.2', true), undefined)
  assert.equal(rules.checkAddress('a.internal', 9000, '192.168.0.2', true)?.code, 'DESTINATION_FORBIDDEN')
  assert.equal(rules.checkAddress('example.com', 25, '93.184.216.34', true)?.code, 'DESTINATION_FORBIDDEN')
  assert.equal(rules.checkAddress('example.com', 8443, '93.184.216.34', true), undefined)
  assert.equal(rules.checkAddress('localhost', 3128, '127.0.0.1', false)?.message, 'the proxy itself')
})

test('authorities: host names, IPv4, bracketed IPv6, ports; anything else undefined', () => {
  assert.deepEqual(parseAuthority('Example.COM:443', 'https', true), {
    host: 'example.com',
    port: 443,
    scheme: 'https',
  })
  assert.deepEqual(parseAuthority('[::1]:8080', 'https', true), { host: '::1', port: 8080, scheme: 'https' })
  assert.deepEqual(parseAuthority('example.com', 'http', false), {
    host: 'example.com',
    port: 80,
    scheme: 'http',
  })
  for (const bad of [
    'example.com',
    'a:0',
    'a:65536',
    'a b:443',
    '[::1:443',
    'x..y:443',
    '-a.com:443',
    '1.2.3.4.5:443',
  ])
    assert.equal(parseAuthority(bad, 'https', true), undefined, bad)
})
