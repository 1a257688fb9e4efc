import { CLOSE_REASONS } from '../io/observer.js'
import { DHT_STATES, type MetricsSample, rttSummary } from './sample.js'

/*
 * Every Prometheus metric the networker exposes: one prefix, base units (bytes, seconds),
 * `_total` on counters, and no label per peer (a key per label would grow without bound).
 * Each family says how to read its values out of a scrape's sample; the README lists them.
 */

export const PREFIX = 'chainstore_networker_'

export type Labels = Record<string, string>

export interface Family {
  /** Without the prefix. */
  name: string
  help: string
  type: 'counter' | 'gauge'
  /** The family's own label names (the user's constant labels come on top). */
  labels: readonly string[]
  values(s: MetricsSample): [Labels, number][]
}

const one = (value: number): [Labels, number][] => [[{}, value]]

function counter(name: string, help: string, read: (s: MetricsSample) => number): Family {
  return { name, help, type: 'counter', labels: [], values: (s) => one(read(s)) }
}

function gauge(name: string, help: string, read: (s: MetricsSample) => number): Family {
  return { name, help, type: 'gauge', labels: [], values: (s) => one(read(s)) }
}

/** One counter with a `result` label: a series per result, each read from the sample. */
function byResult(
  name: string,
  help: string,
  results: Record<string, (s: MetricsSample) => number>,
): Family {
  const entries = Object.entries(results)
  return {
    name,
    help,
    type: 'counter',
    labels: ['result'],
    values: (s) => entries.map(([result, read]) => [{ result }, read(s)]),
  }
}

/** One counter per registered extension name. */
function perExtension(
  name: string,
  help: string,
  read: (c: MetricsSample['totals']['extensions'][string]) => number,
): Family {
  return {
    name,
    help,
    type: 'counter',
    labels: ['extension'],
    values: (s) =>
      Object.entries(s.totals.extensions).map(([extension, c]) => [{ extension }, read(c)]),
  }
}

export const FAMILIES: readonly Family[] = [
  gauge('peers', 'Connected peers, one per remote public key.', (s) => s.totals.peers),
  gauge(
    'connections',
    'Open connections, peers or not yet (authenticating, duplicates being closed).',
    (s) => s.totals.connections,
  ),
  {
    name: 'topics',
    help: 'Topics by state: joining, flushing, joined, leaving, left, closed.',
    type: 'gauge',
    labels: ['state'],
    values: (s) => Object.entries(s.totals.topics).map(([state, n]) => [{ state }, n]),
  },
  {
    name: 'dht_state',
    help: "1 for the DHT's current state (several networkers on one registry: how many are in each).",
    type: 'gauge',
    labels: ['state'],
    values: (s) => DHT_STATES.map((state) => [{ state }, s.dht[state]]),
  },
  gauge('dht_nodes', 'DHT nodes in the routing table.', (s) => s.dhtNodes),
  {
    name: 'peer_rtt_seconds',
    help: 'Round-trip time of the peers now (UDX smoothed RTT): the smallest, the median and the largest.',
    type: 'gauge',
    labels: ['stat'],
    values: (s) => {
      const rtt = rttSummary(s.rttMs)
      return rtt === null
        ? []
        : [
            [{ stat: 'min' }, rtt.min],
            [{ stat: 'median' }, rtt.median],
            [{ stat: 'max' }, rtt.max],
          ]
    },
  },
  counter(
    'connections_opened_total',
    'Connections the swarm handed over.',
    (s) => s.totals.connectionsOpened,
  ),
  {
    name: 'connections_closed_total',
    help: 'Connections closed, by reason: duplicate, rejected, closing, limit, timeout, unneeded, overflow, failed, ended.',
    type: 'counter',
    labels: ['reason'],
    values: (s) => CLOSE_REASONS.map((reason) => [{ reason }, s.totals.connectionsClosed[reason]]),
  },
  byResult(
    'authentications_total',
    'onauthenticate verdicts: accepted, or rejected (including timeouts).',
    {
      accepted: (s) => s.totals.authenticationsAccepted,
      rejected: (s) => s.totals.authenticationRejections,
    },
  ),
  counter(
    'reconnects_total',
    'Peers listed again after they had been removed.',
    (s) => s.totals.reconnects,
  ),
  counter(
    'sent_bytes_total',
    'Bytes written to the transport by the encrypted streams (framing included).',
    (s) => s.totals.bytesSent,
  ),
  counter(
    'received_bytes_total',
    'Bytes read from the transport by the encrypted streams.',
    (s) => s.totals.bytesReceived,
  ),
  counter(
    'replication_sent_bytes_total',
    'Sent bytes not carried by extension messages: replication, and all framing.',
    (s) => s.totals.replicationBytesSent,
  ),
  counter(
    'replication_received_bytes_total',
    'Received bytes not carried by extension messages: replication, and all framing.',
    (s) => s.totals.replicationBytesReceived,
  ),
  counter('sent_packets_total', 'UDX packets sent.', (s) => s.totals.packetsSent),
  counter('received_packets_total', 'UDX packets received.', (s) => s.totals.packetsReceived),
  counter('retransmitted_packets_total', 'UDX packets sent again.', (s) => s.totals.retransmits),
  counter(
    'retransmission_timeouts_total',
    'UDX retransmission timeouts.',
    (s) => s.totals.rtoCount,
  ),
  perExtension(
    'extension_messages_sent_total',
    'Extension messages written, by extension.',
    (c) => c.sent,
  ),
  perExtension(
    'extension_messages_received_total',
    'Extension messages received, by extension.',
    (c) => c.received,
  ),
  perExtension(
    'extension_messages_dropped_total',
    'Extension messages given up, by extension: held and dropped, refused for a full hold, or received too large or undecodable.',
    (c) => c.dropped,
  ),
  perExtension(
    'extension_sent_bytes_total',
    'Payload bytes of extension messages sent, by extension.',
    (c) => c.bytesSent,
  ),
  perExtension(
    'extension_received_bytes_total',
    'Payload bytes of extension messages received, by extension.',
    (c) => c.bytesReceived,
  ),
  counter(
    'extension_messages_unregistered_total',
    'Extension messages for an extension this networker does not have (any more).',
    (s) => s.totals.extensionMessagesDropped,
  ),
  counter(
    'extension_frames_malformed_total',
    'Malformed frames on the extensions channel, ignored.',
    (s) => s.totals.extensionFramesMalformed,
  ),
  byResult(
    'handshakes_unfinished_total',
    'Noise handshakes over adopted streams and direct TCP that did not finish: failed (not Noise, too many bytes, closed), timeout, or refused (past the caps on unfinished handshakes).',
    {
      failed: (s) => s.totals.handshakesFailed,
      timeout: (s) => s.totals.handshakeTimeouts,
      refused: (s) => s.totals.handshakesRefused,
    },
  ),
  counter('lan_queries_sent_total', 'mDNS query packets sent.', (s) => s.totals.lanQueriesSent),
  counter('lan_answers_sent_total', 'mDNS answer packets sent.', (s) => s.totals.lanAnswersSent),
  counter(
    'lan_queries_throttled_total',
    'mDNS queries left unanswered, in whole or part, by the answer rate limits.',
    (s) => s.totals.lanQueriesThrottled,
  ),
  byResult(
    'lan_answers_total',
    'mDNS answers for our service: accepted (MAC verified, for a topic we look up) or rejected (malformed, or a MAC that does not verify).',
    {
      accepted: (s) => s.totals.lanAnswersAccepted,
      rejected: (s) => s.totals.lanAnswersRejected,
    },
  ),
  counter(
    'lan_packets_malformed_total',
    'Datagrams on the mDNS port that did not decode as DNS.',
    (s) => s.totals.lanPacketsMalformed,
  ),
  counter(
    'lan_dials_total',
    'Direct TCP dials of keys found on the LAN.',
    (s) => s.totals.lanDials,
  ),
  counter(
    'lan_dials_failed_total',
    'LAN dials that did not end with the key as a peer.',
    (s) => s.totals.lanDialsFailed,
  ),
]

/** Every label name a family uses: a user's constant labels must not take one of these. */
export const RESERVED_LABELS: ReadonlySet<string> = new Set(FAMILIES.flatMap((f) => f.labels))
