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
 * (the larger) dials, on the schedule above; the other dials once, this long after the drop,
 * in case the first end has not noticed it (it may hold a dead connection until its liveness
 * bound). Its one dial falls between the first end's third and fourth, so the two do not
 * dial each other at the same moment.
 */
export const BACKUP_DIAL_DELAY = 1500
/** After the last dial, how long it may take before the attempt is given up. */
const LAST_DIAL_GRACE = 3000
/**
 * A connection that lived less than this did not end the reconnection that made it: losing
 * it again goes on from the dials already spent. A peer that takes us back only to close us
 * (its onauthenticate says no, it is full) is dialed seven times in all, not seven per cycle.
 */
export const STABLE_CONNECTION_MS = 5000
/** Keys whose short-lived reconnection is remembered at most (a seeder meets keys without end). */
const REMEMBERED_KEYS = 10_000
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
  /** The backup end: one dial only. */
  backup: boolean
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
  /** Dials spent on keys found again lately, and when they were found. */
  private readonly recent = new Map<KeyHex, { spent: number; at: number }>()

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
    const backup = plan.weListen && compareKeys(localKey, remoteKey) < 0
    const spent = this.spentOn(remoteKey)
    if (spent >= (backup ? 1 : RECONNECT_DELAYS.length)) return
    const task: Task = { remoteKey, topics, attempt: spent, timer: null, dialed: false, backup }
    this.tasks.set(remoteKey, task)
    const first = backup ? BACKUP_DIAL_DELAY : (RECONNECT_DELAYS[spent] ?? 0)
    this.schedule(task, first + this.jitter(task, spent === 0 ? 50 : first * JITTER))
  }

  /** The peer is listed again: done. */
  found(remoteKey: KeyHex): void {
    const task = this.tasks.get(remoteKey)
    if (task === undefined) return
    this.cancel(remoteKey)
    this.recent.delete(remoteKey)
    this.recent.set(remoteKey, { spent: task.attempt, at: this.opts.clock.now() })
    if (this.recent.size > REMEMBERED_KEYS) {
      const oldest = this.recent.keys().next().value
      if (oldest !== undefined) this.recent.delete(oldest)
    }
  }

  /** Dials already spent on a key whose connection they made did not last. */
  private spentOn(remoteKey: KeyHex): number {
    const recent = this.recent.get(remoteKey)
    if (recent === undefined) return 0
    this.recent.delete(remoteKey)
    return this.opts.clock.now() - recent.at < STABLE_CONNECTION_MS ? recent.spent : 0
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
    this.recent.clear()
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
    const next = task.backup ? undefined : RECONNECT_DELAYS[task.attempt]
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
