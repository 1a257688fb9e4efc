import type { Clock } from './clock.js'

/** One scheduled call; the handle `setTimeout` returns and `clearTimeout` takes. */
export interface TimerHandle {
  readonly at: number
  /** Creation order: among timers due at the same instant, the earlier-made fires first. */
  readonly seq: number
  readonly fn: () => void
  /** Where it sits in the heap, or -1 once fired or cancelled. */
  index: number
}

/**
 * Virtual time for the core: its deadlines are scheduled here and fire only when the driver
 * advances `now` (quinn-proto's poll_timeout/handle_timeout), so the core never reads or
 * waits on a real clock. Timers due at the same instant fire in creation order.
 *
 * A binary min-heap on (at, seq): insert, pop and cancel are O(log n), so a core holding a
 * deadline for each of many thousands of connections pays the same per timer as one with
 * a few.
 */
export class TimerQueue implements Clock {
  private current = 0
  private nextSeq = 0
  private readonly heap: TimerHandle[] = []

  now(): number {
    return this.current
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: TimerHandle = {
      at: this.current + Math.max(0, ms),
      seq: this.nextSeq++,
      fn,
      index: this.heap.length,
    }
    this.heap.push(timer)
    this.up(timer.index)
    return timer
  }

  /** Cancels a timer; a handle already fired or cancelled, or not a handle, is ignored. */
  clearTimeout(handle: unknown): void {
    const timer = handle as TimerHandle | null | undefined
    if (typeof timer?.index !== 'number' || this.heap[timer.index] !== timer) return
    this.removeAt(timer.index)
  }

  /** The earliest pending deadline, or null when nothing is scheduled. */
  nextDeadline(): number | null {
    return this.heap[0]?.at ?? null
  }

  get size(): number {
    return this.heap.length
  }

  /** Moves time forward (never back) and fires what came due, earliest first. */
  advance(now: number): void {
    if (now < this.current) return
    for (let top = this.heap[0]; top !== undefined && top.at <= now; top = this.heap[0]) {
      this.removeAt(0)
      // A timer set while firing is scheduled from the instant of the one that fired.
      this.current = top.at
      top.fn()
    }
    this.current = now
  }

  private removeAt(i: number): void {
    const heap = this.heap
    const removed = heap[i] as TimerHandle
    const last = heap.pop() as TimerHandle
    removed.index = -1
    if (last === removed) return
    heap[i] = last
    last.index = i
    this.up(i)
    this.down(last.index)
  }

  private up(i: number): void {
    const heap = this.heap
    const item = heap[i] as TimerHandle
    while (i > 0) {
      const parent = (i - 1) >> 1
      const above = heap[parent] as TimerHandle
      if (!before(item, above)) break
      heap[i] = above
      above.index = i
      i = parent
    }
    heap[i] = item
    item.index = i
  }

  private down(i: number): void {
    const heap = this.heap
    const item = heap[i] as TimerHandle
    const n = heap.length
    for (;;) {
      const left = 2 * i + 1
      if (left >= n) break
      const right = left + 1
      const child =
        right < n && before(heap[right] as TimerHandle, heap[left] as TimerHandle) ? right : left
      const below = heap[child] as TimerHandle
      if (!before(below, item)) break
      heap[i] = below
      below.index = i
      i = child
    }
    heap[i] = item
    item.index = i
  }
}

function before(a: TimerHandle, b: TimerHandle): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq)
}
