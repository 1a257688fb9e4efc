import type { KeyHex } from '../core/keys.js'
import type { OpId } from '../core/protocol.js'

/** Leaves started at once before the rest of a close's wait their turn (see LeaveSlices). */
export const LEAVE_SLICE = 1024

/**
 * A close's leaves, started a slice at a time. A close leaves every topic in one step of
 * the core, and each leave holds a promise reaction, two closures and their context until
 * the swarm answers. Started all at once, 100,000 of them were alive together, and every
 * scavenge during the close copied them: about a sixth of the close's time at 100k topics,
 * none at 1k. Here the first `LEAVE_SLICE` start at once, as before; the rest wait for a
 * microtask queued behind the answers the swarm already gave, so a swarm that answers at
 * once has its slice's answers handled (and their garbage dead) before the next slice
 * starts. A swarm that answers later, as Hyperswarm does after unannouncing on the DHT,
 * still has every leave in flight together: all of them start within the same macrotask,
 * in the order the core gave them.
 */
export class LeaveSlices {
  private started = 0
  private readonly topics: KeyHex[] = []
  private readonly ops: OpId[] = []
  private head = 0
  private scheduled = false

  constructor(private readonly start: (topic: KeyHex, op: OpId) => void) {}

  add(topic: KeyHex, op: OpId): void {
    if (this.started < LEAVE_SLICE && this.head === this.topics.length) {
      this.started++
      this.start(topic, op)
      return
    }
    this.topics.push(topic)
    this.ops.push(op)
    if (this.scheduled) return
    this.scheduled = true
    queueMicrotask(this.next)
  }

  /** Leaves waiting for their slice. */
  get waiting(): number {
    return this.topics.length - this.head
  }

  private readonly next = (): void => {
    this.scheduled = false
    this.started = 0
    const { topics, ops } = this
    while (this.started < LEAVE_SLICE && this.head < topics.length) {
      const at = this.head++
      this.started++
      this.start(topics[at] as KeyHex, ops[at] as OpId)
    }
    if (this.head < topics.length) {
      this.scheduled = true
      queueMicrotask(this.next)
      return
    }
    topics.length = 0
    ops.length = 0
    this.head = 0
  }
}
