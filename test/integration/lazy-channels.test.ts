import crypto from 'hypercore-crypto'
import Protomux from 'protomux'
import { afterEach, describe, expect, it } from 'vitest'
import { Networker, type NetworkerPeer, type SwarmConnection } from '../../src/index.js'
import { EXTENSIONS_PROTOCOL, rawEncoding } from '../../src/io/extension-wire.js'
import { muxIfMade } from '../../src/io/lazy-mux.js'
import { TOPICS_PROTOCOL } from '../../src/io/topic-proof-wire.js'
import { hex } from '../helpers/assertions.js'
import { MemorySwarm } from '../helpers/memory-swarm.js'
import { eventually } from '../helpers/real-network.js'

/*
 * Issue 17, heap per peer: the extensions and topics channels are opened only once either
 * end has something to say on them, and the other end answers whatever it has. Two
 * networkers over one in-memory Noise pair; Protomux on each stream says which channels
 * are open.
 */

const store = { replicate: () => {} }
const open: Networker[] = []

afterEach(async () => {
  await Promise.all(open.splice(0).map((n) => n.close({ timeout: 1000 })))
})

async function pair(): Promise<{
  a: Networker
  b: Networker
  pa: NetworkerPeer
  pb: NetworkerPeer
}> {
  const sa = new MemorySwarm()
  const sb = new MemorySwarm()
  const a = new Networker(store, { swarm: sa })
  const b = new Networker(store, { swarm: sb })
  open.push(a, b)
  MemorySwarm.connect(sa, sb)
  await eventually(() => a.peers.size === 1 && b.peers.size === 1, 'connected')
  return { a, b, pa: [...a.peers][0]!, pb: [...b.peers][0]! }
}

const opened = (stream: SwarmConnection, protocol: string): boolean =>
  Protomux.from(stream).opened({ protocol })

const settle = () => new Promise((r) => setTimeout(r, 100))

describe('channels opened when there is something to say', () => {
  it('no extensions channel while neither side has an extension; the first one opens it and the other side answers', async () => {
    const { a, b, pa, pb } = await pair()
    await settle()
    expect(a.diagnostics().extensionChannels).toBe(0)
    expect(b.diagnostics().extensionChannels).toBe(0)
    expect(opened(pa.stream, EXTENSIONS_PROTOCOL)).toBe(false)
    expect(opened(pb.stream, EXTENSIONS_PROTOCOL)).toBe(false)
    // b registers after the connection: its channel opens, a (with none) answers it.
    const got: string[] = []
    const extB = b.registerExtension('chat', {
      encoding: 'utf8',
      onmessage: (m: string) => got.push(`b:${m}`),
    })
    expect(extB.send('early', pb)).toBe(true) // held: a has not answered yet
    await eventually(() => opened(pa.stream, EXTENSIONS_PROTOCOL), 'a answered')
    expect(opened(pb.stream, EXTENSIONS_PROTOCOL)).toBe(true)
    expect(a.diagnostics().extensionChannels).toBe(1)
    expect(b.diagnostics().extensionChannels).toBe(1)
    expect(extB.peers).toEqual([]) // a answered without it; the grace period goes on
    const extA = a.registerExtension('chat', {
      encoding: 'utf8',
      onmessage: (m: string) => got.push(`a:${m}`),
    })
    await eventually(() => extA.peers.length === 1 && extB.peers.length === 1, 'both have it')
    extA.send('hi', pa)
    await eventually(() => got.length === 2, 'both ways')
    expect(got).toEqual(['a:early', 'b:hi'])
  })

  it("a networker with an extension opens the channel at once and one without answers it: a message sent in peer-add waits for the other's registration", async () => {
    const sa = new MemorySwarm()
    const sb = new MemorySwarm()
    const a = new Networker(store, { swarm: sa })
    const b = new Networker(store, { swarm: sb })
    open.push(a, b)
    const extA = a.registerExtension('late', { encoding: 'utf8' })
    const sent: boolean[] = []
    a.on('peer-add', (peer) => sent.push(extA.send('from peer-add', peer)))
    MemorySwarm.connect(sa, sb)
    await eventually(
      () => b.peers.size === 1 && b.diagnostics().extensionChannels === 1,
      'b answered',
    )
    const [pb] = [...b.peers]
    expect(opened(pb!.stream, EXTENSIONS_PROTOCOL)).toBe(true)
    // No topics on either side: no topics channel.
    expect(opened(pb!.stream, TOPICS_PROTOCOL)).toBe(false)
    await settle()
    const got: string[] = []
    b.registerExtension('late', { encoding: 'utf8', onmessage: (m: string) => got.push(m) })
    await eventually(() => got.length === 1, 'held message delivered')
    expect(got).toEqual(['from peer-add'])
    expect(sent).toEqual([true])
  })

  it('no topics channel while neither side has a topic; the first configure opens it and the other side answers', async () => {
    const { a, b, pa, pb } = await pair()
    await settle()
    expect(opened(pa.stream, TOPICS_PROTOCOL)).toBe(false)
    expect(opened(pb.stream, TOPICS_PROTOCOL)).toBe(false)
    const topic = crypto.randomBytes(32)
    const other = crypto.randomBytes(32)
    await a.configure(topic, { announce: true, lookup: false })
    await eventually(() => opened(pb.stream, TOPICS_PROTOCOL), 'b answered')
    expect(opened(pa.stream, TOPICS_PROTOCOL)).toBe(true)
    expect(pa.topics).toEqual([])
    await b.configure(other, { announce: false, lookup: true })
    await b.configure(topic, { announce: false, lookup: true })
    await eventually(() => pa.topics.length === 1 && pb.topics.length === 1, 'shared')
    expect(pa.topics.map(hex)).toEqual([hex(topic)])
    expect(pb.topics.map(hex)).toEqual([hex(topic)])
  })

  it('a topic joined before the connection opens the topics channel with it; a side with none answers', async () => {
    const sa = new MemorySwarm()
    const sb = new MemorySwarm()
    const a = new Networker(store, { swarm: sa })
    const b = new Networker(store, { swarm: sb })
    open.push(a, b)
    const topic = crypto.randomBytes(32)
    await a.configure(topic, { announce: true, lookup: false })
    MemorySwarm.connect(sa, sb)
    await eventually(() => b.peers.size === 1, 'connected')
    const [pb] = [...b.peers]
    await eventually(() => opened(pb!.stream, TOPICS_PROTOCOL), 'b answered')
    expect(b.diagnostics().extensionChannels).toBe(0)
    expect(pb!.topics).toEqual([])
    await b.configure(topic, { announce: false, lookup: true })
    await eventually(() => pb!.topics.length === 1, 'shared')
    const [pa] = [...a.peers]
    await eventually(() => pa!.topics.length === 1, 'shared both ways')
  })

  it('a connection nobody says anything on has no Protomux at either end; the first bytes make one, which reads them', async () => {
    const { a, b, pa, pb } = await pair()
    await settle()
    expect(muxIfMade(pa.stream)).toBeNull()
    expect(muxIfMade(pb.stream)).toBeNull()
    const got: string[] = []
    a.registerExtension('chat', { encoding: 'utf8', onmessage: (m: string) => got.push(m) })
    const extB = b.registerExtension('chat', { encoding: 'utf8' })
    await eventually(() => extB.peers.length === 1, 'b learned that a has it')
    expect(muxIfMade(pa.stream)).not.toBeNull()
    expect(muxIfMade(pb.stream)).not.toBeNull()
    extB.send('hello', pb)
    await eventually(() => got.length === 1, 'delivered')
    expect(got).toEqual(['hello'])
  })

  it("a Protomux the user makes on the peer's stream before the remote speaks gets the networker's pairings", async () => {
    const { b, pa, pb } = await pair()
    await settle()
    // The user runs a protocol of their own on a's end; nothing of the networker's is paired on it yet.
    const userMux = Protomux.from(pa.stream)
    const echoed: string[] = []
    const mine = userMux.createChannel({ protocol: 'user/echo' })
    const theirs = Protomux.from(pb.stream).createChannel({ protocol: 'user/echo' })
    expect(mine).not.toBeNull()
    expect(theirs).not.toBeNull()
    const msgA = mine!.addMessage({ encoding: rawEncoding })
    theirs!.addMessage({
      encoding: rawEncoding,
      onmessage: (m: Uint8Array) => echoed.push(Buffer.from(m).toString()),
    })
    mine!.open()
    theirs!.open()
    msgA.send(Buffer.from('echo'))
    await eventually(() => echoed.length === 1, 'user protocol works')
    expect(echoed).toEqual(['echo'])
    // b's extension channel reaches a through the user's Protomux: a's pairing answers it.
    b.registerExtension('chat', { encoding: 'utf8' })
    await eventually(() => opened(pa.stream, EXTENSIONS_PROTOCOL), 'a answered')
    expect(userMux).toBe(muxIfMade(pa.stream))
  })

  it('a store that replicates over Protomux makes it on every connection, and the pairings go on it at once', async () => {
    const muxing = { replicate: (stream: SwarmConnection) => Protomux.from(stream) }
    const sa = new MemorySwarm()
    const sb = new MemorySwarm()
    const a = new Networker(muxing, { swarm: sa })
    const b = new Networker(store, { swarm: sb })
    open.push(a, b)
    MemorySwarm.connect(sa, sb)
    await eventually(() => a.peers.size === 1 && b.peers.size === 1, 'connected')
    const [pa] = [...a.peers]
    expect(muxIfMade(pa!.stream)).not.toBeNull()
    const got: string[] = []
    a.registerExtension('chat', { encoding: 'utf8', onmessage: (m: string) => got.push(m) })
    const extB = b.registerExtension('chat', { encoding: 'utf8' })
    await eventually(() => extB.peers.length === 1, 'b learned that a has it')
    extB.send('over the store mux', [...b.peers][0]!)
    await eventually(() => got.length === 1, 'delivered')
    expect(got).toEqual(['over the store mux'])
  })
})
