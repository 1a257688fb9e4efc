import type { EventEmitter } from 'node:events'
import { ErrorCode, NetworkerError } from './core/errors.js'
import type { DhtStatus } from './io/dht-state.js'
import type { NetworkerPeer } from './io/peer.js'
import type { ConnectionDrop } from './io/peer-awareness.js'
import type { TopicProofError } from './io/topic-proofs.js'
import { messageOf, rethrowLater } from './io/util.js'

/** Which extension, and which peer, an 'extension-error' is about. */
export interface ExtensionErrorInfo {
  extension: string
  peer: NetworkerPeer | null
}

/** The networker's events and what each is emitted with. */
export interface NetworkerEvents {
  'peer-add': [peer: NetworkerPeer]
  'peer-remove': [peer: NetworkerPeer]
  /** The peer shares this topic with us now (it is in `peer.topics`). */
  'peer-topic-add': [peer: NetworkerPeer, discoveryKey: Buffer]
  /** The peer no longer shares this topic with us (it or we left it). */
  'peer-topic-remove': [peer: NetworkerPeer, discoveryKey: Buffer]
  /**
   * The networker closed a connection on its own, and why: `duplicate`, `rejected`,
   * `limit`, `timeout` (the liveness bound) or `unneeded` (closeOnLeave).
   */
  'connection-drop': [drop: ConnectionDrop]
  /**
   * A peer's topics channel sent a malformed message (TOPIC_PROOF_MALFORMED, the first per
   * connection) or a flood of proofs (TOPIC_PROOF_FLOOD: that channel is closed). The
   * connection keeps replicating.
   */
  'topic-proof-error': [err: TopicProofError, peer: NetworkerPeer]
  /** The topic is joined (announced and/or looked up), as `joined(discoveryKey)` now says. */
  joined: [discoveryKey: Buffer]
  /**
   * A flush of the topic completed: the swarm flushed, every connection it found is
   * settled, and every peer found for the topic that holds its core replicates it.
   */
  flushed: [discoveryKey: Buffer]
  /** The topic was left (both announce and lookup off, the leave done). */
  left: [discoveryKey: Buffer]
  /**
   * The DHT's reachability changed (see `dhtStatus`): `offline` means no DHT node answered,
   * so joins and flushes complete having found and announced nothing.
   */
  'dht-status': [status: DhtStatus]
  /** A user listener threw (LISTENER_FAILED, the listener's error as `cause`). */
  error: [err: NetworkerError]
  /** An extension without its own onerror could not decode a message, or its handler threw. */
  'extension-error': [err: NetworkerError, info: ExtensionErrorInfo]
  /** (persist) A remembered record was damaged or of an unknown version: skipped, left in place. */
  'record-skipped': [err: NetworkerError, info: { key: string }]
  /** (persist) The record store failed to open, to be read, or to take a write. */
  'persist-error': [err: NetworkerError]
  /**
   * An incoming direct TCP connection failed before it became a connection: its Noise
   * handshake failed (HANDSHAKE_FAILED) or timed out (HANDSHAKE_TIMEOUT), or it was closed at
   * once over the cap on unfinished handshakes (HANDSHAKE_LIMIT). Counted in `stats().totals`;
   * the listener goes on serving. (Dials and `adopt` reject their own promise instead.)
   */
  'transport-error': [err: NetworkerError, info: { remoteAddress: string | null }]
}

/**
 * Runs one user emit, isolated: every emit is the last thing its step does, so a listener
 * that throws leaves nothing half done, and the steps after it still run. The error is
 * reported the Node way: as 'error' (LISTENER_FAILED, the thrown value as `cause`) when
 * someone listens for it, else re-thrown on its own turn as an uncaught exception, once the
 * networker's own work is done.
 */
export function emitIsolated(emitter: EventEmitter<NetworkerEvents>, emit: () => void): void {
  try {
    emit()
  } catch (err) {
    if (emitter.listenerCount('error') === 0) {
      rethrowLater(err)
      return
    }
    const failed = new NetworkerError(
      ErrorCode.LISTENER_FAILED,
      `a listener threw: ${messageOf(err)}`,
      { cause: err },
    )
    try {
      emitter.emit('error', failed)
    } catch (again) {
      rethrowLater(again)
    }
  }
}
