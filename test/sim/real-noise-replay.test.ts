import b4a from 'b4a'
import crypto from 'hypercore-crypto'
import { describe, expect, it } from 'vitest'
import { secretStreamPair } from '../../sim/swarm.js'
import type { SwarmConnection } from '../../src/io/swarm.js'

const seed = (n: number) => b4a.alloc(32, n)
const initiator = crypto.keyPair(seed(1))
const responder = crypto.keyPair(seed(2))

/** A pair of real secret streams over their own in-memory raw ends; the hash once both opened. */
async function handshakeHashes(ephemeral?: Parameters<typeof secretStreamPair>[4]) {
  const { a, b } = secretStreamPair(initiator, responder, null, null, ephemeral)
  const raw = (s: SwarmConnection) => s.rawStream as NodeJS.ReadWriteStream
  raw(a).pipe(raw(b)).pipe(raw(a))
  const opened = (s: SwarmConnection) => (s as unknown as { opened: Promise<boolean> }).opened
  expect(await Promise.all([opened(a), opened(b)])).toEqual([true, true])
  const hash = (s: SwarmConnection) =>
    b4a.toString((s as unknown as { handshakeHash: Buffer }).handshakeHash, 'hex')
  const hashes = [hash(a), hash(b)]
  a.destroy()
  b.destroy()
  return hashes
}

describe('real Noise in the simulator (--real-noise)', () => {
  it('makes the same handshake hash from the same keys: a seed replays a run', async () => {
    const keys = () => ({ a: crypto.keyPair(seed(3)), b: crypto.keyPair(seed(4)) })
    const [a1, b1] = await handshakeHashes(keys())
    // Both ends agree, and a second pair from the same keys hashes the same: what orders two
    // connections between the same ends and what topic proofs are bound to replays.
    expect(b1).toBe(a1)
    expect(await handshakeHashes(keys())).toEqual([a1, a1])
    // Other ephemeral keys, another hash: the given keys are the ones the handshake used.
    const other = await handshakeHashes({ a: crypto.keyPair(seed(5)), b: crypto.keyPair(seed(4)) })
    expect(other[0]).not.toBe(a1)
  })

  it('draws ephemeral keys at random without them (why the network gives them)', async () => {
    const [first] = await handshakeHashes()
    const [second] = await handshakeHashes()
    expect(second).not.toBe(first)
  })
})
