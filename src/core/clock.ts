/**
 * Time as the I/O layer sees it: the real one wraps Node's timers, the simulator's is
 * virtual. The core never holds one: it is told the time on every `handle(event, now)` and
 * keeps its own deadlines in a TimerQueue, which has this same shape.
 */
export interface Clock {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}
