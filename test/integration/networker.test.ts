import b4a from 'b4a'
import crypto from 'hypercore-crypto'
import { describe, expect, it } from 'vitest'
import { codeOf, hex, keysOf } from '../helpers/assertions.js'
import { eventually, useRealNetwork } from '../helpers/real-network.js'
import { thrownBy } from '../helpers/thrown.js'

const testnet = useRealNetwork()

describe('Networker on a real testnet with real Corestore replication', () => {
  it('replicates several top-level cores over one connection', async () => {
    const { networker: n1, store: s1 } = await testnet().networker()
    const { networker: n2, store: s2 } = await testnet().networker()
    const writers = await Promise.all(
      ['a', 'b', 'c'].map(async (name) => {
        const core = s1.get({ name })
        await core.ready()
        await core.append(b4a.from(`block of ${name}`))
        return core
      }),
    )
    for (const core of writers)
      await n1.configure(core.discoveryKey, { announce: true, lookup: false })
    const readers = await Promise.all(
      writers.map(async (w) => {
        const core = s2.get({ key: w.key })
        await core.ready()
        return core
      }),
    )
    for (const core of readers)
      await n2.configure(core.discoveryKey, { announce: false, lookup: true })

    for (const [i, core] of readers.entries()) {
      expect(b4a.toString((await core.get(0))!)).toBe(`block of ${['a', 'b', 'c'][i]}`)
    }
    // One connection carries all three cores.
    expect(n2.peers.size).toBe(1)
    await eventually(() => n1.peers.size === 1, 'writer lists the reader once')
  })

  it('serves one writer to several readers', async () => {
    const { networker: writer, store: ws } = await testnet().networker()
    const core = ws.get({ name: 'feed' })
    await core.ready()
    for (let i = 0; i < 20; i++) await core.append(b4a.from(`entry ${i}`))
    await writer.configure(core.discoveryKey, { announce: true, lookup: false })

    const readers = await Promise.all([1, 2, 3].map(() => testnet().networker()))
    await Promise.all(
      readers.map(async ({ networker, store }) => {
        const replica = store.get({ key: core.key })
        await replica.ready()
        await networker.configure(replica.discoveryKey, { announce: false, lookup: true })
        await replica.update({ wait: true })
        await replica.download({ start: 0, end: 20 }).done()
        expect(replica.length).toBe(20)
        expect(b4a.toString((await replica.get(19))!)).toBe('entry 19')
      }),
    )
    await eventually(() => writer.peers.size === 3, 'writer sees three readers')
    expect(keysOf(writer.peers)).toEqual(
      readers.map((r) => hex(r.networker.keyPair.publicKey)).sort(),
    )
  })

  it('uses the key pairs it is given on every connection', async () => {
    const kp1 = crypto.keyPair()
    const kp2 = crypto.keyPair()
    const { networker: n1, store: s1 } = await testnet().networker({ keyPair: kp1 })
    const { networker: n2, store: s2 } = await testnet().networker({ keyPair: kp2 })
    expect(hex(n1.keyPair.publicKey)).toBe(hex(kp1.publicKey))
    const core = s1.get({ name: 'kp' })
    await core.ready()
    await core.append(b4a.from('x'))
    const replica = s2.get({ key: core.key })
    await replica.ready()
    await n1.configure(core.discoveryKey, { announce: true, lookup: false })
    await n2.configure(core.discoveryKey, { announce: false, lookup: true })
    expect(keysOf(n2.peers)).toEqual([hex(kp1.publicKey)])
    await eventually(() => n1.peers.size === 1, 'n1 sees n2')
    expect(keysOf(n1.peers)).toEqual([hex(kp2.publicKey)])
    expect(b4a.equals([...n1.peers][0]!.stream.publicKey as Buffer, kp1.publicKey)).toBe(true)
  })

  it('resolves a flushing configure only after every handshake is done', async () => {
    const { networker: a, store: sa } = await testnet().networker()
    const { networker: b, store: sb } = await testnet().networker()
    const { networker: c, store: sc } = await testnet().networker()
    const core = sa.get({ name: 'shared' })
    await core.ready()
    await core.append(b4a.from('hi'))
    const replicaB = sb.get({ key: core.key })
    await replicaB.ready()
    await a.configure(core.discoveryKey, { announce: true, lookup: false })
    await b.configure(core.discoveryKey, { announce: true, lookup: false })

    const replicaC = sc.get({ key: core.key })
    await replicaC.ready()
    await c.configure(core.discoveryKey, { announce: false, lookup: true, flush: true })
    // No waiting: both others are peers, and replicate the core with c, the moment
    // configure resolves.
    expect(c.flushed(core.discoveryKey)).toBe(true)
    expect(keysOf(c.peers)).toEqual([hex(a.keyPair.publicKey), hex(b.keyPair.publicKey)].sort())
    expect(replicaC.peers.map((p) => hex(p.remotePublicKey)).sort()).toEqual(keysOf(c.peers))
  })

  it('reports status, joined and flushed per topic', async () => {
    const { networker } = await testnet().networker()
    const dk = crypto.randomBytes(32)
    expect(networker.status(dk)).toBeNull()
    expect(networker.joined(dk)).toBe(false)
    const pending = networker.configure(dk, { announce: true, lookup: false, flush: false })
    await pending
    expect(networker.joined(dk)).toBe(true)
    expect(networker.flushed(dk)).toBe(false)
    expect(networker.status(hex(dk))).toMatchObject({ announce: true, lookup: false, joined: true })
    await networker.configure(dk, { announce: true, lookup: true })
    expect(networker.flushed(dk)).toBe(true)
    expect(networker.allStatuses().map((s) => hex(s.discoveryKey))).toEqual([hex(dk)])
    await networker.configure(dk, { announce: false, lookup: false })
    expect(networker.joined(dk)).toBe(false)
    expect(networker.allStatuses()).toEqual([])
  })

  it('settles concurrent configures on one key with the last one winning', async () => {
    const { networker } = await testnet().networker()
    const dk = crypto.randomBytes(32)
    const results = await Promise.allSettled([
      networker.configure(dk, { announce: true, lookup: true }),
      networker.configure(dk, { announce: false, lookup: true }),
      networker.configure(dk, { announce: false, lookup: false }),
      networker.configure(dk, { announce: true, lookup: false }),
    ])
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'fulfilled',
    ])
    expect(networker.status(dk)).toMatchObject({
      announce: true,
      lookup: false,
      joined: true,
      flushed: true,
    })
  })

  it('adds and removes peers with the right keys and counts, and closes twice', async () => {
    const { networker: n1, store: s1 } = await testnet().networker()
    const { networker: n2 } = await testnet().networker()
    const { networker: n3 } = await testnet().networker()
    const core = s1.get({ name: 'x' })
    await core.ready()
    const added: string[] = []
    const removed: string[] = []
    n1.on('peer-add', (p) => added.push(hex(p.remotePublicKey)))
    n1.on('peer-remove', (p) => removed.push(hex(p.remotePublicKey)))
    await n1.configure(core.discoveryKey, { announce: true, lookup: false })
    await n2.configure(core.discoveryKey, { announce: false, lookup: true })
    await n3.configure(core.discoveryKey, { announce: false, lookup: true })
    await eventually(() => n1.peers.size === 2, 'two peers')
    expect(added.sort()).toEqual([hex(n2.keyPair.publicKey), hex(n3.keyPair.publicKey)].sort())

    await Promise.all([n2.close(), n2.close()])
    await n2.close()
    expect(n2.closed).toBe(true)
    expect(n2.peers.size).toBe(0)
    await eventually(() => n1.peers.size === 1, 'n2 removed from n1')
    expect(removed).toEqual([hex(n2.keyPair.publicKey)])
    expect(keysOf(n1.peers)).toEqual([hex(n3.keyPair.publicKey)])

    await n3.close()
    await eventually(() => n1.peers.size === 0, 'n3 removed')
    expect(removed).toEqual([hex(n2.keyPair.publicKey), hex(n3.keyPair.publicKey)])
    expect(added.length).toBe(2)
  })

  it('calls onauthenticate with the remote key and keeps a rejected peer out both ways', async () => {
    const seen: string[] = []
    const contexts: { type: string; isInitiator: boolean }[] = []
    const { networker: good, store: sg } = await testnet().networker()
    const { networker: bad, store: sb } = await testnet().networker()
    let badKey = ''
    const { networker: gate, store: sgate } = await testnet().networker({
      onauthenticate: (
        remotePublicKey: Buffer,
        done: (err?: Error | null) => void,
        ctx: { type: string; isInitiator: boolean },
      ) => {
        seen.push(hex(remotePublicKey))
        contexts.push({ type: ctx.type, isInitiator: ctx.isInitiator })
        if (hex(remotePublicKey) === badKey) done(new Error('not you'))
        else done()
      },
    })
    badKey = hex(bad.keyPair.publicKey)
    const core = sgate.get({ name: 'guarded' })
    await core.ready()
    await core.append(b4a.from('secret'))
    // The gate announces (incoming connections) and also looks up (outgoing).
    await gate.configure(core.discoveryKey, { announce: true, lookup: true })
    const rGood = sg.get({ key: core.key })
    const rBad = sb.get({ key: core.key })
    await Promise.all([rGood.ready(), rBad.ready()])
    await good.configure(core.discoveryKey, { announce: true, lookup: true })
    await bad.configure(core.discoveryKey, { announce: true, lookup: true })
    await gate.configure(core.discoveryKey, { announce: true, lookup: true, flush: true })

    expect(b4a.toString((await rGood.get(0))!)).toBe('secret')
    expect(seen).toContain(hex(good.keyPair.publicKey))
    expect(seen).toContain(badKey)
    expect(contexts.every((c) => c.type === 'udx')).toBe(true)
    expect(keysOf(gate.peers)).toEqual([hex(good.keyPair.publicKey)])
    // The rejected peer never got a block from the gate, and the gate never listed it.
    await new Promise((r) => setTimeout(r, 300))
    expect(await rBad.has(0)).toBe(false)
    expect(rBad.contiguousLength).toBe(0)
    expect(gate.getPeer(badKey)).toBeNull()
  })

  it('replicates with a peer that runs plain Hyperswarm and store.replicate', async () => {
    const { networker, store } = await testnet().networker()
    const core = store.get({ name: 'interop' })
    await core.ready()
    await core.append([b4a.from('one'), b4a.from('two')])
    await networker.configure(core.discoveryKey, { announce: true, lookup: false })

    const plainStore = await testnet().store()
    const plain = testnet().plainSwarm()
    plain.on('connection', (conn: unknown) => plainStore.replicate(conn))
    const replica = plainStore.get({ key: core.key })
    await replica.ready()
    plain.join(core.discoveryKey, { client: true, server: false })
    await plain.flush()
    expect(b4a.toString((await replica.get(1))!)).toBe('two')
    await eventually(() => networker.peers.size === 1, 'plain peer listed')
    expect(keysOf(networker.peers)).toEqual([hex(plain.keyPair.publicKey)])
  })

  it('uses an injected swarm and its key pair', async () => {
    const swarm = testnet().plainSwarm()
    const { networker } = await testnet().networker({ swarm })
    expect(networker.keyPair).toBe(swarm.keyPair)
    await networker.close()
    expect(swarm.destroyed).toBe(true)
  })

  it('rejects bad input with coded errors and keeps working', async () => {
    const { networker: n1, store: s1 } = await testnet().networker()
    const { networker: n2, store: s2 } = await testnet().networker()
    expect(await codeOf(n1.configure(b4a.alloc(31)))).toBe('INVALID_DISCOVERY_KEY')
    expect(await codeOf(n1.configure('zz'.repeat(32)))).toBe('INVALID_DISCOVERY_KEY')
    expect(await codeOf(n1.configure(42 as unknown as string))).toBe('INVALID_DISCOVERY_KEY')
    expect(
      await codeOf(n1.configure(b4a.alloc(32), { announce: 'yes' as unknown as boolean })),
    ).toBe('INVALID_OPTION')
    expect(thrownBy(() => n1.status(b4a.alloc(33))).message).toMatch(/32 bytes/)

    const core = s1.get({ name: 'after-bad-input' })
    await core.ready()
    await core.append(b4a.from('still fine'))
    const replica = s2.get({ key: core.key })
    await replica.ready()
    await n1.configure(core.discoveryKey, { announce: true, lookup: false })
    await n2.configure(core.discoveryKey, { announce: false, lookup: true })
    expect(b4a.toString((await replica.get(0))!)).toBe('still fine')

    await n2.close()
    expect(await codeOf(n2.configure(core.discoveryKey))).toBe('NETWORKER_CLOSED')
    expect(await codeOf(n2.listen())).toBe('NETWORKER_CLOSED')
  })
})
