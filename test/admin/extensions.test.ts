/**
 * Serving extensions (src/observe/admin/extensions.ts) through a real
 * gateway's admin API: an eager one runs from the start; an on-demand one
 * starts at the first ask for its topic, answers while asked, and stops by
 * itself once nobody asked for its idle time, then starts again when asked.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { registerServingExtension } from '../../src/observe/admin/extensions.ts'
import { startGateway } from '../helpers/gateway.ts'

describe('admin serving extensions', () => {
  it('eager from the start; on demand only while asked', { timeout: 20_000 }, async (t) => {
    const events: string[] = []
    registerServingExtension({
      name: 'test-eager',
      start: () => (
        events.push('eager start'),
        { topics: { eager: () => 'e' }, stop: () => void events.push('eager stop') }
      ),
    })
    let asked = 0
    registerServingExtension({
      name: 'test-lazy',
      onDemand: { topics: ['lazy'], idleStop: 200 },
      start: () => {
        events.push('lazy start')
        return { topics: { lazy: () => ++asked }, stop: () => void events.push('lazy stop') }
      },
    })
    const gw = await startGateway(
      { admin: { address: '127.0.0.1:0' }, routes: [{ respond: { body: 'x' } }] },
      { t },
    )
    assert.deepEqual(events, ['eager start'])
    const instance = { topic: (name: string) => gw.gw.admin!.extensions.topic(name) }
    assert.equal(instance.topic('eager'), 'e')
    assert.equal(instance.topic('nothing'), undefined)
    assert.deepEqual(events, ['eager start'])
    assert.equal(instance.topic('lazy'), 1)
    assert.equal(instance.topic('lazy'), 2)
    assert.deepEqual(events, ['eager start', 'lazy start'])
    // Asked within its idle time, it stays; then left alone, it stops.
    await new Promise((r) => setTimeout(r, 100))
    assert.equal(instance.topic('lazy'), 3)
    for (let i = 0; i < 50 && !events.includes('lazy stop'); i++) await new Promise((r) => setTimeout(r, 50))
    assert.deepEqual(events, ['eager start', 'lazy start', 'lazy stop'])
    asked = 0
    assert.equal(instance.topic('lazy'), 1)
    assert.deepEqual(events, ['eager start', 'lazy start', 'lazy stop', 'lazy start'])
    await gw.close()
    assert.deepEqual(events.slice(4).sort(), ['eager stop', 'lazy stop'])
  })
})
