import type { DriverClock } from '../src/io/core-driver.js'

interface Task {
  at: number
  seq: number
  fn: () => void
  cancelled: boolean
}

/**
 * Virtual time and the simulation's only scheduler. `setTimeout` work and simulated I/O are
 * tasks ordered by (time, creation order); `step()` runs the next one and then lets the
 * promise jobs it started finish, so a run is a pure function of its seed.
 */
export class VirtualClock implements DriverClock {
  private current = 0
  private seq = 0
  private tasks: Task[] = []
  /** Tasks run so far. */
  events = 0

  now(): number {
    return this.current
  }

  setTimeout(fn: () => void, ms: number): Task {
    return this.schedule(Math.max(0, Number.isFinite(ms) ? ms : 0), fn)
  }

  clearTimeout(handle: unknown): void {
    if (handle !== null && typeof handle === 'object' && 'cancelled' in handle) {
      ;(handle as Task).cancelled = true
    }
  }

  schedule(delay: number, fn: () => void): Task {
    const task: Task = { at: this.current + delay, seq: this.seq++, fn, cancelled: false }
    // Insert in order: (at, seq). Tasks are mostly appended near the end.
    let i = this.tasks.length
    while (i > 0) {
      const prev = this.tasks[i - 1] as Task
      if (prev.at < task.at || (prev.at === task.at && prev.seq < task.seq)) break
      i--
    }
    this.tasks.splice(i, 0, task)
    return task
  }

  /** Pending (not cancelled) tasks. */
  get pending(): number {
    let n = 0
    for (const t of this.tasks) if (!t.cancelled) n++
    return n
  }

  nextAt(): number | null {
    for (const t of this.tasks) if (!t.cancelled) return t.at
    return null
  }

  /** Runs the next task, if any, then drains the promise jobs it caused. */
  async step(): Promise<boolean> {
    let task = this.tasks.shift()
    while (task?.cancelled) task = this.tasks.shift()
    if (task === undefined) return false
    this.current = task.at
    this.events++
    task.fn()
    await drain()
    return true
  }

  /**
   * Runs tasks until none is left before `until`, then sets the time to it. `until` is an
   * absolute virtual time in milliseconds (the clock starts at 0), not a duration: see runFor.
   */
  async runUntil(until: number, stop: () => boolean = () => false): Promise<void> {
    // Work started outside a task (a call from the scenario) schedules its tasks from
    // promise jobs: let those run before looking for the next task.
    await drain()
    for (let at = this.nextAt(); at !== null && at <= until; at = this.nextAt()) {
      await this.step()
      if (stop()) return
    }
    if (this.current < until) this.current = until
  }

  /** Runs the clock for `duration` virtual milliseconds from now. */
  runFor(duration: number): Promise<void> {
    return this.runUntil(this.current + duration)
  }

  /**
   * Drives the clock until `promise` settles, and settles like it. In the simulator nothing
   * moves unless the clock is driven, so `await networker.configure(…)` on its own would wait
   * forever (Node then exits with code 13 and no message); `await clock.settle(networker
   * .configure(…))` runs exactly as many tasks as it takes. Rejects with an UnsettledError when
   * no task is left to run, or when the promise has not settled `within` virtual ms (default
   * 60 000), so a hang is an error that says so instead of a silent exit.
   */
  async settle<T>(promise: PromiseLike<T>, opts: { within?: number } = {}): Promise<T> {
    const within = opts.within ?? 60_000
    let outcome: { ok: true; value: T } | { ok: false; error: unknown } | null = null
    promise.then(
      (value) => {
        outcome = { ok: true, value }
      },
      (error: unknown) => {
        outcome = { ok: false, error }
      },
    )
    const deadline = this.current + within
    await drain()
    while (outcome === null) {
      const at = this.nextAt()
      if (at === null) {
        throw new UnsettledError(
          `the promise cannot settle: nothing is left to run on the virtual clock (at ${this.current} virtual ms)`,
        )
      }
      if (at > deadline) {
        throw new UnsettledError(`the promise did not settle within ${within} virtual ms`)
      }
      await this.step()
    }
    const settled = outcome as { ok: true; value: T } | { ok: false; error: unknown }
    if (settled.ok) return settled.value
    throw settled.error
  }
}

/** What `settle` reports when the promise cannot settle: nothing left to run, or too late. */
export class UnsettledError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UnsettledError'
  }
}

/**
 * Lets promise jobs and next-ticks started by a task run to completion. Stream libraries
 * defer work that way; one macrotask turn runs all of it, in an order fixed by the program.
 */
export function drain(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}
