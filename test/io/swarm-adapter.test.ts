import { EventEmitter } from 'node:events'
import crypto from 'hypercore-crypto'
import { describe, expect, it } from 'vitest'
import { bytesToHex } from '../../src/core/keys.js'
import type { CoreEvent } from '../../src/core/protocol.js'
import { ClaimedTopics } from '../../src/io/claimed-topics.js'
import type { SwarmLike } from '../../src/io/swarm.js'
import { SwarmAdapter } from '../../src/io/swarm-adapter.js'

/*
 * The swarm adapter (swarm-adapter.ts) over a swarm that exists from the start, without LAN
 * discovery: each operation is answered on a later turn, with the op it answers, whether the
 * swarm resolves, rejects or throws; the swarm gets the topic's key as bytes.
 */
const topic = bytesToHex(crypto.randomBytes(32))

function setup(behaviour: 'ok' | 'reject' | 'throw') {
  const calls: string[] = []
  /** The key objects the swarm was asked to join with, in order. */
  const keys: Buffer[] = []
  const outcome = (): Promise<void> => {
    if (behaviour === 'throw') throw new Error('thrown')
    return behaviour === 'reject' ? Promise.reject(new Error('rejected')) : Promise.resolve()
  }
  const swarm = Object.assign(new EventEmitter(), {
    keyPair: crypto.keyPair(),
    join: (key: Buffer, opts: { server: boolean; client: boolean }) => {
      keys.push(key)
      calls.push(`join ${bytesToHex(key) === topic} ${opts.server} ${opts.client}`)
      return {
        flushed: outcome,
        refresh: (next: { server: boolean; client: boolean }) => {
          calls.push(`refresh ${next.server} ${next.client}`)
          return Promise.resolve()
        },
      }
    },
    leave: (key: Buffer) => {
      calls.push(`leave ${bytesToHex(key) === topic}`)
      return outcome()
    },
    flush: outcome,
    destroy: async () => {},
  }) as unknown as SwarmLike
  const events: CoreEvent[] = []
  // The topic is claimed, as a configure that joins it claims it first.
  const topics = new ClaimedTopics()
  topics.claim(topic)
  const adapter = new SwarmAdapter(
    { given: swarm, hyperswarm: {}, deriveFrom: null },
    {
      topics,
      dispatch: (e) => events.push(e),
      identified: () => {},
      connection: () => {},
      dhtChanged: () => {},
    },
  )
  return { adapter, events, calls, topics, keys }
}

const turn = () => new Promise((resolve) => setImmediate(resolve))

describe('the swarm adapter', () => {
  it('joins, refreshes, flushes and leaves, each answered later with its op', async () => {
    const { adapter, events, calls } = setup('ok')
    adapter.join(topic, 1, true, false)
    adapter.flush(topic, 2)
    expect(events).toEqual([])
    await turn()
    adapter.join(topic, 3, false, true)
    await turn()
    adapter.leave(topic, 4)
    await turn()
    // Left: a join after it is a new session, not a refresh of the old one.
    adapter.join(topic, 5, true, true)
    await turn()
    expect(calls).toEqual([
      'join true true false',
      'refresh false true',
      'leave true',
      'join true true true',
    ])
    expect(events).toEqual([
      { type: 'topic-joined', topic, op: 1 },
      { type: 'swarm-flushed', topic, op: 2 },
      { type: 'topic-joined', topic, op: 3 },
      { type: 'topic-left', topic, op: 4 },
      { type: 'topic-joined', topic, op: 5 },
    ])
  })

  it('keeps no session for a topic unclaimed before its join ran: a join after it is a new session', async () => {
    const { adapter, calls, topics } = setup('ok')
    topics.unclaim(topic)
    adapter.join(topic, 1, true, false)
    adapter.leave(topic, 2)
    expect(topics.has(topic)).toBe(false)
    topics.claim(topic)
    adapter.join(topic, 3, false, true)
    await turn()
    expect(calls).toEqual(['join true true false', 'leave true', 'join true false true'])
  })

  it('keeps a session left while its topic stays claimed as none: a join after the leave is new', async () => {
    const { adapter, calls, topics } = setup('ok')
    adapter.join(topic, 1, true, false)
    expect(topics.session(topic)).not.toBeNull()
    adapter.leave(topic, 2)
    expect(topics.has(topic)).toBe(true)
    expect(topics.session(topic)).toBeNull()
    adapter.join(topic, 3, true, true)
    await turn()
    expect(calls).toEqual(['join true true false', 'leave true', 'join true true true'])
  })

  it('forgets every session when the networker closes: a join after it is a new session', async () => {
    const { adapter, events, calls } = setup('ok')
    adapter.join(topic, 1, true, false)
    await turn()
    adapter.closing()
    // The close's leave still goes to the swarm and is answered with its op.
    adapter.leave(topic, 2)
    adapter.join(topic, 3, false, true)
    await turn()
    expect(calls).toEqual(['join true true false', 'leave true', 'join true false true'])
    expect(events).toEqual([
      { type: 'topic-joined', topic, op: 1 },
      { type: 'topic-left', topic, op: 2 },
      { type: 'topic-joined', topic, op: 3 },
    ])
  })

  it("joins with the caller's key bytes while its configure is handled, decoding the hex otherwise", async () => {
    const { adapter, keys, topics } = setup('ok')
    const given = Buffer.from(topic, 'hex')
    adapter.keyGiven(topic, given)
    adapter.join(topic, 1, true, false)
    adapter.keyGiven(null, null)
    adapter.leave(topic, 2)
    // Given for another topic: not this one's bytes.
    const other = crypto.randomBytes(32)
    adapter.keyGiven(bytesToHex(other), other)
    adapter.join(topic, 3, true, true)
    adapter.keyGiven(null, null)
    adapter.leave(topic, 4)
    // Given, then taken back: decoded again.
    adapter.keyGiven(topic, given)
    adapter.keyGiven(null, null)
    adapter.join(topic, 5, false, true)
    await turn()
    expect(keys).toHaveLength(3)
    expect(keys[0]).toBe(given)
    for (const decoded of keys.slice(1)) {
      expect(decoded).not.toBe(given)
      expect(bytesToHex(decoded as Buffer)).toBe(topic)
    }
    expect(topics.session(topic)).not.toBeNull()
  })

  for (const behaviour of ['reject', 'throw'] as const) {
    it(`reports a swarm that ${behaviour}s as a coded failure, on a later turn`, async () => {
      const { adapter, events } = setup(behaviour)
      adapter.join(topic, 1, true, true)
      adapter.flush(topic, 2)
      adapter.leave(topic, 3)
      expect(events).toEqual([])
      await turn()
      const message = behaviour === 'reject' ? 'rejected' : 'thrown'
      expect(events).toEqual([
        {
          type: 'topic-join-failed',
          topic,
          op: 1,
          error: { code: 'TOPIC_JOIN_FAILED', message: `joining the topic failed: ${message}` },
        },
        {
          type: 'swarm-flush-failed',
          topic,
          op: 2,
          error: { code: 'FLUSH_FAILED', message: `swarm flush failed: ${message}` },
        },
        {
          type: 'topic-leave-failed',
          topic,
          op: 3,
          error: { code: 'TOPIC_LEAVE_FAILED', message: `leaving the topic failed: ${message}` },
        },
      ])
    })
  }
})
