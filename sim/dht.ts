import type { Prng } from './prng.js'
import type { VirtualClock } from './virtual-clock.js'

export interface DhtFaults {
  /** Probability that an announce is lost (never stored). */
  lostAnnounce: number
  /** Most extra delay of an announce or lookup (ms). */
  maxDelay: number
}

/**
 * The simulated DHT: topic → announcing node ids. Announces and lookups take a seeded
 * delay; an announce may be lost. Records of a crashed node stay until they are removed,
 * as real DHT records outlive their node until they expire. A node that cannot reach the
 * DHT when its operation lands changes nothing and finds no one: its announce is not
 * stored, its unannounce leaves the record, its lookup comes back empty.
 */
export class SimDht {
  private readonly records = new Map<string, Set<number>>()
  announces = 0
  lostAnnounces = 0

  constructor(
    private readonly clock: VirtualClock,
    private readonly prng: Prng,
    private readonly faults: DhtFaults,
    private readonly reachable: (node: number) => boolean = () => true,
  ) {}

  announce(topic: string, node: number): Promise<void> {
    return this.after(() => {
      if (!this.reachable(node)) return
      this.announces++
      if (this.prng.chance(this.faults.lostAnnounce)) {
        this.lostAnnounces++
        return
      }
      let set = this.records.get(topic)
      if (set === undefined) {
        set = new Set()
        this.records.set(topic, set)
      }
      set.add(node)
    })
  }

  unannounce(topic: string, node: number): Promise<void> {
    return this.after(() => {
      if (this.reachable(node)) this.records.get(topic)?.delete(node)
    })
  }

  /** The nodes announcing `topic`, as node `from` finds them. */
  lookup(topic: string, from: number): Promise<number[]> {
    return this.after(() =>
      this.reachable(from) ? [...(this.records.get(topic) ?? [])].sort((x, y) => x - y) : [],
    )
  }

  hasRecord(topic: string, node: number): boolean {
    return this.records.get(topic)?.has(node) ?? false
  }

  /** Every topic a node has records under. */
  recordsOf(node: number): string[] {
    const out: string[] = []
    for (const [topic, set] of this.records) if (set.has(node)) out.push(topic)
    return out
  }

  private after<T>(fn: () => T): Promise<T> {
    const delay = 1 + this.prng.int(0, this.faults.maxDelay)
    return new Promise((resolve) => this.clock.schedule(delay, () => resolve(fn())))
  }
}
