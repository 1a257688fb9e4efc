import dgram from 'node:dgram'
import crypto from 'hypercore-crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { bytesToHex, type KeyHex } from '../../src/core/keys.js'
import { realClock } from '../../src/io/core-driver.js'
import { LanDiscovery } from '../../src/io/lan-discovery.js'
import type { LanDialTarget } from '../../src/io/lan-querier.js'
import { MDNS_GROUP } from '../../src/io/lan-socket.js'
import { eventually } from '../helpers/real-network.js'
import { SETTINGS } from './fake-lan.js'

// The real mDNS socket (multicast-dns) on the loopback interface: multicast to the mDNS group
// with 127.0.0.1 as the interface stays on this machine. A port of its own per run keeps it
// apart from any mDNS responder on the host and from parallel runs.

const made: LanDiscovery[] = []
afterEach(async () => {
  for (const d of made.splice(0)) await d.close()
})

// Below the ephemeral range (32768 and up), so no socket bound to any free port takes it first.
const port = 20_000 + (process.pid % 6000)

function host(dials: LanDialTarget[]) {
  const publicKey = crypto.randomBytes(32)
  // A key dialed is a peer from then on, so each is dialed once.
  const peers = new Set<KeyHex>()
  const discovery = new LanDiscovery(
    { ...SETTINGS, port, interface: '127.0.0.1', lookupWindow: 300 },
    {
      clock: realClock,
      identity: async () => ({ publicKey, port: 4000 }),
      connected: (key) => peers.has(key),
      dial: async (target) => {
        dials.push(target)
        peers.add(bytesToHex(target.publicKey))
        return null
      },
    },
  )
  made.push(discovery)
  return { discovery, key: bytesToHex(publicKey) as KeyHex }
}

describe('LAN discovery on a real multicast socket (loopback)', () => {
  it('two hosts find each other by topic, and a garbage datagram is counted, not fatal', async () => {
    const topic = bytesToHex(crypto.randomBytes(32))
    const aDials: LanDialTarget[] = []
    const bDials: LanDialTarget[] = []
    const a = host(aDials)
    const b = host(bDials)
    a.discovery.join(topic, true, false)
    b.discovery.join(topic, false, true)
    await b.discovery.flush(topic)
    await eventually(() => bDials.length === 1, 'B dials A')
    expect(bytesToHex(bDials[0]!.publicKey)).toBe(a.key)
    expect(bDials[0]!.host).toBe('127.0.0.1')
    expect(bDials[0]!.port).toBe(4000)
    expect(aDials).toEqual([])

    const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true })
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve))
    sock.setMulticastInterface('127.0.0.1')
    await new Promise<void>((resolve, reject) =>
      sock.send(crypto.randomBytes(64), port, MDNS_GROUP, (err) => (err ? reject(err) : resolve())),
    )
    sock.close()
    await eventually(() => b.discovery.counters.lanPacketsMalformed >= 1, 'B counts the garbage')
    expect(a.discovery.counters.lanPacketsMalformed).toBeGreaterThanOrEqual(1)
    // Both still work: a second topic is found as the first was.
    const topic2 = bytesToHex(crypto.randomBytes(32))
    // A is B's peer already: B does not dial it again, but it hears A's answer for topic2.
    const accepted = b.discovery.counters.lanAnswersAccepted
    a.discovery.join(topic2, true, false)
    b.discovery.join(topic2, false, true)
    await eventually(
      () => b.discovery.counters.lanAnswersAccepted > accepted,
      'B hears A for the second topic',
    )
    expect(bDials).toHaveLength(1)
  })
})
