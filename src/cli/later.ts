/**
 * Commands named by the contract whose implementation comes later (the
 * forward proxy and its CA). They parse nothing, print a note and exit 2, so
 * scripts see a runtime failure rather than a usage error.
 */
import { type Command, EXIT_RUNTIME, printError } from './command.ts'

function notImplemented(name: string, summary: string, help: string): Command {
  return {
    name,
    summary,
    help,
    run: async function runNotImplemented() {
      printError(`portcullis ${name}: not implemented yet`)
      return EXIT_RUNTIME
    },
  }
}

/** The `forward` command (not implemented yet). */
export const forward = notImplemented(
  'forward',
  'quick forward proxy (CONNECT; --mitm for TLS interception)',
  `Usage: portcullis forward --listen HOST:PORT [--mitm] [--ca-dir DIR]

Run a forward proxy clients can use as their HTTP(S) proxy. With --mitm,
TLS connections are intercepted using the local CA (see 'portcullis ca').

Not implemented yet.`,
)

/** The `ca` command (not implemented yet). */
export const ca = notImplemented(
  'ca',
  'create or print the local CA used for TLS interception',
  `Usage: portcullis ca init|show [--dir DIR]

  init   create the local certificate authority in DIR
  show   print the CA certificate, for installing into trust stores

Not implemented yet.`,
)
