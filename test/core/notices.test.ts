import { describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/core/errors.js'
import { NetworkerCore } from '../../src/core/networker-core.js'
import type { CoreEvent } from '../../src/core/protocol.js'

/**
 * Topic notices (what the face turns into 'joined', 'flushed' and 'left' events) and the
 * forgetting of left topics: a topic left with nothing pending leaves nothing behind.
 */
const LOCAL = 'aa'.repeat(32)
const T = '01'.repeat(32)

const configure = (
  requestId: number,
  announce: boolean,
  lookup: boolean,
  flush = false,
  topic = T,
): CoreEvent => ({ type: 'configure', requestId, topic, announce, lookup, flush })

const newCore = (): NetworkerCore => new NetworkerCore({ localKey: LOCAL, authenticate: false })

describe('topic notices', () => {
  it('a flushing join notices joined, then flushed; a leave notices left, once each', () => {
    const c = newCore()
    c.handle(configure(1, true, true, true), 0)
    expect(c.takeNotices()).toEqual([])
    c.handle({ type: 'topic-joined', topic: T, op: 1 }, 1)
    expect(c.takeNotices()).toEqual([{ type: 'joined', topic: T }])
    c.handle({ type: 'swarm-flushed', topic: T, op: 2 }, 2)
    expect(c.takeNotices()).toEqual([{ type: 'flushed', topic: T }])
    expect(c.takeNotices()).toEqual([])
    c.handle(configure(2, false, false), 3)
    expect(c.takeNotices()).toEqual([])
    c.handle({ type: 'topic-left', topic: T, op: 3 }, 4)
    expect(c.takeNotices()).toEqual([{ type: 'left', topic: T }])
  })

  it('a join without flush notices joined only; configuring it again with flush notices flushed', () => {
    const c = newCore()
    c.handle(configure(1, true, false), 0)
    c.handle({ type: 'topic-joined', topic: T, op: 1 }, 1)
    expect(c.takeNotices()).toEqual([{ type: 'joined', topic: T }])
    c.handle(configure(2, true, false, true), 2)
    c.handle({ type: 'swarm-flushed', topic: T, op: 2 }, 3)
    expect(c.takeNotices()).toEqual([{ type: 'flushed', topic: T }])
  })

  it('a leave of a topic never joined notices nothing', () => {
    const c = newCore()
    c.handle(configure(1, false, false), 0)
    expect(c.takeNotices()).toEqual([])
  })
})

describe('forgetting left topics', () => {
  it('a topic configured again after it was forgotten never takes a result of its earlier life', () => {
    const c = newCore()
    c.handle(configure(1, true, true, true), 0) // join op 1
    c.handle({ type: 'topic-joined', topic: T, op: 1 }, 1) // flush op 2
    c.handle(configure(2, false, false), 2) // leave op 3: the flush of op 2 is still out
    c.handle({ type: 'topic-left', topic: T, op: 3 }, 3)
    expect(c.status(T)).toBeNull()
    // Configured again: its join and flush ops are past 3, so the late flush of op 2 is stale.
    expect(c.handle(configure(3, true, true, true), 4)).toEqual([
      { type: 'join-topic', topic: T, op: 4, announce: true, lookup: true },
    ])
    c.handle({ type: 'topic-joined', topic: T, op: 4 }, 5)
    expect(c.handle({ type: 'swarm-flushed', topic: T, op: 2 }, 6)).toEqual([])
    expect(c.status(T)).toMatchObject({ flushed: false, state: 'flushing' })
    expect(c.handle({ type: 'swarm-flushed', topic: T, op: 5 }, 7)).toEqual([
      { type: 'settle', requestId: 3 },
    ])
  })

  it('a topic whose leave failed is kept, so the close can report it unannounced', () => {
    const c = newCore()
    c.handle(configure(1, true, false), 0)
    c.handle({ type: 'topic-joined', topic: T, op: 1 }, 1)
    c.handle(configure(2, false, false), 2)
    c.handle(
      {
        type: 'topic-leave-failed',
        topic: T,
        op: 2,
        error: { code: ErrorCode.TOPIC_LEAVE_FAILED, message: 'no' },
      },
      3,
    )
    expect(c.status(T)).toMatchObject({ state: 'left', joined: false })
  })

  it('10,000 configure/leave cycles on distinct keys leave no topic behind', () => {
    const c = newCore()
    let now = 0
    for (let i = 0; i < 10_000; i++) {
      const topic = i.toString(16).padStart(64, '0')
      const [join] = c.handle(configure(2 * i + 1, true, true, false, topic), now++)
      if (join?.type !== 'join-topic') throw new Error('expected a join')
      c.handle({ type: 'topic-joined', topic, op: join.op }, now++)
      const [leave] = c.handle(configure(2 * i + 2, false, false, false, topic), now++)
      if (leave?.type !== 'leave-topic') throw new Error('expected a leave')
      c.handle({ type: 'topic-left', topic, op: leave.op }, now++)
      expect(c.status(topic)).toBeNull()
    }
    expect(c.statuses()).toEqual([])
    expect(c.pendingTimers).toBe(0)
  })
})
