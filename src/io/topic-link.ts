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
  onhello(link: TopicLink, bytes: Uint8Array): void
  onprove(link: TopicLink, bytes: Uint8Array): void
  onwithdraw(link: TopicLink, bytes: Uint8Array): void
  onflags(link: TopicLink, bytes: Uint8Array): void
  /** The channel closed: refused (the remote has no topics channel, or not yet) or closed by it. */
  onclosed(link: TopicLink): void
}

/**
 * `pending`: our channel is opening. `open`: the remote's proofs are what counts. `none`: no
 * channel now (refused or closed); a later open from the remote is taken. `off`: given up
 * for this connection (a flood, or no handshake hash to prove with).
 */
export type TopicLinkState = 'pending' | 'open' | 'none' | 'off'

/**
 * Proofs a remote may send per connection at once, and per second after that: far above
 * what any honest peer sends (each proof is one topic it joined), low enough that a flood
 * costs a bounded amount of hashing-free map lookups. Past it the channel is closed.
 */
export const PROOF_BURST = 65_536
export const PROOFS_PER_SECOND = 8192

/**
 * One kept connection's topics channel and what it knows: our proof of each topic we have
 * joined (bound to this connection's handshake and our role), the proof the remote would
 * send for each of them, and which of them it has proven. Only proofs of our own topics are
 * kept, so what a remote sends can cost memory in proportion to our topics, never to its.
 */
export class TopicLink {
  state: TopicLinkState = 'pending'
  /** From the remote's handshake: it accepts direct connections to its key. */
  remoteListening: boolean | null = null
  /** Our topics the remote has proven on this channel. */
  readonly proven = new Set<KeyHex>()
  /** A malformed message was reported (later ones are only counted). */
  malformedReported = false
  malformed = 0
  private readonly ours = new Map<KeyHex, Buffer>()
  private readonly expected = new Map<string, KeyHex>()
  private readonly handshakeHash: Uint8Array | null
  private readonly mux: Protomux
  private channel: Channel | null = null
  private prove: Message<Uint8Array> | null = null
  private withdraw: Message<Uint8Array> | null = null
  private flags: Message<Uint8Array> | null = null
  private tokens = PROOF_BURST
  private tokensAt: number

  constructor(
    readonly peer: NetworkerPeer,
    private readonly owner: TopicLinkOwner,
    private readonly clock: Clock,
    /** Our handshake flags now (whether we listen). */
    private readonly flagsNow: () => number,
    /** The topics we have joined: proven in our handshake. */
    claims: Iterable<KeyHex>,
  ) {
    this.tokensAt = clock.now()
    const hash = (peer.stream as { handshakeHash?: unknown }).handshakeHash
    this.handshakeHash = hash instanceof Uint8Array ? hash : null
    this.mux = Protomux.from(peer.stream)
    if (this.handshakeHash === null) {
      this.state = 'off'
      return
    }
    // A remote that opens its channel after refusing ours (it was not ready yet), or after
    // closing its earlier one, is answered with a new channel of ours.
    this.mux.pair({ protocol: TOPICS_PROTOCOL }, () => guard(() => this.reopen()))
    for (const topic of claims) this.claim(topic)
    this.open()
  }

  /** Our proof of `topic` on this connection, and the remote's expected one, from now on. */
  claim(topic: KeyHex): Buffer | null {
    if (this.handshakeHash === null) return null
    const existing = this.ours.get(topic)
    if (existing !== undefined) return existing
    const key = hexToBytes(topic)
    const isInitiator = this.peer.stream.isInitiator
    const ours = proveTopic(key, this.handshakeHash, isInitiator)
    this.ours.set(topic, ours)
    this.expected.set(proofKey(proveTopic(key, this.handshakeHash, !isInitiator)), topic)
    return ours
  }

  /** Forgets the topic; returns our proof of it, to withdraw. */
  unclaim(topic: KeyHex): Buffer | null {
    const ours = this.ours.get(topic)
    if (ours === undefined || this.handshakeHash === null) return null
    this.ours.delete(topic)
    const key = hexToBytes(topic)
    this.expected.delete(
      proofKey(proveTopic(key, this.handshakeHash, !this.peer.stream.isInitiator)),
    )
    this.proven.delete(topic)
    return ours
  }

  /** Our proof of a topic we claim, if we do. */
  proofOf(topic: KeyHex): Buffer | undefined {
    return this.ours.get(topic)
  }

  /** Which of our topics a remote proof names, if any. */
  topicOf(proof: Uint8Array): KeyHex | undefined {
    return this.expected.get(proofKey(proof))
  }

  /** Every proof of ours, for a handshake. */
  allProofs(): Buffer[] {
    return [...this.ours.values()]
  }

  /**
   * Takes `n` proofs from the remote's budget; false once it is spent (a flood). Refilled
   * with time on the networker's clock.
   */
  spend(n: number): boolean {
    const now = this.clock.now()
    const refill = ((now - this.tokensAt) / 1000) * PROOFS_PER_SECOND
    this.tokens = Math.min(PROOF_BURST, this.tokens + refill)
    this.tokensAt = now
    this.tokens -= n
    return this.tokens >= 0
  }

  get live(): boolean {
    return this.channel !== null && !this.channel.closed
  }

  sendProve(flags: number, proofs: readonly Uint8Array[]): void {
    if (!this.live) return
    for (const batch of batches(proofs)) this.prove?.send(encodeProve(flags, batch))
  }

  sendWithdraw(proofs: readonly Uint8Array[]): void {
    if (!this.live) return
    for (const batch of batches(proofs)) this.withdraw?.send(encodeWithdraw(batch))
  }

  sendFlags(flags: number): void {
    if (this.live) this.flags?.send(encodeFlags(flags))
  }

  /** Is this the channel a callback came from (not an earlier one of this connection)? */
  current(channel: Channel): boolean {
    return channel === this.channel
  }

  /** Stops for good: the connection is gone, or the remote flooded the channel. */
  shutdown(): void {
    this.state = 'off'
    this.mux.unpair({ protocol: TOPICS_PROTOCOL })
    const channel = this.channel
    this.channel = null
    if (channel !== null && !channel.closed) channel.close()
  }

  private reopen(): void {
    if (this.state === 'off' || this.live) return
    this.open()
  }

  private open(): void {
    const owner = this.owner
    const channel = this.mux.createChannel({
      protocol: TOPICS_PROTOCOL,
      handshake: rawEncoding,
      onopen: (bytes, ch) =>
        guard(() => this.current(ch) && owner.onhello(this, bytes as Uint8Array)),
      onclose: (_remote, ch) => guard(() => this.current(ch) && owner.onclosed(this)),
    })
    this.channel = channel
    if (channel === null) {
      // The stream is already gone.
      this.state = 'none'
      return
    }
    this.state = 'pending'
    this.prove = channel.addMessage({
      encoding: rawEncoding,
      onmessage: (bytes, ch) => guard(() => this.current(ch) && owner.onprove(this, bytes)),
    })
    this.withdraw = channel.addMessage({
      encoding: rawEncoding,
      onmessage: (bytes, ch) => guard(() => this.current(ch) && owner.onwithdraw(this, bytes)),
    })
    this.flags = channel.addMessage({
      encoding: rawEncoding,
      onmessage: (bytes, ch) => guard(() => this.current(ch) && owner.onflags(this, bytes)),
    })
    // The handshake carries the first batch; the rest follow at once, in order.
    const all = this.allProofs()
    channel.open(encodeHello(this.flagsNow(), all.slice(0, MAX_PROOFS_PER_MESSAGE)))
    if (all.length > MAX_PROOFS_PER_MESSAGE) this.sendProve(0, all.slice(MAX_PROOFS_PER_MESSAGE))
  }
}
