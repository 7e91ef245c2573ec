/**
 * Bounded fuzzing of the downstream framing (RequestReader): tens of
 * thousands of mutated requests, pipelined sequences and chunked bodies, each
 * fed whole, in random pieces and (every 8th) byte by byte. See
 * request-reader-oracle.ts for the properties checked.
 *
 * Two seeds run, each in its own worker: a fixed one (the same inputs every
 * run) and a fresh random one (new inputs every run). Both are printed with
 * any failure. Replay: PORTCULLIS_FUZZ_SEED=<seed> [PORTCULLIS_FUZZ_INDEX=<i>]
 * npx node --test test/fuzz/request-reader.test.ts
 */
import assert from 'node:assert/strict'
import { randomInt } from 'node:crypto'
import { test } from 'node:test'
import { Worker } from 'node:worker_threads'
import type { FuzzJob, FuzzReport } from './request-reader-worker.ts'

const FIXED_SEED = 0x5eed_c0de
const INPUTS_PER_SEED = Number(process.env.PORTCULLIS_FUZZ_INPUTS ?? 20_000)
/** A worker silent for this long is stuck on one input: the reader did not terminate. */
const STALL_MS = 5_000
/** The whole test's budget: 30 s for the default 2 × 20k inputs, more only when asked for more. */
const BUDGET_MS = 30_000 * Math.max(1, INPUTS_PER_SEED / 20_000)

interface SeedResult {
  seed: number
  report: Extract<FuzzReport, { kind: 'done' }>
  ms: number
}

function jobs(): FuzzJob[] {
  const replay = process.env.PORTCULLIS_FUZZ_SEED
  if (replay !== undefined) {
    const seed = Number(replay)
    const index = process.env.PORTCULLIS_FUZZ_INDEX
    const first = index === undefined ? 0 : Number(index)
    return [{ seed, first, end: index === undefined ? INPUTS_PER_SEED : first + 1, maxFailures: 5 }]
  }
  return [FIXED_SEED, randomInt(2 ** 31)].map((seed) => ({
    seed,
    first: 0,
    end: INPUTS_PER_SEED,
    maxFailures: 5,
  }))
}

/** runSeed runs one job in a worker, failing it when the worker stalls or dies. */
function runSeed(job: FuzzJob): Promise<SeedResult> {
  const started = performance.now()
  const worker = new Worker(new URL('./request-reader-worker.ts', import.meta.url), { workerData: job })
  return new Promise((resolve, reject) => {
    let lastIndex = job.first
    let watchdog = setTimeout(stalled, STALL_MS)
    function stalled(): void {
      void worker.terminate()
      reject(
        new Error(
          `seed ${job.seed}: no progress for ${STALL_MS} ms after input ${lastIndex} — the reader did not terminate ` +
            `on one of inputs ${lastIndex}..${lastIndex + 249} (replay with PORTCULLIS_FUZZ_SEED=${job.seed})`,
        ),
      )
    }
    worker.on('message', (report: FuzzReport) => {
      clearTimeout(watchdog)
      if (report.kind === 'progress') {
        lastIndex = report.index
        watchdog = setTimeout(stalled, STALL_MS)
        return
      }
      void worker.terminate()
      resolve({ seed: job.seed, report, ms: performance.now() - started })
    })
    worker.on('error', (err) => {
      clearTimeout(watchdog)
      reject(new Error(`seed ${job.seed}: worker failed after input ${lastIndex}: ${err.stack ?? err}`))
    })
  })
}

test(
  'RequestReader: split-invariant, exact bodies, round trip, always terminates',
  {
    timeout: BUDGET_MS,
  },
  async (t) => {
    const planned = jobs()
    const seeds = planned.map((j) => j.seed).join(', ')
    t.diagnostic(`seeds ${seeds} (replay one with PORTCULLIS_FUZZ_SEED=<seed>)`)
    const results = await Promise.all(planned.map(runSeed))
    for (const { seed, report, ms } of results) {
      t.diagnostic(
        `seed ${seed}: ${report.inputs} inputs in ${Math.round(ms)} ms, ` +
          `${report.messages} messages completed, ${report.refused} inputs refused`,
      )
    }
    const failures = results.flatMap((r) => r.report.failures)
    assert.deepEqual(failures, [], `fuzz failures (seeds ${seeds}):\n${failures.join('\n\n')}`)
    const inputs = results.reduce((n, r) => n + r.report.inputs, 0)
    assert.equal(
      inputs,
      planned.reduce((n, j) => n + j.end - j.first, 0),
      'every input was run',
    )
  },
)
