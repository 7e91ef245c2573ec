import { scanRequestHead, parseRequestHead } from '/work/main/src/http1/request-head.ts'
import { ChunkedDecoder } from '/work/main/src/http1/chunked.ts'
const L = { maxHeadSize: 16384, maxHeaders: 100, maxTargetLength: 8192 }
for (const raw of ['GET /a?b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 'POST http://h:1/x HTTP/1.1\r\nHost: y\r\nTransfer-Encoding: chunked\r\n\r\n', 'GET / HTTP/1.1\r\nHost : x\r\n\r\n', 'GET / HTTP/1.1\nHost: x\n\n', 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n', 'GET / HTTP/2.0\r\nHost: x\r\n\r\n']) {
  const b = Buffer.from(raw)
  try { const e = scanRequestHead(b, 0, L); if (e < 0) { console.log('incomplete'); continue }; const h = parseRequestHead(b, 0, e, L); console.log(h.method, h.target, h.host, h.keepAlive, h.chunked, h.rawHeaders) } catch (err: any) { console.log('ERR', err.code, err.message) }
}
const d = new ChunkedDecoder('MALFORMED_REQUEST'); const out: string[] = []
const body = Buffer.from('5;ext=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\nNEXT')
let r = -1; for (let i = 0; i < body.length; i++) { r = d.feed(body.subarray(i, i+1), 0, { chunkData: (b) => out.push(b.toString()) }); if (r >= 0) { console.log('end at', i, r); break } }
console.log(out.join(''), d.trailers)
