import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import b4a from 'b4a'
import Corestore from 'corestore'
import crypto from 'hypercore-crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { Networker, type NetworkerOptions, type NetworkerPeer } from '../../src/index.js'
import { eventually, useRealNetwork } from '../helpers/real-network.js'

// Whole networkers with `lan` on, their mDNS on the loopback interface (multicast with
// 127.0.0.1 as the interface stays on this machine) and a port of this file's own, so no mDNS
// responder of the host and no parallel test file hears them.

// Below the ephemeral range (32768 and up), so no socket bound to any free port takes it first.
const PORT = 26_000 + (process.pid % 6000)
const LAN = { interface: '127.0.0.1', port: PORT, lookupWindow: 500, dhtWait: 500 }
const testnet = useRealNetwork()
const cleanups: (() => Promise<unknown>)[] = []

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
})

async function store(): Promise<Corestore> {
  const dir = await mkdtemp(join(tmpdir(), 'csn-lan-'))
  const s = new Corestore(dir)
  await s.ready()
  cleanups.push(async () => {
    await s.close()
    await rm(dir, { recursive: true, force: true })
  })
  return s
}

/** A networker with LAN discovery and no DHT at all (no bootstrap node). */
async function offline(
  opts: NetworkerOptions = {},
): Promise<{ networker: Networker; store: Corestore }> {
  const s = await store()
  const networker = new Networker(s, { bootstrap: [], lan: LAN, ...opts })
  cleanups.push(() => networker.close())
  return { networker, store: s }
}

const keyOf = (peer: NetworkerPeer): string => b4a.toString(peer.remotePublicKey, 'hex')
const handshakeOf = (peer: NetworkerPeer) =>
  (peer.stream as { handshakeHash?: Uint8Array }).handshakeHash

describe('LAN discovery in a networker (loopback multicast)', () => {
  it('with no DHT, a reader finds the writer by topic, lists it by the time configure resolves, and replicates its core over TCP', async () => {
    const a = await offline()
    const b = await offline()
    const core = a.store.get({ name: 'data' })
    await core.ready()
    const blocks = Array.from({ length: 50 }, () => crypto.randomBytes(1024))
    await core.append(blocks)
    await a.networker.configure(core.discoveryKey, { announce: true, lookup: false })
    const copy = b.store.get({ key: core.key })
    await copy.ready()
    const started = Date.now()
    await b.networker.configure(core.discoveryKey, { announce: false, lookup: true })
    // The flush's lookup round found A: it is a peer by now, over TCP.
    expect(Date.now() - started).toBeLessThan(3000)
    const [peer] = [...b.networker.peers]
    expect(peer?.type).toBe('tcp')
    expect(keyOf(peer!)).toBe(b4a.toString(a.networker.keyPair.publicKey, 'hex'))
    expect(peer?.remoteAddress).toMatch(/^127\.0\.0\.1:\d+$/)
    expect(b.networker.dhtStatus.state).toBe('offline')
    await copy.download({ start: 0, end: blocks.length }).done()
    for (const [i, block] of blocks.entries())
      expect(b4a.equals((await copy.get(i))!, block)).toBe(true)
    const totals = b.networker.stats().totals
    expect(totals.lanQueriesSent).toBeGreaterThan(0)
    expect(totals.lanAnswersAccepted).toBeGreaterThan(0)
    expect(totals.lanDials).toBe(1)
    expect(totals.lanAnswersRejected).toBe(0)
    expect(a.networker.stats().totals.lanAnswersSent).toBeGreaterThan(0)
  })

  it('with an unreachable bootstrap node, configure still resolves within dhtWait and the lookup round', async () => {
    // Nothing listens on UDP port 1 of loopback: the DHT's bootstrap goes unanswered (~12 s).
    const a = await offline({ bootstrap: ['127.0.0.1:1'] })
    const b = await offline({ bootstrap: ['127.0.0.1:1'] })
    const topic = crypto.randomBytes(32)
    const t0 = Date.now()
    await a.networker.configure(topic)
    await b.networker.configure(topic)
    const took = Date.now() - t0
    expect(took).toBeLessThan(2 * (LAN.dhtWait + LAN.lookupWindow) + 1500)
    await eventually(
      () => a.networker.peers.size === 1 && b.networker.peers.size === 1,
      'each lists the other',
    )
    expect([...a.networker.peers][0]?.type).toBe('tcp')
  })

  it('alongside the DHT, a peer found both ways ends with one connection, the same at both ends, and stays so', async () => {
    const made = await Promise.all(
      [0, 1].map(async () => {
        const { networker } = await testnet().networker({ lan: LAN })
        return networker
      }),
    )
    const [a, b] = made as [Networker, Networker]
    const topic = crypto.randomBytes(32)
    await Promise.all([a.configure(topic), b.configure(topic)])
    await eventually(() => a.peers.size === 1 && b.peers.size === 1, 'each lists the other')
    // Let every dial of both transports arrive and the duplicate rule settle.
    await eventually(
      () => a.stats().totals.connections === 1 && b.stats().totals.connections === 1,
      'one connection at each end',
    )
    const settled = (): string[] => [...a.peers, ...b.peers].map((p) => `${keyOf(p)} ${p.type}`)
    const before = settled()
    const [pa] = [...a.peers]
    const [pb] = [...b.peers]
    expect(b4a.equals(handshakeOf(pa!)!, handshakeOf(pb!)!)).toBe(true)
    expect(pa?.type).toBe(pb?.type)
    await new Promise((r) => setTimeout(r, 2000))
    // Still the same one peer each, over the same connection (a later redial of the swarm's
    // would be a duplicate, dropped, never a second peer).
    expect(settled()).toEqual(before)
    expect(b4a.equals(handshakeOf([...a.peers][0]!)!, handshakeOf([...b.peers][0]!)!)).toBe(true)
    // Both found the other on the LAN too: the duplicate, if any, was dropped.
    expect(
      a.stats().totals.lanAnswersAccepted + b.stats().totals.lanAnswersAccepted,
    ).toBeGreaterThan(0)
  })

  it('leaving a topic stops answering and asking for it; close stops everything', async () => {
    const a = await offline()
    const topic = crypto.randomBytes(32)
    await a.networker.configure(topic, { announce: true, lookup: true })
    expect(a.networker.diagnostics().timers).toBeGreaterThan(0)
    await a.networker.configure(topic, { announce: false, lookup: false })
    const quiet = a.networker.stats().totals
    const b = await offline()
    await b.networker.configure(topic, { announce: false, lookup: true })
    expect(b.networker.peers.size).toBe(0)
    expect(a.networker.stats().totals.lanAnswersSent).toBe(quiet.lanAnswersSent)
    await new Promise((r) => setTimeout(r, 1200))
    expect(a.networker.stats().totals.lanQueriesSent).toBe(quiet.lanQueriesSent)
    await a.networker.configure(topic, { announce: true, lookup: true })
    await eventually(() => b.networker.peers.size === 1, 'found once announced again')
    await a.networker.close()
    expect(a.networker.diagnostics()).toMatchObject({ connections: 0, peers: 0, timers: 0 })
    // Closed: its socket answers no more.
    const answered = a.networker.stats().totals.lanAnswersSent
    await b.networker.configure(topic, { announce: false, lookup: true })
    expect(a.networker.stats().totals.lanAnswersSent).toBe(answered)
  })
})
