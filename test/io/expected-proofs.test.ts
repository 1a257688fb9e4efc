import b4a from 'b4a'
import { describe, expect, it } from 'vitest'
import { ExpectedProofs } from '../../src/io/expected-proofs.js'
import { proveTopicHex } from '../../src/io/topic-proof-crypto.js'

/**
 * A connection finds which of our topics a remote proof names (expected-proofs.ts) by the
 * proof's first 30 bits, checked against the whole proof made again: a proof matches its
 * topic exactly, a proof that only shares the bits matches nothing, and two topics whose
 * proofs share the bits are both found, forgotten one at a time, and listed in order.
 */
const HASH = b4a.alloc(64, 5)
const REMOTE_IS_INITIATOR = true

function topicHex(i: number): string {
  const key = b4a.alloc(32)
  key.writeUInt32BE(i, 0)
  return b4a.toString(key, 'hex')
}

function remoteProof(topic: string): Buffer {
  return proveTopicHex(topic, HASH, REMOTE_IS_INITIATOR)
}

function prefix(proof: Uint8Array): number {
  return (proof[0]! << 22) | (proof[1]! << 14) | (proof[2]! << 6) | (proof[3]! >>> 2)
}

/** Two topics whose remote proofs on HASH share their first 30 bits (a birthday search). */
function collidingPair(): [string, string] {
  const seen = new Map<number, string>()
  for (let i = 0; ; i++) {
    const topic = topicHex(i)
    const p = prefix(remoteProof(topic))
    const other = seen.get(p)
    if (other !== undefined) return [other, topic]
    seen.set(p, topic)
  }
}

function find(expected: ExpectedProofs, proof: Uint8Array): string | undefined {
  return expected.find(proof, HASH, REMOTE_IS_INITIATOR)
}

describe('expected proofs', () => {
  it('find the topic a proof names, and nothing for a proof that shares its first bits only', () => {
    const expected = new ExpectedProofs()
    const topics = [1, 2, 3].map(topicHex)
    for (const t of topics) expected.add(t, remoteProof(t))
    for (const t of topics) expect(find(expected, remoteProof(t))).toBe(t)
    // Added again, a topic is still there once.
    expected.add(topics[0]!, remoteProof(topics[0]!))
    // The same first four bytes, another proof: no topic.
    const forged = b4a.from(remoteProof(topics[0]!))
    forged[31] = (forged[31]! + 1) & 255
    expect(find(expected, forged)).toBeUndefined()
    // Our own role's proof of the topic is not the remote's.
    expect(find(expected, proveTopicHex(topics[0]!, HASH, !REMOTE_IS_INITIATOR))).toBeUndefined()
    expect([...expected.topics()]).toEqual(topics)
    expect(expected.delete(topics[1]!, remoteProof(topics[1]!))).toBe(true)
    expect(expected.delete(topics[1]!, remoteProof(topics[1]!))).toBe(false)
    expect(find(expected, remoteProof(topics[1]!))).toBeUndefined()
    expect([...expected.topics()]).toEqual([topics[0], topics[2]])
  })

  it('keep two topics whose proofs share their first 30 bits, each found and forgotten on its own', () => {
    const [a, b] = collidingPair()
    expect(prefix(remoteProof(a))).toBe(prefix(remoteProof(b)))
    const before = topicHex(1 << 30)
    const expected = new ExpectedProofs()
    expected.add(before, remoteProof(before))
    expected.add(a, remoteProof(a))
    expected.add(b, remoteProof(b))
    expected.add(b, remoteProof(b))
    expect(find(expected, remoteProof(a))).toBe(a)
    expect(find(expected, remoteProof(b))).toBe(b)
    expect([...expected.topics()]).toEqual([before, a, b])
    // A topic not added, under a shared entry: not there to forget.
    expect(expected.delete(before, remoteProof(a))).toBe(false)
    expect(expected.delete(a, remoteProof(a))).toBe(true)
    expect(find(expected, remoteProof(a))).toBeUndefined()
    expect(find(expected, remoteProof(b))).toBe(b)
    expect(expected.delete(b, remoteProof(b))).toBe(true)
    expect(find(expected, remoteProof(b))).toBeUndefined()
    expect([...expected.topics()]).toEqual([before])
  })
})
