#!/usr/bin/env -S node --max-semi-space-size=2 --max-inlined-bytecode-size=1500 --max-inlined-bytecode-size-cumulative=3000
// The installed `portcullis` command. Written in syntax every Node parses, so
// that an older Node gets a plain sentence instead of a syntax or
// file-extension error from the code it cannot run.
import { existsSync } from 'node:fs'

const MINIMUM = [22, 19]
const version = process.versions.node.split('.').map(Number)
if (version[0] < MINIMUM[0] || (version[0] === MINIMUM[0] && version[1] < MINIMUM[1])) {
  process.stderr.write(
    'Portcullis needs Node >= ' + MINIMUM.join('.') + ', this is ' + process.version + '\n',
  )
  process.exit(2)
}

// In the repository the sources run directly (Node strips the types); the
// published package has only the compiled dist/.
const sources = new URL('../src/cli/main.ts', import.meta.url)
const entry = existsSync(sources) ? sources : new URL('../dist/cli/main.js', import.meta.url)
const { main } = await import(entry.href)
process.exitCode = await main(process.argv.slice(2))
