import b4a from 'b4a'
import type { Clock } from '../core/clock.js'
import { compareKeys, hexToBytes, type KeyHex } from '../core/keys.js'
import type { SwarmLike } from './swarm.js'

/**
 * Waits between dials of one lost peer (ms): the first at once, then doubling to 2 s, seven
 * in all (about 8 s), each stretched by up to a quarter. Hyperswarm's own retries wait 1,
 * 5 and 15 s and grow with every short-lived connection; these stay short, and stop.
 */
export const RECONNECT_DELAYS: readonly number[] = [0, 250, 500, 1000, 2000, 2000, 2000]
/**
 * When both ends could dial, the end whose key the duplicate rule prefers as initiator
 * (the larger) dials at once; the other waits this long first, as a backup, so the two
 * rarely dial each other at the same moment.
 */
export const BACKUP_DIAL_DELAY = 1500
/** After the last dial, how long it may take before the attempt is given up. */
const LAST_DIAL_GRACE = 3000
const JITTER = 0.25

/** Hyperswarm's direct dials: keep dialing this key until `leavePeer`. */
export interface PeerDialer {
  joinPeer(publicKey: Buffer): void
  leavePeer(publicKey: Buffer): void
}

export function canDialPeers(swarm: SwarmLike | null): swarm is SwarmLike & PeerDialer {
  const s = swarm as Partial<PeerDialer> | null
  return typeof s?.joinPeer === 'function' && typeof s.leavePeer === 'function'
}

export interface ReconnectOptions {
  clock: Clock
  swarm(): SwarmLike | null
  localKey(): KeyHex | null
  /** A peer of this key is listed again. */
  connected(remoteKey: KeyHex): boolean
  /** We still have joined one of these topics. */
  stillShared(topics: readonly KeyHex[]): boolean
}

/** Who can reach whom: only an end that listens can be dialed. */
export interface DialPlan {
  weListen: boolean
  remoteListens: boolean
}

interface Task {
  remoteKey: KeyHex
  topics: readonly KeyHex[]
  attempt: number
  timer: unknown
  dialed: boolean
}

/**
 * Dials a lost peer straight back (Hyperswarm's `joinPeer`, which dials its key through the
 * DHT) when a kept connection dropped and we still share a topic with it, instead of waiting
 * for Hyperswarm's retry schedule or the next lookup. Bounded in attempts; cancelled when the
 * peer is listed again, when we leave the topics we shared, or when the networker closes.
 * Only one end dials where it can: the end that cannot be dialed (it does not listen) dials
 * the one that can, and when both can, the one the duplicate rule expects to initiate — so
 * reconnecting makes no duplicate for the rule to resolve.
 */
export class Reconnector {
  private readonly tasks = new Map<KeyHex, Task>()

  constructor(private readonly opts: ReconnectOptions) {}

  /** Reconnections in progress (diagnostics, tests). */
  get pending(): number {
    return this.tasks.size
  }

  has(remoteKey: KeyHex): boolean {
    return this.tasks.has(remoteKey)
  }

  /** The kept connection to `remoteKey` dropped while it shared `topics` with us. */
  lost(remoteKey: KeyHex, topics: readonly KeyHex[], plan: DialPlan): void {
    const localKey = this.opts.localKey()
    if (!plan.remoteListens || topics.length === 0 || localKey === null) return
    if (!canDialPeers(this.opts.swarm())) return
    this.cancel(remoteKey)
    const task: Task = { remoteKey, topics, attempt: 0, timer: null, dialed: false }
    this.tasks.set(remoteKey, task)
    const backup = plan.weListen && compareKeys(localKey, remoteKey) < 0
    this.schedule(task, (backup ? BACKUP_DIAL_DELAY : 0) + this.jitter(task, 50))
  }

  /** The peer is listed again: done. */
  found(remoteKey: KeyHex): void {
    this.cancel(remoteKey)
  }

  /** We left a topic: reconnections that shared nothing else stop. */
  topicLeft(): void {
    for (const task of [...this.tasks.values()]) {
      if (!this.opts.stillShared(task.topics)) this.cancel(task.remoteKey)
    }
  }

  cancel(remoteKey: KeyHex): void {
    const task = this.tasks.get(remoteKey)
    if (task === undefined) return
    this.tasks.delete(remoteKey)
    this.opts.clock.clearTimeout(task.timer)
    const swarm = this.opts.swarm()
    if (task.dialed && canDialPeers(swarm)) swarm.leavePeer(keyOf(task.remoteKey))
  }

  stop(): void {
    for (const remoteKey of [...this.tasks.keys()]) this.cancel(remoteKey)
  }

  private schedule(task: Task, delay: number): void {
    task.timer = this.opts.clock.setTimeout(() => this.attempt(task), delay)
  }

  private attempt(task: Task): void {
    if (this.tasks.get(task.remoteKey) !== task) return
    const swarm = this.opts.swarm()
    if (
      this.opts.connected(task.remoteKey) ||
      !this.opts.stillShared(task.topics) ||
      !canDialPeers(swarm)
    ) {
      this.cancel(task.remoteKey)
      return
    }
    // Again each time: Hyperswarm dials at once unless a dial of this key is under way.
    swarm.joinPeer(keyOf(task.remoteKey))
    task.dialed = true
    task.attempt++
    const next = RECONNECT_DELAYS[task.attempt]
    if (next === undefined) {
      task.timer = this.opts.clock.setTimeout(() => this.cancel(task.remoteKey), LAST_DIAL_GRACE)
      return
    }
    this.schedule(task, next + this.jitter(task, next * JITTER))
  }

  /**
   * Up to `range` ms, the same for the same pair and attempt: spread without a random
   * source, so the simulator replays a run exactly.
   */
  private jitter(task: Task, range: number): number {
    if (range <= 0) return 0
    const local = this.opts.localKey() ?? ''
    let h = (task.attempt + 1) * 0x9e3779b1
    for (const key of [task.remoteKey, local]) {
      h ^= Number.parseInt(key.slice(0, 8) || '0', 16)
      h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
      h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
      h ^= h >>> 16
    }
    return ((h >>> 0) / 2 ** 32) * range
  }
}

function keyOf(remoteKey: KeyHex): Buffer {
  return b4a.from(hexToBytes(remoteKey))
}
