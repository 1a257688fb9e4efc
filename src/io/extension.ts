import { EventEmitter } from 'node:events'
import b4a from 'b4a'
import Protomux, { type Channel, type Message } from 'protomux'
import { ErrorCode, NetworkerError } from '../core/errors.js'
import { bytesToHex } from '../core/keys.js'
import { type EncodingOption, type MessageEncoding, resolveEncoding } from './encodings.js'
import type { NetworkerPeer } from './peer.js'

export const EXTENSION_PROTOCOL = 'chainstore-networker/extension'
export const DEFAULT_MAX_MESSAGE_SIZE = 4 * 1024 * 1024

export interface ExtensionHandlers<T = unknown> {
  encoding?: EncodingOption
  /** Larger messages are refused on send and dropped (reported to onerror) on receipt. */
  maxMessageSize?: number
  onmessage?(message: T, peer: NetworkerPeer): unknown
  /** Undecodable or oversized messages and handler failures; without it, the networker's 'extension-error'. */
  onerror?(err: NetworkerError, peer: NetworkerPeer | null): unknown
}

export interface ExtensionEvents {
  /** The peer has this extension too: messages to it are delivered. */
  'peer-add': [peer: NetworkerPeer]
  'peer-remove': [peer: NetworkerPeer]
  /** A connection's buffer has room again after send/broadcast returned false. */
  drain: []
}

/** What an extension needs from its networker. */
export interface ExtensionHost {
  isPeer(peer: NetworkerPeer): boolean
  findPeer(remotePublicKey: Uint8Array | string): NetworkerPeer | null
  reportError(err: NetworkerError, extension: string, peer: NetworkerPeer | null): void
  unregister(ext: { readonly name: string }): void
}

interface PeerChannel {
  channel: Channel
  message: Message<Uint8Array>
  /** Set in onopen, before listeners run: Protomux flips `channel.opened` only afterwards. */
  open: boolean
}

/**
 * One application protocol over every connection: a Protomux channel per peer, beside the
 * store's replication channels. Both ends pair the protocol, so whichever side registers
 * later opens the channel and the other accepts it. Bytes travel raw and are decoded here,
 * so a message we cannot read is reported instead of tearing the connection down.
 */
export class Extension<T = unknown> extends EventEmitter<ExtensionEvents> {
  readonly name: string
  private readonly id: Buffer
  private encoding: MessageEncoding
  private maxMessageSize: number
  private readonly channels = new Map<NetworkerPeer, PeerChannel>()
  private readonly attached = new Set<NetworkerPeer>()
  private handlers: ExtensionHandlers<T> = {}
  private destroyed = false

  constructor(
    name: string,
    handlers: ExtensionHandlers<T>,
    private readonly host: ExtensionHost,
    defaultMaxMessageSize: number,
  ) {
    super()
    this.name = name
    this.id = b4a.from(name, 'utf8')
    this.defaultMaxMessageSize = defaultMaxMessageSize
    this.encoding = resolveEncoding(handlers.encoding)
    this.maxMessageSize = handlers.maxMessageSize ?? defaultMaxMessageSize
    this.handlers = handlers
  }

  private readonly defaultMaxMessageSize: number

  /** Sets the handlers, encoding and limit (the function form of registerExtension does so after creation). */
  setHandlers(handlers: ExtensionHandlers<T>): void {
    this.encoding = resolveEncoding(handlers.encoding)
    this.maxMessageSize = handlers.maxMessageSize ?? this.defaultMaxMessageSize
    this.handlers = handlers
  }

  /** Peers known to have this extension: messages to them are delivered. */
  get peers(): NetworkerPeer[] {
    const out: NetworkerPeer[] = []
    for (const [peer, entry] of this.channels) if (isOpen(entry)) out.push(peer)
    return out
  }

  has(peer: NetworkerPeer): boolean {
    const entry = this.channels.get(peer)
    return entry !== undefined && isOpen(entry)
  }

  /**
   * Sends to one peer. Returns false when the connection's buffer is full (wait for
   * 'drain') or the peer has not registered this extension (nothing is queued for it).
   */
  send(message: T, peer: NetworkerPeer | Uint8Array | string): boolean {
    this.assertUsable()
    const target = this.resolvePeer(peer)
    const bytes = this.encode(message)
    return this.write(target, bytes)
  }

  /** Sends to every peer that has the extension, once each. Returns false if any buffer is full. */
  broadcast(message: T): boolean {
    this.assertUsable()
    const bytes = this.encode(message)
    let drained = true
    for (const peer of this.peers) if (!this.write(peer, bytes)) drained = false
    return drained
  }

  /** Closes the extension's channel on every connection. Idempotent. */
  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    for (const peer of [...this.attached]) this.detach(peer, true)
    this.host.unregister(this)
  }

  /** Channels this extension holds (open or opening), for leak checks. */
  get channelCount(): number {
    return this.channels.size
  }

  get isDestroyed(): boolean {
    return this.destroyed
  }

  /** Starts the protocol on a kept connection (called by the networker). */
  attach(peer: NetworkerPeer): void {
    if (this.destroyed || this.attached.has(peer)) return
    this.attached.add(peer)
    const mux = Protomux.from(peer.stream)
    // The remote may open before or after us; pairing lets a late opener in.
    mux.pair({ protocol: EXTENSION_PROTOCOL, id: this.id }, () => this.openChannel(peer, mux))
    this.openChannel(peer, mux)
  }

  /** Stops the protocol on a connection (peer gone, or the extension destroyed). */
  detach(peer: NetworkerPeer, closeChannel = false): void {
    if (!this.attached.delete(peer)) return
    const mux = Protomux.from(peer.stream)
    mux.unpair({ protocol: EXTENSION_PROTOCOL, id: this.id })
    const entry = this.channels.get(peer)
    if (entry === undefined) return
    this.channels.delete(peer)
    const wasOpen = entry.open
    entry.open = false
    if (closeChannel) entry.channel.close()
    if (wasOpen) this.emit('peer-remove', peer)
  }

  private openChannel(peer: NetworkerPeer, mux: Protomux): void {
    if (this.destroyed || !this.attached.has(peer)) return
    const current = this.channels.get(peer)
    if (current !== undefined && !current.channel.closed) return
    const channel = mux.createChannel({
      protocol: EXTENSION_PROTOCOL,
      id: this.id,
      onopen: () => {
        const entry = this.channels.get(peer)
        if (entry?.channel !== channel) return
        entry.open = true
        this.emit('peer-add', peer)
      },
      onclose: () => {
        // The remote destroyed its extension, or rejected our open because it has none
        // yet; pairing stays, so its next open is accepted.
        const entry = this.channels.get(peer)
        if (entry?.channel !== channel) return
        this.channels.delete(peer)
        if (entry.open) {
          entry.open = false
          this.emit('peer-remove', peer)
        }
      },
      ondrain: () => this.emit('drain'),
    })
    if (channel === null) return
    const message = channel.addMessage<Uint8Array>({
      onmessage: (bytes) => this.receive(bytes, peer),
    })
    this.channels.set(peer, { channel, message, open: false })
    channel.open()
  }

  private receive(bytes: Uint8Array, peer: NetworkerPeer): void {
    if (this.destroyed) return
    if (bytes.byteLength > this.maxMessageSize) {
      this.fail(
        new NetworkerError(
          ErrorCode.MESSAGE_TOO_LARGE,
          `extension '${this.name}' dropped a ${bytes.byteLength}-byte message (limit ${this.maxMessageSize})`,
        ),
        peer,
      )
      return
    }
    let message: T
    try {
      message = this.encoding.decode(bytes) as T
    } catch (err) {
      this.fail(
        new NetworkerError(
          ErrorCode.DECODE_FAILED,
          `extension '${this.name}' could not decode a message: ${messageOf(err)}`,
          {
            cause: err,
          },
        ),
        peer,
      )
      return
    }
    const handlers = this.handlers
    if (handlers.onmessage === undefined) return
    try {
      const result = handlers.onmessage(message, peer)
      if (isThenable(result))
        result.then(undefined, (err: unknown) => this.handlerFailed(err, peer))
    } catch (err) {
      this.handlerFailed(err, peer)
    }
  }

  private handlerFailed(err: unknown, peer: NetworkerPeer): void {
    this.fail(
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

  private fail(err: NetworkerError, peer: NetworkerPeer | null): void {
    const handlers = this.handlers
    if (handlers.onerror === undefined) {
      this.host.reportError(err, this.name, peer)
      return
    }
    try {
      const result = handlers.onerror(err, peer)
      if (isThenable(result)) result.then(undefined, () => {})
    } catch {
      // An error handler that fails has nowhere left to report to.
    }
  }

  private write(peer: NetworkerPeer, bytes: Uint8Array): boolean {
    const entry = this.channels.get(peer)
    if (entry === undefined || !isOpen(entry)) return false
    return entry.message.send(bytes)
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

function isOpen(entry: PeerChannel): boolean {
  return entry.open && !entry.channel.closed
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  )
}
