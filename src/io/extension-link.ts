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
  /** The remote opened its channel and ours is not open: what our handshake lists. */
  hello(): readonly Announced[]
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

/** The channel and its three message types, made together when the channel opens. */
interface Wire {
  channel: Channel
  add: Message<Uint8Array>
  remove: Message<Uint8Array>
  data: Message<DataFrame | Uint8Array>
}

/** What the remote has announced: its ids for its names, both ways. */
interface RemoteNames {
  byId: Map<number, string>
  byName: Map<string, number>
}

const NO_EXTENSIONS: ReadonlySet<AnyExtension> = new Set()

/**
 * One connection's extensions channel and what it knows: the remote's names by its ids,
 * the messages held per extension until the remote's answer, and which extensions both
 * sides have (`shared`) versus which of those the extension was told of (`announced`).
 *
 * Kept small while nothing is said on it, as on most connections: the channel is opened
 * only once either side has an extension (ours with `open`, the remote's through the
 * Protomux pairing), and every set, map and counter is made on first use.
 */
export class PeerLink {
  answer: Answer = 'pending'
  /** The grace period after the connection ended: nothing more is held. */
  graceOver = false
  /** When the grace period ends, while it runs (see extension-grace.ts); null otherwise. */
  graceEnds: number | null = null
  /** A malformed frame of this remote has been reported (later ones are only counted). */
  malformedReported = false
  private readonly mux: Protomux | null = null
  private wire: Wire | null = null
  /** Our channel was made once: it is never made again (a closed one stays closed). */
  private made = false
  private sharedSet: Set<AnyExtension> | null = null
  private announcedSet: Set<AnyExtension> | null = null
  private withdrawnSet: Set<AnyExtension> | null = null
  private tallyOf: LinkTally | null = null
  private remote: RemoteNames | null = null
  private held: Map<AnyExtension, Held> | null = null
  private heldTotal = 0

  constructor(
    readonly peer: NetworkerPeer,
    private readonly owner: LinkOwner,
  ) {
    if (peer.stream.destroyed) {
      // The stream is already gone: nothing will ever be known of the remote.
      this.answer = 'none'
      this.made = true
      return
    }
    // A remote with extensions opens its channel even while we have none: ours answers it,
    // so it learns our (empty) list and may hold for us until we register within the grace.
    // Bound, not a closure: one small function per connection.
    this.mux = Protomux.from(peer.stream)
    this.mux.pair({ protocol: EXTENSIONS_PROTOCOL }, this.paired.bind(this))
  }

  /** Opens our channel with `hello` as its handshake, unless it was opened once already. */
  open(hello: readonly Announced[]): void {
    if (this.made || this.mux === null) return
    this.made = true
    const owner = this.owner
    const channel = this.mux.createChannel({
      protocol: EXTENSIONS_PROTOCOL,
      handshake: rawEncoding,
      onopen: (bytes) => guard(() => owner.onhello(this, bytes as Uint8Array)),
      onclose: () => guard(() => owner.onclosed(this)),
      ondrain: () => guard(() => owner.ondrain(this)),
    })
    if (channel === null) {
      // The stream is already gone: nothing will ever be known of the remote.
      this.answer = 'none'
      return
    }
    // Every message is raw bytes parsed by the owner: a frame Protomux failed to decode
    // would destroy the connection, and a sender's mistake must never cost the receiver that.
    this.wire = {
      channel,
      add: channel.addMessage({
        encoding: rawEncoding,
        onmessage: (bytes) => guard(() => owner.onadd(this, bytes)),
      }),
      remove: channel.addMessage({
        encoding: rawEncoding,
        onmessage: (bytes) => guard(() => owner.onremove(this, bytes)),
      }),
      data: channel.addMessage({
        encoding: dataEncoding,
        onmessage: (frame) => guard(() => owner.ondata(this, frame as Uint8Array)),
      }),
    }
    channel.open(encodeHello(hello))
  }

  /** Whether our channel is yet to be made: neither side has opened one on this connection. */
  get unopened(): boolean {
    return !this.made
  }

  /** Our channel exists and is not closed: it counts in diagnostics until the peer goes. */
  get live(): boolean {
    return this.wire !== null && !this.wire.channel.closed
  }

  /** Extensions both sides have. */
  get shared(): ReadonlySet<AnyExtension> {
    return this.sharedSet ?? NO_EXTENSIONS
  }

  /** Those of them the extension was told of ('peer-add'). */
  get announced(): ReadonlySet<AnyExtension> {
    return this.announcedSet ?? NO_EXTENSIONS
  }

  share(ext: AnyExtension): void {
    this.sharedSet ??= new Set()
    this.sharedSet.add(ext)
  }

  unshare(ext: AnyExtension): void {
    this.sharedSet?.delete(ext)
  }

  unshareAll(): void {
    this.sharedSet?.clear()
  }

  markAnnounced(ext: AnyExtension): void {
    this.announcedSet ??= new Set()
    this.announcedSet.add(ext)
  }

  /** Forgets that the extension was told of the peer; false if it was not. */
  unmarkAnnounced(ext: AnyExtension): boolean {
    return this.announcedSet?.delete(ext) ?? false
  }

  /** Extensions the remote had on this connection and then removed: a definite no. */
  withdraw(ext: AnyExtension): void {
    this.withdrawnSet ??= new Set()
    this.withdrawnSet.add(ext)
  }

  unwithdraw(ext: AnyExtension): void {
    this.withdrawnSet?.delete(ext)
  }

  /** Messages counted per extension on this connection, for stats. */
  get tally(): LinkTally {
    this.tallyOf ??= new LinkTally()
    return this.tallyOf
  }

  /** The counts so far, without making an empty tally. */
  get tallyIfAny(): LinkTally | null {
    return this.tallyOf
  }

  get heldBytes(): number {
    return this.heldTotal
  }

  remoteHas(name: string): boolean {
    return this.remote?.byName.has(name) ?? false
  }

  nameOf(id: number): string | undefined {
    return this.remote?.byId.get(id)
  }

  /** The remote's handshake list replaces anything known. Returns the names it has. */
  applyHello(list: readonly Announced[]): string[] {
    this.forgetRemote()
    for (const entry of list) this.applyAdd(entry)
    return this.remote === null ? [] : [...this.remote.byName.keys()]
  }

  /**
   * The remote registered a name under an id. An id reused for another name, or a name
   * moved to a new id, replaces the earlier entry. Returns the name it lost, if any.
   */
  applyAdd({ id, name }: Announced): string | null {
    this.remote ??= { byId: new Map(), byName: new Map() }
    const { byId, byName } = this.remote
    const previousName = byId.get(id)
    if (previousName === undefined && byId.size >= MAX_REMOTE_NAMES) {
      throw new WireError(`more than ${MAX_REMOTE_NAMES} extension names`)
    }
    if (previousName !== undefined) byName.delete(previousName)
    const previousId = byName.get(name)
    if (previousId !== undefined) byId.delete(previousId)
    byId.set(id, name)
    byName.set(name, id)
    return previousName !== undefined && previousName !== name ? previousName : null
  }

  /** The remote unregistered the name behind `id`; null for an id it never announced. */
  applyRemove(id: number): string | null {
    const name = this.remote?.byId.get(id)
    if (this.remote === null || name === undefined) return null
    this.remote.byId.delete(id)
    this.remote.byName.delete(name)
    return name
  }

  forgetRemote(): void {
    this.remote = null
  }

  sendAdd(entry: Announced): void {
    if (this.live) this.wire?.add.send(encodeAdd(entry))
  }

  sendRemove(id: number): void {
    if (this.live) this.wire?.remove.send(encodeRemove(id))
  }

  /** Writes one message; false when the connection's buffer is full (Protomux still sends it). */
  sendData(id: number, bytes: Uint8Array): boolean {
    if (!this.live || this.wire === null) return false
    return this.wire.data.send({ id, bytes })
  }

  /**
   * Whether a message for `ext` is held rather than refused: a queue exists, or the grace
   * period is still on and the remote may yet register it (it has not answered, or answered
   * without it). A remote that had it and removed it has answered for good.
   */
  canHold(ext: AnyExtension): boolean {
    if (this.held?.has(ext)) return true
    return !this.graceOver && this.answer !== 'none' && !this.withdrawnSet?.has(ext)
  }

  /** Holds a copy (the caller may reuse its buffer); false if it would pass `max` bytes. */
  hold(ext: AnyExtension, bytes: Uint8Array, max: number): boolean {
    if (this.heldTotal + bytes.byteLength > max) return false
    this.held ??= new Map()
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
    return this.held !== null && this.held.size > 0
  }

  /** Sends what is held for `ext`, in order, in one batch. */
  release(ext: AnyExtension, id: number): void {
    const queue = this.take(ext)
    if (queue === null || this.wire === null) return
    const { channel } = this.wire
    channel.cork()
    try {
      for (const bytes of queue.messages) {
        this.sendData(id, bytes)
        this.tally.sent(ext.name, bytes.byteLength)
      }
    } finally {
      channel.uncork()
    }
  }

  /** Forgets what is held for `ext` and says how much that was. */
  take(ext: AnyExtension): Held | null {
    const queue = this.held?.get(ext)
    if (this.held === null || queue === undefined) return null
    this.held.delete(ext)
    if (this.held.size === 0) this.held = null
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
    return this.held === null ? [] : [...this.held.keys()]
  }

  /** The peer is gone: a channel the remote opens from now on is refused. */
  unpair(): void {
    this.made = true
    this.mux?.unpair({ protocol: EXTENSIONS_PROTOCOL })
  }

  /** Closes our side of the channel (the networker is closing; the stream may live on briefly). */
  close(): void {
    this.unpair()
    if (this.live) this.wire?.channel.close()
  }

  /** The remote opened its channel: ours answers it, if it was never opened. */
  private paired(): void {
    guard(() => this.open(this.owner.hello()))
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
