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
}
