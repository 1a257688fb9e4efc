import b4a from 'b4a'
import type { Clock } from '../core/clock.js'
import type { KeyHex } from '../core/keys.js'
import type { ConnectionId, CoreEffect } from '../core/protocol.js'
import { LivenessMonitor } from './liveness.js'
import {
  connectionIdOf,
  type NetworkerPeer,
  peerKeyHex,
  recordLists,
  setTopicsOf,
  swarmInfoOf,
  topicsOf,
} from './peer.js'
import { Reconnector } from './reconnect.js'
import type { SwarmConnection, SwarmLike } from './swarm.js'
import { type TopicProofError, TopicProofs } from './topic-proofs.js'
import { bytesOf, hexOf } from './util.js'

/**
 * Why the networker closed a connection on its own: `duplicate`, another connection to the
 * same key was kept; `rejected`, `onauthenticate` said no (or timed out); `limit`, past
 * `maxPeers`; `timeout`, nothing arrived for the liveness bound; `unneeded`, with
 * `closeOnLeave`, leaving a topic left the peer sharing none with us; `overflow`, it held
 * more unread than `maxInboundBuffer`; `failed`, the store could not replicate over it.
 */
export type ConnectionDropReason =
  | 'duplicate'
  | 'rejected'
  | 'limit'
  | 'timeout'
  | 'unneeded'
  | 'overflow'
  | 'failed'

/** What 'connection-drop' is emitted with. */
export interface ConnectionDrop {
  remotePublicKey: Buffer
  reason: ConnectionDropReason
  /** The listed peer the connection was, or null (a duplicate never listed, a rejected one). */
  peer: NetworkerPeer | null
}

/** Default grace after a leave before a peer that shares nothing more is closed (ms). */
export const DEFAULT_CLOSE_ON_LEAVE_GRACE = 2000

export interface AwarenessSettings {
  livenessTimeout: number
  reconnect: boolean
  closeOnLeave: boolean
  closeOnLeaveGrace: number
}

export interface AwarenessHooks {
  clock: Clock
  swarm(): SwarmLike | null
  localKey(): KeyHex | null
  /** The networker is open (nothing is started while it closes). */
  open(): boolean
  peerOf(remoteKey: KeyHex): NetworkerPeer | null
  /** The peer shares this topic with us now (its key as hex: made bytes only for a listener). */
  topicAdded(peer: NetworkerPeer, topic: KeyHex): void
  topicRemoved(peer: NetworkerPeer, topic: KeyHex): void
  dropped(drop: ConnectionDrop): void
  proofError(err: TopicProofError, peer: NetworkerPeer): void
}

/** Closes of ours that say "do not dial back". */
type OwnClose = ConnectionDropReason | 'closing'

/**
 * What the networker knows of its peers beyond a key and a stream, and acts on: the topics
 * each shares with us (topic-proofs.ts), whether it is still there (liveness.ts), dialing
 * it back when its connection drops (reconnect.ts), closing it when leaving a topic made
 * it useless (`closeOnLeave`), and why each connection we closed was closed. The networker
 * feeds it the swarm's connections, configure calls, the core's effects and the peers'
 * comings and goings; it never decides what the core decides.
 */
export class PeerAwareness {
  readonly proofs: TopicProofs
  readonly liveness: LivenessMonitor
  readonly reconnector: Reconnector
  private readonly ownCloses = new WeakMap<SwarmConnection, OwnClose>()
  private readonly graceTimers = new Map<NetworkerPeer, unknown>()
  private announced = false
  private listenCalled = false
  /** What every listed peer's `topics` reads: one function for all of them. */
  private readonly topicsOf = (peer: NetworkerPeer): Buffer[] =>
    this.proofs.topicsOf(peer).map(bytesOf)

  constructor(
    private readonly settings: AwarenessSettings,
    private readonly hooks: AwarenessHooks,
  ) {
    const { clock } = hooks
    this.proofs = new TopicProofs({
      clock,
      listening: () => this.listening,
      foundTopics: (peer) => this.foundTopics(peer),
      foundUnder: (peer, topic) => recordLists(swarmInfoOf(peer), topic),
      gained: (peer, topic) => hooks.topicAdded(peer, topic),
      lost: (peer, topic) => hooks.topicRemoved(peer, topic),
      report: (err, peer) => hooks.proofError(err, peer),
    })
    this.liveness = new LivenessMonitor({
      clock,
      timeout: settings.livenessTimeout,
      dead: (conn) => this.closeConnection(conn, 'timeout'),
    })
    this.reconnector = new Reconnector({
      clock,
      swarm: hooks.swarm,
      localKey: hooks.localKey,
      connected: (remoteKey) => hooks.peerOf(remoteKey) !== null,
      stillShared: (topics) => topics.some((t) => this.proofs.claimed(t)),
    })
  }

  /** Whether we accept direct connections: Hyperswarm listens once a topic is announced. */
  get listening(): boolean {
    return this.announced || this.listenCalled
  }

  /** A configure call: joining (or changing) proves the topic, leaving withdraws it. */
  configured(topic: KeyHex, announce: boolean, lookup: boolean): void {
    if (!this.hooks.open()) return
    if (announce && !this.announced) {
      this.announced = true
      this.proofs.flagsChanged()
    }
    if (announce || lookup) {
      this.proofs.claim(topic)
      return
    }
    const before = this.settings.closeOnLeave ? this.proofs.peersOf(topic) : []
    this.proofs.unclaim(topic)
    this.reconnector.topicLeft()
    for (const peer of before) this.maybeUnneeded(peer)
  }

  /** `listen()` was called: we accept direct connections from now on. */
  listened(): void {
    if (this.listenCalled) return
    this.listenCalled = true
    this.proofs.flagsChanged()
  }

  /** After each core effect ran: why drops happen. */
  effect(effect: CoreEffect): void {
    if (effect.type !== 'drop-connection') return
    const peer = this.listedAt(effect.remoteKey, effect.connectionId)
    if (peer !== null) this.ownCloses.set(peer.stream, effect.reason)
    if (effect.reason === 'closing') return
    const drop = { remotePublicKey: bytesOf(effect.remoteKey), reason: effect.reason, peer }
    // After the step that decided it, like every other event of ours.
    queueMicrotask(() => this.hooks.dropped(drop))
  }

  /** The connection table closed a connection itself (overflow, or the store refused it). */
  ownClose(conn: SwarmConnection, reason: 'overflow' | 'failed'): void {
    if (this.ownCloses.has(conn)) return
    this.ownCloses.set(conn, reason)
    const remotePublicKey = b4a.from(conn.remotePublicKey)
    const listed = this.hooks.peerOf(hexOf(remotePublicKey))
    const drop = { remotePublicKey, reason, peer: listed?.stream === conn ? listed : null }
    // Possibly inside a step of the core (a keep that failed): told after it, like the others.
    queueMicrotask(() => this.hooks.dropped(drop))
  }

  /** A peer is listed: its topics channel opens and its liveness is watched (before 'peer-add'). */
  added(peer: NetworkerPeer): void {
    setTopicsOf(peer, this.topicsOf)
    this.reconnector.found(peerKeyHex(peer))
    this.proofs.attach(peer)
    this.liveness.watch(peer.stream)
  }

  /** A peer is unlisted: dial it back if its connection was lost and it still shares a topic. */
  removed(peer: NetworkerPeer): void {
    const topics = this.proofs.topicsOf(peer)
    const remoteListens = this.remoteListens(peer)
    this.proofs.detach(peer)
    this.liveness.unwatch(peer.stream)
    this.hooks.clock.clearTimeout(this.graceTimers.get(peer))
    this.graceTimers.delete(peer)
    if (!this.settings.reconnect || !this.hooks.open()) return
    // Closed by us on purpose (replaced, unneeded, dead, closing): not lost.
    if (this.ownCloses.has(peer.stream)) return
    this.reconnector.lost(peerKeyHex(peer), topics, {
      weListen: this.listening,
      remoteListens,
    })
  }

  /** The networker closes: nothing more is started, every timer stops. */
  close(): void {
    this.reconnector.stop()
    this.liveness.clear()
    for (const timer of this.graceTimers.values()) this.hooks.clock.clearTimeout(timer)
    this.graceTimers.clear()
    this.proofs.detachAll()
  }

  /** Timers this holds (for diagnostics): reconnections, grace periods, the liveness check. */
  get timerCount(): number {
    return this.reconnector.pending + this.graceTimers.size + (this.liveness.size > 0 ? 1 : 0)
  }

  /** The peer listed now under this connection, if it is its key's listed peer. */
  private listedAt(remoteKey: KeyHex, connectionId: ConnectionId): NetworkerPeer | null {
    const peer = this.hooks.peerOf(remoteKey)
    return peer !== null && connectionIdOf(peer) === connectionId ? peer : null
  }

  /**
   * Whether the peer accepts direct connections: its handshake says so, or else we dialed
   * it, or our lookups found it (it announces).
   */
  private remoteListens(peer: NetworkerPeer): boolean {
    const said = this.proofs.remoteListening(peer)
    if (said !== null) return said
    return peer.stream.isInitiator || topicsOf(swarmInfoOf(peer)).length > 0
  }

  private foundTopics(peer: NetworkerPeer): KeyHex[] {
    return topicsOf(swarmInfoOf(peer)).map(hexOf)
  }

  /** After a leave: a networker peer sharing nothing with us is closed after the grace. */
  private maybeUnneeded(peer: NetworkerPeer): void {
    if (this.graceTimers.has(peer)) return
    const timer = this.hooks.clock.setTimeout(() => {
      this.graceTimers.delete(peer)
      if (!this.hooks.open() || !this.proofs.proves(peer)) return
      if (this.proofs.topicsOf(peer).length > 0) return
      this.closeConnection(peer.stream, 'unneeded')
    }, this.settings.closeOnLeaveGrace)
    this.graceTimers.set(peer, timer)
  }

  private closeConnection(conn: SwarmConnection, reason: 'timeout' | 'unneeded'): void {
    if (conn.destroyed || this.ownCloses.has(conn)) return
    this.ownCloses.set(conn, reason)
    const remotePublicKey = b4a.from(conn.remotePublicKey)
    const peer = this.hooks.peerOf(hexOf(remotePublicKey))
    this.hooks.dropped({
      remotePublicKey,
      reason,
      peer: peer !== null && peer.stream === conn ? peer : null,
    })
    // Closed without an error: this is the networker's own decision, reported as
    // 'connection-drop' with its reason; an error would be emitted on a stream whose other
    // users (a bench, a plain pair) may not listen for one, and crash them.
    conn.destroy()
  }
}
