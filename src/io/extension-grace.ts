import type { Clock } from '../core/clock.js'

/** What the queue needs of a connection: when its grace period ends, while it runs. */
export interface GraceHolder {
  graceEnds: number | null
}

/**
 * The grace period of every connection, on one timer. Each period starts when its
 * connection is listed and lasts the same `period`, so periods end in the order they
 * started: a queue in that order, and one timer for its head, do what a timer per
 * connection did, without a timer object and its closure kept per connection.
 */
export class GraceQueue<T extends GraceHolder> {
  private queue: T[] = []
  /** Index of the queue's head: entries before it are done. */
  private head = 0
  /** Entries still running (stopped ones stay queued until they reach the head). */
  private running = 0
  private timer: unknown = null

  constructor(
    private readonly clock: Clock,
    private readonly period: number,
    /** The period of `holder` is over. */
    private readonly ended: (holder: T) => void,
  ) {}

  /**
   * Starts `holder`'s period now. Its end is kept in whole milliseconds, rounded up (never
   * early, under 1 ms late, as a timer may be): a fraction would be a number object of its
   * own on every connection.
   */
  start(holder: T): void {
    holder.graceEnds = Math.ceil(this.clock.now() + this.period)
    this.queue.push(holder)
    this.running++
    if (this.timer === null) this.arm()
  }

  /** Stops `holder`'s period early: it will not end. */
  stop(holder: T): void {
    if (holder.graceEnds === null) return
    holder.graceEnds = null
    if (--this.running === 0) this.clear()
  }

  /** Timers armed: one while any period runs. */
  get timerCount(): number {
    return this.timer === null ? 0 : 1
  }

  /** Stops every period (the networker closes). */
  clear(): void {
    for (let i = this.head; i < this.queue.length; i++) (this.queue[i] as T).graceEnds = null
    this.queue = []
    this.head = 0
    this.running = 0
    if (this.timer !== null) this.clock.clearTimeout(this.timer)
    this.timer = null
  }

  private arm(): void {
    this.skipStopped()
    const next = this.queue[this.head]
    if (next === undefined || next.graceEnds === null) return
    const wait = Math.max(0, next.graceEnds - this.clock.now())
    this.timer = this.clock.setTimeout(() => this.fire(), wait)
  }

  private fire(): void {
    this.timer = null
    const now = this.clock.now()
    for (let next = this.queue[this.head]; next !== undefined; next = this.queue[this.head]) {
      if (next.graceEnds !== null && next.graceEnds > now) break
      this.head++
      if (next.graceEnds === null) continue
      next.graceEnds = null
      this.running--
      this.ended(next)
    }
    this.compact()
    if (this.running > 0 && this.timer === null) this.arm()
  }

  private skipStopped(): void {
    while (this.head < this.queue.length && (this.queue[this.head] as T).graceEnds === null) {
      this.head++
    }
    this.compact()
  }

  /** Drops the done entries once they are half the array, so it never grows without bound. */
  private compact(): void {
    if (this.head === this.queue.length) {
      this.queue = []
      this.head = 0
    } else if (this.head > 64 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head)
      this.head = 0
    }
  }
}
