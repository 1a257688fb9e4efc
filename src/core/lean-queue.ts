/**
 * The actions enqueueActions collects queue, run once the collect returns (lean-machine.ts).
 * One array per depth of queued runs, reused: a queued action may be an enqueueActions of
 * its own, collected while the outer queue runs, one depth down. A new array per collect
 * made room for 17 actions at its first push: ~150 B on every configure (its settle).
 */
export class ActionQueues<T> {
  private readonly arrays: T[][] = []
  private depth = 0
  private filling: T[] = []
  private count = 0

  /** Starts a collect: `push` fills the array of the current depth from its start. */
  begin(): T[] {
    let array = this.arrays[this.depth]
    if (array === undefined) {
      array = []
      this.arrays[this.depth] = array
    }
    this.filling = array
    this.count = 0
    return array
  }

  push(item: T): void {
    this.filling[this.count++] = item
  }

  /** The collect returned: how many it queued; their run is one depth down. */
  end(): number {
    this.depth++
    return this.count
  }

  /** The queued run ended (or threw): its slots hold `empty` again, so none outlives it. */
  release(array: T[], count: number, empty: T): void {
    this.depth--
    for (let i = 0; i < count; i++) array[i] = empty
  }
}
