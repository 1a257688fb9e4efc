/**
 * The only way time enters the core. Its shape is XState's `clock` option, so the same
 * object drives machine delays; the real one wraps timers, the simulator's is virtual.
 */
export interface Clock {
  now(): number
  setTimeout(fn: (...args: unknown[]) => void, ms: number): unknown
  clearTimeout(id: unknown): void
}
