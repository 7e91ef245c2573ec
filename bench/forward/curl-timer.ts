/**
 * curl as a timing client: a native TLS client (OpenSSL) whose own cost is a
 * fraction of Node's (a Node `tls.connect` handshake costs the client
 * ~0.5-1 ms of JavaScript on this kind of machine, counted in every figure
 * it times), and the client the tests drive anyway. curl times each
 * transfer itself (`--write-out`), from the transfer's start, so neither its
 * start-up nor the pipe to this process is counted.
 *
 * One curl process runs all of a phase's transfers (`next` between them), so
 * it is warm: `gated` puts a request to a local gate before each timed one,
 * and the gate answers when the benchmark says (`go`), so a timed request
 * starts at a chosen moment (e.g. once a burst of CONNECTs was answered).
 */
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'

/** What curl measured of one transfer, in ms from its start. */
export interface CurlTimes {
  status: number
  /** TCP connected (to the proxy, when there is one). */
  connect: number
  /** TLS handshake with the destination done (after CONNECT and its 200, through a proxy). */
  tls: number
  /** The answer's first byte. */
  firstByte: number
  /** The answer's last byte. */
  total: number
}

/** One transfer: its URL and, through a proxy, the proxy's address. */
export interface Transfer {
  url: string
  proxy?: string
  cacert: string
  /** Resume TLS sessions curl cached (default: every handshake is a full one). */
  resume?: boolean
}

/**
 * Written to stderr, which curl does not buffer (its stdout is block-buffered
 * on a pipe); the mark tells these lines from curl's error messages.
 */
const MARK = 'TIMES '
const FORMAT =
  '%{stderr}TIMES %{http_code} %{time_connect} %{time_appconnect} %{time_starttransfer} %{time_total}\\n'

/** hasCurl: the curl binary runs. */
export function hasCurl(): Promise<boolean> {
  return new Promise((resolve) => {
    const c = spawn('curl', ['--version'], { stdio: 'ignore' })
    c.once('error', () => resolve(false))
    c.once('exit', (code) => resolve(code === 0))
  })
}

/** lines for one transfer in a curl config file (`next` goes between two). */
function configOf(t: Transfer, timed: boolean): string {
  const lines = [`url = "${t.url}"`, 'output = "/dev/null"', 'silent', 'show-error']
  if (t.proxy !== undefined) lines.push(`proxy = "${t.proxy}"`)
  else lines.push('noproxy = "*"')
  if (t.url.startsWith('https:')) lines.push(`cacert = "${t.cacert}"`)
  if (t.resume !== true) lines.push('no-sessionid')
  // A new connection per transfer to the gateway (a new CONNECT and handshake): it closes the last one.
  lines.push('header = "Connection: close"', 'http1.1')
  if (timed) lines.push(`write-out = "${FORMAT}"`)
  return lines.join('\n')
}

function parse(line: string): CurlTimes {
  const [status, ...s] = line.slice(MARK.length).trim().split(' ').map(Number)
  const [connect, tls, firstByte, total] = s.map((x) => x * 1000) as [number, number, number, number]
  return { status: status!, connect, tls, firstByte, total }
}

/** run: the transfers one after another in one curl process; their times. */
export async function curlRun(transfers: Transfer[], configPath: string): Promise<CurlTimes[]> {
  writeFileSync(configPath, transfers.map((t) => configOf(t, true)).join('\nnext\n'))
  const out = await runCurl(configPath, () => {})
  return out.map(parse)
}

/**
 * CurlGated: the transfers run one after another in one curl process, each
 * when `go` is called; `go` resolves with its times.
 */
export class CurlGated {
  private readonly gate: http.Server
  private readonly held: http.ServerResponse[] = []
  private released = 0
  private readonly waiting: ((t: CurlTimes) => void)[] = []
  private done: Promise<string[]> | undefined

  private constructor(gate: http.Server) {
    this.gate = gate
  }

  static async start(transfers: Transfer[], configPath: string): Promise<CurlGated> {
    const gate = http.createServer()
    await new Promise<void>((resolve) => gate.listen(0, '127.0.0.1', resolve))
    const g = new CurlGated(gate)
    gate.on('request', (_req, res) => {
      g.held.push(res)
      g.release()
    })
    const url = `http://127.0.0.1:${(gate.address() as AddressInfo).port}/gate`
    const config = transfers.map((t) => `${configOf({ url, cacert: '' }, false)}\nnext\n${configOf(t, true)}`)
    writeFileSync(configPath, config.join('\nnext\n'))
    g.done = runCurl(configPath, (line) => g.waiting.shift()?.(parse(line)))
    return g
  }

  /** go lets the next transfer start now; resolves once it ended. */
  go(): Promise<CurlTimes> {
    const times = new Promise<CurlTimes>((resolve) => this.waiting.push(resolve))
    this.released++
    this.release()
    return times
  }

  private release(): void {
    while (this.released > 0 && this.held.length > 0) {
      this.released--
      const res = this.held.shift()!
      res.end()
    }
  }

  /** close waits for curl to end (every transfer must have been let go) and closes the gate. */
  async close(): Promise<void> {
    await this.done
    this.gate.close()
    this.gate.closeAllConnections()
  }
}

/** runCurl runs curl on a config file; `onLine` gets each line of times it writes; resolves with all of them. */
function runCurl(configPath: string, onLine: (line: string) => void): Promise<string[]> {
  const env = { ...process.env }
  for (const k of ['http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'all_proxy'])
    delete env[k]
  const child = spawn('curl', ['--config', configPath], { stdio: ['ignore', 'ignore', 'pipe'], env })
  const lines: string[] = []
  let rest = ''
  let err = ''
  child.stderr.setEncoding('latin1').on('data', (d: string) => {
    rest += d
    let i
    while ((i = rest.indexOf('\n')) >= 0) {
      const line = rest.slice(0, i)
      rest = rest.slice(i + 1)
      if (!line.startsWith(MARK)) err += `${line}\n`
      else {
        lines.push(line)
        onLine(line)
      }
    }
  })
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code) =>
      code === 0 ? resolve(lines) : reject(new Error(`curl exited ${code}: ${err.slice(-500)}`)),
    )
  })
}
