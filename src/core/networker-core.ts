import { type Actor, createActor } from 'xstate'
import { ErrorCode, type ErrorInfo } from './errors.js'
import type { KeyHex } from './keys.js'
import { lifeMachine } from './life-machine.js'
import { peerMachine } from './peer-machine.js'
import type {
  ConnectionId,
  CoreEffect,
  CoreEvent,
  LifeState,
  OpId,
  TopicNotice,
  TopicState,
  TopicStatus,
} from './protocol.js'
import { TimerQueue } from './timer-queue.js'
import { topicMachine } from './topic-machine.js'

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

type TopicActor = Actor<typeof topicMachine>
type PeerActor = Actor<typeof peerMachine>
type LifeActor = Actor<typeof lifeMachine>

function statusOf(topic: KeyHex, actor: TopicActor): TopicStatus {
  const { context, value } = actor.getSnapshot()
  return {
    topic,
    announce: context.announce,
    lookup: context.lookup,
    joined: context.joined,
    flushed: context.flushed,
    state: value as TopicState,
  }
}

const closedError: ErrorInfo = {
  code: ErrorCode.NETWORKER_CLOSED,
  message: 'the networker is closed',
}

/**
 * The sans-I/O networker: `handle(event)` returns the effects to carry out, in order.
 * Same events, same effects: nothing here reads a clock, a socket or a random source.
 */
export class NetworkerCore {
  private ownKey: KeyHex | null
  private readonly authenticate: boolean
  private readonly candidateTimeout: number
  private readonly maxPeers: number
  private readonly timers = new TimerQueue()
  private readonly topics = new Map<KeyHex, TopicActor>()
  private readonly peerActors = new Map<KeyHex, PeerActor>()
  private readonly connections = new Map<ConnectionId, ConnectionRecord>()
  private readonly flushWaiters = new Map<KeyHex, FlushWaiter>()
  // Kept up to date by the actors' own snapshots, so no event has to scan every peer or
  // topic (that made each event O(peers) and a close O(topics²)).
  private readonly idlePeers = new Set<KeyHex>()
  private readonly unclosedTopics = new Set<KeyHex>()
  /** Topics left with nothing pending: forgotten once the event is handled. */
  private readonly settledLeft = new Set<KeyHex>()
  /** Ops of forgotten topics stay below this, so a topic configured again never reuses one. */
  private opFloor = 0
  private readonly life: LifeActor
  private outbox: CoreEffect[] = []
  private notices: TopicNotice[] = []

  constructor(options: CoreOptions) {
    this.ownKey = options.localKey
    this.authenticate = options.authenticate
    this.candidateTimeout = options.candidateTimeout ?? DEFAULT_CANDIDATE_TIMEOUT
    this.maxPeers = options.maxPeers ?? Number.POSITIVE_INFINITY
    this.life = this.start(lifeMachine, undefined)
  }

  get localKey(): KeyHex | null {
    return this.ownKey
  }

  /** Sets the local key once it is known; a key already set never changes. */
  identify(localKey: KeyHex): void {
    if (this.ownKey === null) this.ownKey = localKey
  }

  get lifeState(): LifeState {
    return this.life.getSnapshot().value as LifeState
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
    const out = this.notices
    this.notices = []
    return out
  }

  /** When the driver should next call `handle({ type: 'tick' }, now)`, or null. */
  nextDeadline(): number | null {
    return this.timers.nextDeadline()
  }

  /** Timers the machines hold: zero once closed. */
  get pendingTimers(): number {
    return this.timers.size
  }

  status(topic: KeyHex): TopicStatus | null {
    const actor = this.topics.get(topic)
    return actor === undefined ? null : statusOf(topic, actor)
  }

  statuses(): TopicStatus[] {
    return [...this.topics].map(([topic, actor]) => statusOf(topic, actor))
  }

  /** The kept connection of every connected remote key. */
  peers(): PeerEntry[] {
    const out: PeerEntry[] = []
    for (const [remoteKey, actor] of this.peerActors) {
      const kept = actor.getSnapshot().context.kept
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
        this.topicActor(event.topic).send({
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
        this.topics.get(event.topic)?.send({ type: event.type, op: event.op })
        return
      case 'topic-join-failed':
      case 'topic-leave-failed':
        this.topics.get(event.topic)?.send({ type: event.type, op: event.op, error: event.error })
        return
      case 'swarm-flushed': {
        // A stale flush (an earlier op) must not replace the current flush's waiter.
        if (this.topics.get(event.topic)?.getSnapshot().context.op !== event.op) return
        // Wait for every connection the swarm produced before its flush completed.
        const unprocessed = new Set(this.pendingConnections())
        if (unprocessed.size === 0) {
          this.topics.get(event.topic)?.send({ type: 'flush-done', op: event.op })
        } else {
          this.flushWaiters.set(event.topic, { op: event.op, unprocessed })
        }
        return
      }
      case 'swarm-flush-failed':
        this.topics
          .get(event.topic)
          ?.send({ type: 'flush-failed', op: event.op, error: event.error })
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
          this.peerActors.get(record.remoteKey)?.send({
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
          this.peerActors.get(record.remoteKey)?.send({
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
        this.life.send({ type: 'close', requestId: event.requestId })
        if (!wasOpen) return
        for (const actor of this.topics.values()) actor.send({ type: 'close' })
        for (const actor of this.peerActors.values()) actor.send({ type: 'close' })
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
        this.life.send({ type: 'swarm-destroyed' })
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
    let actor = this.peerActors.get(record.remoteKey)
    if (actor === undefined && this.peerActors.size >= this.maxPeers) {
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
    if (actor === undefined) {
      actor = this.start(peerMachine, {
        localKey: this.ownKey as KeyHex,
        remoteKey: record.remoteKey,
        candidateTimeout: this.candidateTimeout,
      })
      this.peerActors.set(record.remoteKey, actor)
      const { remoteKey } = record
      // An idle peer holds no connection: it is forgotten once the event is handled.
      actor.subscribe((snap) => {
        if (snap.value === 'idle') this.idlePeers.add(remoteKey)
        else this.idlePeers.delete(remoteKey)
      })
    }
    actor.send({
      type: 'admit',
      connectionId,
      isInitiator: record.isInitiator,
      remoteData: record.remoteData,
    })
  }

  /** A connection was settled (kept, dropped or closed): flushes waiting on it may finish. */
  private processed(connectionId: ConnectionId): void {
    for (const [topic, waiter] of this.flushWaiters) {
      if (!waiter.unprocessed.delete(connectionId) || waiter.unprocessed.size > 0) continue
      this.flushWaiters.delete(topic)
      this.topics.get(topic)?.send({ type: 'flush-done', op: waiter.op })
    }
  }

  private afterEvent(): void {
    for (const topic of this.settledLeft) this.forgetTopic(topic)
    this.settledLeft.clear()
    for (const key of this.idlePeers) {
      this.peerActors.get(key)?.stop()
      this.peerActors.delete(key)
    }
    this.idlePeers.clear()
    if (
      this.lifeState === 'closing' &&
      this.unclosedTopics.size === 0 &&
      this.peerActors.size === 0
    ) {
      this.life.send({ type: 'drained', unannounced: this.unannouncedTopics() })
    }
  }

  /** The close deadline passed: stop waiting for leaves and closes, and finish. */
  private forceClose(): void {
    const state = this.lifeState
    if (state !== 'closing' && state !== 'destroying') return
    for (const actor of this.topics.values()) actor.send({ type: 'force-close' })
    for (const [remoteKey, actor] of this.peerActors) {
      const { kept, candidate } = actor.getSnapshot().context
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
      actor.stop()
    }
    this.peerActors.clear()
    this.life.send({
      type: 'force',
      unannounced: this.unannouncedTopics(),
      destroySwarm: state === 'closing',
    })
  }

  private unannouncedTopics(): KeyHex[] {
    const out: KeyHex[] = []
    for (const [topic, actor] of this.topics)
      if (actor.getSnapshot().context.leaveFailed) out.push(topic)
    return out
  }

  private topicActor(topic: KeyHex): TopicActor {
    let actor = this.topics.get(topic)
    if (actor === undefined) {
      actor = this.start(topicMachine, { topic, firstOp: this.opFloor })
      this.topics.set(topic, actor)
      this.unclosedTopics.add(topic)
      let joined = false
      let flushed = false
      let left = true
      actor.subscribe((snap) => {
        if (snap.value === 'closed') this.unclosedTopics.delete(topic)
        else this.unclosedTopics.add(topic)
        const { context } = snap
        if (context.joined && !joined) this.notices.push({ type: 'joined', topic })
        if (context.flushed && !flushed) this.notices.push({ type: 'flushed', topic })
        const isLeft = snap.value === 'left'
        if (isLeft && !left) this.notices.push({ type: 'left', topic })
        joined = context.joined
        flushed = context.flushed
        left = isLeft
        // Left, nothing waiting, nothing possibly still announced: nothing to remember.
        if (isLeft && context.waiting.length === 0 && !context.leaveFailed) {
          this.settledLeft.add(topic)
        } else {
          this.settledLeft.delete(topic)
        }
      })
    }
    return actor
  }

  private forgetTopic(topic: KeyHex): void {
    const actor = this.topics.get(topic)
    if (actor === undefined) return
    this.opFloor = Math.max(this.opFloor, actor.getSnapshot().context.op)
    actor.stop()
    this.topics.delete(topic)
    this.unclosedTopics.delete(topic)
    this.flushWaiters.delete(topic)
  }

  private start<M extends typeof topicMachine | typeof peerMachine | typeof lifeMachine>(
    machine: M,
    input: unknown,
  ): Actor<M> {
    const actor = createActor(machine as typeof topicMachine, {
      input: input as { topic: KeyHex },
      clock: this.timers,
    }) as unknown as Actor<M>
    actor.on('*', (effect) => {
      this.outbox.push(effect as CoreEffect)
    })
    actor.start()
    return actor
  }
}
