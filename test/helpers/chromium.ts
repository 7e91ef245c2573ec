/**
 * Headless Chromium test helpers: whether Debian's chromium and certutil are
 * here, and a throwaway HOME whose NSS database trusts a CA (what Chromium
 * on Linux reads; never `ignoreHTTPSErrors`).
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { hasOpenssl } from '../fixtures/self-signed.ts'

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
