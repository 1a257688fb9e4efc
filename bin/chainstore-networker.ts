#!/usr/bin/env node
import { CliError } from '../src/cli/cli-error.js'
import { main } from '../src/cli/main.js'
import { installSignalHandlers } from '../src/cli/shutdown.js'

installSignalHandlers()

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => {
    // Users get one line, never a stack; a bug still says what it was.
    const message = err instanceof CliError || err instanceof Error ? err.message : String(err)
    process.stderr.write(`chainstore-networker: ${message}\n`)
    process.exit(1)
  },
)
