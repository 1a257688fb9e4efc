import { describe, expect, it } from 'vitest'
import { Link, Prng, StandInSecretStream, VirtualClock } from '../../sim/index.js'
import { handshakeHash } from '../../sim/stand-in-stream.js'

// The second end of a link takes the hash the first end made (one BLAKE2b call per link):
// it must still be the hash of both keys and the link, and each end's own buffer.
describe("the stand-in's handshake hash, made once per link", () => {
  it('is the same bytes at both ends, in two buffers', async () => {
    const clock = new VirtualClock()
    const link = new Link(9, clock, 2, 'sim:0', 'sim:1', 0, 1)
    const prng = new Prng(2)
    const keys = [prng.bytes(32), prng.bytes(32)] as const
    const a = new StandInSecretStream(true, link.a, {
      publicKey: keys[0],
      secretKey: prng.bytes(64),
    })
    const b = new StandInSecretStream(false, link.b, {
      publicKey: keys[1],
      secretKey: prng.bytes(64),
    })
    await clock.runUntil(100)
    const expected = handshakeHash(keys[0], keys[1], 9)
    expect(a.handshakeHash).toEqual(expected)
    expect(b.handshakeHash).toEqual(expected)
    expect(a.handshakeHash).not.toBe(b.handshakeHash)
    // Nothing of it is left on the link once both ends took theirs.
    expect(link.handshakeMemo).toBeNull()
  })
})
