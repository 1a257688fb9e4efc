import { bytesToHex, type KeyHex } from '../core/keys.js'
import type { CoreEffect, DropReason, TopicNotice } from '../core/protocol.js'
import { log, nextNetworkerTag, short } from './debug-log.js'
import { listedAtOf, type NetworkerPeer, peerKeyHex, setListedAt } from './peer.js'
import type { SwarmConnection } from './swarm.js'
import {
  addCumulative,
  type CumulativeCounters,
  readTransport,
  zeroCumulative,
} from './transport-counters.js'

/**
 * Why a connection closed: the core's drop reasons (`duplicate`, `rejected`, `closing`,
 * `limit`); `timeout` and `unneeded`, closed on our own ('connection-drop': the liveness
 * bound passed, or `closeOnLeave`); `overflow`, it held more unread than
 * `maxInboundBuffer`; `failed`, the store could not replicate over it; `ended`, none of
 * ours — the remote closed it, or the transport gave up on it.
 */
export type CloseReason = DropReason | 'timeout' | 'unneeded' | 'overflow' | 'failed' | 'ended'

export const CLOSE_REASONS: readonly CloseReason[] = [
  'duplicate',
  'rejected',
  'closing',
  'limit',
  'timeout',
  'unneeded',
  'overflow',
  'failed',
  'ended',
]

/** The networker's running counts of what happened to its connections. */
export interface ConnectionCounts {
  connectionsOpened: number
  connectionsClosed: Record<CloseReason, number>
  duplicatesDropped: number
  authenticationsAccepted: number
  authenticationRejections: number
  inboundOverflows: number
  reconnects: number
}

/** How many recently removed keys are remembered to tell a reconnect from a first connection. */
export const REMEMBERED_REMOVED_KEYS = 10_000

type Drop = Extract<CoreEffect, { type: 'drop-connection' }>
type Keep = Extract<CoreEffect, { type: 'keep-connection' }>
type TopicEffect = Extract<CoreEffect, { type: 'join-topic' | 'leave-topic' | 'flush-swarm' }>

/**
 * Counts and logs what happens to connections, peers and topics, at the moment it happens:
 * a few increments per connection, never per message or packet. The I/O layer calls it
 * from where each thing happens (connection table, effect runner); `stats()` and the
 * metrics read it. Logs are `debug` lines (see debug-log.ts), formatted only when enabled.
 */
export class NetworkerObserver {
  readonly counts: ConnectionCounts = {
    connectionsOpened: 0,
    connectionsClosed: Object.fromEntries(CLOSE_REASONS.map((r) => [r, 0])) as Record<
      CloseReason,
      number
    >,
    duplicatesDropped: 0,
    authenticationsAccepted: 0,
    authenticationRejections: 0,
    inboundOverflows: 0,
    reconnects: 0,
  }
  /** What closed connections carried, so totals never go down when a peer leaves. */
  readonly closedTransport: CumulativeCounters = zeroCumulative()
  /** Tells this networker's log lines from another's in the same process. */
  readonly tag = nextNetworkerTag()
  private readonly reasons = new WeakMap<SwarmConnection, CloseReason>()
  /** Keys of peers removed lately, oldest first: a key coming back is a reconnect. */
  private readonly removed = new Map<KeyHex, true>()

  constructor(private readonly now: () => number) {}

  /** A connection was handed over by the swarm. */
  opened(): void {
    this.counts.connectionsOpened++
  }

  /** We are closing `conn` for `reason`; the first reason given is the one counted. */
  closing(conn: SwarmConnection, reason: CloseReason): void {
    if (this.reasons.has(conn)) return
    this.reasons.set(conn, reason)
    if (reason === 'overflow') this.counts.inboundOverflows++
  }

  /** The connection closed: counted by its reason, and what it carried kept in the totals. */
  closed(conn: SwarmConnection): void {
    const reason = this.reasons.get(conn) ?? 'ended'
    this.reasons.delete(conn)
    this.counts.connectionsClosed[reason]++
    addCumulative(this.closedTransport, readTransport(conn))
    if (log.peer.enabled) {
      log.peer('%s connection to %s closed (%s)', this.tag, keyOf(conn), reason)
    }
  }

  /** onauthenticate's verdict on a connection (a timeout is a rejection). */
  authenticated(remotePublicKey: Uint8Array, accepted: boolean): void {
    if (accepted) this.counts.authenticationsAccepted++
    else this.counts.authenticationRejections++
    if (log.auth.enabled) {
      log.auth(
        '%s %s %s',
        this.tag,
        short(bytesToHex(remotePublicKey)),
        accepted ? 'accepted' : 'rejected',
      )
    }
  }

  /** The core drops a connection (before the table closes it). */
  dropped(effect: Drop): void {
    if (effect.reason === 'duplicate') this.counts.duplicatesDropped++
    if (log.dedup.enabled) {
      log.dedup(
        '%s drop connection %d to %s (%s)',
        this.tag,
        effect.connectionId,
        short(effect.remoteKey),
        effect.reason,
      )
    }
  }

  /** The core keeps a connection: it replicates and, once it is the key's only one, is listed. */
  kept(effect: Keep): void {
    if (log.dedup.enabled) {
      log.dedup(
        '%s keep connection %d to %s',
        this.tag,
        effect.connectionId,
        short(effect.remoteKey),
      )
    }
  }

  peerAdded(peer: NetworkerPeer): void {
    // Kept on the peer (a map entry per peer here would cost more than the number), in whole
    // milliseconds: a fraction would be a number object of its own.
    setListedAt(peer, Math.floor(this.now()))
    const key = peerKeyHex(peer)
    const again = this.removed.delete(key)
    if (again) this.counts.reconnects++
    if (log.peer.enabled) {
      log.peer(
        '%s + peer %s %s (%s)%s',
        this.tag,
        short(key),
        peer.remoteAddress ?? '-',
        peer.type,
        again ? ', a reconnect' : '',
      )
    }
  }

  peerRemoved(peer: NetworkerPeer): void {
    setListedAt(peer, null)
    const key = peerKeyHex(peer)
    this.removed.set(key, true)
    // Bounded: a long-running seeder meets keys without end; the oldest are forgotten.
    if (this.removed.size > REMEMBERED_REMOVED_KEYS) {
      const oldest = this.removed.keys().next().value
      if (oldest !== undefined) this.removed.delete(oldest)
    }
    if (log.peer.enabled) log.peer('%s - peer %s', this.tag, short(key))
  }

  /** Milliseconds since the peer was listed (0 for one not listed). */
  ageOf(peer: NetworkerPeer): number {
    const at = listedAtOf(peer)
    return at === null ? 0 : Math.max(0, this.now() - at)
  }

  /** A topic operation the core asks of the swarm. */
  topicEffect(effect: TopicEffect): void {
    if (!log.topic.enabled) return
    const topic = short(effect.topic)
    if (effect.type === 'join-topic') {
      const how = [effect.announce ? 'announce' : '', effect.lookup ? 'lookup' : '']
        .filter(Boolean)
        .join('+')
      log.topic('%s %s join (%s), op %d', this.tag, topic, how, effect.op)
    } else if (effect.type === 'leave-topic') {
      log.topic('%s %s leave, op %d', this.tag, topic, effect.op)
    } else {
      log.topic('%s %s flush, op %d', this.tag, topic, effect.op)
    }
  }

  /** A topic changed state: joined, flushed or left. */
  topicNotice(notice: TopicNotice): void {
    if (log.topic.enabled) log.topic('%s %s %s', this.tag, short(notice.topic), notice.type)
  }
}

function keyOf(conn: SwarmConnection): string {
  const key = conn.remotePublicKey
  return key instanceof Uint8Array ? short(bytesToHex(key)) : '?'
}
