import b4a from 'b4a'
import crypto from 'hypercore-crypto'
import { describe, expect, it } from 'vitest'
import type { SwarmConnection } from '../../src/index.js'
import { eventually, useRealNetwork } from '../helpers/real-network.js'

const testnet = useRealNetwork()

describe('floods on real UDX connections', () => {
  it('cuts off a peer that floods a connection nobody reads yet, and counts it', async () => {
    const connections: SwarmConnection[] = []
    const { networker: gate } = await testnet().networker({
      onauthenticate: () => new Promise(() => {}),
      authenticateTimeout: 30_000,
      maxInboundBuffer: 2 * 1024 * 1024,
    })
    gate.swarm.on('connection', (c: SwarmConnection) => connections.push(c))
    const { networker: flooder } = await testnet().networker()
    const topic = crypto.randomBytes(32)
    await gate.configure(topic, { announce: true, lookup: false })
    await flooder.configure(topic, { announce: false, lookup: true })
    await eventually(() => flooder.peers.size === 1, 'flooder connected')
    const stream = [...flooder.peers][0]!.stream
    const chunk = b4a.alloc(64 * 1024, 7)
    for (let i = 0; i < 512 && !stream.destroyed; i++) stream.write(chunk)
    await eventually(() => gate.stats().totals.inboundOverflows === 1, 'overflow counted')
    await eventually(() => connections.every((c) => c.destroyed), 'connection closed')
    expect(gate.peers.size).toBe(0)
  })

  it('keeps serving other peers while one floods extension messages', async () => {
    const { networker: hub, store: hubStore } = await testnet().networker()
    const { networker: flooder } = await testnet().networker()
    const { networker: client, store: clientStore } = await testnet().networker()
    let flooded = 0
    hub.registerExtension('bulk', { onmessage: () => flooded++ })
    const rpc = hub.registerExtension('rpc', {
      encoding: 'json',
      onmessage: (n: number, peer) => {
        rpc.send(n + 1, peer)
      },
    })
    const core = hubStore.get({ name: 'served' })
    await core.ready()
    for (let i = 0; i < 50; i++) await core.append(b4a.from(`b${i}`))
    const topic = core.discoveryKey
    await hub.configure(topic, { announce: true, lookup: false })
    await flooder.configure(topic, { announce: false, lookup: true })
    await client.configure(topic, { announce: false, lookup: true })
    await eventually(() => hub.peers.size === 2, 'both connected')

    const bulk = flooder.registerExtension('bulk')
    await eventually(() => bulk.peers.length === 1, 'bulk open')
    let flooding = true
    const payload = b4a.alloc(16 * 1024)
    const flood = (async () => {
      while (flooding) {
        if (!bulk.broadcast(payload)) await new Promise<void>((r) => bulk.once('drain', () => r()))
        await new Promise((r) => setImmediate(r))
      }
    })()

    const answers: number[] = []
    const clientRpc = client.registerExtension('rpc', {
      encoding: 'json',
      onmessage: (n: number) => answers.push(n),
    })
    await eventually(() => clientRpc.peers.length === 1, 'rpc open')
    for (let i = 0; i < 50; i++) {
      clientRpc.broadcast(i * 10)
      await eventually(() => answers.length === i + 1, `answer ${i}`)
    }
    const replica = clientStore.get({ key: core.key })
    await replica.ready()
    await replica.download({ start: 0, end: 50 }).done()
    // The client was fully served while the flood was still going on.
    const floodedDuringService = flooded
    flooding = false
    await flood
    expect(answers).toEqual(Array.from({ length: 50 }, (_, i) => i * 10 + 1))
    expect(replica.contiguousLength).toBe(50)
    expect(floodedDuringService).toBeGreaterThan(100)
    expect(hub.stats().totals.inboundOverflows).toBe(0)
  })
})
