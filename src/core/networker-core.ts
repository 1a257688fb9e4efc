import { ErrorCode, type ErrorInfo } from './errors.js'
import type { KeyHex } from './keys.js'
import { type Instance, type LeanHost, LeanMachine } from './lean-machine.js'
import { type LifeContext, lifeMachine } from './life-machine.js'
import { type PeerContext, type PeerEvent, peerMachine } from './peer-machine.js'
import type {
  ConnectionId,
  CoreEffect,
  CoreEvent,
  LifeState,
  OpId,
  TopicNotice,
  TopicStatus,
} from './protocol.js'
import { type TimerHandle, TimerQueue } from './timer-queue.js'
import { TopicTable } from './topic-table.js'

export interface CoreOptions {
  /**
   * This networker's Noise public key, hex. May be given later with `identify` (an
   * identity derived asynchronously), but before the first connection.
   */
  localKey: KeyHex | null
  /** Whether connections wait for an `authenticate` effect's answer before they are used. */
  authenticate: boolean
  /** How long a contested duplicate may stay silent before it is dropped (ms). */
  candidateTimeout?: number
  /** Most remote peers kept at once; connections from further keys are dropped ('limit'). */
  maxPeers?: number
}

export const DEFAULT_CANDIDATE_TIMEOUT = 10_000

export interface PeerEntry {
  remoteKey: KeyHex
  connectionId: ConnectionId
}

interface ConnectionRecord {
  remoteKey: KeyHex
  isInitiator: boolean
  remoteData: boolean
  /** Authenticated and handed to its peer machine. */
  admitted: boolean
}

interface FlushWaiter {
  op: OpId
  unprocessed: Set<ConnectionId>
}

// The machines are compiled once; an instance is only its state and context (lean-machine.ts).
const peers = new LeanMachine(peerMachine)
const lives = new LeanMachine(lifeMachine)
const IDLE = peers.state('idle')

interface PeerRecord extends Instance<PeerContext> {
  /** The machine's pending delays (a contested duplicate's deadline), by XState's id. */
  timers: Map<string, TimerHandle> | null
}
type LifeRecord = Instance<LifeContext>

const closedError: ErrorInfo = {
  code: ErrorCode.NETWORKER_CLOSED,
  message: 'the networker is closed',
}

/**
 * The sans-I/O networker: `handle(event)` returns the effects to carry out, in order.
 * Same events, same effects: nothing here reads a clock, a socket or a random source.
 *
 * Each topic, remote peer and the networker's own life is an instance of its machine held
 * as plain data (its state and context) and stepped by LeanMachine when an event concerns
 * it: an idle topic or peer costs its record and nothing runs for it.
 */
export class NetworkerCore {
  private ownKey: KeyHex | null
  private readonly authenticate: boolean
  private readonly candidateTimeout: number
  private readonly maxPeers: number
  private readonly timers = new TimerQueue()
  private readonly peerRecords = new Map<KeyHex, PeerRecord>()
  private readonly connections = new Map<ConnectionId, ConnectionRecord>()
  private readonly flushWaiters = new Map<KeyHex, FlushWaiter>()
  // Kept up to date as each peer steps, so no event has to scan every peer (that made each
  // event O(peers)).
  private readonly idlePeers = new Set<KeyHex>()
  private readonly life: LifeRecord
  private outbox: CoreEffect[] = []
  private readonly topics: TopicTable
  private readonly host: LeanHost<never, CoreEffect> = {
    emit: (effect) => {
      this.outbox.push(effect)
    },
    // Only the peer machine has delays (a contested duplicate's deadline).
    schedule: (instance, id, delay, event) => {
      const record = instance as PeerRecord
      const fire = (): void => {
        record.timers?.delete(id)
        this.stepPeer(record, event)
      }
      record.timers ??= new Map()
      record.timers.set(id, this.timers.setTimeout(fire, delay))
    },
    cancel: (instance, id) => {
      const record = instance as PeerRecord
      this.timers.clearTimeout(record.timers?.get(id))
      record.timers?.delete(id)
    },
  }

  constructor(options: CoreOptions) {
    this.ownKey = options.localKey
    this.authenticate = options.authenticate
    this.candidateTimeout = options.candidateTimeout ?? DEFAULT_CANDIDATE_TIMEOUT
    this.maxPeers = options.maxPeers ?? Number.POSITIVE_INFINITY
    this.life = lives.start(undefined, (state, context) => ({ state, context }), this.host)
    this.topics = new TopicTable(this.host)
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
   * Feeds one event at time `now` (ms, any monotonic origin; it never goes back) and
   * returns what to do. Timers that came due by `now` fire first.
   */
  handle(event: CoreEvent, now?: number): CoreEffect[] {
    if (now !== undefined) this.timers.advance(now)
    if (event.type !== 'tick') this.dispatch(event)
    this.afterEvent()
    const out = this.outbox
    this.outbox = []
    return out
  }

  /** What changed in topics since the last call: joined, flushed, left, in order. */
  takeNotices(): TopicNotice[] {
    const out = this.topics.notices
    this.topics.notices = []
    return out
  }

  /** When the driver should next call `handle({ type: 'tick' }, now)`, or null. */
  nextDeadline(): number | null {
    return this.timers.nextDeadline()
  }

  /** Timers the core holds: zero once closed. */
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
    const out: PeerEntry[] = []
    for (const [remoteKey, record] of this.peerRecords) {
      const kept = record.context.kept
      if (kept !== null) out.push({ remoteKey, connectionId: kept.connectionId })
    }
    return out
  }

  /** Connections the core knows of that are not yet settled (awaiting authentication). */
  pendingConnections(): ConnectionId[] {
    const out: ConnectionId[] = []
    for (const [id, c] of this.connections) if (!c.admitted) out.push(id)
    return out
  }

  /** A tick only advances time, which `handle` has done. */
  private dispatch(event: Exclude<CoreEvent, { type: 'tick' }>): void {
    switch (event.type) {
      case 'configure': {
        if (this.lifeState !== 'open') {
          this.outbox.push({ type: 'settle', requestId: event.requestId, error: closedError })
          return
        }
        this.topics.send(event.topic, {
          type: 'configure',
          requestId: event.requestId,
          announce: event.announce,
          lookup: event.lookup,
          flush: event.flush,
        })
        return
      }
      case 'topic-joined':
      case 'topic-left':
        this.topics.send(event.topic, { type: event.type, op: event.op })
        return
      case 'topic-join-failed':
      case 'topic-leave-failed':
        this.topics.send(event.topic, {
          type: event.type,
          op: event.op,
          error: event.error,
        })
        return
      case 'swarm-flushed': {
        // A stale flush (an earlier op) must not replace the current flush's waiter.
        if (this.topics.opOf(event.topic) !== event.op) return
        // Wait for every connection the swarm produced before its flush completed.
        const unprocessed = new Set(this.pendingConnections())
        if (unprocessed.size === 0) {
          this.topics.send(event.topic, { type: 'flush-done', op: event.op })
        } else {
          this.flushWaiters.set(event.topic, { op: event.op, unprocessed })
        }
        return
      }
      case 'swarm-flush-failed':
        this.topics.send(event.topic, {
          type: 'flush-failed',
          op: event.op,
          error: event.error,
        })
        return
      case 'connection-opened':
        this.onConnectionOpened(event)
        return
      case 'connection-authenticated': {
        const record = this.connections.get(event.connectionId)
        if (record === undefined || record.admitted) return
        if (!event.accepted) {
          this.connections.delete(event.connectionId)
          this.outbox.push({
            type: 'drop-connection',
            connectionId: event.connectionId,
            remoteKey: record.remoteKey,
            reason: 'rejected',
          })
        } else {
          this.admit(event.connectionId, record)
        }
        this.processed(event.connectionId)
        return
      }
      case 'connection-data': {
        const record = this.connections.get(event.connectionId)
        if (record === undefined || record.remoteData) return
        record.remoteData = true
        if (record.admitted) {
          this.stepPeer(this.peerRecords.get(record.remoteKey), {
            type: 'connection-data',
            connectionId: event.connectionId,
          })
        }
        return
      }
      case 'connection-closed': {
        const record = this.connections.get(event.connectionId)
        if (record === undefined) return
        this.connections.delete(event.connectionId)
        if (record.admitted) {
          this.stepPeer(this.peerRecords.get(record.remoteKey), {
            type: 'connection-closed',
            connectionId: event.connectionId,
          })
        } else {
          this.processed(event.connectionId)
        }
        return
      }
      case 'close': {
        const wasOpen = this.lifeState === 'open'
        lives.send(this.life, { type: 'close', requestId: event.requestId }, this.host)
        if (!wasOpen) return
        this.topics.sendAll({ type: 'close' })
        for (const record of this.peerRecords.values()) this.stepPeer(record, { type: 'close' })
        for (const [id, record] of this.connections) {
          if (record.admitted) continue
          this.connections.delete(id)
          this.outbox.push({
            type: 'drop-connection',
            connectionId: id,
            remoteKey: record.remoteKey,
            reason: 'closing',
          })
        }
        this.flushWaiters.clear()
        return
      }
      case 'swarm-destroyed':
        lives.send(this.life, { type: 'swarm-destroyed' }, this.host)
        return
      case 'close-timeout':
        this.forceClose()
        return
    }
  }

  private onConnectionOpened(event: Extract<CoreEvent, { type: 'connection-opened' }>): void {
    const { connectionId, remoteKey, isInitiator } = event
    if (this.connections.has(connectionId)) return
    // No connection can come before the identity is known (the swarm needs it); if one
    // did, nothing could be decided about it, so it is dropped.
    if (this.lifeState !== 'open' || this.ownKey === null || remoteKey === this.ownKey) {
      this.outbox.push({ type: 'drop-connection', connectionId, remoteKey, reason: 'closing' })
      return
    }
    const record: ConnectionRecord = { remoteKey, isInitiator, remoteData: false, admitted: false }
    this.connections.set(connectionId, record)
    if (this.authenticate) {
      this.outbox.push({ type: 'authenticate', connectionId, remoteKey })
    } else {
      this.admit(connectionId, record)
    }
  }

  private admit(connectionId: ConnectionId, record: ConnectionRecord): void {
    let peer = this.peerRecords.get(record.remoteKey)
    if (peer === undefined && this.peerRecords.size >= this.maxPeers) {
      this.connections.delete(connectionId)
      this.outbox.push({
        type: 'drop-connection',
        connectionId,
        remoteKey: record.remoteKey,
        reason: 'limit',
      })
      return
    }
    record.admitted = true
    if (peer === undefined) {
      const input = {
        localKey: this.ownKey as KeyHex,
        remoteKey: record.remoteKey,
        candidateTimeout: this.candidateTimeout,
      }
      peer = peers.start(input, (state, context) => ({ state, context, timers: null }), this.host)
      this.peerRecords.set(record.remoteKey, peer)
    }
    this.stepPeer(peer, {
      type: 'admit',
      connectionId,
      isInitiator: record.isInitiator,
      remoteData: record.remoteData,
    })
  }

  /** Steps one peer; an idle one holds no connection and is forgotten after the event. */
  private stepPeer(record: PeerRecord | undefined, event: PeerEvent): void {
    if (record === undefined) return
    peers.send(record, event, this.host)
    const key = record.context.remoteKey
    if (record.state === IDLE) this.idlePeers.add(key)
    else this.idlePeers.delete(key)
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
    for (const topic of this.topics.forgetSettled()) this.flushWaiters.delete(topic)
    for (const key of this.idlePeers) this.peerRecords.delete(key)
    this.idlePeers.clear()
    if (this.lifeState === 'closing' && this.topics.allClosed && this.peerRecords.size === 0) {
      lives.send(this.life, { type: 'drained', unannounced: this.topics.unannounced() }, this.host)
    }
  }

  /** The close deadline passed: stop waiting for leaves and closes, and finish. */
  private forceClose(): void {
    const state = this.lifeState
    if (state !== 'closing' && state !== 'destroying') return
    this.topics.sendAll({ type: 'force-close' })
    for (const [remoteKey, record] of this.peerRecords) {
      const { kept, candidate } = record.context
      for (const slot of [kept, candidate]) {
        if (slot === null) continue
        this.connections.delete(slot.connectionId)
        this.outbox.push({
          type: 'drop-connection',
          connectionId: slot.connectionId,
          remoteKey,
          reason: 'closing',
        })
      }
      if (kept !== null) {
        this.outbox.push({ type: 'peer-remove', connectionId: kept.connectionId, remoteKey })
      }
      // Stopped as an actor is: its pending delays go with it.
      for (const handle of record.timers?.values() ?? []) this.timers.clearTimeout(handle)
    }
    this.peerRecords.clear()
    lives.send(
      this.life,
      { type: 'force', unannounced: this.topics.unannounced(), destroySwarm: state === 'closing' },
      this.host,
    )
  }
}
