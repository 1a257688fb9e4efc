/**
 * Runs `cleanup` once on SIGINT or SIGTERM, then exits 0; a second signal exits at once.
 * Returns a promise that never resolves, for commands that run until interrupted.
 */
export function untilInterrupted(cleanup: () => Promise<void>): Promise<never> {
  return new Promise<never>(() => {
    let stopping = false
    const stop = (): void => {
      if (stopping) process.exit(130)
      stopping = true
      // Bounded: the process leaves within a few seconds whatever hangs.
      const force = setTimeout(() => process.exit(0), 8000)
      force.unref()
      cleanup().then(
        () => process.exit(0),
        () => process.exit(0),
      )
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
}
