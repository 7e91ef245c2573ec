import assert from 'node:assert/strict'
import { PassThrough, Transform } from 'node:stream'
import { test } from 'node:test'
import { dropBodyDigests, RequestBodyTransformer, type TransformedBodySink } from './request-transform.ts'

/** A sink that records what it gets and takes `room` bytes before it says it is full. */
function sink(room = Infinity) {
  const got: Buffer[] = []
  const events: string[] = []
  let size = 0
  const s: TransformedBodySink & { got: Buffer[]; events: string[]; room: number } = {
    got,
    events,
    room,
    data(chunk) {
      got.push(chunk)
      size += chunk.length
      return size < s.room
    },
    end(trailers) {
      events.push(`end ${JSON.stringify(trailers)}`)
    },
    error(err) {
      events.push(`error ${err.message}`)
    },
    drain() {
      events.push('drain')
    },
  }
  return s
}

const tick = () => new Promise((r) => setImmediate(r))

test('the body goes through the transform; the input is copied; trailers filtered at the end', async () => {
  const out = sink()
  const t = new RequestBodyTransformer(
    new Transform({ transform: (c: Buffer, _e, done) => done(null, c.toString().toUpperCase()) }),
    out,
  )
  const slice = Buffer.from('abc')
  assert.equal(t.requestData(slice), true)
  slice.write('xyz') // the client's read buffer is reused: the transform has its own copy
  t.requestData(Buffer.from('def'))
  t.requestEnd(['X-Checksum', 'k', 'Digest', 'd', 'Authorization', 'a'])
  await tick()
  assert.equal(Buffer.concat(out.got).toString(), 'ABCDEF')
  assert.deepEqual(out.events, ['end ["X-Checksum","k"]'])
  t.requestEnd(undefined) // twice: nothing more
  await tick()
  assert.deepEqual(out.events, ['end ["X-Checksum","k"]'])
})

test('backpressure: a full upstream pauses the output, a full transform the client; bounded, nothing lost', async () => {
  const out = sink(10)
  const stream = new PassThrough({ highWaterMark: 16 })
  const t = new RequestBodyTransformer(stream, out)
  let accepted = 0
  let refused = false
  for (let i = 0; i < 100 && !refused; i++) {
    refused = !t.requestData(Buffer.alloc(8, i))
    accepted++
    await tick()
  }
  assert.ok(refused, 'the client is asked to pause once the transform is full')
  assert.ok(accepted < 20, `bounded: ${accepted} slices taken`)
  const sent = Buffer.concat(out.got).length
  assert.ok(sent <= 16, `the output paused once the sink was full (${sent} bytes)`)
  out.room = Infinity
  t.resumeOutput()
  await tick()
  assert.ok(out.events.includes('drain'), 'the transform drained: the client may go on')
  t.requestEnd(undefined)
  await tick()
  assert.equal(Buffer.concat(out.got).length, accepted * 8, 'everything taken came out, in order')
  assert.equal(out.got[0]![0], 0)
  assert.deepEqual(out.events.at(-1), 'end undefined')
})

test('a failing transform is reported once; data after the end fails; destroy stops everything', async () => {
  const out = sink()
  const t = new RequestBodyTransformer(
    new Transform({ transform: (_c, _e, done) => done(new Error('bad bytes')) }),
    out,
  )
  t.requestData(Buffer.from('x'))
  await tick()
  t.requestData(Buffer.from('y'))
  await tick()
  assert.deepEqual(out.events, ['error bad bytes'])

  const late = sink()
  const t2 = new RequestBodyTransformer(new PassThrough(), late)
  t2.requestEnd(undefined)
  assert.equal(t2.requestData(Buffer.from('z')), true)
  assert.deepEqual(late.events, ['error request body after the transform ended'])

  const gone = sink()
  const stream = new PassThrough()
  const t3 = new RequestBodyTransformer(stream, gone)
  t3.requestData(Buffer.from('a'))
  t3.destroy()
  await tick()
  assert.equal(stream.destroyed, true)
  assert.deepEqual(gone.events, [])
})

test('dropBodyDigests removes the old body digests from a flat head', () => {
  const fields = [
    'Host',
    'h',
    'Content-Digest',
    'a',
    'X-K',
    '1',
    'content-md5',
    'b',
    'Digest',
    'c',
    'Repr-Digest',
    'd',
  ]
  dropBodyDigests(fields)
  assert.deepEqual(fields, ['Host', 'h', 'X-K', '1'])
})
