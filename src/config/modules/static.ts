/**
 * Configuration of the `static` route action: serve files from a directory.
 * `root` is resolved against the configuration file's directory by the loader.
 */
import { z } from 'zod'
import { duration } from '../unit-schemas.ts'

export const staticSchema = z.strictObject({
  /** The directory files are served from. Nothing outside it is ever served (symlinks included). */
  root: z.string().min(1),
  /** Remove the route's `match.path` prefix before looking the file up (`/assets/a.js` → `ROOT/a.js`). */
  stripPrefix: z.boolean().default(true),
  /** Files tried, in order, when the path names a directory. */
  index: z.array(z.string().min(1)).default(['index.html']),
  /** Serve `FILE.br` / `FILE.gz` when present and accepted by the client. */
  precompressed: z.boolean().default(true),
  /** `Cache-Control: max-age` for served files; unset sends none. */
  maxAge: duration.optional(),
  /** Whether dot-files (`.env`, `.git/…`) may be served; by default they are refused with 404. */
  dotfiles: z.enum(['deny', 'allow']).default('deny'),
})

export type StaticConfig = z.output<typeof staticSchema>
