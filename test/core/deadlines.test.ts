import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type CoreOptions, NetworkerCore } from '../../src/core/networker-core.js'
import type { CoreEffect, CoreEvent } from '../../src/core/protocol.js'

/**
 * Time has one owner, the core: a configure's timeout, a close's timeout and the wait for
 * an authentication verdict are deadlines of the core, which fire as `now` passes them.
 * No test here sleeps: time is what each `handle` call says it is.
 */
const LOCAL = 'ee'.repeat(32)
const R1 = '11'.repeat(32)
const T = '01'.repeat(32)
const T2 = '02'.repeat(32)

const core = (opts: Partial<CoreOptions> = {}) =>
  new NetworkerCore({ localKey: LOCAL, authenticate: false, ...opts })

const configure = (
  requestId: number,
  opts: { timeout?: number; join?: boolean; flush?: boolean; topic?: string } = {},
): CoreEvent => ({
  type: 'configure',
  requestId,
  topic: opts.topic ?? T,
  announce: opts.join ?? true,
  lookup: opts.join ?? true,
  flush: opts.flush ?? true,
  ...(opts.timeout === undefined ? {} : { timeout: opts.timeout }),
})

const timedOut = (requestId: number, timeout: number): CoreEffect => ({
  type: 'settle',
  requestId,
  error: {
    code: 'FLUSH_TIMEOUT',
    message: `configure did not finish joining and flushing within ${timeout} ms`,
  },
})

const open = (connectionId: number, isInitiator = true): CoreEvent => ({
  type: 'connection-opened',
  connectionId,
  remoteKey: R1,
  isInitiator,
})

describe("a configure's timeout", () => {
  it('settles the request with FLUSH_TIMEOUT at the deadline; the configuration goes on', () => {
    const c = core()
    expect(c.handle(configure(1, { timeout: 500 }), 100)).toEqual([
      { type: 'join-topic', topic: T, op: 1, announce: true, lookup: true },
    ])
    expect(c.nextDeadline()).toBe(600)
    expect(c.handle({ type: 'tick' }, 599)).toEqual([])
    expect(c.handle({ type: 'tick' }, 600)).toEqual([timedOut(1, 500)])
    expect(c.pendingTimers).toBe(0)
    expect(c.status(T)).toMatchObject({ state: 'joining', announce: true, lookup: true })
    // The join and flush still happen, and are noticed; the request does not settle twice.
    expect(c.handle({ type: 'topic-joined', topic: T, op: 1 }, 700)).toEqual([
      { type: 'flush-swarm', topic: T, op: 2 },
    ])
    expect(c.handle({ type: 'swarm-flushed', topic: T, op: 2 }, 800)).toEqual([])
    expect(c.takeNotices()).toEqual([
      { type: 'joined', topic: T },
      { type: 'flushed', topic: T },
    ])
  })

  it('fires with the event that passes it, before that event is handled', () => {
    const c = core()
    c.handle(configure(1, { timeout: 50 }), 0)
    expect(c.handle({ type: 'topic-joined', topic: T, op: 1 }, 80)).toEqual([
      timedOut(1, 50),
      { type: 'flush-swarm', topic: T, op: 2 },
    ])
  })

  it('is cancelled when the request settles first', () => {
    const c = core()
    c.handle(configure(1, { timeout: 500, flush: false }), 0)
    expect(c.pendingTimers).toBe(1)
    expect(c.handle({ type: 'topic-joined', topic: T, op: 1 }, 10)).toEqual([
      { type: 'settle', requestId: 1 },
    ])
    expect(c.pendingTimers).toBe(0)
    expect(c.nextDeadline()).toBeNull()
  })

  it('leaves no deadline behind for a request settled at once, even with a timeout of 0', () => {
    const c = core()
    expect(c.handle(configure(1, { timeout: 0, join: false }), 0)).toEqual([
      { type: 'settle', requestId: 1 },
    ])
    expect(c.pendingTimers).toBe(0)
  })

  it('is its own: another request waiting on the topic settles when the topic is ready', () => {
    const c = core()
    c.handle(configure(1, { flush: false }), 0)
    c.handle(configure(2, { flush: false, timeout: 20 }), 0)
    c.handle(configure(3, { flush: false, timeout: 90 }), 0)
    expect(c.handle({ type: 'tick' }, 20)).toEqual([timedOut(2, 20)])
    expect(c.nextDeadline()).toBe(90)
    expect(c.handle({ type: 'topic-joined', topic: T, op: 1 }, 30)).toEqual([
      { type: 'settle', requestId: 1 },
      { type: 'settle', requestId: 3 },
    ])
    expect(c.pendingTimers).toBe(0)
  })

  it('is cancelled when the close fails the request', () => {
    const c = core()
    c.handle(configure(1, { timeout: 500 }), 0)
    expect(c.handle({ type: 'close', requestId: 2 }, 10)).toContainEqual({
      type: 'settle',
      requestId: 1,
      error: {
        code: 'NETWORKER_CLOSED',
        message: 'the networker closed before this configure completed',
      },
    })
    expect(c.pendingTimers).toBe(0)
  })

  it('is not set for a configure answered at once because the networker is closed', () => {
    const c = core()
    c.handle({ type: 'close', requestId: 1 }, 0)
    c.handle({ type: 'swarm-destroyed' }, 0)
    expect(c.handle(configure(2, { timeout: 5 }), 1)).toEqual([
      {
        type: 'settle',
        requestId: 2,
        error: { code: 'NETWORKER_CLOSED', message: 'the networker is closed' },
      },
    ])
    expect(c.pendingTimers).toBe(0)
  })

  it('of a leave expires like any other, and the topic is forgotten once left', () => {
    const c = core()
    c.handle(configure(1, { flush: false, topic: T2 }), 0)
    c.handle({ type: 'topic-joined', topic: T2, op: 1 }, 0)
    expect(c.handle(configure(2, { join: false, timeout: 10, topic: T2 }), 0)).toEqual([
      { type: 'leave-topic', topic: T2, op: 2 },
    ])
    expect(c.handle({ type: 'tick' }, 10)).toEqual([timedOut(2, 10)])
    expect(c.handle({ type: 'topic-left', topic: T2, op: 2 }, 20)).toEqual([])
    expect(c.status(T2)).toBeNull()
  })
})

describe("a close's timeout", () => {
  /** T joined; R1 connected. */
  function busy(): NetworkerCore {
    const c = core()
    c.handle(configure(1, { flush: false }), 0)
    c.handle({ type: 'topic-joined', topic: T, op: 1 }, 0)
    c.handle(open(1), 0)
    return c
  }

  it('forces the close at the deadline, as a close-timeout does', () => {
    const c = busy()
    c.handle({ type: 'close', requestId: 9, timeout: 1000 }, 100)
    expect(c.nextDeadline()).toBe(1100)
    expect(c.handle({ type: 'tick' }, 1100)).toEqual([
      { type: 'drop-connection', connectionId: 1, remoteKey: R1, reason: 'closing' },
      { type: 'peer-remove', connectionId: 1, remoteKey: R1 },
      { type: 'destroy-swarm' },
      { type: 'settle', requestId: 9, report: { unannounced: [T], forced: true } },
    ])
    expect(c.lifeState).toBe('closed')
    expect(c.pendingTimers).toBe(0)
  })

  it('is cancelled once the networker is closed', () => {
    const c = busy()
    c.handle({ type: 'close', requestId: 9, timeout: 1000 }, 0)
    c.handle({ type: 'topic-left', topic: T, op: 2 }, 10)
    c.handle({ type: 'connection-closed', connectionId: 1 }, 20)
    expect(c.pendingTimers).toBe(1)
    expect(c.handle({ type: 'swarm-destroyed' }, 30)).toEqual([
      { type: 'settle', requestId: 9, report: { unannounced: [], forced: false } },
    ])
    expect(c.pendingTimers).toBe(0)
  })

  it('the earliest of several closes wins; a later deadline does not put it off', () => {
    const c = busy()
    c.handle({ type: 'close', requestId: 8, timeout: 1000 }, 0)
    c.handle({ type: 'close', requestId: 9, timeout: 5000 }, 10)
    expect(c.nextDeadline()).toBe(1000)
    c.handle({ type: 'close', requestId: 10, timeout: 100 }, 20)
    expect(c.nextDeadline()).toBe(120)
    expect(c.pendingTimers).toBe(1)
    const forced = c.handle({ type: 'tick' }, 120)
    expect(forced.filter((e) => e.type === 'settle').map((e) => e.requestId)).toEqual([8, 9, 10])
    expect(c.pendingTimers).toBe(0)
  })

  it('a deadline while the swarm is being destroyed settles without destroying twice', () => {
    const c = core()
    expect(c.handle({ type: 'close', requestId: 1, timeout: 50 }, 0)).toEqual([
      { type: 'destroy-swarm' },
    ])
    expect(c.handle({ type: 'tick' }, 50)).toEqual([
      { type: 'settle', requestId: 1, report: { unannounced: [], forced: true } },
    ])
    expect(c.pendingTimers).toBe(0)
  })

  it('once closed, a close with a timeout settles at once and sets no deadline', () => {
    const c = core()
    c.handle({ type: 'close', requestId: 1 }, 0)
    c.handle({ type: 'swarm-destroyed' }, 0)
    expect(c.handle({ type: 'close', requestId: 2, timeout: 10 }, 0)).toEqual([
      { type: 'settle', requestId: 2, report: { unannounced: [], forced: false } },
    ])
    expect(c.pendingTimers).toBe(0)
  })
})

describe('the wait for an authentication verdict', () => {
  const authed = () => core({ authenticate: true, authenticateTimeout: 300 })

  it('rejects the connection when no verdict comes in time; a late verdict changes nothing', () => {
    const c = authed()
    expect(c.handle(open(1), 1000)).toEqual([
      { type: 'authenticate', connectionId: 1, remoteKey: R1 },
    ])
    expect(c.nextDeadline()).toBe(1300)
    expect(c.handle({ type: 'tick' }, 1300)).toEqual([
      { type: 'drop-connection', connectionId: 1, remoteKey: R1, reason: 'rejected' },
    ])
    expect(c.pendingConnections()).toEqual([])
    expect(
      c.handle({ type: 'connection-authenticated', connectionId: 1, accepted: true }, 1400),
    ).toEqual([])
    expect(c.peers()).toEqual([])
  })

  it('defaults to 10 s', () => {
    const c = core({ authenticate: true })
    c.handle(open(1), 0)
    expect(c.nextDeadline()).toBe(10_000)
  })

  it('ends with the verdict, with the close of the connection, or with the networker', () => {
    const c = authed()
    c.handle(open(1), 0)
    c.handle({ type: 'connection-authenticated', connectionId: 1, accepted: true }, 10)
    expect(c.pendingTimers).toBe(0)
    c.handle(open(2, false), 20)
    c.handle({ type: 'connection-closed', connectionId: 2 }, 30)
    expect(c.pendingTimers).toBe(0)
    c.handle(open(3, false), 40)
    c.handle({ type: 'close', requestId: 1 }, 50)
    expect(c.pendingTimers).toBe(0)
  })

  it('a rejection at the deadline lets a flush waiting on the connection finish', () => {
    const c = authed()
    c.handle(configure(1), 0)
    c.handle({ type: 'topic-joined', topic: T, op: 1 }, 0)
    c.handle(open(1), 0)
    expect(c.handle({ type: 'swarm-flushed', topic: T, op: 2 }, 10)).toEqual([])
    expect(c.handle({ type: 'tick' }, 300)).toEqual([
      { type: 'drop-connection', connectionId: 1, remoteKey: R1, reason: 'rejected' },
      { type: 'settle', requestId: 1 },
    ])
  })
})

describe('time', () => {
  it('never goes back: an earlier `now` counts as the latest one seen', () => {
    const c = core()
    c.handle(configure(1, { timeout: 100 }), 1000)
    expect(c.handle({ type: 'tick' }, 500)).toEqual([])
    expect(c.nextDeadline()).toBe(1100)
    expect(c.handle({ type: 'tick' }, 1100)).toEqual([timedOut(1, 100)])
  })
})

describe('deadlines under random activity (property)', () => {
  type Step =
    | { kind: 'configure'; topic: number; join: boolean; flush: boolean; timeout: number | null }
    | { kind: 'answer'; pick: number }
    | { kind: 'wait'; ms: number }

  const stepArb: fc.Arbitrary<Step> = fc.oneof(
    fc.record({
      kind: fc.constant('configure' as const),
      topic: fc.nat({ max: 1 }),
      join: fc.boolean(),
      flush: fc.boolean(),
      timeout: fc.option(fc.nat({ max: 30 })),
    }),
    fc.record({ kind: fc.constant('answer' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('wait' as const), ms: fc.nat({ max: 20 }) }),
  )

  it('every request settles once; a timed-out one at or after its deadline, a met one before', () => {
    fc.assert(
      fc.property(
        fc.array(stepArb, { maxLength: 50 }),
        fc.option(fc.nat({ max: 40 })),
        (steps, closeIn) => {
          const c = core()
          let now = 0
          let nextId = 1
          const deadline = new Map<number, number>()
          const settled = new Map<number, CoreEffect>()
          const asked: CoreEffect[] = []
          const take = (effects: CoreEffect[]) => {
            for (const e of effects) {
              if (e.type === 'settle') {
                expect(settled.has(e.requestId), `settled twice: ${e.requestId}`).toBe(false)
                settled.set(e.requestId, e)
                const by = deadline.get(e.requestId)
                if (e.error?.code === 'FLUSH_TIMEOUT')
                  expect(now).toBeGreaterThanOrEqual(by as number)
                else if (by !== undefined) expect(now).toBeLessThanOrEqual(by)
              } else if ('op' in e) asked.push(e)
            }
          }
          const answer = (pick: number) => {
            const [e] = asked.splice(pick % asked.length, 1)
            if (e === undefined || !('op' in e)) return
            const type =
              e.type === 'join-topic'
                ? 'topic-joined'
                : e.type === 'leave-topic'
                  ? 'topic-left'
                  : 'swarm-flushed'
            take(c.handle({ type, topic: e.topic, op: e.op }, now))
          }
          for (const s of steps) {
            if (s.kind === 'configure') {
              const id = nextId++
              if (s.timeout !== null) deadline.set(id, now + s.timeout)
              const topic = s.topic === 0 ? T : T2
              take(
                c.handle(
                  configure(id, {
                    topic,
                    join: s.join,
                    flush: s.flush,
                    ...(s.timeout === null ? {} : { timeout: s.timeout }),
                  }),
                  now,
                ),
              )
            } else if (s.kind === 'answer') {
              if (asked.length > 0) answer(s.pick)
            } else {
              now += s.ms
              take(c.handle({ type: 'tick' }, now))
            }
          }
          take(
            c.handle(
              { type: 'close', requestId: 0, ...(closeIn === null ? {} : { timeout: closeIn }) },
              now,
            ),
          )
          for (let round = 0; round < 200 && c.lifeState !== 'closed'; round++) {
            if (asked.length > 0) answer(round)
            else if (c.lifeState === 'destroying') take(c.handle({ type: 'swarm-destroyed' }, now))
            else {
              now += 5
              take(c.handle({ type: 'tick' }, now))
            }
          }
          expect(c.lifeState).toBe('closed')
          for (let id = 0; id < nextId; id++) expect(settled.has(id), `request ${id}`).toBe(true)
          expect(c.pendingTimers).toBe(0)
        },
      ),
      { numRuns: 300 },
    )
  })
})
