import { EventEmitter } from 'node:events'
import { ErrorCode, NetworkerError } from '../core/errors.js'
import { bytesToHex } from '../core/keys.js'
import { log, short } from './debug-log.js'
import { type EncodingOption, type MessageEncoding, resolveEncoding } from './encodings.js'
import { MAX_NAME_BYTES, nameBytes } from './extension-wire.js'
import type { NetworkerPeer } from './peer.js'
import { isThenable, messageOf, noop, rethrowLater } from './util.js'

export const DEFAULT_MAX_MESSAGE_SIZE = 4 * 1024 * 1024

export interface ExtensionHandlers<T = unknown> {
  encoding?: EncodingOption
  /** Larger messages are refused on send and dropped (reported to onerror) on receipt. */
  maxMessageSize?: number
  onmessage?(message: T, peer: NetworkerPeer): unknown
  /**
   * Undecodable or oversized messages, handler and listener failures, held messages dropped;
   * without it, the networker's 'extension-error'.
   */
  onerror?(err: NetworkerError, peer: NetworkerPeer | null): unknown
}

export interface ExtensionEvents {
  /** The peer has this extension too: messages to it are delivered. */
  'peer-add': [peer: NetworkerPeer]
  'peer-remove': [peer: NetworkerPeer]
  /** A connection's buffer has room again after send/broadcast returned false. */
  drain: []
}

/**
 * What `send` did: written; written past a full buffer; held until the remote's answer;
 * refused because the hold is full; or not sent because the peer does not have the extension.
 */
export type SendResult = 'sent' | 'full' | 'held' | 'hold-full' | 'unreachable'

/** What an extension needs from its networker (the extension registry, in practice). */
export interface ExtensionHost {
  isPeer(peer: NetworkerPeer): boolean
  findPeer(remotePublicKey: Uint8Array | string): NetworkerPeer | null
  /** Emits the networker's 'extension-error'; returns whether anyone listened. */
  reportError(err: NetworkerError, extension: string, peer: NetworkerPeer | null): boolean
  unregister(ext: { readonly name: string }): void
  send(ext: Extension<unknown>, peer: NetworkerPeer, bytes: Uint8Array): SendResult
  /** Peers a broadcast goes to: those that have the extension or whose answer is awaited. */
  targets(ext: Extension<unknown>): NetworkerPeer[]
  has(ext: Extension<unknown>, peer: NetworkerPeer): boolean
  peersOf(ext: Extension<unknown>): NetworkerPeer[]
}

type Listener = (...args: unknown[]) => unknown

/**
 * One application protocol over every connection. The wire (one channel per connection
 * for all extensions, what is held until the remote answers) is the registry's; this class
 * encodes, decodes, checks sizes and reports, so a message we cannot read is reported
 * instead of tearing the connection down.
 */
export class Extension<T = unknown> extends EventEmitter<ExtensionEvents> {
  readonly name: string
  private encoding: MessageEncoding
  private maxMessageSize: number
  private handlers: ExtensionHandlers<T> = {}
  private destroyed = false
  private readonly defaultMaxMessageSize: number

  /** @internal Made by `networker.registerExtension`, which supplies the host. */
  constructor(
    name: string,
    handlers: ExtensionHandlers<T>,
    private readonly host: ExtensionHost,
    defaultMaxMessageSize: number,
  ) {
    super()
    if (nameBytes(name) > MAX_NAME_BYTES) {
      throw new NetworkerError(
        ErrorCode.INVALID_OPTION,
        `an extension name may be at most ${MAX_NAME_BYTES} bytes of UTF-8`,
      )
    }
    this.name = name
    this.defaultMaxMessageSize = defaultMaxMessageSize
    this.encoding = resolveEncoding(handlers.encoding)
    this.maxMessageSize = handlers.maxMessageSize ?? defaultMaxMessageSize
    this.handlers = handlers
  }

  /** Sets the handlers, encoding and limit (the function form of registerExtension does so after creation). */
  setHandlers(handlers: ExtensionHandlers<T>): void {
    this.encoding = resolveEncoding(handlers.encoding)
    this.maxMessageSize = handlers.maxMessageSize ?? this.defaultMaxMessageSize
    this.handlers = handlers
  }

  /** Peers known to have this extension: messages to them are written at once. */
  get peers(): NetworkerPeer[] {
    return this.destroyed ? [] : this.host.peersOf(this as Extension<unknown>)
  }

  has(peer: NetworkerPeer): boolean {
    return !this.destroyed && this.host.has(this as Extension<unknown>, peer)
  }

  /**
   * Sends to one peer. Returns true when the message is written, or held because the peer
   * has not said yet which extensions it has (it goes out, in order, once the peer turns out
   * to have this one; else it is dropped and reported as EXTENSION_NOT_SUPPORTED). Returns
   * false when the connection's buffer is full (the message still goes out; wait for
   * 'drain') or the peer is known not to have this extension (nothing is sent or held).
   * Throws EXTENSION_HOLD_FULL when a message to hold does not fit the peer's hold limit.
   */
  send(message: T, peer: NetworkerPeer | Uint8Array | string): boolean {
    this.assertUsable()
    const target = this.resolvePeer(peer)
    const bytes = this.encode(message)
    const result = this.host.send(this as Extension<unknown>, target, bytes)
    if (result === 'hold-full') throw this.holdFull(bytes, target)
    return result === 'sent' || result === 'held'
  }

  /**
   * Sends to every peer that has the extension, and holds for every peer whose answer is
   * still awaited, once each. Returns false if any buffer is full or a peer's hold had no
   * room (that peer is skipped and reported as EXTENSION_HOLD_FULL).
   */
  broadcast(message: T): boolean {
    this.assertUsable()
    const bytes = this.encode(message)
    let drained = true
    for (const peer of this.host.targets(this as Extension<unknown>)) {
      const result = this.host.send(this as Extension<unknown>, peer, bytes)
      if (result === 'sent' || result === 'held') continue
      drained = false
      if (result === 'hold-full') this.report(this.holdFull(bytes, peer), peer)
    }
    return drained
  }

  /** Leaves every connection (the other sides see 'peer-remove'). Idempotent. */
  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    this.host.unregister(this)
  }

  get isDestroyed(): boolean {
    return this.destroyed
  }

  /**
   * (registry) Emits to each listener in turn. One that throws does not stop the others; its
   * error is reported (LISTENER_FAILED) once they all ran: the registry's state is complete
   * before any listener runs, so nothing is left half-done.
   */
  notify(event: keyof ExtensionEvents, peer?: NetworkerPeer): void {
    const failures: unknown[] = []
    for (const listener of this.rawListeners(event) as Listener[]) {
      try {
        if (peer === undefined) listener.call(this)
        else listener.call(this, peer)
      } catch (err) {
        failures.push(err)
      }
    }
    for (const err of failures) this.listenerFailed(err, event, peer ?? null)
  }

  /**
   * (registry) A message for this extension arrived. Returns false when it was dropped
   * (too large, or undecodable); a handler that fails still received it.
   */
  receive(bytes: Uint8Array, peer: NetworkerPeer): boolean {
    if (this.destroyed) return false
    if (bytes.byteLength > this.maxMessageSize) {
      this.report(
        new NetworkerError(
          ErrorCode.MESSAGE_TOO_LARGE,
          `extension '${this.name}' dropped a ${bytes.byteLength}-byte message (limit ${this.maxMessageSize})`,
        ),
        peer,
      )
      return false
    }
    let message: T
    try {
      message = this.encoding.decode(bytes) as T
    } catch (err) {
      this.report(
        new NetworkerError(
          ErrorCode.DECODE_FAILED,
          `extension '${this.name}' could not decode a message: ${messageOf(err)}`,
          {
            cause: err,
          },
        ),
        peer,
      )
      return false
    }
    const handlers = this.handlers
    if (handlers.onmessage === undefined) return true
    try {
      const result = handlers.onmessage(message, peer)
      if (isThenable(result))
        result.then(undefined, (err: unknown) => this.handlerFailed(err, peer))
    } catch (err) {
      this.handlerFailed(err, peer)
    }
    return true
  }

  private handlerFailed(err: unknown, peer: NetworkerPeer): void {
    this.report(
      new NetworkerError(
        ErrorCode.HANDLER_FAILED,
        `extension '${this.name}' onmessage threw: ${messageOf(err)}`,
        {
          cause: err,
        },
      ),
      peer,
    )
  }

  /**
   * (registry) Reports to onerror, else to the networker's 'extension-error'. Returns
   * whether anyone heard it. Never throws: it runs amid the networker's own work (a peer
   * leaving, a timer, a frame arriving), which a user's failure must not cut short.
   */
  report(err: NetworkerError, peer: NetworkerPeer | null): boolean {
    if (log.extension.enabled) {
      const key = peer === null ? '-' : short(bytesToHex(peer.remotePublicKey))
      log.extension('%s with %s: %s %s', this.name, key, err.code, err.message)
    }
    const handlers = this.handlers
    if (handlers.onerror === undefined) {
      try {
        return this.host.reportError(err, this.name, peer)
      } catch (failure) {
        // An 'extension-error' listener threw: the Node way, on its own turn.
        rethrowLater(failure)
        return true
      }
    }
    try {
      const result = handlers.onerror(err, peer)
      if (isThenable(result)) result.then(undefined, noop)
    } catch {
      // An error handler that fails has nowhere left to report to.
    }
    return true
  }

  /**
   * A listener's failure is the listener's bug: reported like a handler's, and re-thrown
   * on its own turn (an uncaught exception, as Node does for a throwing listener) when
   * nobody hears the report, so it is never silently lost.
   */
  private listenerFailed(err: unknown, event: string, peer: NetworkerPeer | null): void {
    const failure = new NetworkerError(
      ErrorCode.LISTENER_FAILED,
      `a '${event}' listener of extension '${this.name}' threw: ${messageOf(err)}`,
      { cause: err },
    )
    if (!this.report(failure, peer)) rethrowLater(err)
  }

  private holdFull(bytes: Uint8Array, peer: NetworkerPeer): NetworkerError {
    return new NetworkerError(
      ErrorCode.EXTENSION_HOLD_FULL,
      `extension '${this.name}': a ${bytes.byteLength}-byte message to ${bytesToHex(peer.remotePublicKey).slice(0, 16)} does not fit what is held for it until it answers (maxHeldBytes)`,
    )
  }

  private encode(message: T): Uint8Array {
    let bytes: Uint8Array
    try {
      bytes = this.encoding.encode(message)
    } catch (err) {
      throw new NetworkerError(
        ErrorCode.ENCODE_FAILED,
        `extension '${this.name}' could not encode the message: ${messageOf(err)}`,
        {
          cause: err,
        },
      )
    }
    if (bytes.byteLength > this.maxMessageSize) {
      throw new NetworkerError(
        ErrorCode.MESSAGE_TOO_LARGE,
        `extension '${this.name}' message is ${bytes.byteLength} bytes; the limit is ${this.maxMessageSize}`,
      )
    }
    return bytes
  }

  private resolvePeer(peer: NetworkerPeer | Uint8Array | string): NetworkerPeer {
    if (typeof peer === 'string' || peer instanceof Uint8Array) {
      const found = this.host.findPeer(peer)
      if (found !== null) return found
      const key = typeof peer === 'string' ? peer.toLowerCase() : bytesToHex(peer)
      throw new NetworkerError(ErrorCode.PEER_NOT_CONNECTED, `no connected peer has the key ${key}`)
    }
    if (typeof peer !== 'object' || peer === null || !this.host.isPeer(peer)) {
      throw new NetworkerError(
        ErrorCode.PEER_NOT_CONNECTED,
        'that peer is not connected to this networker (gone, or never was)',
      )
    }
    return peer
  }

  private assertUsable(): void {
    if (this.destroyed) {
      throw new NetworkerError(
        ErrorCode.EXTENSION_DESTROYED,
        `extension '${this.name}' was destroyed`,
      )
    }
  }
}
