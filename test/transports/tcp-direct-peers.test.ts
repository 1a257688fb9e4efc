import crypto from 'hypercore-crypto'
import { describe, expect, it } from 'vitest'
import { bytesToHex } from '../../src/core/keys.js'
import type { NetworkerPeer } from '../../src/index.js'
import {
  DIRECT_PEER_BASE_DELAY,
  DIRECT_PEER_MAX_DELAY,
  DIRECT_PEER_STABLE_MS,
  DirectPeers,
} from '../../src/io/tcp-direct-peers.js'

/** A clock whose time moves only when told; timers fire in order as it passes them. */
class ManualClock {
  time = 0
  private timers: { at: number; fn: () => void; id: number }[] = []
  private next = 1
  now = (): number => this.time
  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = this.next++
    this.timers.push({ at: this.time + ms, fn, id })
    return id
  }
  clearTimeout = (id: unknown): void => {
    this.timers = this.timers.filter((t) => t.id !== id)
  }
  get pending(): number {
    return this.timers.length
  }
  /** The wait until the next timer, or null. */
  nextIn(): number | null {
    if (this.timers.length === 0) return null
    return Math.min(...this.timers.map((t) => t.at)) - this.time
  }
  async advance(ms: number): Promise<void> {
    const until = this.time + ms
    for (;;) {
      const due = this.timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at)[0]
      if (due === undefined) break
      this.timers = this.timers.filter((t) => t !== due)
      this.time = due.at
      due.fn()
      // Let the dial's promise settle before the next timer.
      await new Promise((r) => setImmediate(r))
    }
    this.time = until
  }
}

const key = crypto.keyPair().publicKey
const peerOf = (): NetworkerPeer =>
  ({ remotePublicKey: key, remoteAddress: null, type: 'tcp', stream: {}, topics: [] }) as never

function setup(answer: () => Promise<NetworkerPeer>) {
  const clock = new ManualClock()
  let listed = false
  const dials: number[] = []
  const peers = new DirectPeers([{ host: '10.0.0.1', port: 4000, publicKey: key }], {
    clock,
    dial: () => {
      dials.push(clock.now())
      return answer()
    },
    open: () => true,
    connected: (k) => listed && k === bytesToHex(key),
  })
  return {
    clock,
    dials,
    peers,
    list: (on: boolean) => {
      listed = on
    },
  }
}

describe('directPeers: fixed TCP peers', () => {
  it('dial at start, then back off exponentially, capped, while every dial fails', async () => {
    const { clock, dials, peers } = setup(() => Promise.reject(new Error('refused')))
    peers.start()
    await clock.advance(0)
    const waits: number[] = []
    for (let i = 0; i < 10; i++) {
      const wait = clock.nextIn()
      if (wait === null) throw new Error('no redial scheduled')
      waits.push(wait)
      await clock.advance(wait)
    }
    expect(dials.length).toBe(11)
    // 0.5, 1, 2, 4, 8, 16 s, then 30 s each, each spread by at most a quarter.
    const expected = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512].map((f) =>
      Math.min(DIRECT_PEER_MAX_DELAY, DIRECT_PEER_BASE_DELAY * f),
    )
    waits.forEach((wait, i) => {
      expect(wait).toBeGreaterThanOrEqual((expected[i] as number) * 0.75)
      expect(wait).toBeLessThanOrEqual((expected[i] as number) * 1.25)
    })
    peers.stop()
    expect(clock.pending).toBe(0)
  })

  it('dials nothing while a peer of its key is listed, over any transport, and dials again once it is gone', async () => {
    const t = setup(async () => {
      t.list(true)
      return peerOf()
    })
    t.peers.start()
    await t.clock.advance(0)
    expect(t.dials.length).toBe(1)
    t.peers.added(peerOf())
    await t.clock.advance(60_000)
    expect(t.dials.length).toBe(1)
    expect(t.clock.pending).toBe(0)
    // It lasted past the stable mark: dialed again after the base delay.
    t.list(false)
    t.peers.removed(peerOf())
    const wait = t.clock.nextIn() as number
    expect(wait).toBeLessThanOrEqual(DIRECT_PEER_BASE_DELAY * 1.25)
    await t.clock.advance(wait)
    expect(t.dials.length).toBe(2)
  })

  it('a peer that takes us only to drop us at once is not dialed in a tight loop', async () => {
    const t = setup(async () => {
      t.list(true)
      return peerOf()
    })
    t.peers.start()
    await t.clock.advance(0)
    const waits: number[] = []
    for (let i = 0; i < 6; i++) {
      t.peers.added(peerOf())
      await t.clock.advance(DIRECT_PEER_STABLE_MS / 10)
      t.list(false)
      t.peers.removed(peerOf())
      const wait = t.clock.nextIn() as number
      waits.push(wait)
      await t.clock.advance(wait)
    }
    // Each short-lived connection doubles the wait.
    for (let i = 1; i < waits.length; i++) {
      expect(waits[i] as number).toBeGreaterThan((waits[i - 1] as number) * 1.2)
    }
  })
})
