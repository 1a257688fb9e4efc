import type { ErrorInfo } from './errors.js'
import type { KeyHex } from './keys.js'

/** Identifies one configure/close call so its promise can be settled by an effect. */
export type RequestId = number
/** Identifies one connection handed to the core by the I/O layer. */
export type ConnectionId = number
/** Sequence number of one I/O operation on a topic; results of stale operations are ignored. */
export type OpId = number

export type DropReason = 'duplicate' | 'rejected' | 'closing' | 'limit'

/** What happens: user calls and I/O results, in the order the core should see them. */
export type CoreEvent =
  | {
      type: 'configure'
      requestId: RequestId
      topic: KeyHex
      announce: boolean
      lookup: boolean
      flush: boolean
      /**
       * If the request has not settled this many ms later, it settles with FLUSH_TIMEOUT;
       * the configuration stays and goes on.
       */
      timeout?: number
    }
  | { type: 'topic-joined'; topic: KeyHex; op: OpId }
  | { type: 'topic-join-failed'; topic: KeyHex; op: OpId; error: ErrorInfo }
  | { type: 'topic-left'; topic: KeyHex; op: OpId }
  | { type: 'topic-leave-failed'; topic: KeyHex; op: OpId; error: ErrorInfo }
  | { type: 'swarm-flushed'; topic: KeyHex; op: OpId }
  | { type: 'swarm-flush-failed'; topic: KeyHex; op: OpId; error: ErrorInfo }
  /**
   * A Noise connection to `remoteKey` was handed over (by the swarm, `adopt` or direct TCP);
   * `handshakeHash` (hex, the same at both ends) orders two connections one end dialed both of.
   */
  | {
      type: 'connection-opened'
      connectionId: ConnectionId
      remoteKey: KeyHex
      isInitiator: boolean
      handshakeHash?: string
    }
  | { type: 'connection-authenticated'; connectionId: ConnectionId; accepted: boolean }
  /** The remote's first data arrived on this connection: the remote keeps it. */
  | { type: 'connection-data'; connectionId: ConnectionId }
  | { type: 'connection-closed'; connectionId: ConnectionId }
  /** With `timeout`: if the networker is not closed this many ms later, the close is forced. */
  | { type: 'close'; requestId: RequestId; timeout?: number }
  /** A close deadline passed: finish now, whatever is still leaving or closing. */
  | { type: 'close-timeout' }
  | { type: 'swarm-destroyed' }
  /** Time passed: due deadlines fire. */
  | { type: 'tick' }

/** What to do: the I/O layer carries these out and reports back with events. */
export type CoreEffect =
  | { type: 'join-topic'; topic: KeyHex; op: OpId; announce: boolean; lookup: boolean }
  | { type: 'leave-topic'; topic: KeyHex; op: OpId }
  | { type: 'flush-swarm'; topic: KeyHex; op: OpId }
  | { type: 'authenticate'; connectionId: ConnectionId; remoteKey: KeyHex }
  | { type: 'keep-connection'; connectionId: ConnectionId; remoteKey: KeyHex }
  | { type: 'drop-connection'; connectionId: ConnectionId; remoteKey: KeyHex; reason: DropReason }
  | { type: 'peer-add'; connectionId: ConnectionId; remoteKey: KeyHex }
  | { type: 'peer-remove'; connectionId: ConnectionId; remoteKey: KeyHex }
  | { type: 'settle'; requestId: RequestId; error?: ErrorInfo; report?: CloseReport }
  | { type: 'destroy-swarm' }

/**
 * What changed in a topic, for the face's events. Kept apart from effects: nothing has to
 * be carried out for a notice, and effect lists stay what the machines ask for.
 */
export interface TopicNotice {
  type: 'joined' | 'flushed' | 'left'
  topic: KeyHex
}

export type TopicState = 'left' | 'joining' | 'flushing' | 'joined' | 'leaving' | 'closed'

export interface TopicStatus {
  topic: KeyHex
  announce: boolean
  lookup: boolean
  joined: boolean
  flushed: boolean
  state: TopicState
}

/** How a close went: the topics whose announcement could not be withdrawn. */
export interface CloseReport {
  unannounced: KeyHex[]
  forced: boolean
}

export type LifeState = 'open' | 'closing' | 'destroying' | 'closed'
