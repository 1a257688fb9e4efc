#!/usr/bin/env node
import { CliError } from '../src/cli/cli-error.js'
import { main } from '../src/cli/main.js'
import { installSignalHandlers, isStopping } from '../src/cli/shutdown.js'

installSignalHandlers()

// Users get one line, never a stack; CHAINSTORE_NETWORKER_DEBUG=1 shows it, for bug reports.
const debug = process.env.CHAINSTORE_NETWORKER_DEBUG === '1'

function fail(err: unknown): void {
  // A stop in progress (Ctrl-C, a closed output) owns the exit code and says what happened.
  if (isStopping()) return
  const message =
    err instanceof CliError
      ? err.message
      : `${err instanceof Error ? err.message : String(err)} (an unexpected error: run again with CHAINSTORE_NETWORKER_DEBUG=1 for details)`
  process.stderr.write(`chainstore-networker: ${message.split('\n')[0]}\n`)
  if (debug && err instanceof Error && err.stack !== undefined)
    process.stderr.write(`${err.stack}\n`)
  process.exit(1)
}

// Errors from deep inside a library, outside any await of ours, get the same one line.
process.on('uncaughtException', fail)
process.on('unhandledRejection', fail)

main(process.argv.slice(2)).then(() => {
  if (!isStopping()) process.exit(0)
}, fail)
