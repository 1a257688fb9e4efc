import { Networker } from './networker.js'

export type { Clock } from './core/clock.js'
export { ErrorCode, NetworkerError } from './core/errors.js'
export type { DropReason, TopicState } from './core/protocol.js'
export type { ExtensionErrorInfo, NetworkerEvents } from './events.js'
export type { HandshakeCounters } from './io/adopt-counters.js'
export type { AdoptCallOptions } from './io/adopt-options.js'
export type { AuthenticateContext, AuthenticateHook } from './io/authenticate.js'
export type { ConnectionPath } from './io/connection-path.js'
export type { ReplicatingStore } from './io/connections.js'
export type { DhtState, DhtStatus } from './io/dht-state.js'
export type { Codec, EncodingName, EncodingOption } from './io/encodings.js'
export { Extension, type ExtensionEvents, type ExtensionHandlers } from './io/extension.js'
export type { ExtensionCounts } from './io/extension-tally.js'
export type { LanCounters } from './io/lan-counters.js'
export type { LanOptions } from './io/lan-options.js'
export type { CloseReason } from './io/observer.js'
export type { NetworkerPeer } from './io/peer.js'
export type { ConnectionDrop, ConnectionDropReason } from './io/peer-awareness.js'
export type { NamespacingStore, RecordStore, RecordValue } from './io/record-store.js'
export { RECORD_VERSION, recordsDiscoveryKey } from './io/record-store.js'
export type {
  PersistOption,
  RecordedStatus,
  RecordedTopic,
  RestoreOptions,
  RestoreReport,
  SkippedRecord,
} from './io/remembered-config.js'
export type { DiscoverySession, KeyPair, SwarmConnection, SwarmLike } from './io/swarm.js'
export type {
  ListenOptions,
  TcpListenAddress,
  TcpListenInput,
  TcpTargetInput,
} from './io/tcp-options.js'
export { TopicProofError, type TopicProofErrorCode } from './io/topic-proofs.js'
export type { TransportInfo, TransportType } from './io/transport.js'
export type { TransportCounters } from './io/transport-counters.js'
export type { MetricsOption } from './metrics/attach.js'
export type {
  CloseOptions,
  ConfigureOptions,
  ExtensionSpec,
  HyperswarmOptions,
  NetworkerOptions,
} from './options.js'
export type { CloseReport, NetworkerDiagnostics, TopicStatusInfo } from './reports.js'
export type { NetworkerStats, PeerStats, StatsTotals } from './stats.js'
export {
  type BootstrapAddress,
  createLocalTestnet,
  type LocalTestnet,
  localDht,
} from './testnet.js'
export { Networker }
export default Networker
