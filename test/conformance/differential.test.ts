/**
 * Differential conformance: every corpus entry goes, byte for byte, to
 * Portcullis's RequestReader and to a real node:http server, and both must
 * make the same decision (accept / refuse / wait for more bytes) and, where
 * they accept, hand the application the same method, target, field list,
 * body and trailers. Where Portcullis is deliberately stricter or looser, the
 * entry carries a DIFFERENCES.md id and the test checks Portcullis's
 * documented behaviour instead — and that node still behaves otherwise, so
 * the list never goes stale.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, test } from 'node:test'
import {
  type NodeHttpObserver,
  type NodeObservation,
  startNodeHttpObserver,
} from '../helpers/observe-node-http.ts'
import { type Observation, observeRequestReader } from '../helpers/observe-request-reader.ts'
import { buildCorpus, type CorpusEntry, DIFFERENCES, rawBytes } from './corpus.ts'

type Decision = 'accept' | 'reject' | 'incomplete'

/**
 * Statuses where Portcullis names the refusal more precisely than node,
 * which answers every parse error with 400 (431 for an oversized head).
 * DIFFERENCES.md, "Status refinements".
 */
const REFINED_STATUSES: ReadonlyMap<number, readonly number[]> = new Map([
  [414, [400, 431]],
  [501, [400]],
  [505, [400]],
])

const corpus = buildCorpus()
let nodeHttp: NodeHttpObserver
const tally = { accepted: 0, rejected: 0, incomplete: 0, differences: 0 }

before(async () => {
  nodeHttp = await startNodeHttpObserver()
})
after(() => nodeHttp.close())

test('the corpus is large, uniquely named, and its differences are documented', () => {
  assert.ok(corpus.length >= 300, `corpus has ${corpus.length} entries`)
  assert.equal(new Set(corpus.map((e) => e.name)).size, corpus.length, 'entry names are unique')
  const doc = readFileSync(new URL('./DIFFERENCES.md', import.meta.url), 'utf8')
  for (const [id, text] of Object.entries(DIFFERENCES)) {
    assert.match(doc, new RegExp(`^## ${id} `, 'm'), `DIFFERENCES.md has a heading for ${id}`)
    assert.ok(
      corpus.some((e) => e.difference === text),
      `${id} is exercised by at least one entry`,
    )
  }
  for (const e of corpus) {
    assert.equal(
      e.difference === undefined,
      e.portcullis === undefined,
      `${e.name}: difference and outcome go together`,
    )
  }
})

test('Portcullis and node:http agree on every corpus entry', { concurrency: 16 }, async (t) => {
  await Promise.all(corpus.map((entry) => t.test(entry.name, () => checkEntry(entry))))
  t.diagnostic(
    `${corpus.length} entries: ${tally.accepted} accepted, ${tally.rejected} rejected, ` +
      `${tally.incomplete} incomplete; ${tally.differences} documented differences`,
  )
})

async function checkEntry(entry: CorpusEntry): Promise<void> {
  const raw = rawBytes(entry)
  const mine = observeRequestReader([raw])
  const decision = decide(mine)
  // When Portcullis accepted everything, node is done once it answered as many messages.
  const hint = decision === 'accept' ? { expectedMessages: mine.messages.length } : {}
  const theirs = normaliseNode(await nodeHttp.observe(raw, hint))
  tally[decision === 'accept' ? 'accepted' : decision === 'reject' ? 'rejected' : 'incomplete']++
  const context = `\nPortcullis: ${summarise(mine)}\nnode:http:  ${summarise(theirs)} (${theirs.nodeError ?? 'no error'})`
  if (entry.difference !== undefined) {
    tally.differences++
    checkDocumentedDifference(entry, mine, theirs, context)
    return
  }
  assert.equal(decision, decide(theirs), `accept/refuse decision differs${context}`)
  if (mine.error !== undefined && theirs.error !== undefined)
    checkStatus(mine.error.status, theirs.error.status, context)
  // A refused stream: node may have reported the head whose framing it then refused; compare what completed.
  const ours = decision === 'reject' ? mine.messages.filter((m) => m.complete) : mine.messages
  const reference = decision === 'reject' ? theirs.messages.filter((m) => m.complete) : theirs.messages
  assert.equal(ours.length, reference.length, `number of messages differs${context}`)
  ours.forEach((m, i) => {
    const n = reference[i]!
    assert.equal(m.method, n.method, `method of message ${i}${context}`)
    assert.equal(m.target, n.target, `target of message ${i}${context}`)
    assert.equal(m.authority, n.authority, `absolute-form authority of message ${i}${context}`)
    assert.deepEqual(m.rawHeaders, n.rawHeaders, `field lines of message ${i}${context}`)
    assert.equal(m.complete, n.complete, `completion of message ${i}${context}`)
    if (m.complete) {
      assert.equal(m.body, n.body, `body of message ${i}${context}`)
      assert.deepEqual(m.trailers, n.trailers, `trailers of message ${i}${context}`)
    }
  })
}

/** A documented difference: Portcullis does what the entry says, and node still decides or answers otherwise. */
function checkDocumentedDifference(
  entry: CorpusEntry,
  mine: Observation,
  theirs: Observation,
  context: string,
): void {
  const expected = entry.portcullis!
  if (expected === 'accept') {
    assert.equal(decide(mine), 'accept', `${entry.difference}: Portcullis must accept${context}`)
  } else {
    assert.equal(
      mine.error?.status,
      expected,
      `${entry.difference}: Portcullis must refuse with ${expected}${context}`,
    )
  }
  const differs = decide(theirs) !== decide(mine) || theirs.error?.status !== mine.error?.status
  assert.ok(differs, `documented difference no longer observed, update the corpus${context}`)
}

function checkStatus(mine: number, theirs: number, context: string): void {
  // node refuses some requests by closing the socket without an answer (status 0).
  if (mine === theirs || theirs === 0) return
  const refines = REFINED_STATUSES.get(mine)
  assert.ok(refines?.includes(theirs), `refusal status differs: ${mine} vs ${theirs}${context}`)
}

function decide(obs: Observation): Decision {
  if (obs.error !== undefined) return 'reject'
  if (obs.messages.length > 0 && obs.messages.every((m) => m.complete)) return 'accept'
  return 'incomplete'
}

const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)(.*)$/

/**
 * normaliseNode maps node's view onto Portcullis's: an absolute-form target
 * becomes origin-form plus authority (RFC 9112 §3.2.2), a refusal by closing
 * the socket becomes status 0, and bytes after a `Connection: close` message
 * (which node refuses and Portcullis never reads, RFC 9112 §9.6) are ignored.
 */
function normaliseNode(obs: NodeObservation): NodeObservation {
  for (const m of obs.messages) {
    const abs = ABSOLUTE_FORM.exec(m.target)
    if (abs === null) continue
    const rest = abs[2]!
    m.authority = abs[1]!
    m.target = rest === '' ? '/' : rest.startsWith('?') ? `/${rest}` : rest
  }
  if (obs.error?.code === 'HPE_CLOSED_CONNECTION') obs.error = undefined
  const last = obs.messages.at(-1)
  if (obs.error === undefined && obs.closed && (last === undefined || !last.complete)) {
    obs.error = { status: 0, code: 'CLOSED' }
  }
  return obs
}

function summarise(obs: Observation): string {
  const messages = obs.messages.map(
    (m) =>
      `${m.method} ${m.target}${m.authority === undefined ? '' : ` @${m.authority}`} ` +
      `${JSON.stringify(m.rawHeaders).slice(0, 200)} body=${JSON.stringify(m.body.slice(0, 80))}` +
      `${m.complete ? '' : ' (incomplete)'}`,
  )
  const error = obs.error === undefined ? '' : ` error ${obs.error.status} ${obs.error.code}`
  return `[${messages.join(' | ')}]${error}`
}
