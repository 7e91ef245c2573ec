/**
 * `node examples/demo-origin.ts`, as examples/compression.yaml tells users
 * to run it, starts the demo origin and serves until stopped.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const script = fileURLToPath(new URL('../../examples/demo-origin.ts', import.meta.url))

describe('examples/demo-origin.ts', () => {
  it('run directly, listens, echoes a request and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, [script], {
      env: { ...process.env, DEMO_ORIGIN_PORT: '0' },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let err = ''
        const timer = setTimeout(() => reject(new Error(`not listening after 20 s: ${err}`)), 20_000)
        child.stderr.setEncoding('utf8').on('data', (d: string) => {
          err += d
          const m = /demo origin listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(err)
          if (m) {
            clearTimeout(timer)
            resolve(m[1]!)
          }
        })
      })
      const echoed = (await (await fetch(`${url}/hello?x=1`)).json()) as { method: string; url: string }
      assert.equal(echoed.method, 'GET')
      assert.equal(echoed.url, '/hello?x=1')
    } finally {
      child.kill('SIGTERM')
    }
    assert.equal(await exited, 0)
  })
})
