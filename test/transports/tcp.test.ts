import b4a from 'b4a'
import crypto from 'hypercore-crypto'
import { describe, expect, it } from 'vitest'
import {
  type ConnectionDrop,
  ErrorCode,
  type Networker,
  type NetworkerError,
  type NetworkerPeer,
} from '../../src/index.js'
import { eventually, useRealNetwork } from '../helpers/real-network.js'
import { listed, replicatesAndTalks } from './streams.js'
import { freezableProxy } from './tcp-proxy.js'

const testnet = useRealNetwork()

/** The same connection at both ends: Noise's handshake hash is one value for both. */
function sameConnection(a: NetworkerPeer, b: NetworkerPeer): boolean {
  const ha = (a.stream as { handshakeHash?: Uint8Array }).handshakeHash
  const hb = (b.stream as { handshakeHash?: Uint8Array }).handshakeHash
  return ha !== undefined && hb !== undefined && b4a.equals(ha, hb)
}

async function tcpListener(
  opts: Parameters<ReturnType<typeof testnet>['networker']>[0] = {},
): Promise<Awaited<ReturnType<ReturnType<typeof testnet>['networker']>> & { port: number }> {
  const made = await testnet().networker(opts)
  await made.networker.listen({ tcp: { host: '127.0.0.1', port: 0 } })
  const address = made.networker.tcpAddress
  if (address === null) throw new Error('not listening on TCP')
  return { ...made, port: address.port }
}

describe('direct TCP', () => {
  it('listen({ tcp }) and connect(host:port): a tcp peer at both ends that replicates and talks', async () => {
    const contexts: string[] = []
    const a = await tcpListener({
      onauthenticate: (_key, done, context) => {
        contexts.push(`${context.type} ${context.isInitiator}`)
        done()
      },
    })
    expect(a.networker.tcpAddress).toEqual({ host: '127.0.0.1', port: a.port })
    const b = await testnet().networker()
    const peer = await b.networker.connect(`127.0.0.1:${a.port}`)
    expect(peer.type).toBe('tcp')
    expect(peer.remoteAddress).toBe(`127.0.0.1:${a.port}`)
    expect(b4a.equals(peer.remotePublicKey, a.networker.keyPair.publicKey)).toBe(true)
    await eventually(() => a.networker.peers.size === 1, 'the listener lists the dialer')
    const back = listed(a.networker, b.networker)
    expect(back.type).toBe('tcp')
    expect(back.remoteAddress).toMatch(/^127\.0\.0\.1:\d+$/)
    expect(sameConnection(peer, back)).toBe(true)
    // onauthenticate is asked about TCP connections as about any.
    expect(contexts).toEqual(['tcp false'])
    await replicatesAndTalks(a, b)
    expect(b.networker.stats().peers[0]).toMatchObject({ type: 'tcp', initiator: true })
  })

  it('connect checks the remote key, and reports an address nobody listens on as DIAL_FAILED', async () => {
    const a = await tcpListener()
    const { networker: b } = await testnet().networker()
    const wrong = crypto.keyPair().publicKey
    const mismatch = (await b
      .connect({ host: '127.0.0.1', port: a.port, publicKey: wrong })
      .catch((e: NetworkerError) => e)) as NetworkerError
    expect(mismatch.code).toBe(ErrorCode.REMOTE_KEY_MISMATCH)
    const right = await b.connect({
      host: '127.0.0.1',
      port: a.port,
      publicKey: b4a.toString(a.networker.keyPair.publicKey, 'hex'),
    })
    expect(right.type).toBe('tcp')
    // A peer of the key is listed already: that peer is the answer, nothing is dialed.
    const again = await b.connect({
      host: '127.0.0.1',
      port: a.port,
      publicKey: a.networker.keyPair.publicKey,
    })
    expect(again).toBe(right)
    expect(b.diagnostics().connections).toBe(1)
    const port = a.port
    await a.networker.close()
    const refused = (await b.connect(`127.0.0.1:${port}`).catch((e) => e)) as NetworkerError
    expect(refused.code).toBe(ErrorCode.DIAL_FAILED)
    await expect(b.connect('nonsense')).rejects.toMatchObject({ code: ErrorCode.INVALID_OPTION })
  })

  it('directPeers: dialed once ready, and dialed again when the connection is lost', async () => {
    const a = await tcpListener()
    const added: NetworkerPeer[] = []
    const { networker: b } = await testnet().networker({
      directPeers: [`127.0.0.1:${a.port}`],
    })
    b.on('peer-add', (peer) => added.push(peer))
    await eventually(() => added.length === 1, 'the fixed peer is dialed')
    expect(added[0]?.type).toBe('tcp')
    // The dialer lists the peer once its own end is done; the listener may list it a moment
    // later (its end authenticates on its own turn).
    await eventually(() => a.networker.getPeer(b.keyPair.publicKey) !== null, 'a lists b')
    // The listener ends the connection: the dialer's fixed peer is dialed again.
    listed(a.networker, b).stream.destroy()
    await eventually(() => added.length === 2 && b.peers.size === 1, 'dialed again', 10_000)
    expect(added[1]?.type).toBe('tcp')
    await b.close()
    expect(b.diagnostics()).toMatchObject({ connections: 0, peers: 0 })
  })

  it('a frozen TCP peer is dropped with reason timeout within the liveness bound, and an idle one is not', async () => {
    const bound = 1500
    const a = await tcpListener({ livenessTimeout: bound })
    const proxy = await freezableProxy(a.port)
    try {
      const { networker: b } = await testnet().networker({ livenessTimeout: bound })
      const drops: [string, ConnectionDrop][] = []
      a.networker.on('connection-drop', (d) => drops.push(['a', d]))
      b.on('connection-drop', (d) => drops.push(['b', d]))
      const peer = await b.connect(`127.0.0.1:${proxy.port}`)
      expect(peer.type).toBe('tcp')
      await eventually(() => a.networker.peers.size === 1, 'both ends connected')
      // Idle but alive for two bounds: the keep-alives hold it.
      await new Promise((r) => setTimeout(r, 2 * bound))
      expect(drops).toEqual([])
      expect(b.peers.size).toBe(1)
      proxy.freeze()
      const frozenAt = Date.now()
      await eventually(() => drops.length === 2, 'both ends drop it', 10_000)
      const elapsed = Date.now() - frozenAt
      expect(drops.map(([end, d]) => `${end} ${d.reason}`).sort()).toEqual([
        'a timeout',
        'b timeout',
      ])
      // Within the bound, with room for timers late on a busy machine.
      expect(elapsed).toBeLessThan(bound + 1000)
      expect(b.stats().totals.connectionsClosed.timeout).toBe(1)
    } finally {
      await proxy.close()
    }
  })
})

describe('TCP and UDX connections to one key', () => {
  async function pairOnTopic(): Promise<{
    a: Awaited<ReturnType<typeof tcpListener>>
    b: Awaited<ReturnType<ReturnType<typeof testnet>['networker']>>
    topic: Buffer
  }> {
    const a = await tcpListener()
    const b = await testnet().networker()
    return { a, b, topic: crypto.randomBytes(32) }
  }

  /** Peer events after a point: the list flapping would show here. */
  function watch(n: Networker): string[] {
    const events: string[] = []
    n.on('peer-add', (p) => events.push(`+${p.type}`))
    n.on('peer-remove', (p) => events.push(`-${p.type}`))
    return events
  }

  it('a TCP dial to a key connected over UDX ends with one connection, the same at both ends', async () => {
    const { a, b, topic } = await pairOnTopic()
    await a.networker.configure(topic)
    await b.networker.configure(topic)
    await eventually(() => b.networker.peers.size === 1 && a.networker.peers.size === 1, 'UDX')
    await replicatesAndTalks(a, b)
    // No key given: the dial goes out, and the dedup settles it.
    const peer = await b.networker.connect(`127.0.0.1:${a.port}`)
    expect(peer).toBe(listed(b.networker, a.networker))
    await eventually(
      () =>
        a.networker.diagnostics().connections === 1 && b.networker.diagnostics().connections === 1,
      'one connection at each end',
    )
    expect(sameConnection(listed(a.networker, b.networker), listed(b.networker, a.networker))).toBe(
      true,
    )
    expect(b.networker.stats().totals.duplicatesDropped).toBeGreaterThan(0)
  })

  it('a key kept over TCP that the swarm then finds over the DHT is not dialed over UDX while TCP holds, and is once TCP is gone', async () => {
    const { a, b, topic } = await pairOnTopic()
    const peer = await b.networker.connect(`127.0.0.1:${a.port}`)
    await eventually(() => a.networker.peers.size === 1, 'TCP at both ends')
    await replicatesAndTalks(a, b)
    const eventsA = watch(a.networker)
    const eventsB = watch(b.networker)
    await a.networker.configure(topic)
    await b.networker.configure(topic)
    // The DHT lookup did find the key (the swarm holds a record of it, found for the topic)…
    const record = (n: Networker, of: Networker) =>
      (
        n.swarm as unknown as { peers: Map<string, { banned: boolean; topics: Uint8Array[] }> }
      ).peers.get(b4a.toString(of.keyPair.publicKey, 'hex'))
    await eventually(
      () => (record(b.networker, a.networker)?.topics.length ?? 0) > 0,
      'b found a over the DHT',
    )
    // …and no UDX connection is made to it, either way, while the TCP connection holds:
    // Hyperswarm only knows its own connections, so its record of the key is banned meanwhile.
    expect(record(b.networker, a.networker)?.banned).toBe(true)
    expect(record(a.networker, b.networker)?.banned).toBe(true)
    const seen = new Set<string>()
    for (let i = 0; i < 40; i++) {
      await new Promise((r) => setTimeout(r, 200))
      seen.add(`${a.networker.diagnostics().connections}/${b.networker.diagnostics().connections}`)
    }
    expect([...seen]).toEqual(['1/1'])
    expect(listed(b.networker, a.networker)).toBe(peer)
    expect(sameConnection(peer, listed(a.networker, b.networker))).toBe(true)
    expect(eventsA).toEqual([])
    expect(eventsB).toEqual([])
    expect(
      b.networker.stats().totals.duplicatesDropped + a.networker.stats().totals.duplicatesDropped,
    ).toBe(0)
    // Once the TCP connection is gone, the key may be dialed over UDX again, and is.
    peer.stream.destroy()
    await eventually(
      () =>
        b.networker.getPeer(a.networker.keyPair.publicKey)?.type === 'udx' &&
        a.networker.getPeer(b.networker.keyPair.publicKey)?.type === 'udx',
      'reconnected over UDX',
      30_000,
    )
    expect(record(b.networker, a.networker)?.banned).toBe(false)
  })
})
