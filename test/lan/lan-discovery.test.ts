import b4a from 'b4a'
import crypto from 'hypercore-crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { drain, VirtualClock } from '../../sim/virtual-clock.js'
import { bytesToHex, type KeyHex } from '../../src/core/keys.js'
import type { LanDiscovery } from '../../src/io/lan-discovery.js'
import type { LanDialTarget } from '../../src/io/lan-querier.js'
import { EPOCH_MS, labelOf, nameOf } from '../../src/io/lan-wire.js'
import { FakeLan, type HostOptions, type LanHost, lanHost } from './fake-lan.js'

let clock: VirtualClock
let lan: FakeLan
const made: LanDiscovery[] = []

afterEach(async () => {
  for (const d of made.splice(0)) await d.close()
})

function host(address: string, opts: HostOptions = {}): LanHost {
  const h = lanHost(lan, clock, address, opts)
  made.push(h.discovery)
  return h
}

const topicBytes = crypto.randomBytes(32)
const topic = bytesToHex(topicBytes)

/** The queries and answers seen on the LAN so far. */
const queries = () => lan.sent.filter((s) => s.packet.type === 'query')
const answers = () => lan.sent.filter((s) => s.packet.type === 'response')

describe('LAN discovery over an in-memory LAN', () => {
  it('a host looking a topic up dials the host announcing it, at the address it answered from', async () => {
    clock = new VirtualClock()
    lan = new FakeLan()
    const a = host('10.0.0.1', { port: 41_000 })
    const b = host('10.0.0.2')
    a.discovery.join(topic, true, false)
    b.discovery.join(topic, false, true)
    await clock.runFor(100)
    expect(b.dials).toHaveLength(1)
    const dial = b.dials[0]!
    expect(dial.host).toBe('10.0.0.1')
    expect(dial.port).toBe(41_000)
    expect(bytesToHex(dial.publicKey)).toBe(a.key)
    expect(dial.topics.map((t) => bytesToHex(t))).toEqual([topic])
    // A announces only: it never dials.
    expect(a.dials).toEqual([])
    expect(b.discovery.counters.lanAnswersAccepted).toBeGreaterThanOrEqual(1)
    expect(b.discovery.counters.lanDials).toBe(1)
    // Nothing on the wire names the topic.
    const seen = JSON.stringify(lan.sent, (_k, v) =>
      v?.type === 'Buffer' ? b4a.toString(b4a.from(v.data)) : v,
    )
    expect(seen).not.toContain(topic)
    expect(seen).not.toContain(topic.slice(0, 16))
  })

  it('finds a host that starts announcing later by its unasked announcement, without waiting for a query', async () => {
    clock = new VirtualClock()
    lan = new FakeLan()
    const b = host('10.0.0.2')
    b.discovery.join(topic, false, true)
    await clock.runFor(100)
    const asked = queries().length
    const a = host('10.0.0.1')
    a.discovery.join(topic, true, false)
    await clock.runFor(50)
    expect(queries().length).toBe(asked)
    expect(b.dials.map((d) => bytesToHex(d.publicKey))).toEqual([a.key])
  })

  it('never dials itself, a key that is already a peer, or a key being dialed', async () => {
    clock = new VirtualClock()
    lan = new FakeLan()
    let release: () => void = () => {}
    const pending = new Promise<void>((r) => {
      release = r
    })
    const a = host('10.0.0.1', { dial: () => pending })
    const b = host('10.0.0.2')
    a.discovery.join(topic, true, true)
    b.discovery.join(topic, true, true)
    // The smaller key waits a second for the other's dial (which, here, never lists it).
    await clock.runFor(1100)
    // Each dialed the other once, neither itself.
    expect(a.dials.map((d) => bytesToHex(d.publicKey))).toEqual([b.key])
    expect(b.dials.map((d) => bytesToHex(d.publicKey))).toEqual([a.key])
    // Later rounds: A's dial still hangs, B lists A as a peer: no dial again.
    await clock.runFor(10_000)
    expect(a.dials).toHaveLength(1)
    expect(b.dials).toHaveLength(1)
    expect(queries().length).toBeGreaterThan(4)
    release()
  })

  it('when both ends announce and look up, only the larger key dials, unless its dial does not come', async () => {
    clock = new VirtualClock()
    lan = new FakeLan()
    // A dial lists the key at both ends, as a connection does.
    const pair: LanHost[] = []
    const connect = (t: LanDialTarget): Promise<unknown> => {
      const [x, y] = pair as [LanHost, LanHost]
      x.peers.add(y.key)
      y.peers.add(x.key)
      return Promise.resolve(bytesToHex(t.publicKey))
    }
    pair.push(host('10.0.0.1', { dial: connect }), host('10.0.0.2', { dial: connect }))
    const [large, small] = [...pair].sort((x, y) => (x.key < y.key ? 1 : -1)) as [LanHost, LanHost]
    for (const h of pair) h.discovery.join(topic, true, true)
    await clock.runFor(5000)
    expect(large.dials.map((d) => bytesToHex(d.publicKey))).toEqual([small.key])
    expect(small.dials).toEqual([])
    // When the larger key's dial fails (the path that way is blocked), the smaller one dials
    // once its wait is over.
    clock = new VirtualClock()
    lan = new FakeLan()
    pair.length = 0
    let refusing: LanHost | null = null
    const blocked = (self: () => LanHost) => (t: LanDialTarget) =>
      self() === refusing ? Promise.reject(new Error('blocked')) : connect(t)
    const one: LanHost = host('10.0.0.1', { dial: blocked(() => one) })
    const two: LanHost = host('10.0.0.2', { dial: blocked(() => two) })
    pair.push(one, two)
    const [big, little] = [...pair].sort((x, y) => (x.key < y.key ? 1 : -1)) as [LanHost, LanHost]
    refusing = big
    for (const h of pair) h.discovery.join(topic, true, true)
    await clock.runFor(900)
    expect(big.dials).toHaveLength(1)
    expect(little.dials).toEqual([])
    await clock.runFor(300)
    expect(little.dials.map((d) => bytesToHex(d.publicKey))).toEqual([big.key])
    expect(big.peers.has(little.key)).toBe(true)
  })

  it('asks at once, then after 1, 2, 4, 8 and 16 s, then every queryInterval; a configure starts over', async () => {
    clock = new VirtualClock()
    lan = new FakeLan()
    const b = host('10.0.0.2', { dial: () => Promise.reject(new Error('nobody')) })
    b.discovery.join(topic, false, true)
    await clock.runFor(1)
    const at: number[] = []
    let seen = 0
    for (let t = 0; t < 100_000; t += 50) {
      await clock.runFor(50)
      if (queries().length > seen) {
        seen = queries().length
        at.push(clock.now())
      }
    }
    // Gaps of ~1, 2, 4, 8, 16 s then ~30 s, each stretched by at most a tenth.
    const gaps = at.slice(1).map((t, i) => t - at[i]!)
    const expected = [1000, 2000, 4000, 8000, 16_000, 30_000]
    for (const [i, want] of expected.entries()) {
      expect(gaps[i], `gap ${i}`).toBeGreaterThanOrEqual(want - 300)
      expect(gaps[i], `gap ${i}`).toBeLessThanOrEqual(want * 1.1 + 100)
    }
    const before = queries().length
    b.discovery.join(topic, false, true)
    await clock.runFor(100)
    expect(queries().length).toBe(before + 1)
  })

  it('leaving stops both: no more queries for the topic, and its queries go unanswered', async () => {
    clock = new VirtualClock()
    lan = new FakeLan()
    const a = host('10.0.0.1')
    const b = host('10.0.0.2')
    a.discovery.join(topic, true, true)
    await clock.runFor(100)
    a.discovery.leave(topic)
    const asked = queries().length
    const answered = answers().length
    await clock.runFor(60_000)
    expect(queries().length).toBe(asked)
    b.discovery.join(topic, false, true)
    await clock.runFor(5000)
    expect(answers().length).toBe(answered)
    expect(b.dials).toEqual([])
  })

  it('a flush waits one lookup window, then for the dials it started; a hung dial only so long', async () => {
    clock = new VirtualClock()
    lan = new FakeLan()
    const a = host('10.0.0.1')
    const hang = host('10.0.0.3', { dial: () => new Promise(() => {}) })
    a.discovery.join(topic, true, false)
    await clock.runFor(2000)
    hang.discovery.join(topic, false, true)
    const started = clock.now()
    await clock.settle(hang.discovery.flush(topic))
    // The window (1 s), then the hung dial for at most DIAL_WAIT_MS (5 s).
    expect(clock.now() - started).toBeGreaterThanOrEqual(6000)
    expect(clock.now() - started).toBeLessThan(6100)
    // A topic not looked up has nothing to wait for.
    await clock.settle(a.discovery.flush(topic))
    // A flush of a topic with nobody answering: one window.
    const other = bytesToHex(crypto.randomBytes(32))
    hang.discovery.join(other, false, true)
    const t0 = clock.now()
    await clock.settle(hang.discovery.flush(other))
    expect(clock.now() - t0).toBeLessThanOrEqual(1000)
  })

  it('a flush stops waiting for a dial once its key is a peer, even if the dial has not ended', async () => {
    clock = new VirtualClock()
    lan = new FakeLan()
    const a = host('10.0.0.1')
    // B's dial lists A at once but never ends: its connection is a contested duplicate, say.
    const b: LanHost = host('10.0.0.2', {
      dial: (t) => {
        b.peers.add(bytesToHex(t.publicKey))
        return new Promise(() => {})
      },
    })
    a.discovery.join(topic, true, false)
    await clock.runFor(2000)
    b.discovery.join(topic, false, true)
    const started = clock.now()
    await clock.settle(b.discovery.flush(topic))
    expect(clock.now() - started).toBeLessThanOrEqual(1100)
    expect(b.dials).toHaveLength(1)
  })

  it('a lost peer makes the topics it shared be asked for again at once, not at the next turn', async () => {
    clock = new VirtualClock()
    lan = new FakeLan()
    const a = host('10.0.0.1')
    const b = host('10.0.0.2')
    a.discovery.join(topic, true, false)
    b.discovery.join(topic, false, true)
    const other = crypto.randomBytes(32)
    b.discovery.join(bytesToHex(other), false, true)
    // Past the quick queries: the next one is up to 30 s away.
    await clock.runFor(40_000)
    expect(b.dials).toHaveLength(1)
    const asked = queries().length
    b.peers.delete(a.key)
    b.discovery.peerLost([topicBytes])
    await clock.runFor(50)
    // One query, for the topic A shared only, and A is dialed again.
    expect(queries().length).toBe(asked + 1)
    expect(queries().at(-1)?.packet.questions).toHaveLength(1)
    expect(b.dials.map((d) => bytesToHex(d.publicKey))).toEqual([a.key, a.key])
    // Lost again within a second: not asked again yet.
    b.discovery.peerLost([topicBytes])
    await clock.runFor(50)
    expect(queries().length).toBe(asked + 1)
  })

  it('close stops everything: no timer left, the socket closed, nothing sent after', async () => {
    clock = new VirtualClock()
    lan = new FakeLan()
    const a = host('10.0.0.1')
    a.discovery.join(topic, true, true)
    await clock.runFor(10)
    expect(a.discovery.timerCount).toBeGreaterThan(0)
    const flushing = a.discovery.flush(topic)
    await a.discovery.close()
    await flushing
    expect(a.discovery.timerCount).toBe(0)
    expect(a.discovery.active).toBe(false)
    expect(lan.closed).toBe(lan.opened)
    const sent = lan.sent.length
    a.discovery.join(topic, true, true)
    await clock.runFor(60_000)
    expect(lan.sent.length).toBe(sent)
    expect(clock.pending).toBe(0)
  })

  it('hosts whose clocks are ten minutes apart still meet across an epoch boundary', async () => {
    clock = new VirtualClock()
    lan = new FakeLan()
    // A sits just before a boundary, B ten minutes later, in the next epoch.
    const base = EPOCH_MS * 1000 - 60_000
    const a = host('10.0.0.1', { wallNow: () => base + clock.now() })
    const b = host('10.0.0.2', { wallNow: () => base + 10 * 60_000 + clock.now() })
    a.discovery.join(topic, true, false)
    await clock.runFor(2000)
    b.discovery.join(topic, false, true)
    await clock.runFor(100)
    expect(b.dials.map((d) => bytesToHex(d.publicKey))).toEqual([a.key])
  })

  it('a failed dial is not repeated until its backoff has passed', async () => {
    clock = new VirtualClock()
    lan = new FakeLan()
    const a = host('10.0.0.1')
    const b = host('10.0.0.2', { dial: () => Promise.reject(new Error('refused')) })
    a.discovery.join(topic, true, false)
    b.discovery.join(topic, false, true)
    await clock.runFor(100)
    expect(b.dials).toHaveLength(1)
    // Re-configured at once: a new query and answer, but the key waits out its first second.
    b.discovery.join(topic, false, true)
    await clock.runFor(100)
    expect(b.dials).toHaveLength(1)
    await clock.runFor(3000)
    expect(b.dials.length).toBeGreaterThanOrEqual(2)
    expect(b.discovery.counters.lanDialsFailed).toBe(b.dials.length)
    await drain()
  })

  it('answers a query for a label of ours once per quarter second, and no more than the bucket allows', async () => {
    clock = new VirtualClock()
    lan = new FakeLan()
    const a = host('10.0.0.1')
    const topics = Array.from({ length: 30 }, () => bytesToHex(crypto.randomBytes(32)))
    for (const t of topics) a.discovery.join(t, true, false)
    await clock.runFor(2000)
    const before = answers().length
    const name = (t: KeyHex) => nameOf(labelOf(Buffer.from(t, 'hex'), 1000))
    // A flood: 2000 queries for one label within one virtual second.
    for (let i = 0; i < 2000; i++) {
      lan.inject('10.0.0.66', {
        type: 'query',
        id: 7,
        questions: [{ name: name(topics[0]!), type: 'TXT' }],
      })
      if (i % 500 === 499) await clock.runFor(250)
    }
    await clock.runFor(1)
    const one = answers().length - before
    expect(one).toBeGreaterThanOrEqual(1)
    expect(one).toBeLessThanOrEqual(5)
    // A flood of queries for many labels at once: the bucket (10 packets a second) caps it.
    const before2 = answers().length
    for (let i = 0; i < 200; i++) {
      lan.inject('10.0.0.66', {
        type: 'query',
        id: 7,
        questions: topics.map((t) => ({ name: name(t), type: 'TXT' as const })),
      })
      if (i % 50 === 49) await clock.runFor(250)
    }
    await clock.runFor(1)
    expect(answers().length - before2).toBeLessThanOrEqual(10 + 10)
    expect(a.discovery.counters.lanQueriesThrottled).toBeGreaterThan(2000)
  })
})
