import type { Clock } from '../core/clock.js'
import { type ErrorCode, NetworkerError } from '../core/errors.js'
import type { KeyHex } from '../core/keys.js'
import { ClaimedTopics } from './claimed-topics.js'
import type { NetworkerPeer } from './peer.js'
import { TopicLink, type TopicLinkOwner } from './topic-link.js'
import {
  decodeFlags,
  decodeHello,
  decodeProve,
  decodeWithdraw,
  FLAG_ANSWER_ME,
  FLAG_LISTENING,
  TopicWireError,
} from './topic-proof-wire.js'

/** Codes of what a remote's topics channel did wrong (reported, never fatal to the connection). */
export type TopicProofErrorCode =
  | typeof ErrorCode.TOPIC_PROOF_MALFORMED
  | typeof ErrorCode.TOPIC_PROOF_FLOOD

/**
 * A remote's topics channel sent what does not parse, or more proofs than any honest peer.
 * A NetworkerError like every other error the networker reports.
 */
export class TopicProofError extends NetworkerError {
  declare readonly code: TopicProofErrorCode

  constructor(code: TopicProofErrorCode, message: string) {
    super(code, message)
    this.name = 'TopicProofError'
  }
}

export interface TopicProofsOptions {
  clock: Clock
  /** Whether we accept direct connections to our key (we announce, or `listen()` was called). */
  listening(): boolean
  /** The topics Hyperswarm's lookups found this peer under: what stands in for its proofs. */
  foundTopics(peer: NetworkerPeer): readonly KeyHex[]
  /** Whether our lookups found this peer under `topic` (one topic: no list made). */
  foundUnder(peer: NetworkerPeer, topic: KeyHex): boolean
  gained(peer: NetworkerPeer, topic: KeyHex): void
  lost(peer: NetworkerPeer, topic: KeyHex): void
  report(err: TopicProofError, peer: NetworkerPeer): void
}

/**
 * Which of our topics each peer shares with us. A networker peer proves its topics on the
 * topics channel (topic-link.ts) and shares those of them we have joined; for any other
 * peer, or until its channel opens, the topics our lookups found it under stand in. Our
 * topics joined or left later are proven or withdrawn on every live channel; the first one
 * opens the channels that were not needed until then. The sets here change only with a
 * `gained`/`lost` call, so events and `peer.topics` always agree.
 */
export class TopicProofs implements TopicLinkOwner {
  readonly clock: Clock
  /** Our claimed topics, with the swarm adapter's session of each (claimed-topics.ts). */
  readonly claims = new ClaimedTopics()
  private readonly links = new Map<NetworkerPeer, TopicLink>()

  constructor(private readonly opts: TopicProofsOptions) {
    this.clock = opts.clock
  }

  /** We joined `topic` (or are joining it): prove it to every peer from now on. */
  claim(topic: KeyHex): void {
    if (!this.claims.claim(topic)) return
    for (const link of this.links.values()) {
      const proof = link.claim(topic)
      // The remote may have discarded an earlier proof of ours: it asks for its own back.
      // A channel not opened yet opens now, its handshake carrying the proof.
      if (proof !== null && link.live) link.sendProve(FLAG_ANSWER_ME, [proof])
      else link.start()
      this.refreshTopic(link, topic)
    }
  }

  /** We left `topic`: withdraw it everywhere; no peer shares it with us any more. */
  unclaim(topic: KeyHex): void {
    if (!this.claims.unclaim(topic)) return
    for (const link of this.links.values()) {
      const proof = link.unclaim(topic)
      if (proof !== null) link.sendWithdraw([proof])
      this.refreshTopic(link, topic)
    }
  }

  claimed(topic: KeyHex): boolean {
    return this.claims.has(topic)
  }

  /** Our listening state changed: every open channel hears of it. */
  flagsChanged(): void {
    const flags = this.flags()
    for (const link of this.links.values()) link.sendFlags(flags)
  }

  /** Our handshake flags now (whether we listen). */
  flags(): number {
    return this.opts.listening() ? FLAG_LISTENING : 0
  }

  /**
   * A kept connection was listed: open its topics channel if we have topics to prove (before
   * its 'peer-add'). What our lookups found it under is its topics until its proofs arrive;
   * no event for those, as 'peer-add' comes with them in `peer.topics`.
   */
  attach(peer: NetworkerPeer): void {
    if (this.links.has(peer)) return
    const link = new TopicLink(peer, this)
    this.links.set(peer, link)
    if (this.claims.size > 0) {
      // Our proofs as claimed are the handshake's, in the same order (allProofs's).
      const proofs: Buffer[] = []
      for (const topic of this.claims.keys()) {
        const proof = link.claim(topic)
        if (proof !== null) proofs.push(proof)
      }
      link.start(proofs)
    }
    this.refresh(peer, true)
  }

  /** The peer is gone ('peer-remove' says so; no topic events follow it). */
  detach(peer: NetworkerPeer): void {
    this.links.get(peer)?.shutdown()
    this.links.delete(peer)
  }

  /** Every link closed (the networker closes). */
  detachAll(): void {
    for (const peer of [...this.links.keys()]) this.detach(peer)
  }

  /** The topics the peer shares with us now. */
  topicsOf(peer: NetworkerPeer): KeyHex[] {
    const shared = this.links.get(peer)?.shared
    return shared === null || shared === undefined ? [] : [...shared]
  }

  /** The peers that share `topic` with us now. */
  peersOf(topic: KeyHex): NetworkerPeer[] {
    const out: NetworkerPeer[] = []
    for (const [peer, link] of this.links) if (link.shared?.has(topic)) out.push(peer)
    return out
  }

  /** The peer runs the networker's topics channel: its proofs, not our lookups, count. */
  proves(peer: NetworkerPeer): boolean {
    return this.links.get(peer)?.state === 'open'
  }

  /** What the peer's handshake said about listening; null when it has not said. */
  remoteListening(peer: NetworkerPeer): boolean | null {
    const link = this.links.get(peer)
    return link?.state === 'open' ? link.remoteListening : null
  }

  /**
   * Our lookup of `topic` ran: a peer judged by our lookups (not proving its topics) may have
   * been found under it since it connected. Hyperswarm adds the topic to its record of a peer
   * it is connected to already and says nothing, so this looks again after each join and
   * flush, at that topic only (a pass over every topic of every such peer per configure would
   * make configuring many topics quadratic again); a peer that proves its topics is skipped.
   */
  refreshFound(topic: KeyHex): void {
    for (const link of this.links.values())
      if (link.state !== 'open') this.refreshTopic(link, topic)
  }

  onhello(link: TopicLink, bytes: Uint8Array): void {
    let hello: ReturnType<typeof decodeHello>
    try {
      hello = decodeHello(bytes)
    } catch (err) {
      // No handshake we can read: no proofs from this channel; our lookups stand in.
      this.malformed(link, 'handshake', err)
      link.state = 'none'
      return
    }
    link.state = 'open'
    link.remoteListening = (hello.flags & FLAG_LISTENING) !== 0
    // A channel opened again restates everything.
    link.clearProven()
    if (!this.budget(link, hello.proofs.length)) return
    for (const proof of hello.proofs) {
      const topic = link.topicOf(proof)
      if (topic !== undefined) link.addProven(topic)
    }
    this.refresh(link.peer)
  }

  onprove(link: TopicLink, bytes: Uint8Array): void {
    if (link.state !== 'open') return
    let prove: ReturnType<typeof decodeProve>
    try {
      prove = decodeProve(bytes)
    } catch (err) {
      this.malformed(link, 'prove', err)
      return
    }
    if (!this.budget(link, prove.proofs.length)) return
    const answers: Buffer[] = []
    const proven: KeyHex[] = []
    for (const proof of prove.proofs) {
      const topic = link.topicOf(proof)
      if (topic === undefined || link.proven.has(topic)) continue
      link.addProven(topic)
      proven.push(topic)
      if ((prove.flags & FLAG_ANSWER_ME) === 0) continue
      const ours = link.proofOf(topic)
      if (ours !== null) answers.push(ours)
    }
    if (answers.length > 0) link.sendProve(0, answers)
    for (const topic of proven) this.refreshTopic(link, topic)
  }

  onwithdraw(link: TopicLink, bytes: Uint8Array): void {
    if (link.state !== 'open') return
    let proofs: Uint8Array[]
    try {
      proofs = decodeWithdraw(bytes)
    } catch (err) {
      this.malformed(link, 'withdraw', err)
      return
    }
    if (!this.budget(link, proofs.length)) return
    const withdrawn: KeyHex[] = []
    for (const proof of proofs) {
      const topic = link.topicOf(proof)
      if (topic === undefined || !link.proven.has(topic)) continue
      link.deleteProven(topic)
      withdrawn.push(topic)
    }
    for (const topic of withdrawn) this.refreshTopic(link, topic)
  }

  onflags(link: TopicLink, bytes: Uint8Array): void {
    if (link.state !== 'open') return
    try {
      link.remoteListening = (decodeFlags(bytes) & FLAG_LISTENING) !== 0
    } catch (err) {
      this.malformed(link, 'flags', err)
    }
  }

  onclosed(link: TopicLink): void {
    if (link.state === 'off') return
    link.state = 'none'
    link.clearProven()
    link.remoteListening = null
    this.refresh(link.peer)
  }

  /** Brings the peer's shared set to what it should be, one event per change (none if `quiet`). */
  private refresh(peer: NetworkerPeer, quiet = false): void {
    const link = this.links.get(peer)
    if (link === undefined) return
    // Nothing claimed, nothing shared: no set is made for it.
    if (this.claims.size === 0 && link.shared === null) return
    link.shared ??= new Set()
    const current = link.shared
    const wanted = new Set<KeyHex>()
    if (link.state === 'open') {
      for (const topic of link.proven) if (this.claims.has(topic)) wanted.add(topic)
    } else {
      for (const topic of this.opts.foundTopics(peer)) if (this.claims.has(topic)) wanted.add(topic)
    }
    for (const topic of [...current]) {
      if (wanted.has(topic)) continue
      current.delete(topic)
      if (!quiet) this.opts.lost(peer, topic)
    }
    for (const topic of wanted) {
      if (current.has(topic)) continue
      current.add(topic)
      if (!quiet) this.opts.gained(peer, topic)
    }
  }

  /**
   * Brings one topic of the peer's shared set to what it should be, one event if it changes,
   * when nothing but that topic's standing changed (we claimed or left it, the remote proved
   * or withdrew it): the set was right before, so the rest of it still is. A whole refresh
   * per change made each configure cost every connection a pass over all its shared topics,
   * so configuring N topics with P peers connected took N × N × P steps (4,000 topics with 10
   * peers: 33 s until every peer shared them).
   */
  private refreshTopic(link: TopicLink, topic: KeyHex): void {
    // Gone meanwhile (a listener of an earlier event closed it): no events after 'peer-remove'.
    if (this.links.get(link.peer) !== link) return
    if (this.claims.size === 0 && link.shared === null) return
    link.shared ??= new Set()
    const current = link.shared
    const wanted =
      this.claims.has(topic) &&
      (link.state === 'open' ? link.proven.has(topic) : this.opts.foundUnder(link.peer, topic))
    if (wanted === current.has(topic)) return
    if (wanted) {
      current.add(topic)
      this.opts.gained(link.peer, topic)
    } else {
      current.delete(topic)
      this.opts.lost(link.peer, topic)
    }
  }

  /** Spends the remote's proof budget; past it, the channel is closed and reported. */
  private budget(link: TopicLink, proofs: number): boolean {
    if (link.spend(proofs)) return true
    link.shutdown()
    link.clearProven()
    this.opts.report(
      new TopicProofError(
        'TOPIC_PROOF_FLOOD',
        'the peer sent more topic proofs than the per-connection budget; its topics channel is closed, the connection stays',
      ),
      link.peer,
    )
    this.refresh(link.peer)
    return false
  }

  /** The first malformed message of a connection is reported; later ones are ignored. */
  private malformed(link: TopicLink, what: string, err: unknown): void {
    if (link.malformedReported) return
    link.malformedReported = true
    const detail = err instanceof TopicWireError ? err.message : String(err)
    this.opts.report(
      new TopicProofError('TOPIC_PROOF_MALFORMED', `a malformed topics ${what} message: ${detail}`),
      link.peer,
    )
  }
}
