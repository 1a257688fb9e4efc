import b4a from 'b4a'
import type { Packet } from 'dns-packet'
import crypto from 'hypercore-crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { VirtualClock } from '../../sim/virtual-clock.js'
import { bytesToHex } from '../../src/core/keys.js'
import type { LanDiscovery } from '../../src/io/lan-discovery.js'
import { answerData, labelOf, nameOf } from '../../src/io/lan-wire.js'
import { FakeLan, type LanHost, lanHost } from './fake-lan.js'

// Spoofed and malformed mDNS traffic, crafted as an attacker on the LAN would send it: each is
// ignored and counted, never crashes, and never makes a connection.

let clock: VirtualClock
let lan: FakeLan
const made: LanDiscovery[] = []

afterEach(async () => {
  for (const d of made.splice(0)) await d.close()
})

const topicBytes = crypto.randomBytes(32)
const topic = bytesToHex(topicBytes)
/** The epoch lanHost's default wall clock is in (EPOCH_MS × 1000 plus a little). */
const EPOCH = 1000
const label = labelOf(topicBytes, EPOCH)

/** A host looking the topic up, and nobody announcing it. */
async function lookingUp(): Promise<LanHost> {
  clock = new VirtualClock()
  lan = new FakeLan()
  const b = lanHost(lan, clock, '10.0.0.2')
  made.push(b.discovery)
  b.discovery.join(topic, false, true)
  await clock.runFor(10)
  return b
}

function response(answers: unknown[]): Packet {
  return { type: 'response', id: 0, flags: 1 << 10, answers } as Packet
}

function txt(data: (string | Buffer)[], name = nameOf(label)) {
  return { name, type: 'TXT', ttl: 120, data }
}

async function send(from: string, packet: Packet | Uint8Array): Promise<void> {
  lan.inject(from, packet)
  await clock.runFor(10)
}

describe('LAN discovery under spoofed and malformed input', () => {
  it('an answer whose MAC does not verify is rejected: a made-up MAC, or a real one moved to another key or port', async () => {
    const b = await lookingUp()
    const honestKey = crypto.randomBytes(32)
    const honest = answerData(topicBytes, label, honestKey, 4000)
    const forged = crypto.randomBytes(32)
    const withField = (k: string, v: string) => [
      ...honest.filter((s) => !s.startsWith(`${k}=`)),
      `${k}=${v}`,
    ]
    // Someone who saw the label only: any key, a random MAC.
    await send('10.0.0.66', response([txt(withField('m', bytesToHex(crypto.randomBytes(32))))]))
    // Someone who saw an honest answer: its MAC with their own key, or another port.
    await send('10.0.0.66', response([txt(withField('k', bytesToHex(forged)))]))
    await send('10.0.0.66', response([txt(withField('p', '4001'))]))
    // A MAC made with another topic's key.
    await send(
      '10.0.0.66',
      response([txt(answerData(crypto.randomBytes(32), label, forged, 4000))]),
    )
    expect(b.discovery.counters.lanAnswersRejected).toBe(4)
    expect(b.discovery.counters.lanAnswersAccepted).toBe(0)
    expect(b.dials).toEqual([])
    // The honest answer itself is dialed, at the address it came from.
    await send('10.0.0.7', response([txt(honest)]))
    expect(b.dials.map((d) => [d.host, d.port, bytesToHex(d.publicKey)])).toEqual([
      ['10.0.0.7', 4000, bytesToHex(honestKey)],
    ])
    expect(b.discovery.counters.lanAnswersAccepted).toBe(1)
  })

  it('answers for topics we do not look up are left alone: not dialed, not counted', async () => {
    const b = await lookingUp()
    const other = crypto.randomBytes(32)
    const otherLabel = labelOf(other, EPOCH)
    await send(
      '10.0.0.9',
      response([
        txt(answerData(other, otherLabel, crypto.randomBytes(32), 4000), nameOf(otherLabel)),
      ]),
    )
    expect(b.dials).toEqual([])
    expect(b.discovery.counters.lanAnswersRejected).toBe(0)
    expect(b.discovery.counters.lanAnswersAccepted).toBe(0)
  })

  it('malformed packets — garbage, wrong types, oversized and broken TXT, too many records — are counted and ignored', async () => {
    const b = await lookingUp()
    const c = b.discovery.counters
    // Not DNS at all.
    await send('10.0.0.66', crypto.randomBytes(300))
    await send('10.0.0.66', b4a.alloc(3))
    expect(c.lanPacketsMalformed).toBe(2)
    // Our name, the wrong record type.
    await send(
      '10.0.0.66',
      response([{ name: nameOf(label), type: 'A', ttl: 120, data: '10.0.0.66' }]),
    )
    // A TXT answer far too big (twenty 250-byte strings), or with junk strings.
    const huge = Array.from(
      { length: 20 },
      (_, i) => `${String.fromCharCode(97 + i)}=${'x'.repeat(248)}`,
    )
    await send('10.0.0.66', response([txt(huge)]))
    await send('10.0.0.66', response([txt(['v=1', 'no equals sign', 'k=', 'p=1'])]))
    // A label of ours that is not hex.
    await send(
      '10.0.0.66',
      response([txt(['v=1'], `zz.${nameOf(label).split('.').slice(1).join('.')}`)]),
    )
    expect(c.lanAnswersRejected).toBe(4)
    // More records than any answer of ours would carry: the packet is dropped whole.
    const honest = txt(answerData(topicBytes, label, crypto.randomBytes(32), 4000))
    await send('10.0.0.66', response(Array.from({ length: 65 }, () => honest)))
    expect(c.lanAnswersRejected).toBe(5)
    expect(b.dials).toEqual([])
    expect(c.lanAnswersAccepted).toBe(0)
  })

  it('an answer of ours looped back, or one naming our own key, is not dialed', async () => {
    clock = new VirtualClock()
    lan = new FakeLan()
    const a = lanHost(lan, clock, '10.0.0.1')
    made.push(a.discovery)
    a.discovery.join(topic, true, true)
    await clock.runFor(3500)
    await send('10.0.0.66', response([txt(answerData(topicBytes, label, a.publicKey, 40_000))]))
    expect(a.dials).toEqual([])
    expect(a.discovery.counters.lanAnswersAccepted).toBe(0)
    expect(a.discovery.counters.lanAnswersRejected).toBe(0)
    // Its own queries (at 0, 1 and 3 s), looped back, were not answered by its own responder:
    // the only answers on the LAN are its two unasked announcements.
    const sent = (type: string) => lan.sent.filter((s) => s.packet.type === type).length
    expect(sent('query')).toBeGreaterThanOrEqual(3)
    expect(sent('response')).toBe(2)
  })

  it('queries with odd questions (wrong types, other names, a thousand of them) do not crash the responder', async () => {
    clock = new VirtualClock()
    lan = new FakeLan()
    const a = lanHost(lan, clock, '10.0.0.1')
    made.push(a.discovery)
    a.discovery.join(topic, true, false)
    await clock.runFor(3000)
    const before = lan.sent.length
    const questions = [
      { name: nameOf(label), type: 'A' },
      { name: 'printer._ipp._tcp.local', type: 'TXT' },
      { name: nameOf('ab'), type: 'TXT' },
      ...Array.from({ length: 1000 }, () => ({
        name: nameOf(labelOf(crypto.randomBytes(32), EPOCH)),
        type: 'TXT',
      })),
    ]
    await send('10.0.0.66', { type: 'query', id: 1, questions } as Packet)
    await send('10.0.0.66', crypto.randomBytes(40))
    expect(lan.sent.length).toBe(before)
    // It still answers a proper query afterwards.
    await send('10.0.0.66', {
      type: 'query',
      id: 2,
      questions: [{ name: nameOf(label), type: 'TXT' }],
    })
    expect(lan.sent.length).toBe(before + 1)
  })
})
