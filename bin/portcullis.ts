#!/usr/bin/env -S node --max-semi-space-size=2 --max-inlined-bytecode-size=1500 --max-inlined-bytecode-size-cumulative=3000
import { main } from '../src/cli/main.ts'

process.exitCode = await main(process.argv.slice(2))
