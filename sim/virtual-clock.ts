import type { DriverClock } from '../src/io/core-driver.js'

interface Task {
  at: number
  seq: number
  fn: () => void
  cancelled: boolean
  /** It ran: cancelling it now changes nothing. */
  done: boolean
}

function before(a: Task, b: Task): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq)
}

/**
 * Virtual time and the simulation's only scheduler. `setTimeout` work and simulated I/O are
 * tasks ordered by (time, creation order); each runs only once the promise jobs and
 * next-ticks the one before started have all run, so a run is a pure function of its seed.
 *
 * The tasks are a binary min-heap on (time, creation order): a thousand nodes keep tens of
 * thousands of tasks pending (refreshes, deliveries, deadlines), and a sorted array paid for
 * each insert and each run in proportion to them. A cancelled task stays in the heap,
 * marked, until it comes up.
 */
export class VirtualClock implements DriverClock {
  private readonly tasksPerTurn: number
  private current = 0
  private seq = 0
  private readonly tasks: Task[] = []
  private live = 0
  /** Tasks run so far. */
  events = 0

  constructor(opts: VirtualClockOptions = {}) {
    this.tasksPerTurn = Math.max(1, Math.floor(opts.tasksPerTurn ?? TASKS_PER_TURN))
  }

  now(): number {
    return this.current
  }

  setTimeout(fn: () => void, ms: number): Task {
    return this.schedule(Math.max(0, Number.isFinite(ms) ? ms : 0), fn)
  }

  clearTimeout(handle: unknown): void {
    if (handle !== null && typeof handle === 'object' && 'cancelled' in handle) {
      const task = handle as Task
      if (task.cancelled || task.done) return
      task.cancelled = true
      this.live--
    }
  }

  schedule(delay: number, fn: () => void): Task {
    const task: Task = {
      at: this.current + delay,
      seq: this.seq++,
      fn,
      cancelled: false,
      done: false,
    }
    const heap = this.tasks
    let i = heap.push(task) - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      const above = heap[parent] as Task
      if (!before(task, above)) break
      heap[i] = above
      i = parent
    }
    heap[i] = task
    this.live++
    return task
  }

  /** Pending (not cancelled) tasks. */
  get pending(): number {
    return this.live
  }

  nextAt(): number | null {
    return this.peek()?.at ?? null
  }

  /** Runs the next task, if any, then drains the promise jobs it caused. */
  async step(): Promise<boolean> {
    const task = this.take()
    if (task === undefined) return false
    task.fn()
    await drain()
    return true
  }

  /** Takes the next task off the heap and moves the time to it: it is about to run. */
  private take(): Task | undefined {
    const task = this.peek()
    if (task === undefined) return undefined
    this.pop()
    task.done = true
    this.live--
    this.current = task.at
    this.events++
    return task
  }

  /** The next task to run, with the cancelled ones before it dropped. */
  private peek(): Task | undefined {
    let top = this.tasks[0]
    while (top?.cancelled) {
      this.pop()
      top = this.tasks[0]
    }
    return top
  }

  private pop(): void {
    const heap = this.tasks
    const last = heap.pop() as Task
    if (heap.length === 0) return
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      if (left >= heap.length) break
      const right = left + 1
      const child =
        right < heap.length && before(heap[right] as Task, heap[left] as Task) ? right : left
      if (!before(heap[child] as Task, last)) break
      heap[i] = heap[child] as Task
      i = child
    }
    heap[i] = last
  }

  /**
   * Runs tasks until none is left before `until`, then sets the time to it. `until` is an
   * absolute virtual time in milliseconds (the clock starts at 0), not a duration: see runFor.
   */
  async runUntil(until: number, stop: () => boolean = () => false): Promise<void> {
    let stopped = false
    let first = true
    await this.drive(() => {
      if (!first && stop()) {
        stopped = true
        return false
      }
      first = false
      const at = this.nextAt()
      return at !== null && at <= until
    })
    if (!stopped && this.current < until) this.current = until
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
    type Outcome = { ok: true; value: T } | { ok: false; error: unknown }
    // Set from promise jobs: typed so that the checks below are not narrowed to `null`.
    let outcome = null as Outcome | null
    promise.then(
      (value) => {
        outcome = { ok: true, value }
      },
      (error: unknown) => {
        outcome = { ok: false, error }
      },
    )
    const deadline = this.current + within
    await this.drive(() => {
      if (outcome !== null) return false
      const at = this.nextAt()
      if (at === null) {
        throw new UnsettledError(
          `the promise cannot settle: nothing is left to run on the virtual clock (at ${this.current} virtual ms)`,
        )
      }
      if (at > deadline) {
        throw new UnsettledError(`the promise did not settle within ${within} virtual ms`)
      }
      return true
    })
    const settled = outcome as Outcome
    if (settled.ok) return settled.value
    throw settled.error
  }

  /**
   * Runs tasks while `next()` says so; `next` is asked before each, once the one before and
   * all the promise jobs and next-ticks it started have run, and may throw to end the run.
   *
   * Waiting a whole event-loop turn (setImmediate) after each task, to be sure its jobs have
   * all run, made idle time and loop overhead a large part of a simulated run. Node runs
   * every promise job and next-tick between two immediates of one turn, so a turn queues up
   * to `tasksPerTurn` immediates and runs one task in each: the same tasks, in the same order,
   * with the same jobs between them, for a fraction of the turns. Real I/O and real timers
   * (which a simulated run has none of, or it would not replay) wait for the turn's end.
   * The first turn queues one immediate and each next one twice as many, up to the most: a
   * short run (most are a few tasks) queues hardly more immediates than it runs tasks.
   */
  private drive(next: () => boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let over = false
      let queued = 0
      let perTurn = 1
      const fail = (err: unknown): void => {
        over = true
        reject(err)
      }
      // The task taken by the last slot: its job runs before the next slot does (between
      // two immediates Node runs every promise job), so one is pending at most.
      let running: Task | null = null
      const run = (): void => {
        const task = running as Task
        running = null
        try {
          task.fn()
        } catch (err) {
          fail(err)
        }
      }
      const slot = (): void => {
        queued--
        if (over) return
        let go: boolean
        try {
          go = next()
        } catch (err) {
          fail(err)
          return
        }
        if (!go) {
          over = true
          resolve()
          return
        }
        running = this.take() as Task
        // As a promise job, as when each task resumed an awaiting loop: the jobs it starts
        // run before the next-ticks it queues, as they did then. A reaction on a promise
        // that is already resolved is queued at once, as Promise.resolve().then(…) queued it,
        // without a new promise and closure per task.
        RESOLVED.then(run)
        // Immediates queued while a turn runs its own wait for the next turn.
        if (queued === 0) turn()
      }
      const turn = (): void => {
        for (; queued < perTurn; queued++) setImmediate(slot)
        perTurn = Math.min(perTurn * 2, this.tasksPerTurn)
      }
      turn()
    })
  }
}

export interface VirtualClockOptions {
  /**
   * Tasks run in one event-loop turn at most. Any number runs the same tasks in the same
   * order with the same promise jobs between them (see drive); 1 is a turn per task.
   */
  tasksPerTurn?: number
}

/** Already resolved: `RESOLVED.then(fn)` queues `fn` as a promise job at once. */
const RESOLVED: Promise<void> = Promise.resolve()

/** Enough that a turn's own cost is small beside its tasks', few enough that real I/O is polled. */
const TASKS_PER_TURN = 64

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
