import b4a from 'b4a'
import type { Channel, Message } from 'protomux'
import type { Extension } from './extension.js'
import { LinkTally } from './extension-tally.js'
import {
  type Announced,
  type DataFrame,
  dataEncoding,
  EXTENSIONS_PROTOCOL,
  encodeAdd,
  encodeRemove,
  MAX_REMOTE_NAMES,
  rawEncoding,
  WireError,
} from './extension-wire.js'
import { muxOf, type PairTarget, pairWhenMuxed, unpair } from './lazy-mux.js'
import type { NetworkerPeer } from './peer.js'
import { guard, guardCall, NO_BYTES } from './util.js'

type AnyExtension = Extension<unknown>

/** What we know of the remote's extensions: not yet, its list, or that it has none. */
export type Answer = 'pending' | 'answered' | 'none'

/** Where a link's channel reports what arrives. Each call is made inside a guard (see below). */
export interface LinkOwner {
  /** Our handshake, encoded: what our registrations are. */
  hello(): Uint8Array
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

/** `answer` is the low two bits of a link's `bits`, as an index into this. */
const ANSWERS: readonly Answer[] = ['pending', 'answered', 'none']
const ANSWER_BITS = 3
const GRACE_OVER = 4
/** Our channel was made once: it is never made again (a closed one stays closed). */
const MADE = 8
const MALFORMED_REPORTED = 16

/** What a link learns and keeps once anything is said or held on it: made on first use. */
interface Known {
  shared: Set<AnyExtension> | null
  announced: Set<AnyExtension> | null
  withdrawn: Set<AnyExtension> | null
  tally: LinkTally | null
  remote: RemoteNames | null
  held: Map<AnyExtension, Held> | null
  heldTotal: number
}

/**
 * One connection's extensions channel and what it knows: the remote's names by its ids,
 * the messages held per extension until the remote's answer, and which extensions both
 * sides have (`shared`) versus which of those the extension was told of (`announced`).
 *
 * Kept small while nothing is said on it, as on most connections: the channel is opened
 * only once either side has an extension (ours with `open`, the remote's through the
 * Protomux pairing); its flags share one number, and every set, map and counter is made on
 * first use.
 */
export class PeerLink implements PairTarget {
  /** When the grace period ends, while it runs (see extension-grace.ts); null otherwise. */
  graceEnds: number | null = null
  /** The answer, whether the grace is over, the channel made and a malformed frame reported. */
  private bits = 0
  private wire: Wire | null = null
  private known: Known | null = null

  constructor(
    readonly peer: NetworkerPeer,
    private readonly owner: LinkOwner,
  ) {
    if (peer.stream.destroyed) {
      // The stream is already gone: nothing will ever be known of the remote.
      this.answer = 'none'
      this.bits |= MADE
      return
    }
    // A remote with extensions opens its channel even while we have none: ours answers it,
    // so it learns our (empty) list and may hold for us until we register within the grace.
    // The Protomux is made once either end says something (lazy-mux.ts).
    pairWhenMuxed(peer.stream, EXTENSIONS_PROTOCOL, this)
  }

  /** What we know of the remote's extensions. */
  get answer(): Answer {
    return ANSWERS[this.bits & ANSWER_BITS] as Answer
  }

  set answer(answer: Answer) {
    this.bits = (this.bits & ~ANSWER_BITS) | ANSWERS.indexOf(answer)
  }

  /** The grace period after the connection ended: nothing more is held. */
  get graceOver(): boolean {
    return (this.bits & GRACE_OVER) !== 0
  }

  set graceOver(over: boolean) {
    this.bits = over ? this.bits | GRACE_OVER : this.bits & ~GRACE_OVER
  }

  /** A malformed frame of this remote has been reported (later ones are only counted). */
  get malformedReported(): boolean {
    return (this.bits & MALFORMED_REPORTED) !== 0
  }

  set malformedReported(reported: boolean) {
    this.bits = reported ? this.bits | MALFORMED_REPORTED : this.bits & ~MALFORMED_REPORTED
  }

  private get made(): boolean {
    return (this.bits & MADE) !== 0
  }

  private get k(): Known {
    this.known ??= {
      shared: null,
      announced: null,
      withdrawn: null,
      tally: null,
      remote: null,
      held: null,
      heldTotal: 0,
    }
    return this.known
  }

  /** Opens our channel with `hello` (encoded) as its handshake, unless it was opened once already. */
  open(hello: Uint8Array): void {
    if (this.made) return
    this.bits |= MADE
    // The channel carries its link as its user data, and its handlers are the same six
    // functions for every channel (see the end of this file): none is made per connection,
    // and none per message.
    const channel = muxOf(this.peer.stream).createChannel({
      userData: this,
      protocol: EXTENSIONS_PROTOCOL,
      handshake: rawEncoding,
      onopen: onhello,
      onclose: onclosed,
      ondrain,
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
      add: channel.addMessage({ encoding: rawEncoding, onmessage: onadd }),
      remove: channel.addMessage({ encoding: rawEncoding, onmessage: onremove }),
      data: channel.addMessage({ encoding: dataEncoding, onmessage: ondata }),
    }
    channel.open(hello)
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
    return this.known?.shared ?? NO_EXTENSIONS
  }

  /** Those of them the extension was told of ('peer-add'). */
  get announced(): ReadonlySet<AnyExtension> {
    return this.known?.announced ?? NO_EXTENSIONS
  }

  share(ext: AnyExtension): void {
    const k = this.k
    k.shared ??= new Set()
    k.shared.add(ext)
  }

  unshare(ext: AnyExtension): void {
    this.known?.shared?.delete(ext)
  }

  unshareAll(): void {
    this.known?.shared?.clear()
  }

  markAnnounced(ext: AnyExtension): void {
    const k = this.k
    k.announced ??= new Set()
    k.announced.add(ext)
  }

  /** Forgets that the extension was told of the peer; false if it was not. */
  unmarkAnnounced(ext: AnyExtension): boolean {
    return this.known?.announced?.delete(ext) ?? false
  }

  /** Extensions the remote had on this connection and then removed: a definite no. */
  withdraw(ext: AnyExtension): void {
    const k = this.k
    k.withdrawn ??= new Set()
    k.withdrawn.add(ext)
  }

  unwithdraw(ext: AnyExtension): void {
    this.known?.withdrawn?.delete(ext)
  }

  /** Messages counted per extension on this connection, for stats. */
  get tally(): LinkTally {
    const k = this.k
    k.tally ??= new LinkTally()
    return k.tally
  }

  /** The counts so far, without making an empty tally. */
  get tallyIfAny(): LinkTally | null {
    return this.known?.tally ?? null
  }

  remoteHas(name: string): boolean {
    return this.known?.remote?.byName.has(name) ?? false
  }

  nameOf(id: number): string | undefined {
    return this.known?.remote?.byId.get(id)
  }

  /** The remote's handshake list replaces anything known. Returns the names it has. */
  applyHello(list: readonly Announced[]): string[] {
    this.forgetRemote()
    for (const entry of list) this.applyAdd(entry)
    const remote = this.known?.remote
    return remote === null || remote === undefined ? [] : [...remote.byName.keys()]
  }

  /**
   * The remote registered a name under an id. An id reused for another name, or a name
   * moved to a new id, replaces the earlier entry. Returns the name it lost, if any.
   */
  applyAdd({ id, name }: Announced): string | null {
    const k = this.k
    k.remote ??= { byId: new Map(), byName: new Map() }
    const { byId, byName } = k.remote
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
    const remote = this.known?.remote
    const name = remote?.byId.get(id)
    if (remote === null || remote === undefined || name === undefined) return null
    remote.byId.delete(id)
    remote.byName.delete(name)
    return name
  }

  forgetRemote(): void {
    if (this.known !== null) this.known.remote = null
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
    if (this.known?.held?.has(ext)) return true
    return !this.graceOver && this.answer !== 'none' && !this.known?.withdrawn?.has(ext)
  }

  /** Holds a copy (the caller may reuse its buffer); false if it would pass `max` bytes. */
  hold(ext: AnyExtension, bytes: Uint8Array, max: number): boolean {
    const k = this.k
    if (k.heldTotal + bytes.byteLength > max) return false
    k.held ??= new Map()
    let queue = k.held.get(ext)
    if (queue === undefined) {
      queue = { messages: [], bytes: 0 }
      k.held.set(ext, queue)
    }
    queue.messages.push(b4a.from(bytes))
    queue.bytes += bytes.byteLength
    k.heldTotal += bytes.byteLength
    return true
  }

  get holding(): boolean {
    const held = this.known?.held
    return held !== null && held !== undefined && held.size > 0
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
    const k = this.known
    const queue = k?.held?.get(ext)
    if (k === null || k.held === null || queue === undefined) return null
    k.held.delete(ext)
    if (k.held.size === 0) k.held = null
    k.heldTotal -= queue.bytes
    return queue
  }

  /** Forgets what is held for `ext` without sending it: counted as dropped. */
  drop(ext: AnyExtension): Held | null {
    const queue = this.take(ext)
    if (queue !== null) this.tally.dropped(ext.name, queue.messages.length)
    return queue
  }

  heldExtensions(): AnyExtension[] {
    const held = this.known?.held
    return held === null || held === undefined ? [] : [...held.keys()]
  }

  /** The peer is gone: a channel the remote opens from now on is refused. */
  unpair(): void {
    this.bits |= MADE
    unpair(this.peer.stream, EXTENSIONS_PROTOCOL)
  }

  /** Closes our side of the channel (the networker is closing; the stream may live on briefly). */
  close(): void {
    this.unpair()
    if (this.live) this.wire?.channel.close()
  }

  /** The remote opened its channel: ours answers it, if it was never opened. */
  remoteOpened(): void {
    guard(() => this.open(this.owner.hello()))
  }

  /** Hands what a channel said to the link's owner, as `guard` would run it. */
  static deliver(ch: Channel, tell: Tell, bytes: Uint8Array): void {
    const link = ch.userData as PeerLink
    guardCall(tell, link.owner, link, bytes)
  }
}

type Tell = (owner: LinkOwner, link: PeerLink, bytes: Uint8Array) => void

const tellHello: Tell = (owner, link, bytes) => owner.onhello(link, bytes)
const tellClosed: Tell = (owner, link) => owner.onclosed(link)
const tellDrain: Tell = (owner, link) => owner.ondrain(link)
const tellAdd: Tell = (owner, link, bytes) => owner.onadd(link, bytes)
const tellRemove: Tell = (owner, link, bytes) => owner.onremove(link, bytes)
const tellData: Tell = (owner, link, frame) => owner.ondata(link, frame)

// The handlers every extensions channel shares (see PeerLink.open).
function onhello(bytes: unknown, ch: Channel): void {
  PeerLink.deliver(ch, tellHello, bytes as Uint8Array)
}
function onclosed(_remote: boolean, ch: Channel): void {
  PeerLink.deliver(ch, tellClosed, NO_BYTES)
}
function ondrain(ch: Channel): void {
  PeerLink.deliver(ch, tellDrain, NO_BYTES)
}
function onadd(bytes: Uint8Array, ch: Channel): void {
  PeerLink.deliver(ch, tellAdd, bytes)
}
function onremove(bytes: Uint8Array, ch: Channel): void {
  PeerLink.deliver(ch, tellRemove, bytes)
}
function ondata(frame: DataFrame | Uint8Array, ch: Channel): void {
  PeerLink.deliver(ch, tellData, frame as Uint8Array)
}
