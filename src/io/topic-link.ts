import type { Channel, Message } from 'protomux'
import type { Clock } from '../core/clock.js'
import type { KeyHex } from '../core/keys.js'
import { ExpectedProofs, SCRATCH } from './expected-proofs.js'
import { rawEncoding } from './extension-wire.js'
import { muxOf, type PairTarget, pairWhenMuxed, unpair } from './lazy-mux.js'
import type { NetworkerPeer } from './peer.js'
import { proveTopicHex } from './topic-proof-crypto.js'
import {
  batches,
  encodeFlags,
  encodeHello,
  encodeProve,
  encodeWithdraw,
  MAX_PROOFS_PER_MESSAGE,
  TOPICS_PROTOCOL,
} from './topic-proof-wire.js'
import { guard, guardCall, NO_BYTES } from './util.js'

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

/**
 * What a link proves and learns once there is anything to: the remote's proofs we would
 * accept, what it has proven, and its proof budget. Made on first use. Our own proofs are
 * not kept: one is made again whenever it is sent (the handshake, a join, an answer, a
 * withdrawal), which is rare, while keeping each cost a Buffer per topic on every
 * connection: a node sharing 10,000 topics with 100 peers held a million of them.
 */
interface Known {
  /**
   * The remote's proof of each of our topics, to the topic: one entry per topic we claim on
   * this link, in the order claimed (our proofs are sent in that order).
   */
  expected: ExpectedProofs | null
  proven: Set<KeyHex> | null
  tokens: number
  /** When the budget was last spent; null while it is untouched (full). */
  tokensAt: number | null
}

const NO_TOPICS: ReadonlySet<KeyHex> = new Set()

/** `state` is the low three bits of a link's `bits`, as an index into this. */
const STATES: readonly TopicLinkState[] = ['idle', 'pending', 'open', 'none', 'off']
const STATE_BITS = 7
/** `remoteListening`: whether the remote said, and what. */
const LISTENING_SAID = 8
const LISTENING = 16
const MALFORMED_REPORTED = 32

/**
 * One kept connection's topics channel and what it knows: our proof of each topic we have
 * joined (bound to this connection's handshake and our role), the proof the remote would
 * send for each of them, and which of them it has proven. Only proofs of our own topics are
 * kept, so what a remote sends can cost memory in proportion to our topics, never to its.
 *
 * The channel opens only once either end has a topic to prove (most connections of a
 * networker that has joined nothing never need it); its flags share one number, and every
 * set and map is made on first use: a connection nobody proves anything on keeps a few fields.
 */
export class TopicLink implements PairTarget {
  /** The topics this peer shares with us, as last told (see TopicProofs.refresh). */
  shared: Set<KeyHex> | null = null
  /** The state, what the remote said of listening, and whether a malformed message was reported. */
  private bits = 0
  private known: Known | null = null
  private readonly handshakeHash: Uint8Array | null
  private wire: Wire | null = null

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
    // channel of ours. The Protomux is made once either end says something (lazy-mux.ts).
    pairWhenMuxed(peer.stream, TOPICS_PROTOCOL, this)
  }

  get state(): TopicLinkState {
    return STATES[this.bits & STATE_BITS] as TopicLinkState
  }

  set state(state: TopicLinkState) {
    this.bits = (this.bits & ~STATE_BITS) | STATES.indexOf(state)
  }

  /** From the remote's handshake: it accepts direct connections to its key (null: not said). */
  get remoteListening(): boolean | null {
    if ((this.bits & LISTENING_SAID) === 0) return null
    return (this.bits & LISTENING) !== 0
  }

  set remoteListening(listening: boolean | null) {
    this.bits &= ~(LISTENING_SAID | LISTENING)
    if (listening !== null) this.bits |= LISTENING_SAID | (listening ? LISTENING : 0)
  }

  /** A malformed message was reported (later ones are ignored). */
  get malformedReported(): boolean {
    return (this.bits & MALFORMED_REPORTED) !== 0
  }

  set malformedReported(reported: boolean) {
    this.bits = reported ? this.bits | MALFORMED_REPORTED : this.bits & ~MALFORMED_REPORTED
  }

  private get k(): Known {
    this.known ??= { expected: null, proven: null, tokens: PROOF_BURST, tokensAt: null }
    return this.known
  }

  /** Our topics the remote has proven on this channel. */
  get proven(): ReadonlySet<KeyHex> {
    return this.known?.proven ?? NO_TOPICS
  }

  addProven(topic: KeyHex): void {
    const k = this.k
    k.proven ??= new Set()
    k.proven.add(topic)
  }

  deleteProven(topic: KeyHex): void {
    this.known?.proven?.delete(topic)
  }

  clearProven(): void {
    if (this.known !== null) this.known.proven = null
  }

  /**
   * We claim `topic` on this connection from now on: the remote's proof of it is expected.
   * Returns our proof of it, to send; null with no handshake to prove with. The caller (the
   * networker's claimed topics) claims each topic once.
   */
  claim(topic: KeyHex): Buffer | null {
    const hash = this.handshakeHash
    if (hash === null) return null
    const isInitiator = this.peer.stream.isInitiator
    const k = this.k
    k.expected ??= new ExpectedProofs()
    k.expected.add(topic, proveTopicHex(topic, hash, !isInitiator, SCRATCH))
    return proveTopicHex(topic, hash, isInitiator)
  }

  /** Forgets the topic; returns our proof of it, to withdraw (null if it was not claimed here). */
  unclaim(topic: KeyHex): Buffer | null {
    const hash = this.handshakeHash
    const expected = this.known?.expected
    if (hash === null || expected === null || expected === undefined) return null
    const isInitiator = this.peer.stream.isInitiator
    if (!expected.delete(topic, proveTopicHex(topic, hash, !isInitiator, SCRATCH))) return null
    this.deleteProven(topic)
    return proveTopicHex(topic, hash, isInitiator)
  }

  /** Our proof of `topic`, a topic we claim on this link (named by the remote's proof of it). */
  proofOf(topic: KeyHex): Buffer | null {
    const hash = this.handshakeHash
    return hash === null ? null : proveTopicHex(topic, hash, this.peer.stream.isInitiator)
  }

  /** Which of our topics a remote proof names, if any. */
  topicOf(proof: Uint8Array): KeyHex | undefined {
    const expected = this.known?.expected
    const hash = this.handshakeHash
    if (expected === null || expected === undefined || hash === null) return undefined
    return expected.find(proof, hash, !this.peer.stream.isInitiator)
  }

  /** Every proof of ours, for a handshake, in the order the topics were claimed. */
  allProofs(): Buffer[] {
    const expected = this.known?.expected
    const out: Buffer[] = []
    if (expected === null || expected === undefined) return out
    for (const topic of expected.topics()) out.push(this.proofOf(topic) as Buffer)
    return out
  }

  /**
   * Takes `n` proofs from the remote's budget; false once it is spent (a flood). Refilled
   * with time on the networker's clock.
   */
  spend(n: number): boolean {
    const now = this.owner.clock.now()
    const k = this.k
    // Untouched, the budget is full whenever it was started: the refill is capped at full.
    if (k.tokensAt !== null) {
      const refill = ((now - k.tokensAt) / 1000) * PROOFS_PER_SECOND
      k.tokens = Math.min(PROOF_BURST, k.tokens + refill)
    }
    k.tokensAt = now
    k.tokens -= n
    return k.tokens >= 0
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

  /**
   * Our first topic: the channel opens, unless it was opened before or is given up. `proofs`
   * are all of ours, in claim order, when the caller has just made them (claiming every topic
   * on a new connection): not made a second time for the handshake.
   */
  start(proofs?: Buffer[]): void {
    if (this.state === 'idle') this.open(proofs)
  }

  /** Stops for good: the connection is gone, or the remote flooded the channel. */
  shutdown(): void {
    this.state = 'off'
    if (this.handshakeHash !== null) unpair(this.peer.stream, TOPICS_PROTOCOL)
    const channel = this.wire?.channel
    this.wire = null
    if (channel !== undefined && !channel.closed) channel.close()
  }

  /** The remote opened its channel: ours answers it, unless ours is open or given up. */
  remoteOpened(): void {
    guard(() => {
      if (this.state === 'off' || this.live) return
      this.open()
    })
  }

  private open(proofs?: Buffer[]): void {
    // The channel carries its link as its user data, and the handlers are the same five
    // functions for every channel: none is made per connection.
    const channel = muxOf(this.peer.stream).createChannel({
      userData: this,
      protocol: TOPICS_PROTOCOL,
      handshake: rawEncoding,
      onopen: onhello,
      onclose: onclosed,
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
      prove: channel.addMessage({ encoding: rawEncoding, onmessage: onprove }),
      withdraw: channel.addMessage({ encoding: rawEncoding, onmessage: onwithdraw }),
      flags: channel.addMessage({ encoding: rawEncoding, onmessage: onflags }),
    }
    // The handshake carries the first batch; the rest follow at once, in order.
    const all = proofs ?? this.allProofs()
    const more = all.length > MAX_PROOFS_PER_MESSAGE
    channel.open(encodeHello(this.owner.flags(), more ? all.slice(0, MAX_PROOFS_PER_MESSAGE) : all))
    if (more) this.sendProve(0, all.slice(MAX_PROOFS_PER_MESSAGE))
  }

  /**
   * Hands what a channel said to the owner, if the channel is this link's current one (not
   * an earlier one of this connection), inside a guard (made for no message).
   */
  static deliver(ch: Channel, tell: Tell, bytes: Uint8Array): void {
    const link = ch.userData as TopicLink
    if (link.current(ch)) guardCall(tell, link.owner, link, bytes)
  }
}

type Tell = (owner: TopicLinkOwner, link: TopicLink, bytes: Uint8Array) => void

const tellHello: Tell = (owner, link, bytes) => owner.onhello(link, bytes)
const tellClosed: Tell = (owner, link) => owner.onclosed(link)
const tellProve: Tell = (owner, link, bytes) => owner.onprove(link, bytes)
const tellWithdraw: Tell = (owner, link, bytes) => owner.onwithdraw(link, bytes)
const tellFlags: Tell = (owner, link, bytes) => owner.onflags(link, bytes)

// The handlers every topics channel shares (see TopicLink.open).
function onhello(bytes: unknown, ch: Channel): void {
  TopicLink.deliver(ch, tellHello, bytes as Uint8Array)
}
function onclosed(_remote: boolean, ch: Channel): void {
  TopicLink.deliver(ch, tellClosed, NO_BYTES)
}
function onprove(bytes: Uint8Array, ch: Channel): void {
  TopicLink.deliver(ch, tellProve, bytes)
}
function onwithdraw(bytes: Uint8Array, ch: Channel): void {
  TopicLink.deliver(ch, tellWithdraw, bytes)
}
function onflags(bytes: Uint8Array, ch: Channel): void {
  TopicLink.deliver(ch, tellFlags, bytes)
}
