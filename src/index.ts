import { Networker } from './networker.js'

export { ErrorCode, NetworkerError } from './core/errors.js'
export type { AuthenticateContext, AuthenticateHook } from './io/authenticate.js'
export type { DiscoverySession, KeyPair, SwarmConnection, SwarmLike } from './io/swarm.js'
export type { TransportType } from './io/transport.js'
export type {
  ConfigureOptions,
  NetworkerOptions,
  NetworkerPeer,
  ReplicatingStore,
  TopicStatusInfo,
} from './networker.js'
export { Networker }
export default Networker
