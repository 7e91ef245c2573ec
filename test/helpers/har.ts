/**
 * HAR test helpers: assertHar12 checks a parsed document against the HAR 1.2
 * spec's required fields and types (http://www.softwareishard.com/blog/har-12-spec/),
 * and Chromium's WebSocket extension where an entry has it.
 */
import assert from 'node:assert/strict'

/** The entry shape the tests read (loosely typed: assertHar12 checked it). */
export interface HarEntry {
  startedDateTime: string
  time: number
  comment?: string
  _resourceType?: string
  _webSocketMessages?: { type: string; time: number; opcode: number; data: string; _size?: number }[]
  request: {
    method: string
    url: string
    headers: { name: string; value: string }[]
    bodySize: number
    postData?: {
      mimeType: string
      text: string
      params?: { name: string; value: string }[]
      comment?: string
      _encoding?: string
    }
  }
  response: {
    status: number
    statusText: string
    headers: { name: string; value: string }[]
    content: Record<string, unknown>
  }
}

const isNum = (v: unknown) => typeof v === 'number' && Number.isFinite(v)
const isStr = (v: unknown) => typeof v === 'string'

function pairs(list: unknown, where: string): void {
  assert.ok(Array.isArray(list), `${where} is an array`)
  for (const p of list as { name: unknown; value: unknown }[])
    assert.ok(isStr(p.name) && isStr(p.value), `${where}: name and value are strings`)
}

/** assertHar12 fails unless `doc` is a HAR 1.2 log with every required field; returns its entries. */
export function assertHar12(doc: unknown): HarEntry[] {
  const log = (doc as { log: Record<string, unknown> }).log
  assert.equal(log.version, '1.2')
  const creator = log.creator as Record<string, unknown>
  assert.ok(isStr(creator.name) && isStr(creator.version), 'log.creator name and version')
  assert.ok(Array.isArray(log.entries), 'log.entries')
  for (const [i, e] of (log.entries as Record<string, unknown>[]).entries()) {
    const at = `entries[${i}]`
    assert.ok(
      isStr(e.startedDateTime) && !Number.isNaN(Date.parse(e.startedDateTime as string)),
      `${at}.startedDateTime`,
    )
    assert.ok(isNum(e.time) && (e.time as number) >= 0, `${at}.time`)
    const q = e.request as Record<string, unknown>
    for (const k of ['method', 'url', 'httpVersion']) assert.ok(isStr(q[k]), `${at}.request.${k}`)
    assert.ok(Array.isArray(q.cookies), `${at}.request.cookies`)
    pairs(q.headers, `${at}.request.headers`)
    pairs(q.queryString, `${at}.request.queryString`)
    assert.ok(isNum(q.headersSize) && isNum(q.bodySize), `${at}.request sizes`)
    if (q.postData !== undefined) {
      const p = q.postData as Record<string, unknown>
      assert.ok(isStr(p.mimeType), `${at}.request.postData.mimeType`)
      assert.ok(isStr(p.text), `${at}.request.postData.text (importers read it)`)
      if (p.params !== undefined) pairs(p.params, `${at}.request.postData.params`)
    }
    const r = e.response as Record<string, unknown>
    assert.ok(isNum(r.status) && isStr(r.statusText) && isStr(r.httpVersion), `${at}.response status`)
    assert.ok(Array.isArray(r.cookies), `${at}.response.cookies`)
    pairs(r.headers, `${at}.response.headers`)
    const c = r.content as Record<string, unknown>
    assert.ok(isNum(c.size) && isStr(c.mimeType), `${at}.response.content`)
    if (c.text !== undefined) assert.ok(isStr(c.text), `${at}.response.content.text`)
    assert.ok(isStr(r.redirectURL) && isNum(r.headersSize) && isNum(r.bodySize), `${at}.response fields`)
    assert.equal(typeof e.cache, 'object', `${at}.cache`)
    const t = e.timings as Record<string, unknown>
    for (const k of ['send', 'wait', 'receive'])
      assert.ok(isNum(t[k]) && (t[k] as number) >= -1, `${at}.timings.${k}`)
    if (e._webSocketMessages !== undefined) {
      assert.ok(Array.isArray(e._webSocketMessages), `${at}._webSocketMessages`)
      // What Chromium's importer requires of each message (else it skips it).
      for (const m of e._webSocketMessages as Record<string, unknown>[]) {
        assert.ok(m.type === 'send' || m.type === 'receive', `${at} message type`)
        assert.ok(isNum(m.time) && isNum(m.opcode) && isStr(m.data), `${at} message fields`)
      }
    }
  }
  return log.entries as HarEntry[]
}
