import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import b4a from 'b4a'
import Corestore from 'corestore'
import crypto from 'hypercore-crypto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  Networker,
  type NetworkerError,
  type ReplicatingStore,
  recordsDiscoveryKey,
  type SwarmConnection,
} from '../../src/index.js'
import { openCorestoreRecords } from '../../src/io/record-store.js'
import { hex } from '../helpers/assertions.js'
import { MemorySwarm } from '../helpers/memory-swarm.js'
import { eventually, useRealNetwork } from '../helpers/real-network.js'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {})
  cleanups.length = 0
})

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'csn-persist-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function openStore(dir: string): Promise<Corestore> {
  const store = new Corestore(dir)
  await store.ready()
  cleanups.push(() => store.close())
  return store
}

describe('persist: true keeps the records in the Corestore', () => {
  it('restores after the store is closed and reopened from the same directory', async () => {
    const dir = await tempDir()
    const store = await openStore(dir)
    const data = store.get({ name: 'data' })
    await data.ready()
    const first = new Networker(store, { swarm: new MemorySwarm(), persist: true })
    const other = crypto.randomBytes(32)
    await first.configure(data.discoveryKey, { announce: true, lookup: false })
    await first.configure(other, { announce: false, lookup: true })
    const left = crypto.randomBytes(32)
    await first.configure(left)
    await first.configure(left, { announce: false, lookup: false }) // joined, then left: no record
    await first.close()
    // The networker never closes the caller's store.
    await data.append(b4a.from('still open'))
    expect(data.length).toBe(1)
    await store.close()

    const reopened = await openStore(dir)
    const second = new Networker(reopened, { swarm: new MemorySwarm(), persist: true })
    const report = await second.restore()
    expect(report.restored.map((t) => [hex(t.discoveryKey), t.announce, t.lookup]).sort()).toEqual(
      [
        [hex(data.discoveryKey), true, false],
        [hex(other), false, true],
      ].sort(),
    )
    expect(report.skipped).toEqual([])
    expect(second.allStatuses().every((s) => s.joined)).toBe(true)
    await second.configure(other, { announce: false, lookup: false })
    await second.close()
    await reopened.close()

    const third = new Networker(await openStore(dir), { swarm: new MemorySwarm(), persist: true })
    const again = await third.restore()
    expect(again.restored.map((t) => hex(t.discoveryKey))).toEqual([hex(data.discoveryKey)])
    await third.close()
  })

  it('skips and reports damaged records in the core', async () => {
    const dir = await tempDir()
    const store = await openStore(dir)
    const good = hex(crypto.randomBytes(32))
    const bad = hex(crypto.randomBytes(32))
    const opened = await openCorestoreRecords(store)
    await opened.store.put(good, '{"v":1,"announce":true,"lookup":true}')
    await opened.store.put(bad, b4a.from([0x7b, 0xff, 0x00, 0x13]))
    await opened.store.put('zz', '{"v":3}')
    await opened.close()

    const networker = new Networker(store, { swarm: new MemorySwarm(), persist: true })
    const skipped = vi.fn()
    networker.on('record-skipped', (err: NetworkerError, info) => skipped(err.code, info.key))
    const report = await networker.restore()
    expect(report.restored.map((t) => hex(t.discoveryKey))).toEqual([good])
    expect(skipped.mock.calls.sort()).toEqual(
      [
        ['RECORD_DAMAGED', bad],
        ['RECORD_DAMAGED', 'zz'],
      ].sort(),
    )
    await networker.close()
  })

  it('refuses a second persisting networker on the same store, also through a session', async () => {
    const store = await openStore(await tempDir())
    const first = new Networker(store, { swarm: new MemorySwarm(), persist: true })
    expect(
      () => new Networker(store.session(), { swarm: new MemorySwarm(), persist: true }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }))
    // Another namespace is another set of records.
    const other = new Networker(store.namespace('app-2'), {
      swarm: new MemorySwarm(),
      persist: true,
    })
    await other.close()
    await first.close()
  })
})

/** Everything a networker's connections receive, decrypted, in one buffer per call. */
function capturing(store: Corestore): { store: ReplicatingStore; received: () => Buffer } {
  const chunks: Buffer[] = []
  return {
    store: {
      replicate(conn: SwarmConnection) {
        const stream = store.replicate(conn)
        conn.on('data', (chunk: Uint8Array) => chunks.push(b4a.from(chunk)))
        return stream
      },
    },
    received: () => b4a.concat(chunks),
  }
}

describe('the records are private', () => {
  it('a connected peer replicating the store never receives the records, their key or discovery key', async () => {
    const storeA = await openStore(await tempDir())
    const storeB = await openStore(await tempDir())
    const swarmA = new MemorySwarm()
    const swarmB = new MemorySwarm()
    const a = new Networker(storeA, { swarm: swarmA, persist: true })
    const b = capturing(storeB)
    const nb = new Networker(b.store, { swarm: swarmB })
    cleanups.push(
      () => a.close(),
      () => nb.close(),
    )
    const data = storeA.get({ name: 'data' })
    await data.ready()
    await data.append(b4a.from('public block'))
    const secretTopic = crypto.randomBytes(32)
    await a.configure(data.discoveryKey)
    await a.configure(secretTopic, { announce: false, lookup: true })

    MemorySwarm.connect(swarmA, swarmB)
    await eventually(() => a.peers.size === 1 && nb.peers.size === 1, 'connected')
    const replica = storeB.get({ key: data.key })
    await replica.ready()
    expect(b4a.toString((await replica.get(0))!)).toBe('public block')
    // Records written while the peer is connected stay private too.
    await a.configure(crypto.randomBytes(32), { announce: true, lookup: false })
    await a.configure(secretTopic, { announce: true, lookup: true })
    await new Promise((r) => setTimeout(r, 200))

    const recordsCore = storeA.namespace('chainstore-networker/remembered-config').get({
      name: 'topics',
      active: false,
    })
    await recordsCore.ready()
    expect(recordsCore.length).toBeGreaterThan(0)
    const seen = b.received()
    // The capture works: the data core's discovery key went by (its channel open).
    expect(seen.includes(data.discoveryKey)).toBe(true)
    expect(seen.includes(recordsCore.discoveryKey)).toBe(false)
    expect(seen.includes(recordsCore.key)).toBe(false)
    expect(seen.includes(b4a.from(hex(secretTopic)))).toBe(false)
    expect(seen.includes(secretTopic)).toBe(false)
    expect(seen.includes(b4a.from('"announce"'))).toBe(false)
    expect((await recordsDiscoveryKey(storeA)).equals(recordsCore.discoveryKey)).toBe(true)
    await recordsCore.close()
  })

  it('a peer that somehow knows the discovery key still gets nothing: the capability check closes the stream', async () => {
    const storeA = await openStore(await tempDir())
    const storeB = await openStore(await tempDir())
    const swarmA = new MemorySwarm()
    const swarmB = new MemorySwarm()
    const a = new Networker(storeA, { swarm: swarmA, persist: true })
    const b = capturing(storeB)
    const nb = new Networker(b.store, { swarm: swarmB })
    cleanups.push(
      () => a.close(),
      () => nb.close(),
    )
    await a.configure(crypto.randomBytes(32), { announce: true, lookup: true })
    const recordsDk = await recordsDiscoveryKey(storeA)
    const recordsCore = storeA.namespace('chainstore-networker/remembered-config').get({
      name: 'topics',
      active: false,
    })
    await recordsCore.ready()
    // B asks for the records' discovery key with a core of its own (a wrong key, as B cannot
    // know the right one): A attaches the core and checks B's replication capability.
    const probe = storeB.get({ key: crypto.randomBytes(32), discoveryKey: recordsDk })
    await probe.ready()
    const lost = new Promise<void>((resolve) => a.once('peer-remove', () => resolve()))
    MemorySwarm.connect(swarmA, swarmB)
    await lost
    await expect(probe.get(0, { timeout: 300 })).rejects.toThrow()
    expect(probe.length).toBe(0)
    const seen = b.received()
    expect(seen.includes(recordsCore.key)).toBe(false)
    expect(seen.includes(b4a.from('"announce"'))).toBe(false)
    // A goes on as before.
    expect(a.closed).toBe(false)
    await a.configure(crypto.randomBytes(32))
    await recordsCore.close()
  })
})

describe('the records are never announced (real testnet)', () => {
  const testnet = useRealNetwork()

  it('a DHT lookup of the records discovery key finds no one; the data topic finds the peer', async () => {
    const { networker: a, store: storeA } = await testnet().networker({ persist: true })
    const data = storeA.get({ name: 'data' })
    await data.ready()
    await data.append(b4a.from('x'))
    await a.configure(data.discoveryKey, { announce: true, lookup: false })
    await a.configure(crypto.randomBytes(32), { announce: true, lookup: true })

    const swarmB = testnet().plainSwarm()
    const { store: storeB } = await testnet().networker() // only for its cleanup-managed store
    swarmB.on('connection', (conn: unknown) => storeB.replicate(conn))
    swarmB.join(data.discoveryKey, { server: false, client: true })
    const replica = storeB.get({ key: data.key })
    await replica.ready()
    expect(b4a.toString((await replica.get(0))!)).toBe('x')

    const lookup = async (topic: Buffer): Promise<string[]> => {
      const found: string[] = []
      const dht = swarmB.dht as {
        lookup(t: Buffer): AsyncIterable<{ peers: { publicKey: Buffer }[] }>
      }
      for await (const reply of dht.lookup(topic)) {
        for (const peer of reply.peers) found.push(hex(peer.publicKey))
      }
      return found
    }
    expect(await lookup(data.discoveryKey)).toContain(hex(a.keyPair.publicKey))
    expect(await lookup(await recordsDiscoveryKey(storeA))).toEqual([])
  })
})
