import Protomux, { type Channel, type Message } from 'protomux'
import type { Clock } from '../core/clock.js'
import type { KeyHex } from '../core/keys.js'
import { hexToBytes } from '../core/keys.js'
import { guard } from './extension-link.js'
import { rawEncoding } from './extension-wire.js'
import type { NetworkerPeer } from './peer.js'
import { proofKey, proveTopic } from './topic-proof-crypto.js'
import {
  batches,
  encodeFlags,
  encodeHello,
  encodeProve,
  encodeWithdraw,
  MAX_PROOFS_PER_MESSAGE,
  TOPICS_PROTOCOL,
} from './topic-proof-wire.js'

/** Where a link reports what arrives; each call is made inside a guard (see extension-link.ts). */
export interface TopicLinkOwner {
  /** The networker's clock: the proof budget refills with it. */
  readonly clock: Clock
  /** Our handshake flags now (whether we listen). */
  flags(): number
  onhello(link: TopicLink, bytes: Uint8Array): void
  onprove(link: TopicLink, bytes: Uint8Array): void
  onwithdraw(link: TopicLink, bytes: Uint8Array): void
  onflags(link: TopicLink, bytes: Uint8Array): void
  /** The channel closed: refused (the remote has no topics channel, or not yet) or closed by it. */
  onclosed(link: TopicLink): void
}

/**
 * `idle`: no channel yet, as neither end had a topic to prove; the remote opening one is
 * answered, and our first topic opens ours. `pending`: our channel is opening. `open`: the
 * remote's proofs are what counts. `none`: no channel now (refused or closed); a later open
 * from the remote is taken. `off`: given up for this connection (a flood, or no handshake
 * hash to prove with).
 */
export type TopicLinkState = 'idle' | 'pending' | 'open' | 'none' | 'off'

/**
 * Proofs a remote may send per connection at once, and per second after that: far above
 * what any honest peer sends (each proof is one topic it joined), low enough that a flood
 * costs a bounded amount of hashing-free map lookups. Past it the channel is closed.
 */
export const PROOF_BURST = 65_536
export const PROOFS_PER_SECOND = 8192

/** The channel and its three message types, made together when the channel opens. */
interface Wire {
  channel: Channel
  prove: Message<Uint8Array>
  withdraw: Message<Uint8Array>
  flags: Message<Uint8Array>
}

/** Our proofs of our topics on this connection, and the remote's proofs we would accept. */
interface Proofs {
  ours: Map<KeyHex, Buffer>
  /** The remote's proof of each of our topics (as `proofKey`), to the topic. */
  expected: Map<string, KeyHex>
}

const NO_TOPICS: ReadonlySet<KeyHex> = new Set()

/**
 * One kept connection's topics channel and what it knows: our proof of each topic we have
 * joined (bound to this connection's handshake and our role), the proof the remote would
 * send for each of them, and which of them it has proven. Only proofs of our own topics are
 * kept, so what a remote sends can cost memory in proportion to our topics, never to its.
 *
 * The channel opens only once either end has a topic to prove (most connections of a
 * networker that has joined nothing never need it), and every set and map is made on first
 * use: a connection nobody proves anything on keeps a few fields.
 */
export class TopicLink {
  state: TopicLinkState = 'idle'
  /** From the remote's handshake: it accepts direct connections to its key. */
  remoteListening: boolean | null = null
  /** A malformed message was reported (later ones are ignored). */
  malformedReported = false
  /** The topics this peer shares with us, as last told (see TopicProofs.refresh). */
  shared: Set<KeyHex> | null = null
  private provenSet: Set<KeyHex> | null = null
  private proofs: Proofs | null = null
  private readonly handshakeHash: Uint8Array | null
  private readonly mux: Protomux | null = null
  private wire: Wire | null = null
  private tokens = PROOF_BURST
  /** When the budget was last spent; null while it is untouched (full). */
  private tokensAt: number | null = null

  constructor(
    readonly peer: NetworkerPeer,
    private readonly owner: TopicLinkOwner,
  ) {
    const hash = (peer.stream as { handshakeHash?: unknown }).handshakeHash
    this.handshakeHash = hash instanceof Uint8Array ? hash : null
    if (this.handshakeHash === null) {
      this.state = 'off'
      return
    }
    // A remote that opens its channel while ours is not open (we had nothing to prove, it
    // was not ready when we opened, or it closed its earlier one) is answered with a new
    // channel of ours. Bound, not a closure: one small function per connection.
    this.mux = Protomux.from(peer.stream)
    this.mux.pair({ protocol: TOPICS_PROTOCOL }, this.reopen.bind(this))
  }

  /** Our topics the remote has proven on this channel. */
  get proven(): ReadonlySet<KeyHex> {
    return this.provenSet ?? NO_TOPICS
  }

  addProven(topic: KeyHex): void {
    this.provenSet ??= new Set()
    this.provenSet.add(topic)
  }

  deleteProven(topic: KeyHex): void {
    this.provenSet?.delete(topic)
  }

  clearProven(): void {
    this.provenSet = null
  }

  /** Our proof of `topic` on this connection, and the remote's expected one, from now on. */
  claim(topic: KeyHex): Buffer | null {
    if (this.handshakeHash === null) return null
    this.proofs ??= { ours: new Map(), expected: new Map() }
    const existing = this.proofs.ours.get(topic)
    if (existing !== undefined) return existing
    const key = hexToBytes(topic)
    const isInitiator = this.peer.stream.isInitiator
    const ours = proveTopic(key, this.handshakeHash, isInitiator)
    this.proofs.ours.set(topic, ours)
    this.proofs.expected.set(proofKey(proveTopic(key, this.handshakeHash, !isInitiator)), topic)
    return ours
  }

  /** Forgets the topic; returns our proof of it, to withdraw. */
  unclaim(topic: KeyHex): Buffer | null {
    const ours = this.proofs?.ours.get(topic)
    if (this.proofs === null || ours === undefined || this.handshakeHash === null) return null
    this.proofs.ours.delete(topic)
    const key = hexToBytes(topic)
    this.proofs.expected.delete(
      proofKey(proveTopic(key, this.handshakeHash, !this.peer.stream.isInitiator)),
    )
    this.deleteProven(topic)
    return ours
  }

  /** Our proof of a topic we claim, if we do. */
  proofOf(topic: KeyHex): Buffer | undefined {
    return this.proofs?.ours.get(topic)
  }

  /** Which of our topics a remote proof names, if any. */
  topicOf(proof: Uint8Array): KeyHex | undefined {
    return this.proofs?.expected.get(proofKey(proof))
  }

  /** Every proof of ours, for a handshake. */
  allProofs(): Buffer[] {
    return this.proofs === null ? [] : [...this.proofs.ours.values()]
  }

  /**
   * Takes `n` proofs from the remote's budget; false once it is spent (a flood). Refilled
   * with time on the networker's clock.
   */
  spend(n: number): boolean {
    const now = this.owner.clock.now()
    // Untouched, the budget is full whenever it was started: the refill is capped at full.
    if (this.tokensAt !== null) {
      const refill = ((now - this.tokensAt) / 1000) * PROOFS_PER_SECOND
      this.tokens = Math.min(PROOF_BURST, this.tokens + refill)
    }
    this.tokensAt = now
    this.tokens -= n
    return this.tokens >= 0
  }

  get live(): boolean {
    return this.wire !== null && !this.wire.channel.closed
  }

  sendProve(flags: number, proofs: readonly Uint8Array[]): void {
    if (!this.live) return
    for (const batch of batches(proofs)) this.wire?.prove.send(encodeProve(flags, batch))
  }

  sendWithdraw(proofs: readonly Uint8Array[]): void {
    if (!this.live) return
    for (const batch of batches(proofs)) this.wire?.withdraw.send(encodeWithdraw(batch))
  }

  sendFlags(flags: number): void {
    if (this.live) this.wire?.flags.send(encodeFlags(flags))
  }

  /** Is this the channel a callback came from (not an earlier one of this connection)? */
  current(channel: Channel): boolean {
    return channel === this.wire?.channel
  }

  /** Our first topic: the channel opens, unless it was opened before or is given up. */
  start(): void {
    if (this.state === 'idle') this.open()
  }

  /** Stops for good: the connection is gone, or the remote flooded the channel. */
  shutdown(): void {
    this.state = 'off'
    this.mux?.unpair({ protocol: TOPICS_PROTOCOL })
    const channel = this.wire?.channel
    this.wire = null
    if (channel !== undefined && !channel.closed) channel.close()
  }

  private reopen(): void {
    guard(() => {
      if (this.state === 'off' || this.live) return
      this.open()
    })
  }

  private open(): void {
    const owner = this.owner
    const channel = this.mux?.createChannel({
      protocol: TOPICS_PROTOCOL,
      handshake: rawEncoding,
      onopen: (bytes, ch) =>
        guard(() => this.current(ch) && owner.onhello(this, bytes as Uint8Array)),
      onclose: (_remote, ch) => guard(() => this.current(ch) && owner.onclosed(this)),
    })
    if (channel === null || channel === undefined) {
      // The stream is already gone.
      this.wire = null
      this.state = 'none'
      return
    }
    this.state = 'pending'
    this.wire = {
      channel,
      prove: channel.addMessage({
        encoding: rawEncoding,
        onmessage: (bytes, ch) => guard(() => this.current(ch) && owner.onprove(this, bytes)),
      }),
      withdraw: channel.addMessage({
        encoding: rawEncoding,
        onmessage: (bytes, ch) => guard(() => this.current(ch) && owner.onwithdraw(this, bytes)),
      }),
      flags: channel.addMessage({
        encoding: rawEncoding,
        onmessage: (bytes, ch) => guard(() => this.current(ch) && owner.onflags(this, bytes)),
      }),
    }
    // The handshake carries the first batch; the rest follow at once, in order.
    const all = this.allProofs()
    channel.open(encodeHello(owner.flags(), all.slice(0, MAX_PROOFS_PER_MESSAGE)))
    if (all.length > MAX_PROOFS_PER_MESSAGE) this.sendProve(0, all.slice(MAX_PROOFS_PER_MESSAGE))
  }
}
