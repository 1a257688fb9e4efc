/**
 * How the CLI stops. Ctrl-C (SIGINT) and SIGTERM run the cleanups of whatever is open, then
 * exit: 0 when the command was in its run-until-stopped phase (a seeding `put` or `seed`, a
 * following `get --live`, `testnet`), 130 when they cut work short (a `get` still fetching, a
 * `put` still writing, a `demo`), so scripts can tell an interrupted download from a finished
 * one. A second signal exits 130 at once. A closed standard output (`get | head -c 10`) ends
 * the command quietly with 141, the status a shell reports for a process killed by SIGPIPE,
 * like other Unix tools that had output left to write.
 *
 * Handlers are installed when the CLI starts, so a signal at any moment, mid-download
 * included, finds the cleanups of everything opened so far.
 */

/** Why the CLI is stopping: a signal from the user, or nobody left to read standard output. */
export type StopReason = 'signal' | 'closed-output'

const cleanups = new Set<(reason: StopReason) => Promise<void> | void>()
let stopping = false
let runningUntilStopped = false

export const EXIT_INTERRUPTED = 130
export const EXIT_CLOSED_OUTPUT = 141
// Whatever hangs in a cleanup, the process leaves within this.
const FORCE_EXIT_MS = 8000

export function installSignalHandlers(): void {
  process.on('SIGINT', () => stop('signal'))
  process.on('SIGTERM', () => stop('signal'))
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      // EPIPE: the reader went away. Anything else on our own output is the same for us:
      // there is no one to tell, so stop quietly rather than with an 'error' stack trace.
      if (stream === process.stdout || err.code === 'EPIPE') stop('closed-output')
    })
  }
}

/** Registers a cleanup to run when the CLI stops early; returns a function that unregisters it. */
export function onShutdown(cleanup: (reason: StopReason) => Promise<void> | void): () => void {
  cleanups.add(cleanup)
  return () => {
    cleanups.delete(cleanup)
  }
}

/**
 * For commands that run until stopped: from here on a signal is the normal way to end them
 * (exit 0). Registers `cleanup` and never resolves.
 */
export function untilInterrupted(cleanup: (reason: StopReason) => Promise<void>): Promise<never> {
  runningUntilStopped = true
  onShutdown(cleanup)
  return new Promise<never>(() => {})
}

/**
 * The command's work is done (a put has written its core, a get --live has the whole
 * content); what follows is serving, so a signal from here on ends it with exit 0.
 */
export function workDone(): void {
  runningUntilStopped = true
}

/** True once a stop has begun: work still running should not report success. */
export function isStopping(): boolean {
  return stopping
}

function stop(reason: StopReason): void {
  if (stopping) {
    // A second Ctrl-C while the first is still closing; a pipe error while closing changes nothing.
    if (reason === 'signal') process.exit(EXIT_INTERRUPTED)
    return
  }
  stopping = true
  const code =
    reason === 'closed-output' ? EXIT_CLOSED_OUTPUT : runningUntilStopped ? 0 : EXIT_INTERRUPTED
  const force = setTimeout(() => process.exit(code), FORCE_EXIT_MS)
  force.unref()
  // Newest first: a command's own cleanup (reporting how far it got, removing a partial file)
  // runs before the session it depends on is closed.
  const ordered = [...cleanups].reverse()
  ;(async () => {
    for (const cleanup of ordered) {
      try {
        await cleanup(reason)
      } catch {
        // A failing cleanup must not keep the others from running or the process from leaving.
      }
    }
  })().then(() => process.exit(code))
}
