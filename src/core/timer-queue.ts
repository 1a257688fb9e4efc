import type { Clock } from './clock.js'

interface Timer {
  id: number
  at: number
  fn: (...args: unknown[]) => void
}

/**
 * Virtual time for the machines: XState's delays are scheduled here and fire only when the
 * driver advances `now` (quinn-proto's poll_timeout/handle_timeout), so the core never
 * reads or waits on a real clock. Timers due at the same instant fire in creation order.
 */
export class TimerQueue implements Clock {
  private current = 0
  private nextId = 1
  private timers: Timer[] = []

  now(): number {
    return this.current
  }

  setTimeout(fn: (...args: unknown[]) => void, ms: number): number {
    const id = this.nextId++
    this.timers.push({ id, at: this.current + Math.max(0, ms), fn })
    return id
  }

  clearTimeout(id: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== id)
  }

  /** The earliest pending deadline, or null when nothing is scheduled. */
  nextDeadline(): number | null {
    let min: number | null = null
    for (const t of this.timers) if (min === null || t.at < min) min = t.at
    return min
  }

  get size(): number {
    return this.timers.length
  }

  /** Moves time forward (never back) and fires what came due, earliest first. */
  advance(now: number): void {
    if (now < this.current) return
    for (;;) {
      // The list stays in creation order, so a strict `<` keeps the first-created of
      // timers due at the same instant.
      let due: Timer | undefined
      for (const t of this.timers) if (t.at <= now && (due === undefined || t.at < due.at)) due = t
      if (due === undefined) break
      this.timers = this.timers.filter((t) => t !== due)
      this.current = due.at
      due.fn()
    }
    this.current = now
  }
}
