import type { SwarmConnection } from './swarm.js'

/**
 * What the layers under one connection have counted, read when asked: nothing here runs
 * per packet or per message, so a networker nobody watches pays nothing for it.
 *
 * `bytesSent`/`bytesReceived` are the Noise secret stream's own counts (`rawBytesWritten`,
 * `rawBytesRead`): every byte it wrote to or read from the transport, encrypted and framed,
 * on any transport. The rest are UDX's (Hyperswarm's transport) and null on any other.
 */
export interface TransportCounters {
  bytesSent: number
  bytesReceived: number
  /** UDX packets, retransmissions and acknowledgements included. */
  packetsSent: number | null
  packetsReceived: number | null
  /** UDX's smoothed round-trip time, in milliseconds. */
  rttMs: number | null
  /** UDX's congestion window, in packets. */
  cwnd: number | null
  /** Bytes UDX has sent and not yet seen acknowledged. */
  inflight: number | null
  /** Packets UDX sent again (fast retransmits and timeouts). */
  retransmits: number | null
  /** Retransmission timeouts: a timer, not an acknowledgement, told UDX a packet was lost. */
  rtoCount: number | null
}

/** The cumulative counts of a connection: what is added up over closed connections. */
export type CumulativeCounters = Pick<
  TransportCounters,
  'bytesSent' | 'bytesReceived' | 'packetsSent' | 'packetsReceived' | 'retransmits' | 'rtoCount'
>

/** The getters of udx-native's stream this reads (all public, documented in its README). */
interface UdxStreamShape {
  rtt?: unknown
  cwnd?: unknown
  inflight?: unknown
  retransmits?: unknown
  rtoCount?: unknown
  packetsTransmitted?: unknown
  packetsReceived?: unknown
}

interface SecretStreamShape {
  rawBytesRead?: unknown
  rawBytesWritten?: unknown
  rawStream?: unknown
}

const count = (value: unknown): number | null =>
  typeof value === 'number' && Number.isFinite(value) ? value : null

/** Whether the raw stream is UDX's: it alone has a congestion window. */
export function isUdx(raw: unknown): raw is UdxStreamShape {
  return typeof raw === 'object' && raw !== null && 'cwnd' in raw && 'udx' in raw
}

/**
 * Reads the counters of one connection. Safe on a closed connection: the secret stream
 * keeps its counts, and UDX's live in a buffer the stream object holds until it is collected.
 */
export function readTransport(conn: SwarmConnection): TransportCounters {
  const secret = conn as unknown as SecretStreamShape
  const raw = secret.rawStream
  const udx = isUdx(raw) ? raw : null
  return {
    bytesSent: count(secret.rawBytesWritten) ?? 0,
    bytesReceived: count(secret.rawBytesRead) ?? 0,
    packetsSent: udx === null ? null : count(udx.packetsTransmitted),
    packetsReceived: udx === null ? null : count(udx.packetsReceived),
    rttMs: udx === null ? null : count(udx.rtt),
    cwnd: udx === null ? null : count(udx.cwnd),
    inflight: udx === null ? null : count(udx.inflight),
    retransmits: udx === null ? null : count(udx.retransmits),
    rtoCount: udx === null ? null : count(udx.rtoCount),
  }
}

/** All zero: where the counts of closed connections start. */
export function zeroCumulative(): CumulativeCounters {
  return {
    bytesSent: 0,
    bytesReceived: 0,
    packetsSent: 0,
    packetsReceived: 0,
    retransmits: 0,
    rtoCount: 0,
  }
}

/** Adds the cumulative part of `c` into `into` (a missing UDX count adds nothing). */
export function addCumulative(into: CumulativeCounters, c: CumulativeCounters): void {
  into.bytesSent += c.bytesSent
  into.bytesReceived += c.bytesReceived
  into.packetsSent = (into.packetsSent ?? 0) + (c.packetsSent ?? 0)
  into.packetsReceived = (into.packetsReceived ?? 0) + (c.packetsReceived ?? 0)
  into.retransmits = (into.retransmits ?? 0) + (c.retransmits ?? 0)
  into.rtoCount = (into.rtoCount ?? 0) + (c.rtoCount ?? 0)
}
