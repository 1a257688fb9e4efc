import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Corestore from 'corestore'
import { afterEach, describe, expect, it } from 'vitest'
import {
  type ConnectionDrop,
  Networker,
  type NetworkerOptions,
  type SwarmConnection,
} from '../../src/index.js'
import { hex } from '../helpers/assertions.js'
import { MemorySwarm } from '../helpers/memory-swarm.js'
import { eventually } from '../helpers/real-network.js'

/*
 * Issue 19, items 2 and 4, in one process: a kept connection from which nothing arrives for
 * the liveness bound is dropped at both ends (reason `timeout`), a healthy idle one never
 * is, and every connection the networker closes on its own comes with a 'connection-drop'
 * event saying why. (test/multihost/liveness.test.ts does the same across real hosts.)
 */

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f().catch(() => {})
})

async function node(opts: NetworkerOptions = {}): Promise<{ n: Networker; swarm: MemorySwarm }> {
  const dir = await mkdtemp(join(tmpdir(), 'csn-drop-'))
  const store = new Corestore(dir)
  const swarm = new MemorySwarm()
  const n = new Networker(store, { swarm, ...opts })
  cleanups.push(async () => {
    await n.close()
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })
  return { n, swarm }
}

function drops(n: Networker): ConnectionDrop[] {
  const out: ConnectionDrop[] = []
  n.on('connection-drop', (d) => out.push(d))
  return out
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Each end's transport swallows what the other sends: both stay open, nothing arrives. */
function cutSilently(pair: { a: SwarmConnection; b: SwarmConnection }): void {
  for (const end of [pair.a, pair.b]) {
    ;(end.rawStream as { write: (data: unknown) => boolean }).write = () => true
  }
}

/** Connects a to b and waits until both list each other. */
async function connect(
  a: { n: Networker; swarm: MemorySwarm },
  b: { n: Networker; swarm: MemorySwarm },
): Promise<{ a: SwarmConnection; b: SwarmConnection }> {
  const pair = MemorySwarm.connect(a.swarm, b.swarm)
  await eventually(() => a.n.peers.size === 1 && b.n.peers.size === 1, 'connected')
  return pair
}

describe('liveness', () => {
  it("a healthy idle connection is never dropped, with keep-alives of its own where the stream's are too slow", async () => {
    const a = await node({ livenessTimeout: 600 })
    const b = await node({ livenessTimeout: 600 })
    const seen = [...drops(a.n), ...drops(b.n)]
    const pair = await connect(a, b)
    // Hypercore's 5 s keep-alive is slower than this bound needs: the networker writes its own
    // every half bound.
    expect((pair.a as unknown as { keepAlive: number }).keepAlive).toBeGreaterThan(300)
    await sleep(2500)
    expect(a.n.peers.size + b.n.peers.size).toBe(2)
    expect(seen).toEqual([])
  })

  it('a connection on which nothing arrives any more is dropped by both ends within the bound', async () => {
    const bound = 800
    const a = await node({ livenessTimeout: bound })
    const b = await node({ livenessTimeout: bound })
    const [da, db] = [drops(a.n), drops(b.n)]
    const pair = await connect(a, b)
    await sleep(300)
    // Cut silently: both streams stay open, nothing crosses any more.
    cutSilently(pair)
    const cut = Date.now()
    const at = { a: 0, b: 0 }
    a.n.once('peer-remove', () => {
      at.a = Date.now() - cut
    })
    b.n.once('peer-remove', () => {
      at.b = Date.now() - cut
    })
    await eventually(() => at.a > 0 && at.b > 0, 'both ends dropped it', 5000)
    // Within the bound of the last data (which came before the cut), give or take a timer turn.
    expect(at.a).toBeLessThanOrEqual(bound + 150)
    expect(at.b).toBeLessThanOrEqual(bound + 150)
    expect(at.a).toBeGreaterThanOrEqual(bound * 0.5)
    // The first end to give up reports `timeout`; in one process its close may reach the other
    // end through the in-memory pipe before that end's own bound (over a network it cannot).
    const all = [...da.map((d) => ({ d, other: b })), ...db.map((d) => ({ d, other: a }))]
    expect(all.length).toBeGreaterThanOrEqual(1)
    for (const { d, other } of all) {
      expect(d.reason).toBe('timeout')
      expect(hex(d.remotePublicKey)).toBe(hex(other.swarm.keyPair.publicKey))
      expect(d.peer).not.toBeNull()
    }
  })

  it('livenessTimeout 0 turns it off', async () => {
    const a = await node({ livenessTimeout: 0 })
    const b = await node({ livenessTimeout: 0 })
    const pair = await connect(a, b)
    cutSilently(pair)
    await sleep(1500)
    expect(a.n.peers.size + b.n.peers.size).toBe(2)
  })
})

describe("'connection-drop': why the networker closed a connection", () => {
  it('rejected by onauthenticate', async () => {
    const a = await node({ onauthenticate: async () => false })
    const b = await node()
    const d = drops(a.n)
    MemorySwarm.connect(a.swarm, b.swarm)
    await eventually(() => d.length === 1, 'dropped')
    expect(d[0]).toMatchObject({ reason: 'rejected', peer: null })
    expect(hex(d[0]!.remotePublicKey)).toBe(hex(b.swarm.keyPair.publicKey))
  })

  it('past maxPeers', async () => {
    const a = await node({ maxPeers: 1 })
    const [b, c] = [await node(), await node()]
    const d = drops(a.n)
    await connect(a, b)
    MemorySwarm.connect(c.swarm, a.swarm)
    await eventually(() => d.length === 1, 'dropped')
    expect(d[0]).toMatchObject({ reason: 'limit', peer: null })
    expect(hex(d[0]!.remotePublicKey)).toBe(hex(c.swarm.keyPair.publicKey))
  })

  it('a duplicate connection to a key already kept', async () => {
    const a = await node()
    const b = await node()
    const [da, db] = [drops(a.n), drops(b.n)]
    // Both dial at once: the key rule keeps the same one of the two at both ends.
    MemorySwarm.connect(a.swarm, b.swarm)
    MemorySwarm.connect(b.swarm, a.swarm)
    await eventually(() => da.length + db.length >= 2, 'dropped at both ends')
    await sleep(100)
    expect([...da, ...db].map((x) => x.reason)).toEqual(['duplicate', 'duplicate'])
    expect(a.n.peers.size + b.n.peers.size).toBe(2)
  })

  it('past maxInboundBuffer while authentication is pending', async () => {
    const a = await node({
      maxInboundBuffer: 64 * 1024,
      onauthenticate: () => new Promise(() => {}),
    })
    const d = drops(a.n)
    const { b: remote } = MemorySwarm.connect(a.swarm, new MemorySwarm())
    await (remote as unknown as { opened: Promise<boolean> }).opened
    for (let i = 0; i < 64; i++) remote.write(Buffer.alloc(4096))
    await eventually(() => d.length === 1, 'dropped')
    expect(d[0]).toMatchObject({ reason: 'overflow', peer: null })
  })

  it('nothing for the connections a close ends', async () => {
    const a = await node()
    const b = await node()
    const d = [...drops(a.n), ...drops(b.n)]
    await connect(a, b)
    await a.n.close()
    await sleep(100)
    expect(d).toEqual([])
  })
})
