import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  CLOSE_PROTOCOL_ERROR,
  CLOSE_TOO_BIG,
  encodeFrame,
  FrameError,
  OP_BINARY,
  OP_CLOSE,
  OP_PING,
  OP_TEXT,
  WebSocketReader,
} from './websocket-frames.ts'

type Got = [kind: 'message' | 'control', opcode: number, payload: string]

function reader(fromClient: boolean, max = 1 << 20): { r: WebSocketReader; got: Got[] } {
  const got: Got[] = []
  const r = new WebSocketReader(fromClient, max, {
    message: (op, p) => got.push(['message', op, p.toString('latin1')]),
    control: (op, p) => got.push(['control', op, p.toString('latin1')]),
  })
  return { r, got }
}

/** fragment is a non-final frame (encodeFrame only makes final ones): the FIN bit cleared. */
function fragment(opcode: number, payload: string, toServer: boolean): Buffer {
  const f = encodeFrame(opcode, Buffer.from(payload, 'latin1'), toServer)
  f[0] = f[0]! & 0x7f
  return f
}

function codeOf(fn: () => void): number {
  try {
    fn()
  } catch (err) {
    assert.ok(err instanceof FrameError)
    return err.closeCode
  }
  return 0
}

describe('WebSocketReader and encodeFrame (RFC 6455 §5)', () => {
  it('round-trips every length encoding, masked and not, fed one byte at a time', () => {
    for (const toServer of [true, false]) {
      for (const len of [0, 1, 125, 126, 127, 65535, 65536, 70000]) {
        const payload = Buffer.alloc(len, 'ab')
        const frame = encodeFrame(OP_BINARY, payload, toServer)
        assert.equal((frame[1]! & 0x80) !== 0, toServer, 'masked toward a server only')
        const { r, got } = reader(toServer)
        if (len < 1000) for (const b of frame) r.push(Buffer.from([b]))
        else for (let i = 0; i < frame.length; i += 4093) r.push(frame.subarray(i, i + 4093))
        assert.deepEqual(got, [['message', OP_BINARY, payload.toString('latin1')]])
      }
    }
  })

  it('masks each frame with a fresh key', () => {
    const a = encodeFrame(OP_TEXT, Buffer.from('same'), true)
    const b = encodeFrame(OP_TEXT, Buffer.from('same'), true)
    assert.notDeepEqual(a.subarray(2, 6), b.subarray(2, 6))
  })

  it('joins fragments, passing a control frame between them first', () => {
    const { r, got } = reader(true)
    r.push(
      Buffer.concat([
        fragment(OP_TEXT, 'hel', true),
        encodeFrame(OP_PING, Buffer.from('p'), true),
        fragment(0, 'lo ', true),
        encodeFrame(0, Buffer.from('world'), true),
        encodeFrame(OP_TEXT, Buffer.from('next'), true),
      ]),
    )
    assert.deepEqual(got, [
      ['control', OP_PING, 'p'],
      ['message', OP_TEXT, 'hello world'],
      ['message', OP_TEXT, 'next'],
    ])
  })

  it('refuses what the RFC forbids with 1002', () => {
    const cases: [string, Buffer, boolean][] = [
      ['unmasked from a client', encodeFrame(OP_TEXT, Buffer.from('x'), false), true],
      ['masked from a server', encodeFrame(OP_TEXT, Buffer.from('x'), true), false],
      ['RSV1 (no extension negotiated)', Buffer.from([0xc1, 0x00]), false],
      ['opcode 3', Buffer.from([0x83, 0x00]), false],
      ['opcode 11', Buffer.from([0x8b, 0x00]), false],
      ['fragmented ping', Buffer.from([0x09, 0x00]), false],
      ['close over 125 bytes', encodeFrame(OP_CLOSE, Buffer.alloc(126), false), false],
      ['continuation with no message', encodeFrame(0, Buffer.from('x'), false), false],
      [
        'a new message inside a fragmented one',
        Buffer.concat([fragment(OP_TEXT, 'a', false), encodeFrame(OP_TEXT, Buffer.from('b'), false)]),
        false,
      ],
    ]
    for (const [what, bytes, fromClient] of cases) {
      assert.equal(
        codeOf(() => reader(fromClient).r.push(bytes)),
        CLOSE_PROTOCOL_ERROR,
        what,
      )
    }
  })

  it('with permessage-deflate agreed, RSV1 on a first frame marks the message compressed; elsewhere it is 1002', () => {
    const got: [number, string, boolean][] = []
    const sink = {
      message: (op: number, p: Buffer, compressed: boolean) =>
        got.push([op, p.toString('latin1'), compressed]),
      control: () => {},
    }
    const deflating = () => new WebSocketReader(false, 1 << 20, sink, true)
    const first = fragment(OP_TEXT, 'ab', false)
    first[0] = first[0]! | 0x40
    deflating().push(
      Buffer.concat([
        first,
        encodeFrame(OP_PING, Buffer.from('p'), false),
        encodeFrame(0, Buffer.from('cd'), false),
        encodeFrame(OP_BINARY, Buffer.from('plain'), false),
        encodeFrame(OP_BINARY, Buffer.from('z'), false, true),
      ]),
    )
    assert.deepEqual(got, [
      [OP_TEXT, 'abcd', true],
      [OP_BINARY, 'plain', false],
      [OP_BINARY, 'z', true],
    ])
    const cases: [string, Buffer][] = [
      ['RSV1 on a continuation', Buffer.concat([first, encodeFrame(0, Buffer.from('x'), false, true)])],
      ['RSV1 on a ping', encodeFrame(OP_PING, Buffer.from('x'), false, true)],
      ['RSV1 on a close', encodeFrame(OP_CLOSE, Buffer.from([3, 232]), false, true)],
      ['RSV2', Buffer.from([0xa1, 0x00])],
      ['RSV3', Buffer.from([0x91, 0x00])],
    ]
    for (const [what, bytes] of cases)
      assert.equal(
        codeOf(() => deflating().push(bytes)),
        CLOSE_PROTOCOL_ERROR,
        what,
      )
  })

  it('refuses a message over the cap with 1009 before reading its payload, across fragments too', () => {
    const { r } = reader(false, 10)
    // Only the head of an 11-byte frame: refused without waiting for the payload.
    assert.equal(
      codeOf(() => r.push(Buffer.from([0x82, 11]))),
      CLOSE_TOO_BIG,
    )
    const two = reader(false, 10)
    two.r.push(fragment(OP_TEXT, '123456', false))
    assert.equal(
      codeOf(() => two.r.push(encodeFrame(0, Buffer.from('12345'), false))),
      CLOSE_TOO_BIG,
    )
    assert.equal(
      codeOf(() => reader(false).r.push(Buffer.from([0x82, 127, 0x7f, 0, 0, 0, 0, 0, 0, 0]))),
      CLOSE_TOO_BIG,
    )
    // §5.2: a 64-bit length with its top bit set is not a length at all.
    assert.equal(
      codeOf(() => reader(false).r.push(Buffer.from([0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0]))),
      CLOSE_PROTOCOL_ERROR,
    )
    // Exactly the cap passes.
    const ok = reader(false, 10)
    ok.r.push(encodeFrame(OP_BINARY, Buffer.alloc(10), false))
    assert.equal(ok.got.length, 1)
  })
})
