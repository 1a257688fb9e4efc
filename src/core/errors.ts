/** Stable error codes: callers branch on `err.code`, never on message text. */
export const ErrorCode = {
  INVALID_DISCOVERY_KEY: 'INVALID_DISCOVERY_KEY',
  INVALID_PUBLIC_KEY: 'INVALID_PUBLIC_KEY',
  INVALID_OPTION: 'INVALID_OPTION',
  NETWORKER_CLOSED: 'NETWORKER_CLOSED',
  UNKNOWN_ENCODING: 'UNKNOWN_ENCODING',
  PEER_NOT_CONNECTED: 'PEER_NOT_CONNECTED',
  MESSAGE_TOO_LARGE: 'MESSAGE_TOO_LARGE',
  EXTENSION_DESTROYED: 'EXTENSION_DESTROYED',
  ENCODE_FAILED: 'ENCODE_FAILED',
  DECODE_FAILED: 'DECODE_FAILED',
  HANDLER_FAILED: 'HANDLER_FAILED',
  AUTHENTICATION_FAILED: 'AUTHENTICATION_FAILED',
  TOPIC_JOIN_FAILED: 'TOPIC_JOIN_FAILED',
  TOPIC_LEAVE_FAILED: 'TOPIC_LEAVE_FAILED',
  FLUSH_FAILED: 'FLUSH_FAILED',
  FLUSH_TIMEOUT: 'FLUSH_TIMEOUT',
  ABORTED: 'ABORTED',
  /** A remembered configuration record that cannot be read (skipped, left in place). */
  RECORD_DAMAGED: 'RECORD_DAMAGED',
  /** A remembered configuration record of a format version this release does not know. */
  RECORD_VERSION_UNKNOWN: 'RECORD_VERSION_UNKNOWN',
  /** The record store (the `persist` option) failed to open, read or write. */
  PERSIST_FAILED: 'PERSIST_FAILED',
  /** Messages held for a peer that turned out not to have the extension (or no answer in time). */
  EXTENSION_NOT_SUPPORTED: 'EXTENSION_NOT_SUPPORTED',
  /** A message sent while the peer's extensions are not known yet did not fit the hold limit. */
  EXTENSION_HOLD_FULL: 'EXTENSION_HOLD_FULL',
  /** The networker's identity (derived from the store) is not known yet: await ready(). */
  NOT_READY: 'NOT_READY',
  /** A user's event listener threw; re-thrown after the networker's own state is consistent. */
  LISTENER_FAILED: 'LISTENER_FAILED',
  /** (to 'topic-proof-error') a remote's topics channel sent what does not parse. */
  TOPIC_PROOF_MALFORMED: 'TOPIC_PROOF_MALFORMED',
  /** (to 'topic-proof-error') a remote sent more topic proofs than its budget allows. */
  TOPIC_PROOF_FLOOD: 'TOPIC_PROOF_FLOOD',
  /** A connection's Noise handshake failed (bad bytes, the stream closed or errored during it). */
  HANDSHAKE_FAILED: 'HANDSHAKE_FAILED',
  /** A connection's Noise handshake did not finish within `handshakeTimeout`. */
  HANDSHAKE_TIMEOUT: 'HANDSHAKE_TIMEOUT',
  /** The remote's Noise key is not the `publicKey` it was dialed or adopted with. */
  REMOTE_KEY_MISMATCH: 'REMOTE_KEY_MISMATCH',
  /** A connection closed before any peer for its key was listed (the remote or the core ended it). */
  CONNECTION_CLOSED: 'CONNECTION_CLOSED',
  /** A direct TCP dial could not connect (refused, unreachable, reset). */
  DIAL_FAILED: 'DIAL_FAILED',
  /** The TCP listener could not bind its host and port. */
  LISTEN_FAILED: 'LISTEN_FAILED',
  /** Too many unfinished handshakes (overall or from one address): an incoming socket was closed at once. */
  HANDSHAKE_LIMIT: 'HANDSHAKE_LIMIT',
} as const

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

export class NetworkerError extends Error {
  readonly code: ErrorCode

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'NetworkerError'
    this.code = code
  }
}

/** What the core hands out in effects: plain data, so effects stay serialisable and replayable. */
export interface ErrorInfo {
  code: ErrorCode
  message: string
}

export function toError(info: ErrorInfo): NetworkerError {
  return new NetworkerError(info.code, info.message)
}
