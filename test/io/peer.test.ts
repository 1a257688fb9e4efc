import { describe, expect, it } from 'vitest'
import { bytesToHex } from '../../src/core/keys.js'
import type { SwarmConnection } from '../../src/index.js'
import { ListedPeer, type NetworkerPeer, peerKeyHex } from '../../src/io/peer.js'

/*
 * A listed peer keeps its remote key in hex, made once by the connection table, so the parts
 * that index peers by key do not each convert it again; any other peer's key is converted.
 */

const stream = {} as SwarmConnection

describe('peerKeyHex', () => {
  it("reads a listed peer's key from the peer, as the connection table made it", () => {
    const key = Buffer.alloc(32, 0xab)
    // A string that is not the key's own hex shows it is the one kept, not made again.
    const peer = new ListedPeer(key, null, 'udx', stream, undefined, 1, 'kept')
    expect(peerKeyHex(peer)).toBe('kept')
  })

  it("makes the hex of any other peer's key", () => {
    const key = Buffer.alloc(32, 0x0f)
    const peer: NetworkerPeer = {
      remotePublicKey: key,
      remoteAddress: null,
      type: 'udx',
      stream,
      topics: [],
    }
    expect(peerKeyHex(peer)).toBe(bytesToHex(key))
    expect(peerKeyHex(peer)).toBe('0f'.repeat(32))
  })
})
