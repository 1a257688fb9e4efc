import { ErrorCode, type ErrorInfo } from './errors.js'
import type { KeyHex } from './keys.js'
import { type Instance, type LeanHost, LeanMachine } from './lean-machine.js'
import { type LifeContext, type LifeEvent, lifeMachine } from './life-machine.js'
import { type PeerEntry, PeerTable } from './peer-table.js'
import type {
  ConnectionId,
  CoreEffect,
  CoreEvent,
  LifeState,
  OpId,
  RequestId,
  TopicNotice,
  TopicStatus,
} from './protocol.js'
import { type TimerHandle, TimerQueue } from './timer-queue.js'
import { NO_NOTICES, TopicTable } from './topic-table.js'

export type { PeerEntry } from './peer-table.js'

export interface CoreOptions {
  /**
   * This networker's Noise public key, hex. May be given later with `identify` (an
   * identity derived asynchronously), but before the first connection.
   */
  localKey: KeyHex | null
  /** Whether connections wait for an `authenticate` effect's answer before they are used. */
  authenticate: boolean
  /** How long a connection may wait for its authentication verdict before it is rejected (ms). */
  authenticateTimeout?: number
  /** How long a contested duplicate may stay silent before it is dropped (ms). */
  candidateTimeout?: number
  /** Most remote peers kept at once; connections from further keys are dropped ('limit'). */
  maxPeers?: number
}

export const DEFAULT_CANDIDATE_TIMEOUT = 10_000
export const DEFAULT_AUTHENTICATE_TIMEOUT = 10_000

interface FlushWaiter {
  op: OpId
  unprocessed: Set<ConnectionId>
}

// Compiled once; the networker's life is only its state and context (lean-machine.ts).
const lives = new LeanMachine(lifeMachine)

const closedError: ErrorInfo = {
  code: ErrorCode.NETWORKER_CLOSED,
  message: 'the networker is closed',
}

/**
 * The sans-I/O networker: `handle(event, now)` returns the effects to carry out, in order.
 * Same events at the same times, same effects: nothing here reads a clock, a socket or a
 * random source. Time is the core's alone: its deadlines (a configure's or a close's
 * timeout, an authentication verdict, a contested duplicate) are timers here that fire as
 * `now` passes them, and `nextDeadline()` tells the driver when to call back.
 *
 * Each topic, remote peer and the networker's own life is an instance of its machine held
 * as plain data (its state and context) and stepped by LeanMachine when an event concerns
 * it: an idle topic or peer costs its record and nothing runs for it.
 */
export class NetworkerCore {
  private ownKey: KeyHex | null
  private readonly timers = new TimerQueue()
  private readonly topics: TopicTable
  private readonly peerTable: PeerTable
  private readonly flushWaiters = new Map<KeyHex, FlushWaiter>()
  private readonly life: Instance<LifeContext>
  /** Deadlines of requests that asked for one (configure's timeout), until they settle. */
  private readonly deadlines = new Map<RequestId, TimerHandle>()
  /** The earliest close deadline asked for, until the networker is closed. */
  private closeDeadline: TimerHandle | null = null
  /**
   * The effects of the event being handled; null until its first. Most events have one: an
   * array of exactly one is made for it, where a push onto an empty one makes room for 17.
   */
  private outbox: CoreEffect[] | null = null
  /** Topics and the life have no delays: only the peer table's host keeps timers. */
  private readonly host: LeanHost<never, CoreEffect> = {
    emit: (effect) => {
      if (this.outbox === null) this.outbox = [effect]
      else this.outbox.push(effect)
      if (effect.type === 'settle' && this.deadlines.size > 0) {
        this.timers.clearTimeout(this.deadlines.get(effect.requestId))
        this.deadlines.delete(effect.requestId)
      }
    },
  }

  constructor(options: CoreOptions) {
    this.ownKey = options.localKey
    const emit = this.host.emit
    this.topics = new TopicTable(this.host)
    this.peerTable = new PeerTable(
      {
        authenticate: options.authenticate,
        authenticateTimeout: options.authenticateTimeout ?? DEFAULT_AUTHENTICATE_TIMEOUT,
        candidateTimeout: options.candidateTimeout ?? DEFAULT_CANDIDATE_TIMEOUT,
        maxPeers: options.maxPeers ?? Number.POSITIVE_INFINITY,
      },
      this.timers,
      emit,
      (connectionId) => this.processed(connectionId),
    )
    this.life = lives.start(undefined, (state, context) => ({ state, context }), this.host)
  }

  get localKey(): KeyHex | null {
    return this.ownKey
  }

  /** Sets the local key once it is known; a key already set never changes. */
  identify(localKey: KeyHex): void {
    if (this.ownKey === null) this.ownKey = localKey
  }

  get lifeState(): LifeState {
    return this.life.state.top as LifeState
  }

  /**
   * Feeds one event at time `now` (ms, any monotonic origin; a time earlier than one seen
   * before counts as that one) and returns what to do. Deadlines due by `now` fire first.
   */
  handle(event: CoreEvent, now: number): CoreEffect[] {
    this.timers.advance(now)
    if (event.type !== 'tick') this.dispatch(event)
    this.afterEvent()
    const out = this.outbox ?? []
    this.outbox = null
    return out
  }

  /** What changed in topics since the last call: joined, flushed, left, in order. */
  takeNotices(): readonly TopicNotice[] {
    const out = this.topics.notices
    this.topics.notices = NO_NOTICES
    return out
  }

  /** When the driver should next call `handle({ type: 'tick' }, now)`, or null. */
  nextDeadline(): number | null {
    return this.timers.nextDeadline()
  }

  /** Deadlines the core holds: zero once closed. */
  get pendingTimers(): number {
    return this.timers.size
  }

  status(topic: KeyHex): TopicStatus | null {
    return this.topics.status(topic)
  }

  statuses(): TopicStatus[] {
    return this.topics.statuses()
  }

  /** The kept connection of every connected remote key. */
  peers(): PeerEntry[] {
    return this.peerTable.peers()
  }

  /** Connections the core knows of that are not yet settled (awaiting authentication). */
  pendingConnections(): ConnectionId[] {
    return this.peerTable.pending()
  }

  /** A tick only advances time, which `handle` has done. */
  private dispatch(event: Exclude<CoreEvent, { type: 'tick' }>): void {
    switch (event.type) {
      case 'configure': {
        const { requestId, topic, timeout } = event
        if (this.lifeState !== 'open') {
          this.host.emit({ type: 'settle', requestId, error: closedError })
          return
        }
        // Set before the topic steps: a request settled at once cancels it at once.
        if (timeout !== undefined) this.expire(requestId, topic, timeout)
        // The event is the topic's as it is (its topic and timeout are not read there): a
        // configure and each of its results are sent on without a copy.
        this.topics.send(topic, event)
        return
      }
      case 'topic-joined':
      case 'topic-left':
      case 'topic-join-failed':
      case 'topic-leave-failed':
        this.topics.send(event.topic, event)
        return
      case 'swarm-flushed': {
        // Nothing pending (most flushes): done at once, a stale op discarded by the topic.
        if (!this.peerTable.hasPending()) {
          this.topics.send(event.topic, { type: 'flush-done', op: event.op })
          return
        }
        // A stale flush (an earlier op) must not replace the current flush's waiter.
        if (this.topics.opOf(event.topic) !== event.op) return
        // Wait for every connection the swarm produced before its flush completed.
        const unprocessed = new Set(this.peerTable.pending())
        this.flushWaiters.set(event.topic, { op: event.op, unprocessed })
        return
      }
      case 'swarm-flush-failed':
        this.topics.send(event.topic, { type: 'flush-failed', op: event.op, error: event.error })
        return
      case 'connection-opened':
        this.peerTable.opened(event, this.ownKey, this.lifeState === 'open')
        return
      case 'connection-authenticated':
        // A verdict can only be asked for once the local key is known.
        this.peerTable.verdict(event.connectionId, event.accepted, this.ownKey as KeyHex)
        return
      case 'connection-data':
        this.peerTable.data(event.connectionId)
        return
      case 'connection-closed':
        this.peerTable.closed(event.connectionId)
        return
      case 'close': {
        const wasOpen = this.lifeState === 'open'
        this.stepLife({ type: 'close', requestId: event.requestId })
        if (event.timeout !== undefined && this.lifeState !== 'closed') {
          this.closeBy(event.timeout)
        }
        if (!wasOpen) return
        this.topics.sendAll({ type: 'close' })
        this.peerTable.close()
        this.flushWaiters.clear()
        return
      }
      case 'swarm-destroyed':
        this.stepLife({ type: 'swarm-destroyed' })
        return
      case 'close-timeout':
        this.forceClose()
        return
    }
  }

  /** A request with a deadline: settled with FLUSH_TIMEOUT then, unless it settled before. */
  private expire(requestId: RequestId, topic: KeyHex, timeout: number): void {
    const error: ErrorInfo = {
      code: ErrorCode.FLUSH_TIMEOUT,
      message: `configure did not finish joining and flushing within ${timeout} ms`,
    }
    const fire = (): void => {
      this.deadlines.delete(requestId)
      this.topics.send(topic, { type: 'expire', requestId, error })
    }
    this.deadlines.set(requestId, this.timers.setTimeout(fire, timeout))
  }

  /** A close deadline: the earliest one asked for forces the close. */
  private closeBy(timeout: number): void {
    const at = this.timers.now() + Math.max(0, timeout)
    if (this.closeDeadline !== null && this.closeDeadline.at <= at) return
    this.timers.clearTimeout(this.closeDeadline)
    this.closeDeadline = this.timers.setTimeout(() => {
      this.closeDeadline = null
      this.forceClose()
    }, timeout)
  }

  private stepLife(event: LifeEvent): void {
    lives.send(this.life, event, this.host)
    // Closed: no deadline of the close is left to wait for.
    if (this.lifeState === 'closed') {
      this.timers.clearTimeout(this.closeDeadline)
      this.closeDeadline = null
    }
  }

  /** A connection was settled (kept, dropped or closed): flushes waiting on it may finish. */
  private processed(connectionId: ConnectionId): void {
    for (const [topic, waiter] of this.flushWaiters) {
      if (!waiter.unprocessed.delete(connectionId) || waiter.unprocessed.size > 0) continue
      this.flushWaiters.delete(topic)
      this.topics.send(topic, { type: 'flush-done', op: waiter.op })
    }
  }

  private afterEvent(): void {
    // An index loop: for...of made an iterator per event, over a list nearly always empty.
    const forgotten = this.topics.forgetSettled()
    for (let i = 0; i < forgotten.length; i++) this.flushWaiters.delete(forgotten[i] as KeyHex)
    this.peerTable.forgetIdle()
    if (this.lifeState === 'closing' && this.topics.allClosed && this.peerTable.size === 0) {
      this.stepLife({ type: 'drained', unannounced: this.topics.unannounced() })
    }
  }

  /** The close deadline passed: stop waiting for leaves and closes, and finish. */
  private forceClose(): void {
    const state = this.lifeState
    if (state !== 'closing' && state !== 'destroying') return
    this.topics.sendAll({ type: 'force-close' })
    this.peerTable.force()
    const unannounced = this.topics.unannounced()
    this.stepLife({ type: 'force', unannounced, destroySwarm: state === 'closing' })
  }
}
