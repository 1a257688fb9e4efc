/**
 * The actions enqueueActions collects queue, run once the collect returns (lean-machine.ts).
 * Arrays are taken from a pool and given back once their run ended, so a collect reuses
 * one: a new array per collect made room for 17 actions at its first push, ~150 B on every
 * configure (its settle). A queued action may be an enqueueActions of its own, collected
 * while the outer queue runs: it takes another array. An array whose run threw is not given
 * back, and nothing else changes.
 */
export class ActionQueues<T> {
  private readonly pool: (T | undefined)[][] = []
  private filling: (T | undefined)[] = []
  private count = 0

  /** Starts a collect: `push` fills an array from the pool (or a new one) from its start. */
  begin(): readonly (T | undefined)[] {
    const array = this.pool.pop() ?? []
    this.filling = array
    this.count = 0
    return array
  }

  push(item: T): void {
    this.filling[this.count++] = item
  }

  /** How many actions the collect queued. */
  get queued(): number {
    return this.count
  }

  /** The run of `array`'s first `count` ended: its slots are emptied and it is reused. */
  release(array: readonly (T | undefined)[], count: number): void {
    const slots = array as (T | undefined)[]
    for (let i = 0; i < count; i++) slots[i] = undefined
    this.pool.push(slots)
  }
}
