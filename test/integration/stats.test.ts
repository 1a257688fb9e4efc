import b4a from 'b4a'
import { describe, expect, it } from 'vitest'
import type { ExtensionCounts, Networker, PeerStats } from '../../src/index.js'
import { hex } from '../helpers/assertions.js'
import { eventually, useRealNetwork } from '../helpers/real-network.js'

const testnet = useRealNetwork()

const BLOCK = 4096
const BLOCKS = 64

/** A writer with a core of BLOCKS blocks and a reader that replicated all of it. */
async function replicated() {
  const { networker: writer, store: ws } = await testnet().networker()
  const { networker: reader, store: rs } = await testnet().networker()
  const core = ws.get({ name: 'stats' })
  await core.ready()
  await core.append(Array.from({ length: BLOCKS }, (_, i) => b4a.alloc(BLOCK, i)))
  const replica = rs.get({ key: core.key })
  await replica.ready()
  await writer.configure(core.discoveryKey, { announce: true, lookup: false })
  await reader.configure(replica.discoveryKey, { announce: false, lookup: true })
  await replica.download({ start: 0, end: BLOCKS }).done()
  return { writer, reader, core, replica }
}

function onlyPeer(networker: Networker): PeerStats {
  const { peers } = networker.stats()
  expect(peers).toHaveLength(1)
  return peers[0]!
}

describe('networker.stats() on a real testnet with Corestore replication', () => {
  it('reports each peer: key, address, path, age, bytes and packets both ways, RTT, window, topics', async () => {
    const { writer, reader, core } = await replicated()
    await eventually(() => writer.peers.size === 1, 'the writer lists the reader')

    const r = onlyPeer(reader)
    expect(r.remoteKey).toBe(hex(writer.keyPair.publicKey))
    expect(r.remoteAddress).toMatch(/^127\.0\.0\.1:\d+$/)
    expect(r.type).toBe('udx')
    expect(r.path).toBe('loopback')
    expect(r.initiator).toBe(true)
    expect(r.ageMs).toBeGreaterThan(0)
    // The whole core came over this connection: its blocks, plus proofs and framing.
    expect(r.bytesReceived).toBeGreaterThan(BLOCK * BLOCKS)
    expect(r.replicationBytesReceived).toBe(r.bytesReceived)
    expect(r.bytesSent).toBeGreaterThan(0)
    expect(r.packetsReceived).toBeGreaterThan((BLOCK * BLOCKS) / 1500)
    expect(r.packetsSent).toBeGreaterThan(0)
    expect(r.rttMs).toBeGreaterThanOrEqual(0)
    expect(r.cwnd).toBeGreaterThan(0)
    expect(r.inflight).toBeGreaterThanOrEqual(0)
    expect(r.retransmits).toBeGreaterThanOrEqual(0)
    expect(r.rtoCount).toBeGreaterThanOrEqual(0)
    // Both joined the core's discovery key: each proves it to the other (peer.topics).
    await eventually(() => onlyPeer(reader).topics.length === 1, 'the reader knows the topic')
    expect(onlyPeer(reader).topics).toEqual([hex(core.discoveryKey)])
    expect(r.extensions).toEqual({})

    // The writer's view of the same connection: it was dialed, and shares the topic too.
    // What one end sent, the other received: the secret stream counts each message's
    // 3-byte length prefix when writing and not when reading.
    await eventually(() => onlyPeer(writer).topics.length === 1, 'the writer knows the topic')
    const w = onlyPeer(writer)
    expect(w.remoteKey).toBe(hex(reader.keyPair.publicKey))
    expect(w.initiator).toBe(false)
    expect(w.topics).toEqual([hex(core.discoveryKey)])
    await eventually(() => {
      const gap = onlyPeer(writer).bytesSent - onlyPeer(reader).bytesReceived
      return gap >= 0 && gap % 3 === 0 && gap < onlyPeer(reader).bytesReceived * 0.05
    }, 'both ends agree on the bytes, but for the length prefixes')

    const totals = reader.stats().totals
    expect(totals).toMatchObject({
      peers: 1,
      connections: 1,
      connectionsOpened: 1,
      duplicatesDropped: 0,
      authenticationRejections: 0,
      inboundOverflows: 0,
      reconnects: 0,
      topics: { joined: 1, joining: 0, flushing: 0, leaving: 0 },
    })
    expect(totals.bytesReceived).toBe(onlyPeer(reader).bytesReceived)
    expect(Object.values(totals.connectionsClosed).every((n) => n === 0)).toBe(true)
  })

  it('counts extension messages per peer and per extension, and keeps totals once the peer is gone', async () => {
    const { writer, reader } = await replicated()
    const seen: string[] = []
    const extW = writer.registerExtension('chat', { encoding: 'utf8', maxMessageSize: 10 })
    const extR = reader.registerExtension('chat', {
      encoding: 'utf8',
      onmessage: (m: string) => seen.push(m),
    })
    const peer = writer.getPeer(reader.keyPair.publicKey)!
    await eventually(() => extW.has(peer), 'the reader has chat')
    const before = onlyPeer(writer).bytesSent
    for (const text of ['one', 'two', 'three']) extW.send(text, peer)
    await eventually(() => seen.length === 3, 'three messages')
    // Over the writer's 10-byte limit: it arrives, and is dropped there.
    extR.send('far more than ten bytes', writer.keyPair.publicKey)
    await eventually(() => onlyPeer(writer).extensions.chat?.dropped === 1, 'the oversized one')

    const sent: ExtensionCounts = onlyPeer(writer).extensions.chat!
    expect(sent).toEqual({ sent: 3, received: 1, dropped: 1, bytesSent: 11, bytesReceived: 23 })
    expect(onlyPeer(reader).extensions.chat).toEqual({
      sent: 1,
      received: 3,
      dropped: 0,
      bytesSent: 23,
      bytesReceived: 11,
    })
    // Extension payload is not counted as replication.
    const w = onlyPeer(writer)
    expect(w.replicationBytesSent).toBe(w.bytesSent - 11)
    expect(w.bytesSent - before).toBeGreaterThanOrEqual(11)

    // The peer leaves: its counts stay in the totals, and its close is counted.
    const bytesBefore = writer.stats().totals.bytesSent
    await reader.close()
    await eventually(() => writer.peers.size === 0, 'the writer sees the reader go')
    const totals = writer.stats().totals
    expect(totals.peers).toBe(0)
    expect(totals.connections).toBe(0)
    expect(totals.connectionsClosed.ended).toBe(1)
    expect(totals.bytesSent).toBeGreaterThanOrEqual(bytesBefore)
    expect(totals.extensions.chat).toEqual({
      sent: 3,
      received: 1,
      dropped: 1,
      bytesSent: 11,
      bytesReceived: 23,
    })
  })
})
