import b4a from 'b4a'
import type { KeyHex } from '../core/keys.js'
import { proveTopicHex } from './topic-proof-crypto.js'

/**
 * The remote's proof of each of our topics on one connection, found again from the proof
 * the remote sends. Every connection holds one entry per topic we claim, so an entry is a
 * small integer to the topic's key string (shared with the rest of the networker): the
 * proof's first 30 bits, which V8 keeps inline as a small integer. A map keyed by each
 * proof as a 32-character string held one string of 48 bytes more per topic per connection.
 *
 * Thirty bits do not name a proof, so a match is checked against the whole proof, made again
 * for the candidate topic: one hash per proof that matches, and a proof of a topic
 * we do not have that shares the bits of one we have proves nothing. Two of our topics whose
 * proofs share the bits (about once in 100 connections at 10,000 topics) share the entry.
 */
export class ExpectedProofs {
  private readonly byPrefix = new Map<number, KeyHex | KeyHex[]>()

  /** `topic` is claimed on this connection, and `proof` is the remote's proof of it (once). */
  add(topic: KeyHex, proof: Uint8Array): void {
    const key = prefixOf(proof)
    const entry = this.byPrefix.get(key)
    if (entry === undefined) this.byPrefix.set(key, topic)
    else if (typeof entry === 'string') {
      if (entry !== topic) this.byPrefix.set(key, [entry, topic])
    } else if (!entry.includes(topic)) entry.push(topic)
  }

  /** Forgets `topic`, whose remote proof is `proof`; false if it was not there. */
  delete(topic: KeyHex, proof: Uint8Array): boolean {
    const key = prefixOf(proof)
    const entry = this.byPrefix.get(key)
    if (entry === undefined) return false
    if (typeof entry === 'string') {
      if (entry !== topic) return false
      this.byPrefix.delete(key)
      return true
    }
    const i = entry.indexOf(topic)
    if (i === -1) return false
    entry.splice(i, 1)
    if (entry.length === 1) this.byPrefix.set(key, entry[0] as KeyHex)
    return true
  }

  /**
   * The topic `proof` proves, if any: a topic whose entry it reaches and whose proof by the
   * remote (made on this connection's `handshakeHash`, by the remote's role) it equals, byte
   * for byte.
   */
  find(
    proof: Uint8Array,
    handshakeHash: Uint8Array,
    remoteIsInitiator: boolean,
  ): KeyHex | undefined {
    const entry = this.byPrefix.get(prefixOf(proof))
    if (entry === undefined) return undefined
    if (typeof entry === 'string') {
      return proves(entry, proof, handshakeHash, remoteIsInitiator) ? entry : undefined
    }
    for (const topic of entry)
      if (proves(topic, proof, handshakeHash, remoteIsInitiator)) return topic
    return undefined
  }

  /** Every topic here, in the order added (two sharing an entry, in their entry's place). */
  *topics(): IterableIterator<KeyHex> {
    for (const entry of this.byPrefix.values()) {
      if (typeof entry === 'string') yield entry
      else yield* entry
    }
  }
}

/**
 * Where a proof made only to be compared or looked up is made (used at once: nothing is
 * hashed between its making and its use).
 */
export const SCRATCH = b4a.alloc(32)

/** Whether `proof` is the remote's proof of `topic` on this connection. */
function proves(
  topic: KeyHex,
  proof: Uint8Array,
  handshakeHash: Uint8Array,
  remoteIsInitiator: boolean,
): boolean {
  return b4a.equals(proveTopicHex(topic, handshakeHash, remoteIsInitiator, SCRATCH), proof)
}

/** A proof's first 30 bits: at most 2^30 - 1, a small integer to V8 (no number object). */
function prefixOf(proof: Uint8Array): number {
  return (
    ((proof[0] as number) << 22) |
    ((proof[1] as number) << 14) |
    ((proof[2] as number) << 6) |
    ((proof[3] as number) >>> 2)
  )
}
