import { EventEmitter } from 'node:events'
import crypto from 'hypercore-crypto'
import { describe, expect, it } from 'vitest'
import { drain, VirtualClock } from '../../sim/virtual-clock.js'
import { bytesToHex } from '../../src/core/keys.js'
import type { CoreEvent } from '../../src/core/protocol.js'
import { ClaimedTopics } from '../../src/io/claimed-topics.js'
import type { SwarmLike } from '../../src/io/swarm.js'
import { type LanLink, SwarmAdapter } from '../../src/io/swarm-adapter.js'

// The swarm adapter with LAN discovery beside the swarm: every topic operation reaches the LAN
// too, and a DHT that is not online holds a join or flush up for `dhtWait` at most.

const never = new Promise<never>(() => {})

/** A swarm whose DHT operations never finish, with a DHT in the given state. */
function stuckSwarm(dht: { online: boolean; nodes: number }): SwarmLike {
  const swarm = new EventEmitter() as unknown as SwarmLike & { dht: unknown }
  Object.assign(swarm, {
    keyPair: crypto.keyPair(),
    join: () => ({ flushed: () => never }),
    leave: async () => {},
    flush: () => never,
    destroy: async () => {},
    dht: {
      bootstrapped: true,
      online: dht.online,
      table: { size: dht.nodes },
      on: () => {},
      removeListener: () => {},
    },
  })
  return swarm
}

function setup(dht: { online: boolean; nodes: number }) {
  const clock = new VirtualClock()
  const events: CoreEvent[] = []
  const calls: string[] = []
  let lanFlushed: () => void = () => {}
  const link: LanLink = {
    join: (topic, announce, lookup) =>
      calls.push(`join ${topic.slice(0, 4)} ${announce} ${lookup}`),
    leave: (topic) => calls.push(`leave ${topic.slice(0, 4)}`),
    flush: () =>
      new Promise<void>((resolve) => {
        calls.push('flush')
        lanFlushed = resolve
      }),
    close: async () => {
      calls.push('close')
    },
  }
  // The topic is claimed, as a configure that joins it claims it first.
  const topics = new ClaimedTopics()
  topics.claim(topic)
  const adapter = new SwarmAdapter(
    {
      given: stuckSwarm(dht),
      hyperswarm: {},
      deriveFrom: null,
      lan: { link, clock, dhtWait: 3000 },
    },
    {
      topics,
      dispatch: (e) => events.push(e),
      identified: () => {},
      connection: () => {},
      dhtChanged: () => {},
    },
  )
  return { clock, events, calls, adapter, lanFlushed: () => lanFlushed() }
}

const topic = bytesToHex(crypto.randomBytes(32))

describe('the swarm adapter with LAN discovery', () => {
  it('an offline DHT holds a join up for dhtWait, then the LAN alone goes on; the LAN hears of it at once', async () => {
    const { clock, events, calls, adapter } = setup({ online: false, nodes: 0 })
    adapter.join(topic, 1, true, true)
    expect(calls).toEqual([`join ${topic.slice(0, 4)} true true`])
    await clock.runFor(2900)
    expect(events).toEqual([])
    await clock.runFor(200)
    expect(events).toEqual([{ type: 'topic-joined', topic, op: 1 }])
  })

  it('a flush waits for the LAN lookup round and, offline, for dhtWait at most', async () => {
    const s = setup({ online: false, nodes: 0 })
    s.adapter.flush(topic, 2)
    await s.clock.runFor(5000)
    // The DHT's part is given up; the LAN round is not over yet.
    expect(s.events).toEqual([])
    s.lanFlushed()
    await drain()
    expect(s.events).toEqual([{ type: 'swarm-flushed', topic, op: 2 }])
  })

  it('once an operation has waited dhtWait in vain, the next ones do not wait for the DHT at all', async () => {
    const s = setup({ online: false, nodes: 0 })
    s.adapter.join(topic, 1, true, true)
    await s.clock.runFor(3100)
    expect(s.events).toEqual([{ type: 'topic-joined', topic, op: 1 }])
    s.adapter.flush(topic, 2)
    s.lanFlushed()
    await drain()
    expect(s.events.at(-1)).toEqual({ type: 'swarm-flushed', topic, op: 2 })
    s.adapter.join(topic, 3, true, false)
    await drain()
    expect(s.events.at(-1)).toEqual({ type: 'topic-joined', topic, op: 3 })
  })

  it('an online DHT is waited for in full, as without the LAN', async () => {
    const s = setup({ online: true, nodes: 20 })
    s.adapter.join(topic, 1, true, false)
    s.adapter.flush(topic, 2)
    s.lanFlushed()
    await s.clock.runFor(60_000)
    expect(s.events).toEqual([])
  })

  it('a leave and the destroy reach the LAN too; destroy is done once the LAN is closed', async () => {
    const s = setup({ online: false, nodes: 0 })
    s.adapter.leave(topic, 3)
    let done = false
    s.adapter.destroy(() => {
      done = true
    })
    await drain()
    expect(s.calls).toEqual([`leave ${topic.slice(0, 4)}`, 'close'])
    expect(done).toBe(true)
    expect(s.events).toEqual([{ type: 'topic-left', topic, op: 3 }])
  })
})
