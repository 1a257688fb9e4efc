import b4a from 'b4a'
import crypto from 'hypercore-crypto'
import { describe, expect, it } from 'vitest'
import { ErrorCode, type NetworkerError, type NetworkerPeer } from '../../src/index.js'
import { hex, keysOf } from '../helpers/assertions.js'
import { eventually, useRealNetwork } from '../helpers/real-network.js'
import { thrownBy } from '../helpers/thrown.js'

const testnet = useRealNetwork()

describe("the original module's events and guarantees, on a real testnet", () => {
  it("emits 'joined', 'flushed' and 'left' with the discovery key, each once per change", async () => {
    const { networker } = await testnet().networker()
    const dk = crypto.randomBytes(32)
    const seen: string[] = []
    for (const name of ['joined', 'flushed', 'left'] as const) {
      networker.on(name, (key: Buffer) => {
        expect(b4a.isBuffer(key)).toBe(true)
        seen.push(`${name}:${hex(key) === hex(dk)}`)
      })
    }
    await networker.configure(dk, { announce: true, lookup: true })
    // Both have happened by the time configure resolves, and in this order.
    expect(seen).toEqual(['joined:true', 'flushed:true'])
    await networker.configure(dk, { announce: false, lookup: false })
    expect(seen).toEqual(['joined:true', 'flushed:true', 'left:true'])
    expect(networker.status(dk)).toBeNull()
  })

  it("a flushing configure resolves with the core replicating with every peer found, inside 'flushed' too", async () => {
    const { networker: a, store: sa } = await testnet().networker()
    const { networker: b, store: sb } = await testnet().networker()
    const core = sa.get({ name: 'flush-covers-replication' })
    await core.ready()
    await core.append(b4a.from('x'))
    await a.configure(core.discoveryKey, { announce: true, lookup: false })
    const replica = sb.get({ key: core.key })
    await replica.ready()
    let peersInFlushed = -1
    b.on('flushed', () => {
      peersInFlushed = replica.peers.length
    })
    await b.configure(core.discoveryKey, { announce: false, lookup: true })
    expect(peersInFlushed).toBe(1)
    expect(replica.peers.map((p) => hex(p.remotePublicKey))).toEqual([hex(a.keyPair.publicKey)])
  })

  it('a peer that does not hold the core holds a flush up for at most flushReplicationTimeout', async () => {
    const { networker: a } = await testnet().networker()
    const { networker: b, store: sb } = await testnet().networker({
      flushReplicationTimeout: 300,
    })
    // b holds a core whose discovery key a announces without holding the core.
    const core = sb.get({ name: 'only-b-has-it' })
    await core.ready()
    await a.configure(core.discoveryKey, { announce: true, lookup: false })
    const started = performance.now()
    await b.configure(core.discoveryKey, { announce: false, lookup: true })
    const waited = performance.now() - started
    expect(keysOf(b.peers)).toEqual([hex(a.keyPair.publicKey)])
    expect(core.peers.length).toBe(0)
    // The flush itself takes time on a testnet; the replication wait adds at most its bound.
    expect(waited).toBeGreaterThanOrEqual(300)
    expect(waited).toBeLessThan(10_000)
  })

  it("keeps the original's callback form of configure", async () => {
    const { networker } = await testnet().networker()
    const dk = crypto.randomBytes(32)
    const err = await new Promise<Error | null>((resolve) => {
      networker.configure(dk, { announce: true, lookup: false, flush: false }, resolve)
    })
    expect(err).toBeNull()
    expect(networker.joined(dk)).toBe(true)
    await networker.close()
    const closedErr = await new Promise<Error | null>((resolve) => {
      networker.configure(dk, {}, resolve)
    })
    expect((closedErr as NetworkerError).code).toBe(ErrorCode.NETWORKER_CLOSED)
  })

  it('exposes the streams of its peers as the original did', async () => {
    const { networker: a } = await testnet().networker()
    const { networker: b } = await testnet().networker()
    const dk = crypto.randomBytes(32)
    await a.configure(dk)
    await b.configure(dk)
    await eventually(() => a.streams.size === 1 && b.streams.size === 1, 'one stream each')
    const [stream] = [...b.streams]
    expect(hex(stream!.remotePublicKey)).toBe(hex(a.keyPair.publicKey))
    expect(hex(stream!.publicKey as Uint8Array)).toBe(hex(b.keyPair.publicKey))
  })

  it('a store whose replicate throws never lists that connection as a peer', async () => {
    const good = await testnet().networker()
    const store = await testnet().store()
    let throwing = true
    const picky = {
      replicate(stream: Parameters<typeof store.replicate>[0]): unknown {
        if (throwing) throw new Error('cannot replicate this one')
        return store.replicate(stream)
      },
    }
    const { networker: bad } = await testnet().networker({}, picky as unknown as typeof store)
    const added: NetworkerPeer[] = []
    bad.on('peer-add', (peer) => added.push(peer))
    const dk = crypto.randomBytes(32)
    await good.networker.configure(dk)
    await bad.configure(dk)
    await new Promise((r) => setTimeout(r, 300))
    expect(added).toEqual([])
    expect(bad.peers.size).toBe(0)
    throwing = false
    await eventually(() => bad.peers.size === 1, 'connects once the store replicates again')
  })

  it('a throwing peer-remove listener cannot stop the reconnection from being listed', async () => {
    const { networker: a } = await testnet().networker()
    const { networker: b } = await testnet().networker()
    const errors: NetworkerError[] = []
    a.on('error', (err) => errors.push(err))
    a.on('peer-remove', () => {
      throw new Error('listener bug')
    })
    const adds: string[] = []
    a.on('peer-add', (peer) => adds.push(hex(peer.remotePublicKey)))
    const dk = crypto.randomBytes(32)
    await a.configure(dk)
    await b.configure(dk)
    await eventually(() => a.peers.size === 1 && b.peers.size === 1, 'connected')
    // Drop the connection from b's side: a sees a peer-remove (whose listener throws), then
    // the reconnection must still be listed and announced.
    const [peer] = [...b.peers]
    peer!.stream.destroy()
    await eventually(() => errors.length >= 1, 'the listener error is reported')
    expect(errors[0]!.code).toBe(ErrorCode.LISTENER_FAILED)
    expect((errors[0]!.cause as Error).message).toBe('listener bug')
    await eventually(
      () => adds.length === 2 && a.peers.size === 1,
      'reconnected and listed',
      30_000,
    )
    expect(a.diagnostics().peers).toBe(a.peers.size)
  })
})

describe('identity with persist', () => {
  it('derives one key pair from the store, the same after a restart; keyPair or swarm opt out', async () => {
    const store = await testnet().store()
    const { networker: first } = await testnet().networker({ persist: true }, store)
    expect(thrownBy(() => first.keyPair).message).toMatch(/ready/)
    await first.ready()
    const key = hex(first.keyPair.publicKey)
    await first.close()
    const { networker: second } = await testnet().networker({ persist: true }, store)
    await second.ready()
    expect(hex(second.keyPair.publicKey)).toBe(key)
    await second.close()
    const own = crypto.keyPair()
    const { networker: third } = await testnet().networker({ persist: true, keyPair: own }, store)
    expect(hex(third.keyPair.publicKey)).toBe(hex(own.publicKey))
  })

  it('a persisting networker with a derived identity connects and replicates like any other', async () => {
    const { networker: a, store: sa } = await testnet().networker({ persist: true })
    const { networker: b, store: sb } = await testnet().networker({ persist: true })
    const core = sa.get({ name: 'derived' })
    await core.ready()
    await core.append(b4a.from('hello'))
    // configure before ready(): the join waits for the identity.
    await a.configure(core.discoveryKey, { announce: true, lookup: false })
    const replica = sb.get({ key: core.key })
    await replica.ready()
    await b.configure(core.discoveryKey, { announce: false, lookup: true })
    expect(replica.peers.length).toBe(1)
    expect(b4a.toString((await replica.get(0))!)).toBe('hello')
    expect(keysOf(b.peers)).toEqual([hex(a.keyPair.publicKey)])
  })
})

describe('an unreachable DHT', () => {
  it("says so: dhtStatus is offline and 'dht-status' fires, while a reachable testnet is online", async () => {
    const online = await testnet().networker()
    const dk = crypto.randomBytes(32)
    await online.networker.configure(dk, { announce: true, lookup: true })
    expect(online.networker.dhtStatus.state).toBe('online')
    expect(online.networker.dhtStatus.nodes).toBeGreaterThan(0)

    // A bootstrap address where nothing listens: the DHT node bootstraps into an empty table.
    const store = await testnet().store()
    const { networker } = await testnet().networker(
      { dht: undefined, bootstrap: [{ host: '127.0.0.1', port: 1 }] },
      store,
    )
    const states: string[] = []
    networker.on('dht-status', (status) => states.push(status.state))
    expect(networker.dhtStatus.state).toBe('connecting')
    await eventually(() => networker.dhtStatus.state === 'offline', 'offline', 30_000)
    expect(states).toEqual(['offline'])
    expect(networker.dhtStatus.nodes).toBe(0)
  }, 60_000)
})
