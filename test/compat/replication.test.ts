import b4a from 'b4a'
import crypto from 'hypercore-crypto'
import { describe, expect, it } from 'vitest'
import type { Networker, NetworkerPeer } from '../../src/index.js'
import {
  append,
  cleanup,
  compatNetwork,
  delay,
  get,
  keyOf,
  newCore,
  original,
  replicaOf,
  within,
} from './helpers.js'

/*
 * The replication, status, close and peer tests of the original @corestore/networker 1.2.1
 * (test/all.js at 6499156), in its order and with its assertions, on real Hyperswarm 4 and
 * Corestore 7. Assertions the original made inside event handlers are made here on what the
 * handler saw at that moment: an expect() throwing inside a listener would throw into the
 * networker's own event dispatch instead of failing the test.
 */

const create = compatNetwork()

describe('original test/all.js: replication', () => {
  it('simple replication', async () => {
    const { store: store1, networker: networker1 } = await create()
    const { store: store2, networker: networker2 } = await create()

    const core1 = await newCore(store1)
    const core2 = await replicaOf(store2, core1.key)

    await networker1.configure(core1.discoveryKey)
    await networker2.configure(core2.discoveryKey)

    await append(core1, 'hello')
    const data = await get(core2, 0)
    expect(data).toEqual(b4a.from('hello'))

    await cleanup([networker1, networker2])
  })

  it('replicate multiple top-level cores', async () => {
    const { store: store1, networker: networker1 } = await create()
    const { store: store2, networker: networker2 } = await create()

    const core1 = await newCore(store1)
    const core2 = await newCore(store1)
    const core3 = await replicaOf(store2, core1.key)
    const core4 = await replicaOf(store2, core2.key)

    await networker1.configure(core1.discoveryKey)
    await networker1.configure(core2.discoveryKey)
    await networker2.configure(core2.discoveryKey)
    await networker2.configure(core3.discoveryKey)

    await append(core1, 'hello')
    await append(core2, 'world')
    const d1 = await get(core3, 0)
    const d2 = await get(core4, 0)
    expect(d1).toEqual(b4a.from('hello'))
    expect(d2).toEqual(b4a.from('world'))

    await cleanup([networker1, networker2])
  })

  it('replicate to multiple receivers', async () => {
    const { store: store1, networker: networker1 } = await create()
    const { store: store2, networker: networker2 } = await create()
    const { store: store3, networker: networker3 } = await create()

    const core1 = await newCore(store1)
    const core2 = await replicaOf(store2, core1.key)
    const core3 = await replicaOf(store3, core1.key)

    await networker1.configure(core1.discoveryKey)
    await networker2.configure(core2.discoveryKey)
    await networker3.configure(core3.discoveryKey)

    await append(core1, 'hello')
    const d1 = await get(core2, 0)
    const d2 = await get(core3, 0)
    expect(d1).toEqual(b4a.from('hello'))
    expect(d2).toEqual(b4a.from('hello'))

    await cleanup([networker1, networker2, networker3])
  })

  it('replicate sub-cores', async () => {
    const { store: store1, networker: networker1 } = await create()
    const { store: store2, networker: networker2 } = await create()

    const core1 = await newCore(store1)
    const core3 = await replicaOf(store2, core1.key)

    await networker1.configure(core1.discoveryKey)
    await networker2.configure(core3.discoveryKey)

    // Corestore 5's `parents` (a sub-core replicated along with its parent) is gone in
    // Corestore 7, which replicates every open core over every replicated stream. What the
    // original tested stays: a second core, opened on both ends after the topic was
    // configured and never configured itself, replicates over the connection made for the
    // first one.
    const core2 = await newCore(store1)
    const core4 = await replicaOf(store2, core2.key)

    await append(core1, 'hello')
    await append(core2, 'world')
    const d1 = await get(core3, 0)
    const d2 = await get(core4, 0)
    expect(d1).toEqual(b4a.from('hello'))
    expect(d2).toEqual(b4a.from('world'))

    await cleanup([networker1, networker2])
  })

  it('can replicate using a custom keypair', async () => {
    // HypercoreProtocol.keyPair() was a Noise (ed25519) key pair: hypercore-crypto's.
    const keyPair1 = crypto.keyPair()
    const keyPair2 = crypto.keyPair()
    const { store: store1, networker: networker1 } = await create({ keyPair: keyPair1 })
    const { store: store2, networker: networker2 } = await create({ keyPair: keyPair2 })

    const core1 = await newCore(store1)
    const core3 = await replicaOf(store2, core1.key)

    await networker1.configure(core1.discoveryKey)
    await networker2.configure(core3.discoveryKey)

    const core2 = await newCore(store1)
    const core4 = await replicaOf(store2, core2.key)

    await append(core1, 'hello')
    await append(core2, 'world')
    const d1 = await get(core3, 0)
    const d2 = await get(core4, 0)
    expect(d1).toEqual(b4a.from('hello'))
    expect(d2).toEqual(b4a.from('world'))

    {
      expect(original(networker1).streams).toBeInstanceOf(Set)
      const streams = [...original(networker1).streams]
      expect(keyOf(streams[0]!.remotePublicKey)).toBe(keyOf(keyPair2.publicKey))
      expect(keyOf(streams[0]!.publicKey)).toBe(keyOf(keyPair1.publicKey))
    }

    {
      expect(original(networker2).streams).toBeInstanceOf(Set)
      const streams = [...original(networker2).streams]
      expect(keyOf(streams[0]!.remotePublicKey)).toBe(keyOf(keyPair1.publicKey))
      expect(keyOf(streams[0]!.publicKey)).toBe(keyOf(keyPair2.publicKey))
    }

    await cleanup([networker1, networker2])
  })
})

describe('original test/all.js: status, close, peers', () => {
  it('join status only emits flushed after all handshakes', async () => {
    const { store: store1, networker: networker1 } = await create()
    const { store: store2, networker: networker2 } = await create()
    const { store: store3, networker: networker3 } = await create()

    const core1 = await newCore(store1)
    const core2 = await replicaOf(store2, core1.key)
    await append(core1, 'hello')

    let join2Flushed = 0
    let join3Flushed = 0
    let join2FlushPeers = 0
    let join3FlushPeers = 0

    await networker1.configure(core1.discoveryKey)
    original(networker2).on('flushed', (dkey) => {
      if (!b4a.equals(dkey, core1.discoveryKey)) return
      join2Flushed++
      join2FlushPeers = core2.peers.length
    })
    await networker2.configure(core1.discoveryKey)

    const core3 = await replicaOf(store3, core1.key)
    const allFlushed = new Promise<{ join2Flushed: number; join2FlushPeers: number }>((resolve) => {
      original(networker3).on('flushed', (dkey) => {
        if (!b4a.equals(dkey, core1.discoveryKey)) return
        join3Flushed++
        join3FlushPeers = core3.peers.length
        // What allFlushed() read in the original, at this moment.
        resolve({ join2Flushed, join2FlushPeers })
      })
    })
    // Not awaited, as in the original: the 'flushed' event is what is under test.
    networker3.configure(core1.discoveryKey).catch(() => {})

    const seen = await within(allFlushed, "networker3's 'flushed' event")
    expect(seen.join2Flushed).toBe(1)
    expect(seen.join2FlushPeers >= 1).toBe(true)
    expect(join3Flushed).toBe(1)
    expect(join3FlushPeers >= 2).toBe(true)
    await cleanup([networker1, networker2, networker3])
  })

  it('can destroy multiple times', async () => {
    const { networker } = await create()

    await networker.close()
    await networker.close()
    // t.pass('closed successfully'): both closes resolved.

    await cleanup([networker])
  })

  it('peers are correctly added/removed', async () => {
    const { networker: networker1 } = await create()
    const { networker: networker2 } = await create()
    const { networker: networker3 } = await create()

    const dkey = crypto.randomBytes(32)
    await networker1.configure(dkey)

    // Each handler's view: the peer's key and networker1.peers.size when it ran.
    const seen = (peer: NetworkerPeer) => ({
      key: keyOf(peer.remotePublicKey),
      size: networker1.peers.size,
    })
    const joins: { key: string; size: number }[] = []
    const leaves: { key: string; size: number }[] = []

    const twoJoinsProm = new Promise<void>((resolve) => {
      networker1.once('peer-add', (peer) => {
        joins.push(seen(peer))
        networker1.once('peer-add', (peer) => {
          joins.push(seen(peer))
          resolve()
        })
      })
    })

    const twoLeavesProm = new Promise<void>((resolve) => {
      networker1.once('peer-remove', (peer) => {
        leaves.push(seen(peer))
        networker1.once('peer-remove', (peer) => {
          leaves.push(seen(peer))
          resolve()
        })
      })
    })

    await networker2.configure(dkey, { announce: false, lookup: true, flush: true })
    await networker3.configure(dkey, { announce: false, lookup: true, flush: true })

    await delay(100)

    await networker2.close()
    await networker3.close()

    await within(Promise.all([twoJoinsProm, twoLeavesProm]), 'two peer-adds and two peer-removes')

    expect(joins[0]!.key).toBe(keyOf(networker2.keyPair.publicKey))
    expect(joins[1]!.key).toBe(keyOf(networker3.keyPair.publicKey))
    expect(joins[1]!.size).toBe(2)
    expect(leaves[0]!.key).toBe(keyOf(networker2.keyPair.publicKey))
    expect(leaves[1]!.key).toBe(keyOf(networker3.keyPair.publicKey))
    expect(leaves[1]!.size).toBe(0)

    await cleanup([networker1])
  })

  it('onauthentication hook', async () => {
    // Made after networker1, whose hook reads it, as in the original.
    let networker2: Networker | null = null
    const hookKeys: string[] = []
    const { networker: networker1 } = await create({
      onauthenticate(peerPublicKey: Buffer, cb: (err?: Error) => void) {
        hookKeys.push(keyOf(peerPublicKey))
        cb()
      },
    })
    // Every connection networker1's swarm hands over from networker2.
    let connections = 0
    networker1.swarm.on('connection', (conn: { remotePublicKey: Buffer }) => {
      if (networker2 !== null && b4a.equals(conn.remotePublicKey, networker2.keyPair.publicKey)) {
        connections++
      }
    })
    networker2 = (await create()).networker

    const dkey = crypto.randomBytes(32)
    await networker1.configure(dkey)
    await networker2.configure(dkey)

    await delay(100)
    // t.plan(2) with the one deepEquals in the hook: the hook ran once per connection, each
    // time with networker2's key. Under Hyperswarm 2 both ends dialled, so there were two
    // connections; Hyperswarm 4 does not dial a key it is already connected to, so there is
    // usually one. The meaning is kept: at least one call, one per connection, every call
    // with networker2's key.
    expect(hookKeys.length >= 1).toBe(true)
    expect(hookKeys.length).toBe(connections)
    for (const key of hookKeys) expect(key).toBe(keyOf(networker2.keyPair.publicKey))
    await cleanup([networker1, networker2])
  })
})
