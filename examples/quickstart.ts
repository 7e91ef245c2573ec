/**
 * `npm start`: the demo origin on 127.0.0.1:3000, then the gateway from
 * examples/quickstart.yaml exactly as `portcullis start -c` runs it.
 */
import { fileURLToPath } from 'node:url'
import { main } from '../src/cli/main.ts'
import { startDemoOrigin } from './demo-origin.ts'

const originPort = Number(process.env.DEMO_ORIGIN_PORT ?? 3000)
const origin = await startDemoOrigin(originPort)
process.stderr.write(`demo origin listening on http://127.0.0.1:${originPort}\n`)
const config = fileURLToPath(new URL('./quickstart.yaml', import.meta.url))
const code = await main(['start', '--config', config])
origin.close()
process.exit(code)
