import b4a from 'b4a'
import crypto from 'hypercore-crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { type KeyPair, Networker, type NetworkerOptions } from '../../src/index.js'
import { relayedStreams, scopeOf } from '../../src/io/connection-path.js'
import { MemorySwarm } from '../helpers/memory-swarm.js'
import { eventually } from '../helpers/real-network.js'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
})

const idleStore = { replicate: (): void => {} }

function node(keyPair?: KeyPair, opts: NetworkerOptions = {}) {
  const swarm = new MemorySwarm(keyPair)
  const networker = new Networker(idleStore, { swarm, ...opts })
  cleanups.push(() => networker.close())
  return { networker, swarm }
}

/** Two key pairs, the first with the smaller public key. */
function orderedKeys(): [KeyPair, KeyPair] {
  const pairs = [crypto.keyPair(), crypto.keyPair()].sort((x, y) =>
    b4a.compare(x.publicKey, y.publicKey),
  )
  return [pairs[0]!, pairs[1]!]
}

describe('stats(): connections counted by how they ended', () => {
  it('counts a duplicate dropped by the key rule, under duplicatesDropped and closed{duplicate}', async () => {
    // The remote is a bare swarm that never answers, so neither connection carries data
    // both ways and the key rule decides: keep the one whose initiator has the larger key.
    const [small, large] = orderedKeys()
    const a = node(large)
    const silent = new MemorySwarm(small)
    cleanups.push(() => silent.destroy())
    MemorySwarm.connect(silent, a.swarm)
    await eventually(() => a.networker.peers.size === 1, 'the first connection is listed')
    MemorySwarm.connect(a.swarm, silent)
    await eventually(
      () => a.networker.stats().totals.connectionsClosed.duplicate === 1,
      'the first connection is closed as a duplicate',
    )
    const { totals, peers } = a.networker.stats()
    expect(totals).toMatchObject({ connectionsOpened: 2, duplicatesDropped: 1, peers: 1 })
    expect(totals.connections).toBe(1)
    expect(peers).toHaveLength(1)
    expect(peers[0]!.initiator).toBe(true)
    // In memory there is no address and no UDX: the path is unknown, the UDX figures null.
    expect(peers[0]).toMatchObject({ path: 'unknown', rttMs: null, cwnd: null, packetsSent: null })
  })

  it('counts a peer that comes back as a reconnect, and the close before it as ended', async () => {
    const a = node()
    const b = node()
    const first = MemorySwarm.connect(a.swarm, b.swarm)
    await eventually(() => a.networker.peers.size === 1, 'connected')
    first.b.destroy()
    await eventually(() => a.networker.peers.size === 0, 'gone')
    expect(a.networker.stats().totals).toMatchObject({ reconnects: 0 })
    expect(a.networker.stats().totals.connectionsClosed.ended).toBe(1)
    MemorySwarm.connect(b.swarm, a.swarm)
    await eventually(() => a.networker.peers.size === 1, 'connected again')
    expect(a.networker.stats().totals).toMatchObject({ reconnects: 1, connectionsOpened: 2 })
  })

  it('counts authentication rejections and connections over maxPeers, each under its reason', async () => {
    const gate = node(undefined, {
      maxPeers: 1,
      onauthenticate: async (key) => !b4a.equals(key, rejected.swarm.keyPair.publicKey),
    })
    const accepted = node()
    const rejected = node()
    const extra = node()
    MemorySwarm.connect(accepted.swarm, gate.swarm)
    await eventually(() => gate.networker.peers.size === 1, 'the first peer')
    MemorySwarm.connect(rejected.swarm, gate.swarm)
    MemorySwarm.connect(extra.swarm, gate.swarm)
    await eventually(() => {
      const closed = gate.networker.stats().totals.connectionsClosed
      return closed.rejected === 1 && closed.limit === 1
    }, 'one rejected, one over the limit')
    expect(gate.networker.stats().totals).toMatchObject({
      connectionsOpened: 3,
      authenticationsAccepted: 2,
      authenticationRejections: 1,
      peers: 1,
    })
  })

  it('counts a peer closed for silence past livenessTimeout as timeout', async () => {
    const a = node(undefined, { livenessTimeout: 300 })
    const silent = new MemorySwarm()
    cleanups.push(() => silent.destroy())
    MemorySwarm.connect(silent, a.swarm)
    await eventually(() => a.networker.peers.size === 1, 'listed')
    await eventually(
      () => a.networker.stats().totals.connectionsClosed.timeout === 1,
      'closed for silence',
    )
    expect(a.networker.stats().totals.connectionsClosed.ended).toBe(0)
  })

  it("counts the networker's own close as closing", async () => {
    const a = node()
    const b = node()
    MemorySwarm.connect(a.swarm, b.swarm)
    await eventually(() => a.networker.peers.size === 1, 'connected')
    await a.networker.close()
    expect(a.networker.stats().totals.connectionsClosed.closing).toBe(1)
    expect(a.networker.stats().totals.connections).toBe(0)
  })
})

describe('the connection path', () => {
  it('tells loopback, private and public addresses apart', () => {
    expect(scopeOf('127.0.0.1')).toBe('loopback')
    expect(scopeOf('::1')).toBe('loopback')
    expect(scopeOf('::ffff:127.0.0.1')).toBe('loopback')
    for (const lan of ['10.1.2.3', '172.16.0.1', '172.31.255.1', '192.168.1.9', '169.254.3.4'])
      expect(scopeOf(lan)).toBe('lan')
    for (const lan of ['fe80::1', 'fd12:3456::1', 'fc00::1']) expect(scopeOf(lan)).toBe('lan')
    for (const wan of ['8.8.8.8', '172.32.0.1', '100.64.0.1', '2001:db8::1'])
      expect(scopeOf(wan)).toBe('direct')
    expect(scopeOf('not an address')).toBe('unknown')
  })

  it("takes a stream sharing its remote address with one of the DHT's own streams as relayed", () => {
    const relay = { remoteHost: '203.0.113.5', remotePort: 4000 }
    const viaRelay = { remoteHost: '203.0.113.5', remotePort: 4000 }
    const direct = { remoteHost: '198.51.100.7', remotePort: 5000 }
    const conn = (rawStream: object) => ({ rawStream }) as never
    const dht = { rawStreams: new Set([relay, viaRelay, direct]) }
    const relayed = relayedStreams(dht, [conn(viaRelay), conn(direct)])
    expect([...relayed]).toEqual([viaRelay])
    // Two connections of ours to one address (a duplicate pair) are not a relay.
    const twin = { remoteHost: '198.51.100.7', remotePort: 5000 }
    const pair = relayedStreams({ rawStreams: new Set([direct, twin]) }, [conn(direct), conn(twin)])
    expect(pair.size).toBe(0)
    expect(relayedStreams(null, [conn(direct)]).size).toBe(0)
  })
})
