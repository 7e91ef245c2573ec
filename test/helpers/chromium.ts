/**
 * Headless Chromium test helpers: whether Debian's chromium and certutil are
 * here, a throwaway HOME whose NSS database trusts a CA (what Chromium
 * on Linux reads; never `ignoreHTTPSErrors`), and a browser launched through a
 * proxy.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { Browser } from 'playwright-core'
import { hasOpenssl } from '../fixtures/self-signed.ts'

type After = { after(fn: () => unknown): void }

const run = promisify(execFile)

export const CHROMIUM = '/usr/bin/chromium'

/** chromiumSkip is a node:test `skip` value: the reason when chromium, certutil or openssl is missing, else false. */
export async function chromiumSkip(): Promise<string | false> {
  return (
    (!existsSync(CHROMIUM) && 'needs /usr/bin/chromium') ||
    (!existsSync('/usr/bin/certutil') && 'needs certutil (libnss3-tools)') ||
    (!(await hasOpenssl()) && 'needs openssl')
  )
}

/** trustingHome makes `DIR/home` with an NSS database that trusts `caPem`; returns its path, for HOME. */
export async function trustingHome(dir: string, caPem: string): Promise<string> {
  const home = join(dir, 'home')
  const nss = `sql:${join(home, '.pki', 'nssdb')}`
  await mkdir(join(home, '.pki', 'nssdb'), { recursive: true })
  await run('certutil', ['-N', '-d', nss, '--empty-password'])
  await run('certutil', ['-d', nss, '-A', '-t', 'C,,', '-n', 'portcullis-test', '-i', caPem])
  return home
}

/** launchThroughProxy starts headless Chromium with HOME `home` and every request (loopback too) through `proxy`. */
export async function launchThroughProxy(t: After, proxy: string, home: string): Promise<Browser> {
  const { chromium } = await import('playwright-core')
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    env: { ...process.env, HOME: home },
    // <-loopback>: Chromium otherwise never proxies localhost.
    args: [`--proxy-server=${proxy}`, '--proxy-bypass-list=<-loopback>'],
    timeout: 20_000,
  })
  t.after(() => browser.close())
  return browser
}
