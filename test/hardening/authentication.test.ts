import b4a from 'b4a'
import crypto from 'hypercore-crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { type AuthenticateHook, Networker, type NetworkerPeer } from '../../src/index.js'
import { MemorySwarm } from '../helpers/memory-swarm.js'
import { eventually, RealNetwork } from '../helpers/real-network.js'

const replicated: unknown[] = []
const store = { replicate: (s: unknown) => replicated.push(s) }
const open: Networker[] = []

afterEach(async () => {
  await Promise.all(open.splice(0).map((n) => n.close({ timeout: 1000 })))
  replicated.length = 0
})

/** Two networkers over one in-memory Noise pair; `gate` authenticates with `hook`. */
async function pair(hook: AuthenticateHook, authenticateTimeout?: number) {
  const sg = new MemorySwarm()
  const so = new MemorySwarm()
  const gate = new Networker(store, {
    swarm: sg,
    onauthenticate: hook,
    ...(authenticateTimeout ? { authenticateTimeout } : {}),
  })
  const other = new Networker(store, { swarm: so })
  open.push(gate, other)
  const got: string[] = []
  gate.registerExtension('probe', { encoding: 'utf8', onmessage: (m: string) => got.push(m) })
  const probe = other.registerExtension('probe', { encoding: 'utf8' })
  const streams = MemorySwarm.connect(so, sg)
  return { gate, other, probe, got, streams, otherKey: so.keyPair.publicKey }
}

const settle = () => new Promise((r) => setTimeout(r, 150))

describe('onauthenticate', () => {
  it('accepts through a resolved promise', async () => {
    const { gate, otherKey } = await pair(async () => true)
    await eventually(() => gate.peers.size === 1, 'accepted')
    expect(b4a.equals([...gate.peers][0]!.remotePublicKey, otherKey as Buffer)).toBe(true)
  })

  for (const [label, hook] of [
    ['a promise resolving to false', async () => false],
    ['a rejected promise', async () => Promise.reject(new Error('no'))],
    ['a callback error', (_k: Buffer, done: (e?: Error) => void) => done(new Error('no'))],
    [
      'a throwing hook',
      () => {
        throw new Error('boom')
      },
    ],
  ] as const) {
    it(`rejects on ${label}: no replication, no peer, no extension messages either way`, async () => {
      const { gate, other, probe, got, streams } = await pair(hook as AuthenticateHook)
      await new Promise<void>((r) => streams.b.once('close', () => r()))
      await settle()
      expect(gate.peers.size).toBe(0)
      expect(replicated).not.toContain(streams.b)
      expect(probe.peers).toEqual([])
      expect(got).toEqual([])
      expect(other.peers.size).toBe(0)
    })
  }

  it('rejects a peer whose hook never answers, at the deadline', async () => {
    const { gate, streams } = await pair(() => new Promise(() => {}), 100)
    await new Promise<void>((r) => streams.b.once('close', () => r()))
    expect(gate.peers.size).toBe(0)
    expect(replicated).not.toContain(streams.b)
    // The core's deadline rejected it: counted as a rejection like a hook's no.
    expect(gate.stats().totals.authenticationRejections).toBe(1)
  })

  it('ignores a callback answered twice and a late answer after the deadline', async () => {
    let later: ((err?: Error | null) => void) | null = null
    const { gate, streams } = await pair((_k, done) => {
      later = done
    }, 80)
    await new Promise<void>((r) => streams.b.once('close', () => r()))
    later!()
    later!(new Error('again'))
    await settle()
    expect(gate.peers.size).toBe(0)
  })

  it('passes the transport and topics on a real connection', async () => {
    const net = await RealNetwork.create()
    try {
      const contexts: {
        type: string
        remoteAddress: string | null
        isInitiator: boolean
        topics: string[]
      }[] = []
      const { networker: gate } = await net.networker({
        onauthenticate: (
          _key: Buffer,
          done: () => void,
          ctx: {
            type: string
            remoteAddress: string | null
            isInitiator: boolean
            topics: Buffer[]
          },
        ) => {
          contexts.push({ ...ctx, topics: ctx.topics.map((t) => b4a.toString(t, 'hex')) })
          done()
        },
      })
      const { networker: server } = await net.networker()
      const topic = crypto.randomBytes(32)
      await server.configure(topic, { announce: true, lookup: false })
      await gate.configure(topic, { announce: false, lookup: true })
      await eventually(() => gate.peers.size === 1, 'connected')
      expect(contexts).toHaveLength(1)
      expect(contexts[0]).toMatchObject({
        type: 'udx',
        isInitiator: true,
        topics: [b4a.toString(topic, 'hex')],
      })
      expect(contexts[0]!.remoteAddress).toMatch(/^127\.0\.0\.1:\d+$/)
    } finally {
      await net.destroy()
    }
  })
})

describe('limits', () => {
  it('keeps at most maxPeers remote keys and turns further ones away', async () => {
    const hub = new MemorySwarm()
    const networker = new Networker(store, { swarm: hub, maxPeers: 2 })
    open.push(networker)
    const others = [new MemorySwarm(), new MemorySwarm(), new MemorySwarm(), new MemorySwarm()]
    const seen: number[] = []
    networker.on('peer-add', () => seen.push(networker.peers.size))
    const pairs = others.map((o) => MemorySwarm.connect(o, hub))
    await eventually(() => pairs.filter((p) => p.b.destroyed).length === 2, 'two turned away')
    expect(networker.peers.size).toBe(2)
    expect(Math.max(...seen)).toBe(2)
    // A slot frees up when a peer leaves.
    const kept = [...networker.peers][0] as NetworkerPeer
    kept.stream.destroy()
    await eventually(() => networker.peers.size === 1, 'peer gone')
    MemorySwarm.connect(others[3]!, hub)
    await eventually(() => networker.peers.size === 2, 'slot reused')
  })

  it('closes a connection that floods past the inbound cap while its authentication is pending', async () => {
    const sg = new MemorySwarm()
    const so = new MemorySwarm()
    const gate = new Networker(store, {
      swarm: sg,
      onauthenticate: () => new Promise(() => {}),
      maxInboundBuffer: 1024 * 1024,
    })
    open.push(gate)
    const streams = MemorySwarm.connect(so, sg)
    await (streams.a as unknown as { opened: Promise<boolean> }).opened
    const chunk = b4a.alloc(64 * 1024, 1)
    let peak = 0
    const readable = (streams.b as unknown as { _readableState: { buffered: number } })
      ._readableState
    for (let i = 0; i < 128 && !streams.b.destroyed; i++) {
      streams.a.write(chunk)
      await new Promise((r) => setImmediate(r))
      peak = Math.max(peak, readable.buffered)
    }
    await eventually(() => streams.b.destroyed, 'flooder cut off')
    expect(gate.stats().totals.inboundOverflows).toBe(1)
    expect(peak).toBeLessThanOrEqual(1024 * 1024 + chunk.byteLength + 1024)
    expect(gate.peers.size).toBe(0)
  })
})
