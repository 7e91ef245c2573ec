/**
 * The request corpus of the conformance suite: valid and malformed requests,
 * generated from families, each fed byte for byte to Portcullis's
 * RequestReader and to node:http by differential.test.ts. Entries where
 * Portcullis intentionally behaves differently say why (`difference`, an id
 * from DIFFERENCES.md) and what Portcullis must do instead (`portcullis`).
 */
import type { CorpusEntry } from './corpus-build.ts'
import { fieldNames, fieldValues, host, limits, lineEndings, obsFold } from './corpus-fields.ts'
import {
  chunkedBodies,
  connection,
  contentLength,
  expect,
  pipelines,
  transferEncoding,
} from './corpus-framing.ts'
import { leadingLines, methods, targets, versions } from './corpus-request-line.ts'

export { type CorpusEntry, DIFFERENCES, type ExpectedOutcome } from './corpus-build.ts'

/** buildCorpus returns every entry, in family order. Names are unique. */
export function buildCorpus(): CorpusEntry[] {
  return [
    ...methods(),
    ...targets(),
    ...versions(),
    ...leadingLines(),
    ...host(),
    ...fieldNames(),
    ...fieldValues(),
    ...obsFold(),
    ...lineEndings(),
    ...limits(),
    ...contentLength(),
    ...transferEncoding(),
    ...chunkedBodies(),
    ...connection(),
    ...expect(),
    ...pipelines(),
  ]
}

/** rawBytes is an entry's bytes on the wire. */
export function rawBytes(entry: CorpusEntry): Buffer {
  return typeof entry.raw === 'string' ? Buffer.from(entry.raw, 'latin1') : entry.raw
}
