import b4a from 'b4a'
import c from 'compact-encoding'
import type Corestore from 'corestore'
import crypto from 'hypercore-crypto'
import Protomux from 'protomux'
import { describe, expect, it } from 'vitest'
import type { Networker, NetworkerError, NetworkerPeer, SwarmConnection } from '../../src/index.js'
import { EXTENSIONS_PROTOCOL } from '../../src/io/extension-wire.js'
import { hex } from '../helpers/assertions.js'
import { eventually, useRealNetwork } from '../helpers/real-network.js'

/*
 * Issue 15, item 1: a message sent as soon as a peer is listed (in 'peer-add', before the
 * remote has said which extensions it has) is held, then delivered exactly once and in order
 * if the remote has the extension or registers it within the grace period, else dropped and
 * reported. Real Hyperswarm on a loopback testnet, real Corestore.
 */

const testnet = useRealNetwork()
const settle = (ms = 200) => new Promise((r) => setTimeout(r, ms))

/** `a` announces and `b` looks up a fresh topic (or `topic`), so they connect. */
async function connect(a: Networker, b: Networker, topic = crypto.randomBytes(32)): Promise<void> {
  await a.configure(topic, { announce: true, lookup: false })
  await b.configure(topic, { announce: false, lookup: true })
}

const peerOf = (from: Networker, to: Networker): NetworkerPeer => {
  const peer = from.getPeer(to.keyPair.publicKey)
  if (peer === null) throw new Error('not connected')
  return peer
}

async function three(): Promise<[Networker, Networker, Networker]> {
  const nodes = await Promise.all([0, 1, 2].map(() => testnet().networker()))
  return nodes.map((n) => n.networker) as [Networker, Networker, Networker]
}

const zero = { connections: 0, pendingConnections: 0, peers: 0, timers: 0, extensionChannels: 0 }

describe('extension messages sent before the remote has answered', () => {
  it("delivers messages sent from the networker's peer-add exactly once, in send order", async () => {
    const [hub, b, c3] = await three()
    const got: { from: string; i: number }[] = []
    hub.registerExtension<{ i: number }>('seq', {
      encoding: 'json',
      onmessage: (m, peer) => got.push({ from: hex(peer.remotePublicKey), i: m.i }),
    })
    const results: boolean[] = []
    const knownAtAdd: boolean[] = []
    for (const sender of [b, c3]) {
      const ext = sender.registerExtension<{ i: number }>('seq', { encoding: 'json' })
      sender.on('peer-add', (peer) => {
        knownAtAdd.push(ext.has(peer))
        for (let i = 0; i < 5; i++) results.push(ext.send({ i }, peer))
      })
    }
    const topic = crypto.randomBytes(32)
    await connect(hub, b, topic)
    await c3.configure(topic, { announce: false, lookup: true })
    await eventually(() => got.length === 10, 'ten messages')
    await settle()
    expect(got.length).toBe(10)
    expect(results).toEqual(Array(10).fill(true))
    expect(knownAtAdd).toEqual([false, false]) // sent before the remote's answer: all held
    for (const sender of [b, c3]) {
      const from = hex(sender.keyPair.publicKey)
      expect(got.filter((m) => m.from === from).map((m) => m.i)).toEqual([0, 1, 2, 3, 4])
    }
  })

  it('delivers held messages to a remote that registers the extension 2 s after connecting', async () => {
    const { networker: a } = await testnet().networker()
    const { networker: b } = await testnet().networker()
    const errors: NetworkerError[] = []
    const extA = a.registerExtension('late', { encoding: 'utf8', onerror: (e) => errors.push(e) })
    const adds: string[] = []
    extA.on('peer-add', (p) => adds.push(hex(p.remotePublicKey)))
    const sent: boolean[] = []
    a.on('peer-add', (peer) => {
      for (const m of ['one', 'two', 'three']) sent.push(extA.send(m, peer))
    })
    await connect(a, b)
    await eventually(() => b.peers.size === 1, 'connected')
    await new Promise((r) => setTimeout(r, 1000))
    // b has answered without 'late': a keeps holding (grace period), has() stays false.
    expect(extA.has(peerOf(a, b))).toBe(false)
    expect(extA.peers).toEqual([])
    await new Promise((r) => setTimeout(r, 1000))
    const got: string[] = []
    b.registerExtension('late', { encoding: 'utf8', onmessage: (m: string) => got.push(m) })
    await eventually(() => got.length === 3, 'held messages delivered')
    await settle()
    expect(got).toEqual(['one', 'two', 'three'])
    expect(sent).toEqual([true, true, true])
    expect(errors).toEqual([])
    expect(adds).toEqual([hex(b.keyPair.publicKey)])
    expect(extA.has(peerOf(a, b))).toBe(true)
  })

  it('reports EXTENSION_NOT_SUPPORTED at the deadline when the remote never registers; nothing leaks', async () => {
    const { networker: a } = await testnet().networker({ extensionHoldTimeout: 1500 })
    const { networker: b } = await testnet().networker()
    b.registerExtension('other')
    const errors: { err: NetworkerError; at: number; peer: NetworkerPeer | null }[] = []
    const ext = a.registerExtension('never', {
      encoding: 'utf8',
      onerror: (err, peer) => errors.push({ err, at: Date.now(), peer }),
    })
    let addedAt = 0
    a.on('peer-add', (peer) => {
      addedAt = Date.now()
      for (const m of ['x', 'y', 'z']) expect(ext.send(m, peer)).toBe(true)
    })
    await connect(a, b)
    await eventually(() => errors.length === 1, 'dropped and reported')
    await settle()
    expect(errors.length).toBe(1)
    const [{ err, at, peer }] = errors as [(typeof errors)[0]]
    expect(err.code).toBe('EXTENSION_NOT_SUPPORTED')
    expect(err.message).toContain('3 held message(s)')
    expect(at - addedAt).toBeGreaterThanOrEqual(1400)
    expect(peer).toBe(peerOf(a, b))
    // Known not to have it and past the grace period: nothing more is held.
    expect(ext.send('later', peerOf(a, b))).toBe(false)
    expect(ext.broadcast('nobody')).toBe(true)
    expect(a.diagnostics()).toMatchObject({ peers: 1, timers: 0, extensionChannels: 1 })
    await a.close()
    await b.close()
    expect(a.diagnostics()).toEqual(zero)
    expect(b.diagnostics()).toEqual(zero)
    expect(errors.length).toBe(1)
  })

  it('drops and reports at once what is held for a plain Hyperswarm + Corestore peer; replication is unaffected', async () => {
    const { networker: a, store } = await testnet().networker() // default grace: 10 s
    const core = store.get({ name: 'plain' })
    await core.ready()
    await core.append(b4a.from('block'))
    const errors: NetworkerError[] = []
    const ext = a.registerExtension('chat', { encoding: 'utf8', onerror: (e) => errors.push(e) })
    let addedAt = 0
    a.on('peer-add', (peer) => {
      addedAt = Date.now()
      expect(ext.send('anyone there?', peer)).toBe(true)
    })
    await a.configure(core.discoveryKey, { announce: true, lookup: false })
    const plainStore = await testnet().store()
    const plain = testnet().plainSwarm()
    plain.on('connection', (conn: unknown) => plainStore.replicate(conn))
    const replica = plainStore.get({ key: core.key })
    await replica.ready()
    plain.join(core.discoveryKey, { client: true, server: false })
    await plain.flush()
    await eventually(() => errors.length === 1, 'reported')
    expect(Date.now() - addedAt).toBeLessThan(5000)
    expect(errors[0]!.code).toBe('EXTENSION_NOT_SUPPORTED')
    expect(errors[0]!.message).toContain('runs no networker extensions')
    expect(b4a.toString((await replica.get(0))!)).toBe('block')
    expect(a.peers.size).toBe(1)
    expect(ext.send('still?', plain.keyPair.publicKey)).toBe(false)
    expect(a.diagnostics().timers).toBe(0)
  })

  it('throws EXTENSION_HOLD_FULL for a send past maxHeldBytes, reports it for a broadcast, delivers what fit', async () => {
    const { networker: a } = await testnet().networker({ maxHeldBytes: 1000 })
    const { networker: b } = await testnet().networker()
    const errors: string[] = []
    const ext = a.registerExtension('bulk', { onerror: (e) => errors.push(e.code) })
    const outcome: unknown[] = []
    a.on('peer-add', (peer) => {
      outcome.push(ext.send(b4a.alloc(600, 1), peer))
      try {
        ext.send(b4a.alloc(600, 2), peer)
        outcome.push('no throw')
      } catch (err) {
        outcome.push((err as NetworkerError).code)
      }
      outcome.push(ext.broadcast(b4a.alloc(600, 3)))
      outcome.push(ext.send(b4a.alloc(300, 4), peer))
    })
    const got: number[][] = []
    b.registerExtension('bulk', { onmessage: (m: Uint8Array) => got.push([m.byteLength, m[0]!]) })
    await connect(a, b)
    await eventually(() => got.length === 2, 'what fit arrives')
    await settle()
    expect(outcome).toEqual([true, 'EXTENSION_HOLD_FULL', false, true])
    expect(errors).toEqual(['EXTENSION_HOLD_FULL'])
    expect(got).toEqual([
      [600, 1],
      [300, 4],
    ])
  })

  it('broadcast reaches peers that have the extension and peers whose answer is pending, once each', async () => {
    const [hub, b, c3] = await three()
    const news = hub.registerExtension('news', { encoding: 'utf8' })
    let n = 0
    const returned: boolean[] = []
    hub.on('peer-add', () => returned.push(news.broadcast(`welcome ${n++}`)))
    const gotB: string[] = []
    const gotC: string[] = []
    b.registerExtension('news', { encoding: 'utf8', onmessage: (m: string) => gotB.push(m) })
    c3.registerExtension('news', { encoding: 'utf8', onmessage: (m: string) => gotC.push(m) })
    const topic = crypto.randomBytes(32)
    await connect(hub, b, topic)
    await eventually(() => gotB.length === 1 && news.peers.length === 1, 'b welcomed')
    await c3.configure(topic, { announce: false, lookup: true })
    await eventually(() => gotC.length === 1 && gotB.length === 2, 'c welcomed, b told')
    await settle()
    expect(gotB).toEqual(['welcome 0', 'welcome 1'])
    expect(gotC).toEqual(['welcome 1'])
    expect(returned).toEqual([true, true])
  })

  it('reports and counts malformed control frames and bounds what a remote announces, without disconnecting', async () => {
    const { networker: a, store } = await testnet().networker()
    const core = store.get({ name: 'still-replicating' })
    await core.ready()
    await core.append(b4a.from('yes'))
    const chat: string[] = []
    a.registerExtension('chat', { encoding: 'utf8', onmessage: (m: string) => chat.push(m) })
    const reported: [string, string][] = []
    a.on('extension-error', (err, info) => reported.push([err.code, info.extension]))
    await a.configure(core.discoveryKey, { announce: true, lookup: false })

    // A hand-made remote: plain Hyperswarm + Corestore, speaking the extensions protocol badly.
    const plainStore: Corestore = await testnet().store()
    const plain = testnet().plainSwarm()
    const frames = new Promise<{
      add: (b: Uint8Array) => void
      other: (t: number, b: Uint8Array) => void
    }>((resolve) => {
      plain.on('connection', (conn: SwarmConnection) => {
        plainStore.replicate(conn)
        const channel = Protomux.from(conn).createChannel({
          protocol: EXTENSIONS_PROTOCOL,
          handshake: c.raw,
        })
        if (channel === null) return
        const messages = [0, 1, 2].map(() => channel.addMessage<Uint8Array>({ encoding: c.raw }))
        channel.open(b4a.from([0xff])) // an unreadable handshake
        resolve({
          add: (b) => messages[0]!.send(b),
          other: (type, b) => messages[type]!.send(b),
        })
      })
    })
    const replica = plainStore.get({ key: core.key })
    await replica.ready()
    plain.join(core.discoveryKey, { client: true, server: false })
    await plain.flush()
    const send = await frames
    send.add(b4a.from([0x05])) // truncated add
    send.add(c.encode(c.uint, 1)) // an id without a name
    send.other(1, c.encode(c.uint, 99)) // remove of an id never announced
    send.other(2, b4a.concat([c.encode(c.uint, 42), b4a.from('?')])) // data for an unknown id
    send.other(2, b4a.alloc(0)) // data without an id
    const add = (id: number, name: string) =>
      b4a.concat([c.encode(c.uint, id), c.encode(c.string, name)])
    send.add(add(3, 'x'.repeat(2000))) // a name over the limit
    send.add(add(7, 'chat'))
    send.other(2, b4a.concat([c.encode(c.uint, 7), b4a.from('hi')]))
    await eventually(() => chat.length === 1, 'a valid frame after bad ones still works')
    expect(chat).toEqual(['hi'])
    const malformed = a.stats().totals.extensionFramesMalformed
    expect(malformed).toBe(7)
    // At most 1024 names per remote: 'chat' and 1023 more are kept, the rest only counted.
    for (let i = 0; i < 1100; i++) send.add(add(100 + i, `name-${i}`))
    send.other(2, b4a.concat([c.encode(c.uint, 7), b4a.from('still here')]))
    await eventually(() => chat.length === 2, 'the connection survived the flood')
    expect(a.stats().totals.extensionFramesMalformed - malformed).toBe(1100 - 1023)
    expect(reported).toEqual([['DECODE_FAILED', EXTENSIONS_PROTOCOL]])
    expect(a.peers.size).toBe(1)
    expect(b4a.toString((await replica.get(0))!)).toBe('yes')
  })

  it('a throwing extension peer-add listener is reported and leaves the extension consistent', async () => {
    const { networker: a } = await testnet().networker()
    const { networker: b } = await testnet().networker()
    const errors: NetworkerError[] = []
    const x = a.registerExtension('x', { encoding: 'utf8', onerror: (e) => errors.push(e) })
    const y = a.registerExtension('y', { encoding: 'utf8' })
    const viaNetworker: string[] = []
    a.on('extension-error', (err, info) => viaNetworker.push(`${info.extension}:${err.code}`))
    const seen: string[] = []
    x.on('peer-add', () => {
      throw new Error('listener bug')
    })
    x.on('peer-add', (peer) => seen.push(`add:${hex(peer.remotePublicKey)}`))
    x.on('peer-remove', (peer) => seen.push(`remove:${hex(peer.remotePublicKey)}`))
    y.on('peer-add', () => {
      throw new Error('another bug')
    })
    const gotB: string[] = []
    b.registerExtension('x', { encoding: 'utf8', onmessage: (m: string) => gotB.push(m) })
    b.registerExtension('y', { encoding: 'utf8' })
    await connect(a, b)
    await eventually(() => seen.length === 1 && viaNetworker.length === 1, 'listeners ran')
    const bKey = hex(b.keyPair.publicKey)
    expect(seen).toEqual([`add:${bKey}`])
    expect(errors.map((e) => e.code)).toEqual(['LISTENER_FAILED'])
    expect((errors[0]!.cause as Error).message).toBe('listener bug')
    expect(viaNetworker).toEqual(['y:LISTENER_FAILED'])
    expect(x.peers).toEqual([peerOf(a, b)])
    expect(y.has(peerOf(a, b))).toBe(true)
    expect(x.send('after the throw', peerOf(a, b))).toBe(true)
    await eventually(() => gotB.length === 1, 'delivered')
    await b.close()
    await eventually(() => seen.length === 2, 'peer-remove')
    expect(seen).toEqual([`add:${bKey}`, `remove:${bKey}`])
    expect(x.peers).toEqual([])
    expect(a.diagnostics()).toEqual(zero)
  })
})
