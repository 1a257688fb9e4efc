import b4a from 'b4a'
import type { KeyHex } from '../core/keys.js'
import type { DriverClock } from './core-driver.js'

/** How long a flush waits for peers that may not hold the topic's core (ms). */
export const DEFAULT_FLUSH_REPLICATION_TIMEOUT = 3_000
/** How often the wait looks at the core's peers again (ms). */
const POLL_INTERVAL = 5

interface ReplicatorPeer {
  remotePublicKey?: Uint8Array
}

/**
 * Corestore's own core tracker: `store.cores.get(discoveryKeyHex)` is the open core with
 * that discovery key, and its replicator's peers are exactly what a session's
 * `core.peers` lists. Corestore documents `cores.get` as callable from outside.
 */
interface CoreTracker {
  get(id: string): { replicator?: { peers?: ReplicatorPeer[] } } | null | undefined
}

/**
 * The keys of the peers found (`remoteKeys()`, listed only for a store that holds the core)
 * that do not replicate the store's core of `topic` yet.
 */
export function notReplicating(
  store: unknown,
  topic: KeyHex,
  remoteKeys: () => Uint8Array[],
): Uint8Array[] {
  const cores = (store as { cores?: Partial<CoreTracker> } | null)?.cores
  if (typeof cores?.get !== 'function') return []
  const core = cores.get(topic)
  // A store that does not hold the core has nothing to wait for.
  if (core === null || core === undefined) return []
  const peers = core.replicator?.peers ?? []
  return remoteKeys().filter(
    (key) =>
      !peers.some((p) => p.remotePublicKey !== undefined && b4a.equals(p.remotePublicKey, key)),
  )
}

export interface ReplicationWait {
  store: unknown
  topic: KeyHex
  /** The peers found for the topic, asked again on every look (peers come and go). */
  peers(): Uint8Array[]
  clock: DriverClock
  timeout: number
  /** Stop waiting (the networker closes, or a newer flush replaced this one). */
  cancelled(): boolean
  /** Called at every look, with the time: waiters' own deadlines are checked then. */
  looked?(now: number): void
}

/**
 * Resolves once every peer found for the topic replicates the store's core of that topic,
 * or once `timeout` ms have passed (a peer that does not hold the core never opens it, and
 * must not hold the flush up for long). Hypercore opens a core's channel with a peer one
 * round trip after both ends have it, with no event on the store, so this looks again
 * every few ms. Called once the caller found a peer not replicating yet (FlushBarriers.start
 * has just looked): the first look is one interval away, not a second pass over the same
 * peers in the same turn.
 */
export function waitForReplication(wait: ReplicationWait): Promise<void> {
  const { clock } = wait
  const deadline = clock.now() + wait.timeout
  const done = (): boolean =>
    wait.cancelled() ||
    clock.now() >= deadline ||
    notReplicating(wait.store, wait.topic, wait.peers).length === 0
  return new Promise<void>((resolve) => {
    const look = (): void => {
      wait.looked?.(clock.now())
      if (done()) resolve()
      else clock.setTimeout(look, Math.min(POLL_INTERVAL, Math.max(0, deadline - clock.now())))
    }
    clock.setTimeout(look, POLL_INTERVAL)
  })
}

export interface FlushBarrierOptions {
  store: unknown
  clock: DriverClock
  /** How long a flush waits for a peer that may never replicate the core (ms). */
  timeout: number
  /** Remote keys of the current peers our lookups found for the topic. */
  peersFoundFor(topic: KeyHex): Uint8Array[]
  /** The networker is closing: no flush is news any more. */
  closing(): boolean
}

/**
 * Per topic, the replication wait of its latest flush. The core says a topic is flushed
 * once the swarm flushed and every connection it found is settled; the user's 'flushed'
 * (and a flushing configure) also waits for the peers found to replicate the topic's core.
 * A newer flush, a leave or a close makes an older wait moot.
 */
/** A flushing configure's deadline (its `timeout`), while it waits on a barrier. */
export interface WaitDeadline {
  at: number
  error: Error
}

interface Barrier {
  promise: Promise<void>
  epoch: number
  /** Configures waiting with a deadline: rejected at the first look past it. */
  deadlines: Set<{ at: number; expire(): void }>
}

export class FlushBarriers {
  /** Only barriers still waiting: a finished one is forgotten, so a flushed topic holds none. */
  private readonly barriers = new Map<KeyHex, Barrier>()
  private epoch = 0

  constructor(private readonly opts: FlushBarrierOptions) {}

  /**
   * The core flushed `topic`: wait for replication, then `replicated(topic)` if still
   * current (given the topic, so one callback serves every flush).
   */
  start(topic: KeyHex, replicated: (topic: KeyHex) => void): void {
    const opts = this.opts
    // Most flushes have nothing to wait for (the store does not hold the topic's core, or
    // every peer found replicates it): replicated at once, and no barrier is kept, nor the
    // closures and timers of one. An older flush's wait is moot all the same.
    if (
      opts.closing() ||
      opts.timeout <= 0 ||
      notReplicating(opts.store, topic, () => opts.peersFoundFor(topic)).length === 0
    ) {
      this.barriers.delete(topic)
      replicated(topic)
      return
    }
    const epoch = ++this.epoch
    const current = (): boolean => this.barriers.get(topic)?.epoch === epoch
    const barrier: Barrier = { epoch, promise: Promise.resolve(), deadlines: new Set() }
    this.barriers.set(topic, barrier)
    barrier.promise = waitForReplication({
      store: this.opts.store,
      topic,
      peers: () => this.opts.peersFoundFor(topic),
      clock: this.opts.clock,
      timeout: this.opts.timeout,
      cancelled: () => this.opts.closing() || !current(),
      looked: (now) => {
        for (const d of barrier.deadlines) {
          if (now < d.at) continue
          barrier.deadlines.delete(d)
          d.expire()
        }
      },
    }).then(() => {
      if (!current()) return
      this.barriers.delete(topic)
      replicated(topic)
    })
  }

  /**
   * The wait of the topic's latest flush, if it is still waiting: a flushing configure
   * resolves after it. With `deadline` (the configure's timeout, a deadline the core
   * already held it to until the core settled it) the wait gives up at the first look
   * past it: the barrier's own polling is the clock, so no timer is set for it.
   */
  wait(topic: KeyHex, deadline?: WaitDeadline): Promise<void> | undefined {
    const barrier = this.barriers.get(topic)
    if (barrier === undefined || deadline === undefined) return barrier?.promise
    return new Promise<void>((resolve, reject) => {
      const d = { at: deadline.at, expire: () => reject(deadline.error) }
      barrier.deadlines.add(d)
      barrier.promise.then(() => {
        barrier.deadlines.delete(d)
        resolve()
      })
    })
  }

  /** The topic was left: its flush is over. */
  forget(topic: KeyHex): void {
    this.barriers.delete(topic)
  }

  clear(): void {
    this.barriers.clear()
  }
}
