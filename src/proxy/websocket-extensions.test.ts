import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RequestHead } from '../core/request-head.ts'
import { FrameError } from './websocket-frames.ts'
import { negotiatedDeflate, offerReadableExtensions, parseExtensions } from './websocket-extensions.ts'

function upgrade(...extensions: string[]): RequestHead {
  const head = new RequestHead()
  head.upgradeProtocol = 'websocket'
  head.rawHeaders = ['Host', 'a', 'Upgrade', 'websocket']
  for (const e of extensions) head.rawHeaders.push('Sec-WebSocket-Extensions', e)
  head.rawHeaders.push('Sec-WebSocket-Key', 'k')
  return head
}

describe('Sec-WebSocket-Extensions (RFC 6455 §9.1, RFC 7692 §7)', () => {
  it('parses elements, parameters, quoted values and empty elements', () => {
    assert.deepEqual(
      parseExtensions(
        ' permessage-deflate ; client_max_window_bits , , x-foo; a="1\\0"; b=2 ,Permessage-Deflate',
      ),
      [
        {
          name: 'permessage-deflate',
          params: [['client_max_window_bits', true]],
          text: 'permessage-deflate ; client_max_window_bits',
        },
        {
          name: 'x-foo',
          params: [
            ['a', '10'],
            ['b', '2'],
          ],
          text: 'x-foo; a="1\\0"; b=2',
        },
        { name: 'permessage-deflate', params: [], text: 'Permessage-Deflate' },
      ],
    )
    for (const bad of ['permessage-deflate; a="open', 'a b', 'a;', 'a; =1', 'a; b=', '"q"']) {
      assert.equal(parseExtensions(bad), undefined, bad)
    }
    assert.deepEqual(parseExtensions(''), [])
  })

  it('keeps only the permessage-deflate offers with RFC 7692 parameters, as the client wrote them', () => {
    const head = upgrade(
      'permessage-deflate; client_max_window_bits, x-webkit-deflate-frame',
      'permessage-deflate; server_no_context_takeover; server_max_window_bits=10, permessage-deflate; future_param',
    )
    offerReadableExtensions(head)
    assert.deepEqual(head.rawHeaders, [
      'Host',
      'a',
      'Upgrade',
      'websocket',
      'Sec-WebSocket-Extensions',
      'permessage-deflate; client_max_window_bits, permessage-deflate; server_no_context_takeover; server_max_window_bits=10',
      'Sec-WebSocket-Key',
      'k',
    ])
    // Nothing readable, or a header that does not parse: no header at all.
    for (const offer of ['x-webkit-deflate-frame', 'permessage-deflate; "broken']) {
      const h = upgrade(offer)
      offerReadableExtensions(h)
      assert.deepEqual(h.rawHeaders, ['Host', 'a', 'Upgrade', 'websocket', 'Sec-WebSocket-Key', 'k'])
    }
  })

  it('reads what the 101 agreed; anything the relay cannot read is a 1002', () => {
    assert.equal(negotiatedDeflate(['Upgrade', 'websocket']), null)
    assert.equal(negotiatedDeflate(['Sec-WebSocket-Extensions', '']), null)
    assert.deepEqual(negotiatedDeflate(['sec-websocket-extensions', 'permessage-deflate']), {
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 15,
    })
    assert.deepEqual(
      negotiatedDeflate([
        'Sec-WebSocket-Extensions',
        'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8; client_max_window_bits="12"',
      ]),
      {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 8,
        clientMaxWindowBits: 12,
      },
    )
    for (const bad of [
      'x-webkit-deflate-frame',
      'permessage-deflate, permessage-deflate',
      'permessage-deflate; client_max_window_bits',
      'permessage-deflate; server_max_window_bits=7',
      'permessage-deflate; server_max_window_bits=16',
      'permessage-deflate; server_max_window_bits=010',
      'permessage-deflate; server_no_context_takeover=1',
      'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
      'permessage-deflate; future_param',
      'permessage-deflate; "',
    ]) {
      assert.throws(
        () => negotiatedDeflate(['Sec-WebSocket-Extensions', bad]),
        (err) => err instanceof FrameError && err.closeCode === 1002,
        bad,
      )
    }
  })
})
