import type { SwarmConnection } from './swarm.js'
import type { TransportType } from './transport.js'

/** A connected remote peer: one per remote Noise key. */
export interface NetworkerPeer {
  remotePublicKey: Buffer
  /** `host:port` of the remote end of the transport, or null when it has none. */
  remoteAddress: string | null
  /** The transport the connection runs on. */
  type: TransportType
  /** The Noise secret stream; the store replicates over it. */
  stream: SwarmConnection
  /**
   * The discovery keys this peer shares with us now: the topics both have joined, as its
   * proofs say (a networker peer), or as our lookups found it (any other peer). A fresh
   * array on every read; 'peer-topic-add' and 'peer-topic-remove' say when it changes.
   */
  readonly topics: Buffer[]
}
