/**
 * Ctrl-C (SIGINT) and SIGTERM close whatever the CLI has open, then exit 0; a second signal
 * exits at once. Handlers are installed when the CLI starts, so a signal at any moment —
 * mid-download included — finds the cleanups of everything opened so far.
 */
const cleanups = new Set<() => Promise<void>>()
let stopping = false

export function installSignalHandlers(): void {
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}

/** Registers a cleanup to run on a signal; returns a function that unregisters it. */
export function onShutdown(cleanup: () => Promise<void>): () => void {
  cleanups.add(cleanup)
  return () => {
    cleanups.delete(cleanup)
  }
}

/** For commands that run until interrupted: registers `cleanup` and never resolves. */
export function untilInterrupted(cleanup: () => Promise<void>): Promise<never> {
  onShutdown(cleanup)
  return new Promise<never>(() => {})
}

function stop(): void {
  if (stopping) process.exit(130)
  stopping = true
  // Bounded: the process leaves within a few seconds whatever hangs.
  const force = setTimeout(() => process.exit(0), 8000)
  force.unref()
  Promise.allSettled([...cleanups].map((cleanup) => cleanup())).then(() => process.exit(0))
}
