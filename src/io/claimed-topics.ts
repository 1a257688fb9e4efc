import type { KeyHex } from '../core/keys.js'
import type { DiscoverySession } from './swarm.js'

/**
 * Our topics: each one claimed (configured to be announced or looked up, proven to peers
 * from then on), with the swarm session it was joined with once the swarm adapter joined it.
 * One map for both, as both are per topic: every configure of a new topic looked it up and
 * added it to two maps of every topic (the claims, then the sessions), and at 100,000 topics
 * the second map's miss and insert were a tenth of a configure's time. The session is
 * written just after the claim, within the same configure, while its entry is still warm.
 */
export class ClaimedTopics {
  private readonly topics = new Map<KeyHex, DiscoverySession | null>()

  get size(): number {
    return this.topics.size
  }

  /** Claims `topic`; false if it was claimed already. */
  claim(topic: KeyHex): boolean {
    if (this.topics.has(topic)) return false
    this.topics.set(topic, null)
    return true
  }

  /** Unclaims `topic` (and forgets its session); false if it was not claimed. */
  unclaim(topic: KeyHex): boolean {
    return this.topics.delete(topic)
  }

  has(topic: KeyHex): boolean {
    return this.topics.has(topic)
  }

  /** The claimed topics, in the order they were claimed. */
  keys(): IterableIterator<KeyHex> {
    return this.topics.keys()
  }

  /**
   * The session the claimed `topic` was joined with: null while it is not joined, undefined
   * when it is not claimed.
   */
  session(topic: KeyHex): DiscoverySession | null | undefined {
    return this.topics.get(topic)
  }

  /**
   * The swarm joined the claimed `topic` with `session`; the caller looked it up just before
   * (`session` was not undefined), so it is one write, not a check and a write. A topic
   * unclaimed since the join was asked for is being left, keeps no session, and is joined
   * afresh if claimed again (its leave comes first).
   */
  keep(topic: KeyHex, session: DiscoverySession): void {
    this.topics.set(topic, session)
  }

  /** The swarm left `topic`: a join after this is a new session. It stays claimed if it was. */
  left(topic: KeyHex): void {
    if (this.topics.get(topic) != null) this.topics.set(topic, null)
  }
}
