/**
 * limits.maxWebSocketMessage (the cap on a message handed to
 * onWebSocketMessage): a size, 1 MiB by default, never 0, and a wrong value
 * is reported at its line and column like any other key.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatProblem, parseConfigText } from '../../src/config/load.ts'

test('limits.maxWebSocketMessage: default 1 MiB, sizes accepted, 0 refused at its position', () => {
  const none = parseConfigText('routes: []\n', 'a.yaml', {})
  assert.ok(none.ok)
  assert.equal(none.config.limits.maxWebSocketMessage, 1024 * 1024)
  const set = parseConfigText('limits:\n  maxWebSocketMessage: 64kb\n', 'b.yaml', {})
  assert.ok(set.ok)
  assert.equal(set.config.limits.maxWebSocketMessage, 64 * 1024)
  const zero = parseConfigText('limits:\n  maxWebSocketMessage: 0\n', 'c.yaml', {})
  assert.ok(!zero.ok)
  assert.deepEqual(zero.problems.map(formatProblem), [
    'c.yaml:2:24 limits.maxWebSocketMessage: must be more than 0 (a message over it closes the connection)',
  ])
})
