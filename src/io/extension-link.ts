import b4a from 'b4a'
import Protomux, { type Channel, type Message } from 'protomux'
import type { Extension } from './extension.js'
import { LinkTally } from './extension-tally.js'
import {
  type Announced,
  type DataFrame,
  dataEncoding,
  EXTENSIONS_PROTOCOL,
  encodeAdd,
  encodeHello,
  encodeRemove,
  MAX_REMOTE_NAMES,
  rawEncoding,
  WireError,
} from './extension-wire.js'
import type { NetworkerPeer } from './peer.js'
import { rethrowLater } from './util.js'

type AnyExtension = Extension<unknown>

/** What we know of the remote's extensions: not yet, its list, or that it has none. */
export type Answer = 'pending' | 'answered' | 'none'

/** Where a link's channel reports what arrives. Each call is made inside a guard (see below). */
export interface LinkOwner {
  onhello(link: PeerLink, bytes: Uint8Array): void
  onadd(link: PeerLink, bytes: Uint8Array): void
  onremove(link: PeerLink, bytes: Uint8Array): void
  ondata(link: PeerLink, frame: Uint8Array): void
  /** The channel closed before or after opening: the remote rejected it, closed it, or left. */
  onclosed(link: PeerLink): void
  ondrain(link: PeerLink): void
}

interface Held {
  messages: Uint8Array[]
  bytes: number
}

/**
 * One connection's extensions channel and what it knows: the remote's names by its ids,
 * the messages held per extension until the remote's answer, and which extensions both
 * sides have (`shared`) versus which of those the extension was told of (`announced`).
 */
export class PeerLink {
  answer: Answer = 'pending'
  /** The grace period after the connection ended: nothing more is held. */
  graceOver = false
  timer: unknown = null
  /** A malformed frame of this remote has been reported (later ones are only counted). */
  malformedReported = false
  readonly shared = new Set<AnyExtension>()
  readonly announced = new Set<AnyExtension>()
  /** Extensions the remote had on this connection and then removed: a definite no. */
  readonly withdrawn = new Set<AnyExtension>()
  /** Messages counted per extension on this connection, for stats. */
  readonly tally = new LinkTally()
  private readonly channel: Channel | null
  private readonly add: Message<Uint8Array> | null = null
  private readonly remove: Message<Uint8Array> | null = null
  private readonly data: Message<DataFrame | Uint8Array> | null = null
  private readonly remoteById = new Map<number, string>()
  private readonly remoteByName = new Map<string, number>()
  private readonly held = new Map<AnyExtension, Held>()
  private heldTotal = 0

  constructor(
    readonly peer: NetworkerPeer,
    owner: LinkOwner,
    hello: readonly Announced[],
  ) {
    const mux = Protomux.from(peer.stream)
    const channel = mux.createChannel({
      protocol: EXTENSIONS_PROTOCOL,
      handshake: rawEncoding,
      onopen: (bytes) => guard(() => owner.onhello(this, bytes as Uint8Array)),
      onclose: () => guard(() => owner.onclosed(this)),
      ondrain: () => guard(() => owner.ondrain(this)),
    })
    this.channel = channel
    if (channel === null) {
      // The stream is already gone: nothing will ever be known of the remote.
      this.answer = 'none'
      return
    }
    // Every message is raw bytes parsed by the owner: a frame Protomux failed to decode
    // would destroy the connection, and a sender's mistake must never cost the receiver that.
    this.add = channel.addMessage({
      encoding: rawEncoding,
      onmessage: (bytes) => guard(() => owner.onadd(this, bytes)),
    })
    this.remove = channel.addMessage({
      encoding: rawEncoding,
      onmessage: (bytes) => guard(() => owner.onremove(this, bytes)),
    })
    this.data = channel.addMessage({
      encoding: dataEncoding,
      onmessage: (frame) => guard(() => owner.ondata(this, frame as Uint8Array)),
    })
    channel.open(encodeHello(hello))
  }

  /** Our channel exists and is not closed: it counts in diagnostics until the peer goes. */
  get live(): boolean {
    return this.channel !== null && !this.channel.closed
  }

  get heldBytes(): number {
    return this.heldTotal
  }

  remoteHas(name: string): boolean {
    return this.remoteByName.has(name)
  }

  nameOf(id: number): string | undefined {
    return this.remoteById.get(id)
  }

  /** The remote's handshake list replaces anything known. Returns the names it has. */
  applyHello(list: readonly Announced[]): string[] {
    this.forgetRemote()
    for (const entry of list) this.applyAdd(entry)
    return [...this.remoteByName.keys()]
  }

  /**
   * The remote registered a name under an id. An id reused for another name, or a name
   * moved to a new id, replaces the earlier entry. Returns the name it lost, if any.
   */
  applyAdd({ id, name }: Announced): string | null {
    const previousName = this.remoteById.get(id)
    if (previousName === undefined && this.remoteById.size >= MAX_REMOTE_NAMES) {
      throw new WireError(`more than ${MAX_REMOTE_NAMES} extension names`)
    }
    if (previousName !== undefined) this.remoteByName.delete(previousName)
    const previousId = this.remoteByName.get(name)
    if (previousId !== undefined) this.remoteById.delete(previousId)
    this.remoteById.set(id, name)
    this.remoteByName.set(name, id)
    return previousName !== undefined && previousName !== name ? previousName : null
  }

  /** The remote unregistered the name behind `id`; null for an id it never announced. */
  applyRemove(id: number): string | null {
    const name = this.remoteById.get(id)
    if (name === undefined) return null
    this.remoteById.delete(id)
    this.remoteByName.delete(name)
    return name
  }

  forgetRemote(): void {
    this.remoteById.clear()
    this.remoteByName.clear()
  }

  sendAdd(entry: Announced): void {
    if (this.live) this.add?.send(encodeAdd(entry))
  }

  sendRemove(id: number): void {
    if (this.live) this.remove?.send(encodeRemove(id))
  }

  /** Writes one message; false when the connection's buffer is full (Protomux still sends it). */
  sendData(id: number, bytes: Uint8Array): boolean {
    if (!this.live || this.data === null) return false
    return this.data.send({ id, bytes })
  }

  /**
   * Whether a message for `ext` is held rather than refused: a queue exists, or the grace
   * period is still on and the remote may yet register it (it has not answered, or answered
   * without it). A remote that had it and removed it has answered for good.
   */
  canHold(ext: AnyExtension): boolean {
    if (this.held.has(ext)) return true
    return !this.graceOver && this.answer !== 'none' && !this.withdrawn.has(ext)
  }

  /** Holds a copy (the caller may reuse its buffer); false if it would pass `max` bytes. */
  hold(ext: AnyExtension, bytes: Uint8Array, max: number): boolean {
    if (this.heldTotal + bytes.byteLength > max) return false
    let queue = this.held.get(ext)
    if (queue === undefined) {
      queue = { messages: [], bytes: 0 }
      this.held.set(ext, queue)
    }
    queue.messages.push(b4a.from(bytes))
    queue.bytes += bytes.byteLength
    this.heldTotal += bytes.byteLength
    return true
  }

  get holding(): boolean {
    return this.held.size > 0
  }

  /** Sends what is held for `ext`, in order, in one batch. */
  release(ext: AnyExtension, id: number): void {
    const queue = this.take(ext)
    if (queue === null || this.channel === null) return
    this.channel.cork()
    try {
      for (const bytes of queue.messages) {
        this.sendData(id, bytes)
        this.tally.sent(ext.name, bytes.byteLength)
      }
    } finally {
      this.channel.uncork()
    }
  }

  /** Forgets what is held for `ext` and says how much that was. */
  take(ext: AnyExtension): Held | null {
    const queue = this.held.get(ext)
    if (queue === undefined) return null
    this.held.delete(ext)
    this.heldTotal -= queue.bytes
    return queue
  }

  /** Forgets what is held for `ext` without sending it: counted as dropped. */
  drop(ext: AnyExtension): Held | null {
    const queue = this.take(ext)
    if (queue !== null) this.tally.dropped(ext.name, queue.messages.length)
    return queue
  }

  heldExtensions(): AnyExtension[] {
    return [...this.held.keys()]
  }

  /** Closes our side of the channel (the networker is closing; the stream may live on briefly). */
  close(): void {
    if (this.live) this.channel?.close()
  }
}

/**
 * Protomux destroys the whole connection when a callback throws. Nothing here should throw
 * (user code is contained by Extension), but should it, the error is re-thrown on its own
 * turn instead of costing the connection.
 */
export function guard(run: () => void): void {
  try {
    run()
  } catch (err) {
    rethrowLater(err)
  }
}
