/**
 * `portcullis ca init|show [--dir DIR]`: the local certificate authority
 * TLS interception signs its leaves with (src/forward/mitm/ca.ts). `init`
 * makes it (ECDSA P-256, or RSA 2048 with --rsa; key file 0600) and refuses to replace an existing
 * one; `show` prints the certificate, its SHA-256 fingerprint, and how to
 * trust it for curl, Chromium (NSS) and the system store. The private key
 * is never printed.
 */
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import {
  type Command,
  EXIT_OK,
  EXIT_RUNTIME,
  parseOrUsage,
  printError,
  printOut,
  UsageError,
} from './command.ts'

const HELP = `Usage: portcullis ca init|show [--dir DIR] [--rsa]

The local certificate authority used for TLS interception
('portcullis forward --mitm', forward.mitm in a configuration file).

  init   create the CA in DIR: ca.pem (the certificate clients trust) and
         ca-key.pem (its private key, mode 0600). Refuses to overwrite.
  show   print the CA certificate, its SHA-256 fingerprint and how to trust
         it (curl, Node, Chromium/NSS, Firefox, the Debian/Ubuntu,
         Fedora/RHEL and macOS system stores)

'init' also prints what 'show' does. The private key is never printed.

Options:
  -d, --dir DIR   the CA directory (default ./ca)
      --rsa       init: an RSA 2048 CA instead of ECDSA P-256 (for clients
                  that only accept RSA roots; leaves keep P-256 keys)
  -h, --help      show this help

Example:
  portcullis ca init --dir ./ca
  portcullis forward --mitm --ca-dir ./ca`

/** The `ca` command. */
export const ca: Command = {
  name: 'ca',
  summary: 'create or print the local CA used for TLS interception',
  help: HELP,
  run: runCa,
}

async function runCa(args: string[]): Promise<number> {
  const { values, positionals } = parseOrUsage('ca', () =>
    parseArgs({
      args,
      options: {
        dir: { type: 'string', short: 'd', default: './ca' },
        rsa: { type: 'boolean', default: false },
      },
      allowPositionals: true,
      strict: true,
    }),
  )
  const [action, ...extra] = positionals
  if (action !== 'init' && action !== 'show')
    throw new UsageError('ca', `expected 'init' or 'show', got '${action ?? ''}'`)
  if (extra.length > 0) throw new UsageError('ca', `unexpected argument '${extra[0]}'`)
  const dir = resolve(values.dir)
  const mitm = await import('../forward/mitm/ca.ts')
  if (action === 'init') {
    try {
      await mitm.createCa(dir, undefined, { rsa: values.rsa })
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      if (e.code === 'EEXIST') printError(`portcullis ca: a CA already exists in ${dir}; not replaced`)
      else printError(`portcullis ca: cannot create the CA in ${dir}: ${e.message}`)
      return EXIT_RUNTIME
    }
    printError(`portcullis ca: created ${mitm.caPaths(dir).cert} and ${mitm.caPaths(dir).key} (0600)`)
  }
  let certPem: string
  try {
    certPem = (await mitm.loadCa(dir)).certPem
  } catch (err) {
    printError(
      `portcullis ca: no CA in ${dir} (run 'portcullis ca init --dir ${values.dir}'): ${(err as Error).message}`,
    )
    return EXIT_RUNTIME
  }
  printOut(showText(certPem, mitm.fingerprint(certPem), mitm.caPaths(dir).cert))
  return EXIT_OK
}

/** showText: the certificate, its fingerprint, and the trust recipes. */
function showText(certPem: string, fingerprint: string, certPath: string): string {
  return `${certPem}

SHA-256 fingerprint: ${fingerprint}

Trust it (only on machines whose traffic you intercept yourself):
  curl:      curl --cacert ${certPath} -x http://127.0.0.1:3128 https://example.com/
  Node:      NODE_EXTRA_CA_CERTS=${certPath}
  Chromium (NSS, per user):
             certutil -d sql:$HOME/.pki/nssdb -A -t "C,," -n portcullis -i ${certPath}
  Firefox:   Settings > Privacy & Security > Certificates > Import
  Debian/Ubuntu system store:
             sudo cp ${certPath} /usr/local/share/ca-certificates/portcullis.crt && sudo update-ca-certificates
  Fedora/RHEL: sudo cp ${certPath} /etc/pki/ca-trust/source/anchors/portcullis.pem && sudo update-ca-trust
  macOS:     sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain ${certPath}`
}
