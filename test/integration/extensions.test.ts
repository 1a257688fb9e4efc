import b4a from 'b4a'
import c from 'compact-encoding'
import crypto from 'hypercore-crypto'
import { describe, expect, it } from 'vitest'
import type { Networker, NetworkerError, NetworkerPeer } from '../../src/index.js'
import { hex } from '../helpers/assertions.js'
import { eventually, type RealNetwork, useRealNetwork } from '../helpers/real-network.js'

const testnet = useRealNetwork()

/** n networkers that all announce and look up one topic, connected in a full mesh. */
async function mesh(n: number): Promise<Awaited<ReturnType<RealNetwork['networker']>>[]> {
  const nodes = await Promise.all(Array.from({ length: n }, () => testnet().networker()))
  const topic = crypto.randomBytes(32)
  for (const { networker } of nodes) await networker.configure(topic)
  await eventually(
    () => nodes.every(({ networker }) => networker.peers.size === n - 1),
    'full mesh',
  )
  return nodes
}

const peerOf = (from: Networker, to: Networker): NetworkerPeer => {
  const peer = from.getPeer(to.keyPair.publicKey)
  if (peer === null) throw new Error('not connected')
  return peer
}

describe('extensions over Protomux on real connections', () => {
  it('delivers messages from two peers with the right sender and content', async () => {
    const [a, b, c3] = (await mesh(3)).map((x) => x.networker) as [Networker, Networker, Networker]
    const received: [string, string][] = []
    const extA = a.registerExtension('chat', {
      encoding: 'utf8',
      onmessage: (msg: string, peer) => received.push([hex(peer.remotePublicKey), msg]),
    })
    const extB = b.registerExtension('chat', { encoding: 'utf8' })
    const extC = c3.registerExtension('chat', { encoding: 'utf8' })
    await eventually(() => extB.has(peerOf(b, a)) && extC.has(peerOf(c3, a)), 'channels open')
    expect(extB.send('from b', peerOf(b, a))).toBe(true)
    extC.send('from c', a.keyPair.publicKey)
    await eventually(() => received.length === 2, 'two messages')
    expect(received.sort()).toEqual(
      [
        [hex(b.keyPair.publicKey), 'from b'],
        [hex(c3.keyPair.publicKey), 'from c'],
      ].sort(),
    )
    expect(extA.peers.length).toBe(2)
  })

  it('supports the object form, the function form, json and compact-encoding codecs', async () => {
    const [a, b] = (await mesh(2)).map((x) => x.networker) as [Networker, Networker]
    const jsonSeen: unknown[] = []
    const codecSeen: unknown[] = []
    a.registerExtension({ name: 'json', encoding: 'json', onmessage: (m) => jsonSeen.push(m) })
    const extJsonB = b.registerExtension({ name: 'json', encoding: 'json' })
    const point = c.array(c.uint)
    a.registerExtension('points', (ext) => {
      expect(ext.name).toBe('points')
      return { encoding: point, onmessage: (m: number[]) => codecSeen.push(m) }
    })
    const extPointsB = b.registerExtension('points', { encoding: point })
    await eventually(() => extJsonB.peers.length === 1 && extPointsB.peers.length === 1, 'open')
    extJsonB.broadcast({ hello: ['world', 1, null] })
    extPointsB.broadcast([1, 2, 300000])
    await eventually(() => jsonSeen.length === 1 && codecSeen.length === 1, 'delivered')
    expect(jsonSeen).toEqual([{ hello: ['world', 1, null] }])
    expect(codecSeen).toEqual([[1, 2, 300000]])
    expect(() => a.registerExtension('bad', { encoding: 'base64' as never })).toThrow(
      expect.objectContaining({ code: 'UNKNOWN_ENCODING' }),
    )
  })

  it('works when registered before connecting, sending from the peer-add listener', async () => {
    const nodes = await Promise.all([testnet().networker(), testnet().networker()])
    const [a, b] = nodes.map((x) => x.networker) as [Networker, Networker]
    const got: string[] = []
    a.registerExtension('early', { encoding: 'utf8', onmessage: (m: string) => got.push(m) })
    const extB = b.registerExtension('early', { encoding: 'utf8' })
    const sentOk: boolean[] = []
    extB.on('peer-add', (peer) => {
      expect(extB.has(peer)).toBe(true)
      sentOk.push(extB.send('first words', peer))
    })
    const topic = crypto.randomBytes(32)
    await a.configure(topic, { announce: true, lookup: false })
    await b.configure(topic, { announce: false, lookup: true })
    await eventually(() => got.length === 1, 'message sent from peer-add arrives')
    expect(got).toEqual(['first words'])
    expect(sentOk).toEqual([true])
  })

  it('answers requests from inside onmessage', async () => {
    const [a, b] = (await mesh(2)).map((x) => x.networker) as [Networker, Networker]
    const answers: string[] = []
    const server = a.registerExtension('rpc', {
      encoding: 'json',
      onmessage: (req: { id: number; q: string }, peer) => {
        server.send({ id: req.id, a: req.q.toUpperCase() } as never, peer)
      },
    })
    const client = b.registerExtension('rpc', {
      encoding: 'json',
      onmessage: (res: { id: number; a: string }) => answers.push(`${res.id}:${res.a}`),
    })
    await eventually(() => client.peers.length === 1, 'open')
    for (let i = 0; i < 5; i++) client.send({ id: i, q: `q${i}` } as never, peerOf(b, a))
    await eventually(() => answers.length === 5, 'answers')
    expect(answers).toEqual(['0:Q0', '1:Q1', '2:Q2', '3:Q3', '4:Q4'])
  })

  it('works when registered after the connection, on either side, and announces who has it', async () => {
    const [a, b] = (await mesh(2)).map((x) => x.networker) as [Networker, Networker]
    const seen: string[] = []
    const extA = a.registerExtension('late', {
      encoding: 'utf8',
      onmessage: (m: string) => seen.push(m),
    })
    const adds: string[] = []
    extA.on('peer-add', (p) => adds.push(hex(p.remotePublicKey)))
    // b has no such extension yet and has said so; within the grace period after the
    // connection it may still register it, so what a sends meanwhile is held for it.
    await new Promise((r) => setTimeout(r, 100))
    expect(extA.peers).toEqual([])
    expect(extA.send('early', peerOf(a, b))).toBe(true)
    const extB = b.registerExtension('late', {
      encoding: 'utf8',
      onmessage: (m: string) => seen.push(`b:${m}`),
    })
    await eventually(
      () => extA.peers.length === 1 && extB.peers.length === 1,
      'opened by the late side',
    )
    expect(adds).toEqual([hex(b.keyPair.publicKey)])
    extB.send('hi', peerOf(b, a))
    extA.send('hello', peerOf(a, b))
    await eventually(() => seen.length === 3, 'both ways')
    // The held message arrived, before the later one from the same side.
    expect(seen.filter((m) => m.startsWith('b:'))).toEqual(['b:early', 'b:hello'])
    expect(seen.filter((m) => !m.startsWith('b:'))).toEqual(['hi'])
  })

  it('replaces a same-name registration so each message is handled once', async () => {
    const [a, b] = (await mesh(2)).map((x) => x.networker) as [Networker, Networker]
    const first: string[] = []
    const second: string[] = []
    const old = a.registerExtension('dup', {
      encoding: 'utf8',
      onmessage: (m: string) => first.push(m),
    })
    const extB = b.registerExtension('dup', { encoding: 'utf8' })
    await eventually(() => extB.peers.length === 1, 'open')
    a.registerExtension('dup', { encoding: 'utf8', onmessage: (m: string) => second.push(m) })
    expect(old.isDestroyed).toBe(true)
    expect(() => old.broadcast('x')).toThrow(
      expect.objectContaining({ code: 'EXTENSION_DESTROYED' }),
    )
    await eventually(() => extB.peers.length === 1 && extB.has(peerOf(b, a)), 'reopened')
    await new Promise((r) => setTimeout(r, 50))
    extB.send('once', peerOf(b, a))
    await eventually(() => second.length === 1, 'delivered to the new registration')
    await new Promise((r) => setTimeout(r, 50))
    expect(first).toEqual([])
    expect(second).toEqual(['once'])
  })

  it('stops delivery on both sides when destroyed', async () => {
    const [a, b] = (await mesh(2)).map((x) => x.networker) as [Networker, Networker]
    const gotA: string[] = []
    const extA = a.registerExtension('gone', {
      encoding: 'utf8',
      onmessage: (m: string) => gotA.push(m),
    })
    const extB = b.registerExtension('gone', { encoding: 'utf8' })
    const removed: string[] = []
    extB.on('peer-remove', (p) => removed.push(hex(p.remotePublicKey)))
    await eventually(() => extB.peers.length === 1, 'open')
    extA.destroy()
    await eventually(() => extB.peers.length === 0, 'b learns a left')
    expect(removed).toEqual([hex(a.keyPair.publicKey)])
    expect(extB.send('into the void', peerOf(b, a))).toBe(false)
    expect(() => extA.send('x', peerOf(a, b))).toThrow(
      expect.objectContaining({ code: 'EXTENSION_DESTROYED' }),
    )
    await new Promise((r) => setTimeout(r, 50))
    expect(gotA).toEqual([])
    // The connection itself is untouched.
    expect(a.peers.size).toBe(1)
  })

  it('reports malformed bytes and throwing handlers without breaking the connection', async () => {
    const nodes = await mesh(2)
    const [{ networker: a, store: sa }, { networker: b, store: sb }] = nodes as [
      (typeof nodes)[0],
      (typeof nodes)[0],
    ]
    const errors: NetworkerError[] = []
    const good: unknown[] = []
    a.registerExtension('strict', {
      encoding: 'json',
      onmessage: (m: { boom?: boolean }) => {
        if (m.boom) throw new Error('handler blew up')
        good.push(m)
      },
      onerror: (err) => errors.push(err),
    })
    const raw = b.registerExtension('strict', { encoding: 'binary' })
    await eventually(() => raw.peers.length === 1, 'open')
    raw.send(b4a.from('{not json'), peerOf(b, a))
    raw.send(b4a.from('{"boom":true}'), peerOf(b, a))
    raw.send(b4a.from('{"ok":1}'), peerOf(b, a))
    await eventually(() => errors.length === 2 && good.length === 1, 'errors reported')
    expect(errors.map((e) => e.code)).toEqual(['DECODE_FAILED', 'HANDLER_FAILED'])
    expect(good).toEqual([{ ok: 1 }])

    // Without onerror the networker emits 'extension-error'; no uncaught throw.
    const networkerErrors: string[] = []
    a.on('extension-error', (err, info) => networkerErrors.push(`${info.extension}:${err.code}`))
    a.registerExtension('nohandler', {
      encoding: 'utf8',
      onmessage: () => Promise.reject(new Error('async')),
    })
    const rawB = b.registerExtension('nohandler', { encoding: 'binary' })
    await eventually(() => rawB.peers.length === 1, 'open')
    rawB.broadcast(b4a.from([0xff, 0xfe]))
    rawB.broadcast(b4a.from('fine'))
    await eventually(() => networkerErrors.length === 2, 'reported on the networker')
    expect(networkerErrors).toEqual(['nohandler:DECODE_FAILED', 'nohandler:HANDLER_FAILED'])

    // The connection still replicates.
    const core = sa.get({ name: 'still-replicating' })
    await core.ready()
    await core.append(b4a.from('yes'))
    const replica = sb.get({ key: core.key })
    await replica.ready()
    await a.configure(core.discoveryKey, { announce: true, lookup: false })
    await b.configure(core.discoveryKey, { announce: false, lookup: true })
    expect(b4a.toString((await replica.get(0))!)).toBe('yes')
    expect(a.peers.size).toBe(1)
  })

  it('throws a coded error when sending to a removed peer or a stranger', async () => {
    const [a, b] = (await mesh(2)).map((x) => x.networker) as [Networker, Networker]
    const ext = a.registerExtension('x', { encoding: 'utf8' })
    b.registerExtension('x', { encoding: 'utf8' })
    await eventually(() => ext.peers.length === 1, 'open')
    const peer = peerOf(a, b)
    await b.close()
    await eventually(() => a.peers.size === 0, 'b gone')
    expect(ext.peers).toEqual([])
    expect(() => ext.send('hello?', peer)).toThrow(
      expect.objectContaining({ code: 'PEER_NOT_CONNECTED' }),
    )
    expect(() => ext.send('hello?', b.keyPair.publicKey)).toThrow(
      expect.objectContaining({ code: 'PEER_NOT_CONNECTED' }),
    )
    expect(() => ext.send('hello?', { ...peer })).toThrow(
      expect.objectContaining({ code: 'PEER_NOT_CONNECTED' }),
    )
    expect(ext.broadcast('nobody')).toBe(true)
  })

  it('enforces the message size limit both ways', async () => {
    const [a, b] = (await mesh(2)).map((x) => x.networker) as [Networker, Networker]
    const errors: string[] = []
    const got: number[] = []
    a.registerExtension('big', {
      maxMessageSize: 1024,
      onmessage: (m: Uint8Array) => got.push(m.byteLength),
      onerror: (err) => errors.push(err.code),
    })
    const extB = b.registerExtension('big', { maxMessageSize: 1 << 20 })
    await eventually(() => extB.peers.length === 1, 'open')
    const extA = a.registerExtension('big2', { maxMessageSize: 10 })
    expect(() => extA.broadcast(b4a.alloc(11))).toThrow(
      expect.objectContaining({ code: 'MESSAGE_TOO_LARGE' }),
    )
    extB.broadcast(b4a.alloc(4096))
    extB.broadcast(b4a.alloc(512))
    await eventually(() => got.length === 1 && errors.length === 1, 'one dropped, one delivered')
    expect(errors).toEqual(['MESSAGE_TOO_LARGE'])
    expect(got).toEqual([512])
  })

  it('reports back-pressure and drains', async () => {
    const [a, b] = (await mesh(2)).map((x) => x.networker) as [Networker, Networker]
    let received = 0
    a.registerExtension('bulk', { onmessage: () => received++ })
    const ext = b.registerExtension('bulk')
    await eventually(() => ext.peers.length === 1, 'open')
    const chunk = b4a.alloc(64 * 1024)
    let sent = 0
    while (ext.send(chunk, peerOf(b, a))) sent++
    sent++
    expect(sent).toBeLessThan(10_000)
    await new Promise<void>((resolve) => ext.once('drain', () => resolve()))
    await eventually(() => received === sent, 'all delivered after drain')
  })

  it('carries extension messages and core replication on the same connection at once', async () => {
    const nodes = await mesh(2)
    const [{ networker: a, store: sa }, { networker: b, store: sb }] = nodes as [
      (typeof nodes)[0],
      (typeof nodes)[0],
    ]
    const core = sa.get({ name: 'both' })
    await core.ready()
    const blocks = Array.from({ length: 200 }, (_, i) => b4a.from(`block ${i}`.padEnd(1024, '.')))
    await core.append(blocks)
    const got: number[] = []
    a.registerExtension('count', { encoding: c.uint })
    b.registerExtension('count', { encoding: c.uint, onmessage: (n: number) => got.push(n) })
    const extA = a.registerExtension('count', { encoding: c.uint })
    await eventually(() => extA.peers.length === 1, 'open')
    const replica = sb.get({ key: core.key })
    await replica.ready()
    await a.configure(core.discoveryKey, { announce: true, lookup: false })
    await b.configure(core.discoveryKey, { announce: false, lookup: true })
    const download = replica.download({ start: 0, end: 200 }).done()
    for (let i = 0; i < 500; i++) extA.broadcast(i)
    await download
    await eventually(() => got.length === 500, 'all messages')
    expect(got).toEqual(Array.from({ length: 500 }, (_, i) => i))
    expect(b4a.equals((await replica.get(199))!, blocks[199]!)).toBe(true)
    expect(a.peers.size).toBe(1)
    expect(peerOf(a, b).stream).toBe([...a.peers][0]!.stream)
  })
})
