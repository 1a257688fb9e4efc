import b4a from 'b4a'
import { hexToBytes } from './core/keys.js'
import type { CloseReport as CoreCloseReport, TopicStatus } from './core/protocol.js'

/*
 * The shapes the networker reports in: a topic's status, how a close went, its internal
 * counts. The core speaks in hex keys; the user gets Buffers, made here.
 */

export interface CloseReport {
  /** Topics whose announcement could not be withdrawn (the leave failed or ran out of time). */
  unannounced: Buffer[]
  /** The timeout cut the close short. */
  forced: boolean
}

export interface TopicStatusInfo {
  discoveryKey: Buffer
  announce: boolean
  lookup: boolean
  joined: boolean
  flushed: boolean
}

/** Internal counts, for debugging and leak checks. */
export interface NetworkerDiagnostics {
  connections: number
  pendingConnections: number
  peers: number
  timers: number
  extensionChannels: number
  /** Streams in their Noise handshake (`adopt`, direct TCP); present only while there are any. */
  pendingHandshakes?: number
  /**
   * Present only when the inbound flood guard (`maxInboundBuffer`) could not be installed:
   * the streamx in use, or a connection's stream, lacks the unread-byte count it reads.
   */
  floodGuard?: 'unavailable'
}

export function publicReport(report: CoreCloseReport | undefined): CloseReport {
  return {
    unannounced: (report?.unannounced ?? []).map((topic) => b4a.from(hexToBytes(topic))),
    forced: report?.forced ?? false,
  }
}

export function publicStatus(s: TopicStatus): TopicStatusInfo {
  return {
    discoveryKey: b4a.from(hexToBytes(s.topic)),
    announce: s.announce,
    lookup: s.lookup,
    joined: s.joined,
    flushed: s.flushed,
  }
}
