import b4a from 'b4a'
import fc from 'fast-check'
import crypto from 'hypercore-crypto'
import sodium from 'sodium-universal'
import { describe, expect, it } from 'vitest'
import { proveTopic, proveTopicHex } from '../../src/io/topic-proof-crypto.js'

/**
 * A topic proof is BLAKE2b-256 keyed by the handshake hash over NS[role] ‖ discoveryKey
 * (topic-proof-crypto.ts): made in one call over a reused buffer, it must be the same bytes
 * as the batch call over the two parts, which is how the proof is defined, for either role,
 * again and again (the buffer is reused), and for keys of another length too.
 */
const [NS_INITIATOR, NS_RESPONDER] = crypto.namespace('chainstore-networker/topic-proof', 2)

function reference(key: Uint8Array, hash: Uint8Array, initiator: boolean): Buffer {
  const out = b4a.alloc(32)
  const ns = (initiator ? NS_INITIATOR : NS_RESPONDER) as Buffer
  sodium.crypto_generichash_batch(out, [ns, key], hash)
  return out
}

describe('topic proofs', () => {
  it('are the keyed BLAKE2b of the role namespace and the key, as the batch call computes it', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 64, maxLength: 64 }),
        fc.boolean(),
        (key, hash, initiator) => {
          expect(hex(proveTopic(key, hash, initiator))).toBe(hex(reference(key, hash, initiator)))
        },
      ),
    )
  })

  it('differ by role, and keys of another length are proven the same way', () => {
    const key = b4a.alloc(32, 7)
    const hash = b4a.alloc(64, 9)
    expect(hex(proveTopic(key, hash, true))).not.toBe(hex(proveTopic(key, hash, false)))
    const short = b4a.alloc(20, 3)
    expect(hex(proveTopic(short, hash, false))).toBe(hex(reference(short, hash, false)))
  })

  it('made from the key as hex are the same bytes, one after another (the message is reused)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { minLength: 1, maxLength: 4 }),
        fc.uint8Array({ minLength: 64, maxLength: 64 }),
        fc.boolean(),
        (keys, hash, initiator) => {
          const made = keys.map((key) => hex(proveTopicHex(hex(key), hash, initiator)))
          expect(made).toEqual(keys.map((key) => hex(reference(key, hash, initiator))))
        },
      ),
    )
    // Hex that is not 32 bytes' worth (never a claimed topic) is proven the general way.
    const hash = b4a.alloc(64, 9)
    expect(hex(proveTopicHex('0a0b', hash, true))).toBe(
      hex(reference(b4a.from('0a0b', 'hex'), hash, true)),
    )
    const bad = `${'ab'.repeat(31)}zz`
    expect(hex(proveTopicHex(bad, hash, true))).toBe(
      hex(reference(b4a.from(bad, 'hex'), hash, true)),
    )
  })
})

function hex(b: Uint8Array): string {
  return b4a.toString(b, 'hex')
}
