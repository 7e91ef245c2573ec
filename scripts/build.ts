/**
 * `npm run build` (also run by `npm pack`/`npm publish` through `prepack`):
 * compiles src/ to JavaScript and declaration files in dist/, the only code
 * the published package ships. Development and the tests run the .ts sources
 * directly; dist/ is git-ignored.
 *
 * tsc's `rewriteRelativeImportExtensions` turns `./x.ts` into `./x.js` in the
 * emitted JavaScript but leaves the declaration files importing `./x.ts`; a
 * consumer's TypeScript older than 5.7, or one without
 * `allowImportingTsExtensions`, may reject that (TS5097), so the relative
 * specifiers in dist/**\/*.d.ts are rewritten to `.js` here.
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../', import.meta.url))
const dist = join(root, 'dist')
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')

// Built beside dist/ and moved into place at the end, so a build running
// while another packs (two test runs at once) never leaves a half-written dist/.
const building = join(root, `dist.building-${process.pid}`)
rmSync(building, { recursive: true, force: true })
try {
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', building], {
    stdio: 'inherit',
  })
} catch {
  // tsc has printed the errors; a half-built dist/ must not be packed.
  rmSync(building, { recursive: true, force: true })
  process.stderr.write('portcullis build: tsc failed; dist/ left as it was\n')
  process.exit(1)
}

let rewritten = 0
for (const entry of readdirSync(building, { recursive: true, encoding: 'utf8' })) {
  if (!entry.endsWith('.d.ts')) continue
  const file = join(building, entry)
  const text = readFileSync(file, 'utf8')
  // `from './x.ts'`, `import('./x.ts')`: relative specifiers only.
  const fixed = text.replace(/(['"])(\.{1,2}\/[^'"]*?)\.ts\1/g, '$1$2.js$1')
  if (fixed !== text) {
    writeFileSync(file, fixed)
    rewritten++
  }
}
rmSync(dist, { recursive: true, force: true })
renameSync(building, dist)
process.stdout.write(`portcullis build: dist/ written (${rewritten} declaration files re-pointed at .js)\n`)
