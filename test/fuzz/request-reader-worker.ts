/**
 * Worker side of the RequestReader fuzz test: runs the inputs of one seed and
 * reports progress, so that the main thread can stop a reader that never
 * returns (a synchronous loop cannot be interrupted from its own thread).
 */
import { parentPort, workerData } from 'node:worker_threads'
import { generateCase, inputRng } from './request-reader-fuzz.ts'
import { checkCase } from './request-reader-oracle.ts'

/** What the main thread asks for. */
export interface FuzzJob {
  seed: number
  /** Inputs index `first` up to (not including) `end`. */
  first: number
  end: number
  /** Stop after this many failures. */
  maxFailures: number
}

/** What the worker reports. */
export type FuzzReport =
  | { kind: 'progress'; index: number }
  | { kind: 'done'; failures: string[]; inputs: number; messages: number; refused: number }

const PROGRESS_EVERY = 250

function run(job: FuzzJob): void {
  const failures: string[] = []
  let messages = 0
  let refused = 0
  let index = job.first
  for (; index < job.end && failures.length < job.maxFailures; index++) {
    if (index % PROGRESS_EVERY === 0)
      parentPort!.postMessage({ kind: 'progress', index } satisfies FuzzReport)
    const rng = inputRng(job.seed, index)
    const c = generateCase(rng)
    const result = checkCase(c, rng, index % 8 === 0)
    messages += result.completed
    if (result.refused) refused++
    if (result.problem === undefined) continue
    const input = compact(JSON.stringify(c.input.toString('latin1')))
    const limits = c.small ? 'small' : 'default'
    failures.push(`seed ${job.seed} index ${index} (${limits} limits): ${result.problem}\n  input: ${input}`)
  }
  const report: FuzzReport = { kind: 'done', failures, inputs: index - job.first, messages, refused }
  parentPort!.postMessage(report)
}

/** compact shortens runs of one character ("bbbb…" → "b{×16100}") so that a failure stays readable. */
function compact(text: string): string {
  return text.replace(/(.)\1{15,}/g, (run, c: string) => `${c}{×${run.length}}`)
}

run(workerData as FuzzJob)
