import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { HeaderList } from './header-list.ts'

describe('HeaderList', () => {
  it('reads case-insensitively and keeps raw case and order', () => {
    const h = new HeaderList(['Content-Type', 'a', 'X-Multi', '1', 'x-multi', '2'])
    assert.equal(h.get('content-type'), 'a')
    assert.deepEqual(h.getAll('X-MULTI'), ['1', '2'])
    assert.equal(h.has('nope'), false)
    assert.deepEqual([...h.entries()][0], ['Content-Type', 'a'])
  })

  it('set replaces all same-name fields at the first position', () => {
    const h = new HeaderList(['A', '1', 'B', '2', 'a', '3'])
    h.set('a', 'x')
    assert.deepEqual(h.raw, ['A', 'x', 'B', '2'])
    h.set('C', 'y')
    assert.deepEqual(h.raw, ['A', 'x', 'B', '2', 'C', 'y'])
  })

  it('delete removes every field of a name', () => {
    const h = new HeaderList(['A', '1', 'B', '2', 'a', '3'])
    assert.equal(h.delete('A'), true)
    assert.deepEqual(h.raw, ['B', '2'])
    assert.equal(h.delete('A'), false)
  })
})

describe('HeaderList refuses fields that cannot be sent as they are', () => {
  it('throws on CR, LF, NUL or other controls in a value, and on non-token names', () => {
    const h = new HeaderList()
    for (const v of ['a\r\nX-Injected: 1', 'a\nb', 'a\rb', 'a\0b', 'a\x7fb']) {
      assert.throws(() => h.set('X-A', v), TypeError)
      assert.throws(() => h.append('X-A', v), TypeError)
    }
    for (const n of ['', 'X A', 'X:A', 'X\r\nA', 'é']) assert.throws(() => h.set(n, 'v'), TypeError)
    h.set('X-A', 'tab\tand obs-text \xe9 are fine')
    assert.deepEqual(h.raw, ['X-A', 'tab\tand obs-text \xe9 are fine'])
  })
})
