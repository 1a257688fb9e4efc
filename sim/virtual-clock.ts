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

  /** Runs tasks until none is left before `until` (virtual ms), then sets the time to it. */
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
}

/**
 * Lets promise jobs and next-ticks started by a task run to completion. Stream libraries
 * defer work that way; one macrotask turn runs all of it, in an order fixed by the program.
 */
export function drain(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}
