import b4a from 'b4a'
import { Counter, Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { ErrorCode, Networker } from '../../src/index.js'
import { MemorySwarm } from '../helpers/memory-swarm.js'
import { parseScrape, type Scrape } from '../helpers/prometheus.js'
import { eventually, useRealNetwork } from '../helpers/real-network.js'
import { thrownBy } from '../helpers/thrown.js'

const testnet = useRealNetwork()

const BLOCK = 4096
const BLOCKS = 64
const P = 'chainstore_networker_'

async function scrape(registry: Registry): Promise<Scrape> {
  return parseScrape(await registry.metrics())
}

describe('Prometheus metrics (the metrics option) on a real testnet', () => {
  it('a scrape after known traffic reports peers, bytes, RTT, topics and extension messages exactly', async () => {
    const writerRegistry = new Registry()
    const readerRegistry = new Registry()
    const { networker: writer, store: ws } = await testnet().networker({
      metrics: writerRegistry,
    })
    const { networker: reader, store: rs } = await testnet().networker({
      metrics: readerRegistry,
    })
    // Nothing scraped yet, and nothing happened: every counter at zero.
    const empty = await scrape(readerRegistry)
    expect(empty.value(`${P}peers`)).toBe(0)
    expect(empty.value(`${P}sent_bytes_total`)).toBe(0)
    expect(empty.value(`${P}peer_rtt_seconds`, { stat: 'median' })).toBeUndefined()

    const core = ws.get({ name: 'metrics' })
    await core.ready()
    await core.append(Array.from({ length: BLOCKS }, (_, i) => b4a.alloc(BLOCK, i)))
    const replica = rs.get({ key: core.key })
    await replica.ready()
    await writer.configure(core.discoveryKey, { announce: true, lookup: false })
    await reader.configure(replica.discoveryKey, { announce: false, lookup: true })
    await replica.download({ start: 0, end: BLOCKS }).done()

    const chatW = writer.registerExtension('chat', { encoding: 'utf8' })
    const seen: string[] = []
    reader.registerExtension('chat', { encoding: 'utf8', onmessage: (m: string) => seen.push(m) })
    const peer = writer.getPeer(reader.keyPair.publicKey)!
    await eventually(() => chatW.has(peer), 'chat on both ends')
    for (const text of ['one', 'two', 'three']) chatW.send(text, peer)
    await eventually(() => seen.length === 3, 'three messages')

    const r = await scrape(readerRegistry)
    const stats = reader.stats()
    expect(r.value(`${P}peers`)).toBe(1)
    expect(r.value(`${P}connections`)).toBe(1)
    expect(r.value(`${P}connections_opened_total`)).toBe(1)
    expect(r.value(`${P}topics`, { state: 'joined' })).toBe(1)
    expect(r.value(`${P}topics`, { state: 'joining' })).toBe(0)
    // The whole core came in: its blocks plus proofs and framing, as stats() counts it.
    const received = r.value(`${P}received_bytes_total`)!
    expect(received).toBeGreaterThan(BLOCK * BLOCKS)
    expect(received).toBeLessThanOrEqual(stats.totals.bytesReceived)
    expect(received).toBeGreaterThan(stats.totals.bytesReceived - 1024)
    expect(r.value(`${P}received_packets_total`)).toBeGreaterThan((BLOCK * BLOCKS) / 1500)
    expect(r.value(`${P}extension_messages_received_total`, { extension: 'chat' })).toBe(3)
    expect(r.value(`${P}extension_received_bytes_total`, { extension: 'chat' })).toBe(11)
    expect(r.value(`${P}replication_received_bytes_total`)).toBe(received - 11)
    const median = r.value(`${P}peer_rtt_seconds`, { stat: 'median' })!
    expect(median).toBeGreaterThanOrEqual(0)
    expect(median).toBe((stats.peers[0]!.rttMs ?? Number.NaN) / 1000)
    expect(r.value(`${P}peer_rtt_seconds`, { stat: 'min' })).toBe(median)
    const states = ['connecting', 'online', 'degraded', 'offline', 'unknown']
    expect(states.reduce((n, state) => n + r.value(`${P}dht_state`, { state })!, 0)).toBe(1)

    const w = await scrape(writerRegistry)
    expect(w.value(`${P}extension_messages_sent_total`, { extension: 'chat' })).toBe(3)
    expect(w.value(`${P}extension_sent_bytes_total`, { extension: 'chat' })).toBe(11)
    expect(w.value(`${P}sent_bytes_total`)).toBeGreaterThan(BLOCK * BLOCKS)
    expect(w.value(`${P}topics`, { state: 'joined' })).toBe(1)

    // The reader closes: its registry keeps its final counts (closed as `closing`), and the
    // writer's counts the close as `ended`; no counter goes down.
    const sentBefore = r.value(`${P}sent_bytes_total`)!
    await reader.close()
    await eventually(() => writer.peers.size === 0, 'the writer sees the reader go')
    const after = await scrape(readerRegistry)
    expect(after.value(`${P}peers`)).toBe(0)
    expect(after.value(`${P}connections_closed_total`, { reason: 'closing' })).toBe(1)
    expect(after.value(`${P}sent_bytes_total`)).toBeGreaterThanOrEqual(sentBefore)
    expect(after.value(`${P}extension_messages_received_total`, { extension: 'chat' })).toBe(3)
    const w2 = await scrape(writerRegistry)
    expect(w2.value(`${P}connections_closed_total`, { reason: 'ended' })).toBe(1)
    expect(w2.value(`${P}peers`)).toBe(0)
    expect(w2.value(`${P}sent_bytes_total`)).toBeGreaterThanOrEqual(
      w.value(`${P}sent_bytes_total`)!,
    )
  })

  it('names every metric by the naming guide: one prefix, counters ending _total, no default metrics, no peer label', async () => {
    const registry = new Registry()
    const { networker: a } = await testnet().networker({ metrics: registry })
    const { networker: b } = await testnet().networker()
    const topic = Buffer.alloc(32, 7)
    await a.configure(topic)
    await b.configure(topic)
    await eventually(() => a.peers.size === 1, 'connected')
    const text = await registry.metrics()
    const s = parseScrape(text)
    expect(s.types.size).toBeGreaterThan(20)
    for (const [name, type] of s.types) {
      expect(name.startsWith(P), name).toBe(true)
      expect(name.endsWith('_total'), name).toBe(type === 'counter')
      expect(['counter', 'gauge']).toContain(type)
    }
    for (const key of s.samples.keys()) expect(key.startsWith(P), key).toBe(true)
    // No peer key (or any 64-hex string) appears in a label.
    expect(text).not.toMatch(/[0-9a-f]{64}/)
    expect(text).not.toContain(b4a.toString(b.keyPair.publicKey, 'hex').slice(0, 12))
  })
})

describe('the metrics option', () => {
  it('lets several networkers share a registry, apart by their labels or summed without', async () => {
    const registry = new Registry()
    const idle = { replicate: (): void => {} }
    const make = (labels?: Record<string, string>) =>
      new Networker(idle, {
        swarm: new MemorySwarm(),
        metrics: labels === undefined ? registry : { registry, labels },
      })
    const a = make({ node: 'a' })
    const b = make({ node: 'b' })
    const c = make({ node: 'b' })
    const swarms = [a, b, c].map((n) => n.swarm as MemorySwarm)
    MemorySwarm.connect(swarms[0]!, swarms[1]!)
    MemorySwarm.connect(swarms[0]!, swarms[2]!)
    await eventually(() => a.peers.size === 2, 'a has two peers')
    let s = await scrape(registry)
    expect(s.value(`${P}peers`, { node: 'a' })).toBe(2)
    expect(s.value(`${P}peers`, { node: 'b' })).toBe(2)
    // Other label names on the same registry would make series nobody can aggregate.
    expect(() => make()).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_OPTION }))
    await c.close()
    s = await scrape(registry)
    expect(s.value(`${P}peers`, { node: 'b' })).toBe(1)
    expect(s.value(`${P}connections_opened_total`, { node: 'b' })).toBe(2)
    expect(s.value(`${P}connections_closed_total`, { node: 'b', reason: 'closing' })).toBe(1)
    await Promise.all([a.close(), b.close()])
  })

  it('refuses a wrong option or a taken name before making anything', async () => {
    const idle = { replicate: (): void => {} }
    const bad = [
      {},
      { registry: {} },
      { registry: new Registry(), labels: { reason: 'x' } },
      { registry: new Registry(), labels: { 'not a name': 'x' } },
      { registry: new Registry(), labels: { node: 1 } },
    ]
    for (const metrics of bad) {
      const swarm = new MemorySwarm()
      expect(() => new Networker(idle, { swarm, metrics: metrics as never })).toThrow(
        expect.objectContaining({ code: ErrorCode.INVALID_OPTION }),
      )
      expect(swarm.listenerCount('connection')).toBe(0)
    }
    const taken = new Registry()
    new Counter({ name: `${P}peers`, help: 'someone else', registers: [taken] })
    expect(
      thrownBy(() => new Networker(idle, { swarm: new MemorySwarm(), metrics: taken })).message,
    ).toMatch(/already has a metric named chainstore_networker_peers/)
    expect(taken.getMetricsAsArray()).toHaveLength(1)
  })
})
