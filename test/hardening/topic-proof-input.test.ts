import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import b4a from 'b4a'
import c from 'compact-encoding'
import Corestore from 'corestore'
import crypto from 'hypercore-crypto'
import Protomux, { type Channel, type Message } from 'protomux'
import { afterEach, describe, expect, it } from 'vitest'
import { Networker, type NetworkerPeer, type SwarmConnection } from '../../src/index.js'
import { PROOF_BURST } from '../../src/io/topic-link.js'
import { proveTopic } from '../../src/io/topic-proof-crypto.js'
import {
  decodeHello,
  encodeHello,
  encodeProve,
  encodeWithdraw,
  TOPICS_PROTOCOL,
} from '../../src/io/topic-proof-wire.js'
import type { TopicProofError } from '../../src/io/topic-proofs.js'
import { hex } from '../helpers/assertions.js'
import { MemorySwarm } from '../helpers/memory-swarm.js'
import { eventually } from '../helpers/real-network.js'

/*
 * Issue 19, item 1 and "Bad input": a hand-rolled remote speaks the topics channel to a real
 * networker. A proof replayed on another connection or reflected back proves nothing;
 * malformed, oversized and flooding proof messages are bounded and reported, and the
 * connection keeps replicating.
 */

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f().catch(() => {})
})

async function store(): Promise<Corestore> {
  const dir = await mkdtemp(join(tmpdir(), 'csn-proof-'))
  const s = new Corestore(dir)
  await s.ready()
  cleanups.push(async () => {
    await s.close()
    await rm(dir, { recursive: true, force: true })
  })
  return s
}

/** A networker on a memory swarm that has joined `topics`. */
async function networker(
  topics: Buffer[],
): Promise<{ n: Networker; swarm: MemorySwarm; s: Corestore }> {
  const s = await store()
  const swarm = new MemorySwarm()
  const n = new Networker(s, { swarm })
  cleanups.push(() => n.close())
  for (const t of topics) await n.configure(t, { announce: true, lookup: true })
  return { n, swarm, s }
}

interface Remote {
  stream: SwarmConnection
  channel: Channel
  prove: Message<Uint8Array>
  withdraw: Message<Uint8Array>
  flags: Message<Uint8Array>
  /** What the networker proved to us in its handshake. */
  hello: Promise<ReturnType<typeof decodeHello>>
  /** The networker's peer for this remote, once listed. */
  peer: Promise<NetworkerPeer>
}

/**
 * A remote that is no networker: a Corestore replicating over the stream and, on the same
 * Protomux, a topics channel whose every byte the test chooses. `handshake` gets the
 * connection's handshake hash and our role.
 */
async function remote(
  n: Networker,
  swarm: MemorySwarm,
  replicateWith: Corestore,
  handshake: (hash: Uint8Array, isInitiator: boolean) => Uint8Array,
): Promise<Remote> {
  const peer = new Promise<NetworkerPeer>((resolve) => n.once('peer-add', resolve))
  const { b: stream } = MemorySwarm.connect(swarm, new MemorySwarm())
  await (stream as unknown as { opened: Promise<boolean> }).opened
  replicateWith.replicate(stream)
  const mux = Protomux.from(stream)
  let hello!: (h: ReturnType<typeof decodeHello>) => void
  const gotHello = new Promise<ReturnType<typeof decodeHello>>((r) => {
    hello = r
  })
  const channel = mux.createChannel({
    protocol: TOPICS_PROTOCOL,
    handshake: c.raw,
    onopen: (bytes) => hello(decodeHello(b4a.from(bytes as Uint8Array))),
  }) as Channel
  const raw = { encoding: c.raw } as { encoding: never }
  const prove = channel.addMessage<Uint8Array>(raw)
  const withdraw = channel.addMessage<Uint8Array>(raw)
  const flags = channel.addMessage<Uint8Array>(raw)
  const hash = (stream as unknown as { handshakeHash: Uint8Array }).handshakeHash
  channel.open(handshake(hash, stream.isInitiator))
  return { stream, channel, prove, withdraw, flags, hello: gotHello, peer }
}

const settle = (ms = 100) => new Promise((r) => setTimeout(r, ms))

describe('topic proofs against a remote that cheats', () => {
  it('a proof counts on its own connection only: replayed elsewhere or reflected back, it proves nothing', async () => {
    const topic = crypto.randomBytes(32)
    const { n, swarm, s } = await networker([topic])
    // Connection 1: an honest proof of `topic` with our role on this handshake.
    let proof1: Uint8Array | null = null
    const r1 = await remote(n, swarm, s, (hash, isInitiator) => {
      proof1 = proveTopic(topic, hash, isInitiator)
      return encodeHello(0, [proof1])
    })
    const p1 = await r1.peer
    await eventually(() => p1.topics.length === 1, 'proven on its connection')
    expect(p1.topics.map((t) => hex(t))).toEqual([hex(topic)])

    // Connection 2 (another key): the same proof replayed, and the networker's own proofs
    // of this connection sent back as ours.
    const r2 = await remote(n, swarm, await store(), () => encodeHello(0, [proof1!]))
    const p2 = await r2.peer
    const theirs = await r2.hello
    expect(theirs.proofs.length).toBe(1)
    r2.prove.send(encodeProve(1, theirs.proofs))
    await settle(300)
    expect(p2.topics).toEqual([])
    expect(n.peersOf(topic)).toEqual([p1])
    // The networker's proof on connection 2 is not the one it made on connection 1 either.
    const ours1 = (await r1.hello).proofs[0]!
    expect(b4a.equals(ours1, theirs.proofs[0]!)).toBe(false)
  })

  it('malformed messages are reported once per connection, oversized ones refused, and replication goes on', async () => {
    const topic = crypto.randomBytes(32)
    const { n, swarm, s } = await networker([topic])
    const core = s.get({ name: 'data' })
    await core.ready()
    await core.append(b4a.from('still replicating'))
    const errors: { err: TopicProofError; peer: NetworkerPeer }[] = []
    n.on('topic-proof-error', (err, peer) => errors.push({ err, peer }))
    const other = await store()
    const r = await remote(n, swarm, other, (hash, isInitiator) =>
      encodeHello(1, [proveTopic(topic, hash, isInitiator)]),
    )
    const peer = await r.peer
    await eventually(() => peer.topics.length === 1, 'proven')
    r.prove.send(b4a.from([0xff, 0xff, 0xff]))
    // 5000 proofs in one message: over the per-message bound.
    const tooMany = b4a.concat([c.encode(c.uint, 0), c.encode(c.uint, 5000)])
    r.prove.send(tooMany)
    r.withdraw.send(b4a.from([5, 1, 2]))
    r.flags.send(b4a.alloc(0))
    await settle(300)
    expect(errors.map((e) => e.err.code)).toEqual(['TOPIC_PROOF_MALFORMED'])
    expect(errors[0]!.peer).toBe(peer)
    expect(peer.topics.map((t) => hex(t))).toEqual([hex(topic)])
    // Still a working channel: a withdrawal is heard.
    r.withdraw.send(encodeWithdraw([proveTopic(topic, hashOf(r.stream), r.stream.isInitiator)]))
    await eventually(() => peer.topics.length === 0, 'withdrawn')
    const replica = other.get({ key: core.key })
    await replica.ready()
    expect(b4a.toString((await replica.get(0))!)).toBe('still replicating')
    expect(n.peers.size).toBe(1)
  })

  it('thousands of proofs of topics it does not know cost nothing kept; a flood closes the topics channel only', async () => {
    const topic = crypto.randomBytes(32)
    const { n, swarm, s } = await networker([topic])
    const core = s.get({ name: 'data' })
    await core.ready()
    await core.append(b4a.from('after the flood'))
    const errors: string[] = []
    n.on('topic-proof-error', (err) => errors.push(err.code))
    const other = await store()
    const random = (k: number) => Array.from({ length: k }, () => crypto.randomBytes(32))
    const r = await remote(n, swarm, other, (hash, isInitiator) =>
      encodeHello(0, [...random(1023), proveTopic(topic, hash, isInitiator)]),
    )
    const peer = await r.peer
    // 20 000 more proofs of unknown topics, within the budget: nothing reported or shared.
    for (let i = 0; i < 20; i++) r.prove.send(encodeProve(1, random(1000)))
    await settle(300)
    expect(errors).toEqual([])
    expect(peer.topics.map((t) => hex(t))).toEqual([hex(topic)])
    // Past the budget: reported once, the channel closed, the peer judged by our lookups.
    const batch = encodeProve(0, random(1024))
    for (let i = 0; i < Math.ceil(PROOF_BURST / 1024) + 2; i++) r.prove.send(batch)
    await eventually(() => errors.length === 1, 'flood reported')
    expect(errors).toEqual(['TOPIC_PROOF_FLOOD'])
    await eventually(() => r.channel.closed, 'topics channel closed')
    expect(peer.topics).toEqual([])
    const replica = other.get({ key: core.key })
    await replica.ready()
    expect(b4a.toString((await replica.get(0))!)).toBe('after the flood')
    expect(n.peers.size).toBe(1)
  })
})

function hashOf(stream: SwarmConnection): Uint8Array {
  return (stream as unknown as { handshakeHash: Uint8Array }).handshakeHash
}
