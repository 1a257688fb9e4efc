import b4a from 'b4a'
import crypto from 'hypercore-crypto'
import { describe, expect, it } from 'vitest'
import type { Networker, NetworkerPeer } from '../../src/index.js'
import { hex } from '../helpers/assertions.js'
import { eventually, useRealNetwork } from '../helpers/real-network.js'

/*
 * Issue 19, item 1: over each kept connection between two networkers each side proves the
 * topics it has joined; `peer.topics` and `peersOf` say which are shared, events say when
 * that changes, and topics joined or left later are proven or withdrawn on the live
 * connection. Real Hyperswarm on a loopback testnet.
 */

const testnet = useRealNetwork()

const peerOf = (from: Networker, to: Networker): NetworkerPeer => {
  const peer = from.getPeer(to.keyPair.publicKey)
  if (peer === null) throw new Error('not connected')
  return peer
}

const topicsOf = (from: Networker, to: Networker): string[] =>
  (from.getPeer(to.keyPair.publicKey)?.topics ?? []).map((t) => hex(t)).sort()

function record(n: Networker): string[] {
  const events: string[] = []
  n.on('peer-topic-add', (_peer, dk) => events.push(`+${hex(dk).slice(0, 6)}`))
  n.on('peer-topic-remove', (_peer, dk) => events.push(`-${hex(dk).slice(0, 6)}`))
  return events
}

/** A plain Hyperswarm that announces `topics` and replicates a store: it proves nothing. */
async function plainPeer(topics: Buffer[]): Promise<Networker> {
  // The store first: torn down in reverse, the swarm goes before the store it feeds.
  const plainStore = await testnet().store()
  const plain = testnet().plainSwarm()
  plain.on('connection', (conn: unknown) => plainStore.replicate(conn))
  for (const topic of topics) plain.join(topic, { server: true, client: false })
  await plain.flush()
  // peerOf needs only its key pair.
  return { keyPair: plain.keyPair } as unknown as Networker
}

describe('topic-aware peers', () => {
  it('each side sees exactly the topics both have joined, and follows joins and leaves', async () => {
    const { networker: a } = await testnet().networker()
    const { networker: b } = await testnet().networker()
    const [t1, t2, t3] = [0, 1, 2].map(() => crypto.randomBytes(32)) as [Buffer, Buffer, Buffer]
    const [h1, h2, h3] = [t1, t2, t3].map((t) => hex(t)) as [string, string, string]
    const eventsA = record(a)
    const eventsB = record(b)
    // a: t1 (announce) and t2; b: t2 (lookup) and t3. They meet on t2 only.
    await a.configure(t1, { announce: true, lookup: false })
    await b.configure(t3, { announce: true, lookup: false })
    await a.configure(t2, { announce: true, lookup: false })
    await b.configure(t2, { announce: false, lookup: true })
    await eventually(() => topicsOf(a, b).length === 1 && topicsOf(b, a).length === 1, 'proven')
    expect(topicsOf(a, b)).toEqual([h2])
    expect(topicsOf(b, a)).toEqual([h2])
    expect(a.peersOf(t2)).toEqual([peerOf(a, b)])
    expect(a.peersOf(h2)).toEqual([peerOf(a, b)])
    expect(a.peersOf(t1)).toEqual([])
    expect(b.peersOf(t3)).toEqual([])

    // b joins t1 later: both sides gain it on the live connection.
    await b.configure(t1, { announce: false, lookup: true, flush: false })
    await eventually(() => topicsOf(a, b).length === 2 && topicsOf(b, a).length === 2, 't1 shared')
    expect(topicsOf(a, b)).toEqual([h1, h2].sort())
    expect(topicsOf(b, a)).toEqual([h1, h2].sort())
    expect(a.peersOf(t1)).toEqual([peerOf(a, b)])

    // a leaves t2: withdrawn at both ends; the connection stays (closeOnLeave is off).
    await a.configure(t2, { announce: false, lookup: false })
    await eventually(() => topicsOf(b, a).length === 1, 't2 withdrawn')
    expect(topicsOf(a, b)).toEqual([h1])
    expect(topicsOf(b, a)).toEqual([h1])
    expect(b.peersOf(t2)).toEqual([])
    expect(a.peers.size).toBe(1)

    // a joins t3 (b has it): shared again without reconnecting.
    await a.configure(t3, { announce: false, lookup: true, flush: false })
    await eventually(() => topicsOf(a, b).length === 2 && topicsOf(b, a).length === 2, 't3 shared')
    expect(topicsOf(a, b)).toEqual([h1, h3].sort())

    const short = (h: string) => h.slice(0, 6)
    // One event per change; what the peer had when listed came with 'peer-add'.
    expect(eventsA.filter((e) => e !== `+${short(h2)}`)).toEqual([
      `+${short(h1)}`,
      `-${short(h2)}`,
      `+${short(h3)}`,
    ])
    expect(eventsB.filter((e) => e !== `+${short(h2)}`)).toEqual([
      `+${short(h1)}`,
      `-${short(h2)}`,
      `+${short(h3)}`,
    ])
  })

  it('a plain Hyperswarm peer: the topics our lookups found it under stand in for proofs', async () => {
    const { networker: a } = await testnet().networker()
    const topic = crypto.randomBytes(32)
    const other = crypto.randomBytes(32)
    const plain = await plainPeer([topic])
    await a.configure(other, { announce: false, lookup: true })
    await a.configure(topic, { announce: false, lookup: true })
    const peer = peerOf(a, plain)
    expect(peer.topics.map((t) => hex(t))).toEqual([hex(topic)])
    expect(a.peersOf(topic)).toEqual([peer])
    const removed: Buffer[] = []
    a.on('peer-topic-remove', (_p, dk) => removed.push(dk))
    await a.configure(topic, { announce: false, lookup: false })
    expect(removed.map((t) => hex(t))).toEqual([hex(topic)])
    expect(peer.topics).toEqual([])
    expect(b4a.isBuffer(removed[0])).toBe(true)
  })

  it('a plain Hyperswarm peer found again under a second topic shares it once that configure resolves', async () => {
    const { networker: a } = await testnet().networker()
    const first = crypto.randomBytes(32)
    const second = crypto.randomBytes(32)
    const plain = await plainPeer([first, second])
    await a.configure(first, { announce: false, lookup: true })
    const peer = peerOf(a, plain)
    expect(peer.topics.map((t) => hex(t))).toEqual([hex(first)])
    const added: string[] = []
    a.on('peer-topic-add', (p, dk) => {
      if (p === peer) added.push(hex(dk))
    })
    // The lookup of the second topic finds the peer it is connected to already: no new
    // connection, only Hyperswarm's record of the peer lists the topic too.
    await a.configure(second, { announce: false, lookup: true })
    expect(added).toEqual([hex(second)])
    expect(peer.topics.map((t) => hex(t)).sort()).toEqual([hex(first), hex(second)].sort())
    expect(a.peersOf(second)).toEqual([peer])
  })

  it('closeOnLeave: leaving the last shared topic closes the connection after the grace, as unneeded', async () => {
    const { networker: a } = await testnet().networker({
      closeOnLeave: true,
      closeOnLeaveGrace: 300,
    })
    const { networker: b } = await testnet().networker()
    const [t1, t2] = [crypto.randomBytes(32), crypto.randomBytes(32)]
    for (const t of [t1, t2]) {
      await a.configure(t, { announce: true, lookup: false })
      await b.configure(t, { announce: false, lookup: true })
    }
    await eventually(() => topicsOf(a, b).length === 2, 'both shared')
    const drops: string[] = []
    a.on('connection-drop', (d) => drops.push(`${d.reason}:${d.peer === null ? 'x' : 'peer'}`))
    // Leaving one of two: nothing closes.
    await a.configure(t1, { announce: false, lookup: false })
    await new Promise((r) => setTimeout(r, 600))
    expect(a.peers.size).toBe(1)
    // Leaving the last: closed after the grace, and b does not dial back (nothing shared).
    const left = Date.now()
    await a.configure(t2, { announce: false, lookup: false })
    await eventually(() => a.peers.size === 0 && b.peers.size === 0, 'closed')
    expect(Date.now() - left).toBeGreaterThanOrEqual(250)
    expect(drops).toEqual(['unneeded:peer'])
    await new Promise((r) => setTimeout(r, 1000))
    expect(a.peers.size + b.peers.size).toBe(0)
  })

  it('without closeOnLeave, a peer sharing nothing after a leave stays connected', async () => {
    const { networker: a } = await testnet().networker()
    const { networker: b } = await testnet().networker()
    const t = crypto.randomBytes(32)
    await a.configure(t, { announce: true, lookup: false })
    await b.configure(t, { announce: false, lookup: true })
    await eventually(() => topicsOf(a, b).length === 1, 'shared')
    await a.configure(t, { announce: false, lookup: false })
    await eventually(() => topicsOf(b, a).length === 0, 'withdrawn')
    await new Promise((r) => setTimeout(r, 500))
    expect(a.peers.size).toBe(1)
    expect(b.peers.size).toBe(1)
  })

  it('with no one listening for topic events, peer.topics still follows; a listener added later hears what changes next', async () => {
    const { networker: a } = await testnet().networker()
    const { networker: b } = await testnet().networker()
    const [t1, t2] = [0, 1].map(() => crypto.randomBytes(32)) as [Buffer, Buffer]
    const [h1, h2] = [t1, t2].map((t) => hex(t)) as [string, string]
    // Neither side listens: the changes are made, their events are not.
    await a.configure(t1, { announce: true, lookup: false })
    await b.configure(t1, { announce: false, lookup: true })
    await eventually(() => topicsOf(a, b).length === 1 && topicsOf(b, a).length === 1, 'proven')
    expect(topicsOf(a, b)).toEqual([h1])
    // From now on a listens: it hears t2 come and t1 go, with their keys as bytes.
    const eventsA = record(a)
    await b.configure(t2, { announce: false, lookup: true, flush: false })
    await a.configure(t2, { announce: false, lookup: true, flush: false })
    await eventually(() => topicsOf(a, b).length === 2, 't2 shared')
    await b.configure(t1, { announce: false, lookup: false })
    await eventually(() => topicsOf(a, b).length === 1, 't1 withdrawn')
    expect(topicsOf(a, b)).toEqual([h2])
    expect(eventsA).toEqual([`+${h2.slice(0, 6)}`, `-${h1.slice(0, 6)}`])
  })
})
