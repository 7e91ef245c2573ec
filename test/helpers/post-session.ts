/** A Session for a POST / whose head was read (no socket): what body hooks are unit-tested on. */
import { RequestHead } from '../../src/core/request-head.ts'
import { Session } from '../../src/core/session.ts'

/** postSession: `contentLength` -1 for none; `fields` the raw header list (name, value, …). */
export function postSession(
  contentLength: number,
  { chunked = false, fields = [] as string[] } = {},
): Session {
  const head = new RequestHead()
  head.method = 'POST'
  head.target = '/'
  head.rawHeaders = fields
  head.contentLength = contentLength
  head.chunked = chunked
  return new Session(head, '127.0.0.1', 1, false, performance.now())
}
