import { bytesToHex } from './core/keys.js'
import type { TopicState, TopicStatus } from './core/protocol.js'
import type { HandshakeCounters } from './io/adopt-counters.js'
import { type ConnectionPath, pathOf, relayedStreams } from './io/connection-path.js'
import type { ConnectionView } from './io/connections.js'
import type { ExtensionCounts } from './io/extension-tally.js'
import type { LanCounters } from './io/lan-counters.js'
import type { CloseReason, ConnectionCounts } from './io/observer.js'
import type { NetworkerPeer } from './io/peer.js'
import type { TransportType } from './io/transport.js'
import {
  addCumulative,
  type CumulativeCounters,
  readTransport,
  type TransportCounters,
} from './io/transport-counters.js'

/*
 * What `networker.stats()` returns, and how it is computed: on demand, from counters the
 * I/O layer keeps as things happen and from what each connection's transport has counted.
 * Plain JSON-ready data: keys are lower-case hex strings.
 */

/** One connected peer, as of the call. */
export interface PeerStats extends TransportCounters {
  /** The remote Noise public key, hex. */
  remoteKey: string
  remoteAddress: string | null
  type: TransportType
  /** How the connection reaches the peer, as far as this end can tell (see the README). */
  path: ConnectionPath
  /** We dialed (true) or the peer did. */
  initiator: boolean
  /** Milliseconds since it became a peer. */
  ageMs: number
  /**
   * Connection bytes not carried by extension messages: the store's replication, plus the
   * Noise and Protomux framing of everything.
   */
  replicationBytesSent: number
  replicationBytesReceived: number
  /**
   * The discovery keys (hex) this peer shares with us now, as `peer.topics` says: proven
   * by a networker peer, or, for any other peer, those our lookups found it under.
   */
  topics: string[]
  /** Extension messages with this peer, by extension name. */
  extensions: Record<string, ExtensionCounts>
}

/**
 * Totals of the networker's life so far (counters never go down) and its state now; the
 * `lan…` counters are LAN discovery's (all zero without the `lan` option); the `handshake…`
 * counters are those of adopted streams and direct TCP sockets.
 */
export interface StatsTotals extends LanCounters, HandshakeCounters {
  /** Peers now (one per remote key). */
  peers: number
  /** Connections open now, peers or not yet (authenticating, duplicates being dropped). */
  connections: number
  connectionsOpened: number
  /** Connections closed, by why (see the README for each reason). */
  connectionsClosed: Record<CloseReason, number>
  /** Connections dropped as duplicates of another to the same key. */
  duplicatesDropped: number
  authenticationsAccepted: number
  /** onauthenticate said no, threw, or did not answer in time. */
  authenticationRejections: number
  /** Connections closed for holding more than `maxInboundBuffer` unread. */
  inboundOverflows: number
  /** Peers listed again after they had been removed (a key seen before, lately). */
  reconnects: number
  /** Topics by state now. */
  topics: Record<TopicState, number>
  /** Over every connection, closed ones included (see PeerStats for what each counts). */
  bytesSent: number
  bytesReceived: number
  packetsSent: number
  packetsReceived: number
  retransmits: number
  rtoCount: number
  replicationBytesSent: number
  replicationBytesReceived: number
  /** Extension messages by extension name, closed connections included. */
  extensions: Record<string, ExtensionCounts>
  /** Messages for an extension this networker does not have (any more). */
  extensionMessagesDropped: number
  /** Malformed frames on the extensions channel, ignored. */
  extensionFramesMalformed: number
}

export interface NetworkerStats {
  totals: StatsTotals
  peers: PeerStats[]
}

/** Where the figures come from. */
export interface StatsSources {
  counts: ConnectionCounts
  /** What closed connections carried. */
  closedTransport: CumulativeCounters
  extensionCounters: { extensionMessagesDropped: number; extensionFramesMalformed: number }
  /** LAN discovery's counters (zeros when it is off). */
  lan: LanCounters
  /** Handshakes over adopted streams and direct TCP sockets. */
  handshakes: HandshakeCounters
  connections(): Iterable<ConnectionView>
  topics(): TopicStatus[]
  ageOf(peer: NetworkerPeer): number
  /** One peer's extension counts, by name. */
  extensionsOf(peer: NetworkerPeer): Record<string, ExtensionCounts>
  /** Every extension's counts, by name, closed connections included. */
  extensionTotals(): Record<string, ExtensionCounts>
  /** The swarm's DHT, whose raw streams tell relayed connections (null: no DHT). */
  dht(): unknown
}

const TOPIC_STATES: readonly TopicState[] = [
  'joining',
  'flushing',
  'joined',
  'leaving',
  'left',
  'closed',
]

/** The whole picture: totals and one entry per peer. */
export function collectStats(src: StatsSources): NetworkerStats {
  const open = [...src.connections()]
  const relayed = relayedStreams(
    src.dht(),
    open.map((v) => v.conn),
  )
  const peers: PeerStats[] = []
  const live = { ...src.closedTransport }
  for (const view of open) {
    const counters = readTransport(view.conn)
    addCumulative(live, counters)
    if (view.peer !== null) peers.push(peerStats(src, view, view.peer, counters, relayed))
  }
  return { totals: totalsOf(src, open.length, peers.length, live), peers }
}

/**
 * The totals alone, and the round-trip times of the peers now: what a metrics scrape
 * needs, without building an entry per peer.
 */
export function collectTotals(src: StatsSources): { totals: StatsTotals; rttMs: number[] } {
  const live = { ...src.closedTransport }
  const rttMs: number[] = []
  let connections = 0
  let peers = 0
  for (const view of src.connections()) {
    connections++
    const counters = readTransport(view.conn)
    addCumulative(live, counters)
    if (view.peer === null) continue
    peers++
    if (counters.rttMs !== null) rttMs.push(counters.rttMs)
  }
  return { totals: totalsOf(src, connections, peers, live), rttMs }
}

function peerStats(
  src: StatsSources,
  view: ConnectionView,
  peer: NetworkerPeer,
  counters: TransportCounters,
  relayed: ReadonlySet<unknown>,
): PeerStats {
  const extensions = src.extensionsOf(peer)
  const payload = payloadOf(extensions)
  return {
    remoteKey: bytesToHex(peer.remotePublicKey),
    remoteAddress: peer.remoteAddress,
    type: peer.type,
    path: pathOf(view.conn, relayed),
    initiator: view.conn.isInitiator,
    ageMs: src.ageOf(peer),
    ...counters,
    replicationBytesSent: Math.max(0, counters.bytesSent - payload.sent),
    replicationBytesReceived: Math.max(0, counters.bytesReceived - payload.received),
    topics: peer.topics.map((t) => bytesToHex(t)),
    extensions,
  }
}

function totalsOf(
  src: StatsSources,
  connections: number,
  peers: number,
  transport: CumulativeCounters,
): StatsTotals {
  const topics = Object.fromEntries(TOPIC_STATES.map((s) => [s, 0])) as Record<TopicState, number>
  for (const status of src.topics()) topics[status.state]++
  const extensions = src.extensionTotals()
  const payload = payloadOf(extensions)
  const { counts } = src
  return {
    peers,
    connections,
    connectionsOpened: counts.connectionsOpened,
    connectionsClosed: { ...counts.connectionsClosed },
    duplicatesDropped: counts.duplicatesDropped,
    authenticationsAccepted: counts.authenticationsAccepted,
    authenticationRejections: counts.authenticationRejections,
    inboundOverflows: counts.inboundOverflows,
    reconnects: counts.reconnects,
    topics,
    bytesSent: transport.bytesSent,
    bytesReceived: transport.bytesReceived,
    packetsSent: transport.packetsSent ?? 0,
    packetsReceived: transport.packetsReceived ?? 0,
    retransmits: transport.retransmits ?? 0,
    rtoCount: transport.rtoCount ?? 0,
    replicationBytesSent: Math.max(0, transport.bytesSent - payload.sent),
    replicationBytesReceived: Math.max(0, transport.bytesReceived - payload.received),
    extensions,
    extensionMessagesDropped: src.extensionCounters.extensionMessagesDropped,
    extensionFramesMalformed: src.extensionCounters.extensionFramesMalformed,
    ...src.lan,
    ...src.handshakes,
  }
}

function payloadOf(extensions: Record<string, ExtensionCounts>): {
  sent: number
  received: number
} {
  let sent = 0
  let received = 0
  for (const counts of Object.values(extensions)) {
    sent += counts.bytesSent
    received += counts.bytesReceived
  }
  return { sent, received }
}
