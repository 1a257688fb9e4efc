import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { NetworkerCore } from '../../src/core/networker-core.js'
import type { CloseReport, CoreEffect, CoreEvent } from '../../src/core/protocol.js'

const LOCAL = 'aa'.repeat(32)
const T1 = '01'.repeat(32)
const T2 = '02'.repeat(32)
const R1 = 'b1'.repeat(32)
const R2 = 'b2'.repeat(32)
const closedError = {
  code: 'NETWORKER_CLOSED',
  message: 'the networker closed before this configure completed',
}

const types = (effects: CoreEffect[]) => effects.map((e) => e.type)

function openCore() {
  const c = new NetworkerCore({ localKey: LOCAL, authenticate: false })
  // T1 joined and flushed, T2 still joining; R1 and R2 connected.
  c.handle(
    {
      type: 'configure',
      requestId: 1,
      topic: T1,
      announce: true,
      lookup: true,
      flush: false,
    },
    0,
  )
  c.handle({ type: 'topic-joined', topic: T1, op: 1 }, 0)
  c.handle(
    {
      type: 'configure',
      requestId: 2,
      topic: T2,
      announce: true,
      lookup: false,
      flush: true,
    },
    0,
  )
  c.handle({ type: 'connection-opened', connectionId: 1, remoteKey: R1, isInitiator: true }, 0)
  c.handle({ type: 'connection-opened', connectionId: 2, remoteKey: R2, isInitiator: false }, 0)
  return c
}

describe('closing the networker', () => {
  it('settles pending configures, leaves topics, drops connections, then destroys the swarm', () => {
    const c = openCore()
    const effects = c.handle({ type: 'close', requestId: 10 }, 0)
    expect(effects).toContainEqual({ type: 'settle', requestId: 2, error: closedError })
    expect(effects).toContainEqual({ type: 'leave-topic', topic: T1, op: 2 })
    expect(effects).toContainEqual({ type: 'leave-topic', topic: T2, op: 2 })
    expect(effects).toContainEqual({
      type: 'drop-connection',
      connectionId: 1,
      remoteKey: R1,
      reason: 'closing',
    })
    expect(effects).toContainEqual({
      type: 'drop-connection',
      connectionId: 2,
      remoteKey: R2,
      reason: 'closing',
    })
    expect(types(effects)).not.toContain('destroy-swarm')
    expect(c.lifeState).toBe('closing')

    // Peers stay listed until their connections have really closed.
    expect(c.peers().length).toBe(2)
    expect(c.handle({ type: 'topic-left', topic: T1, op: 2 }, 0)).toEqual([])
    expect(c.handle({ type: 'connection-closed', connectionId: 1 }, 0)).toEqual([
      { type: 'peer-remove', connectionId: 1, remoteKey: R1 },
    ])
    expect(c.handle({ type: 'topic-left', topic: T2, op: 2 }, 0)).toEqual([])
    expect(c.handle({ type: 'connection-closed', connectionId: 2 }, 0)).toEqual([
      { type: 'peer-remove', connectionId: 2, remoteKey: R2 },
      { type: 'destroy-swarm' },
    ])
    expect(c.lifeState).toBe('destroying')
    const second = c.handle({ type: 'close', requestId: 11 }, 0)
    expect(second).toEqual([])
    expect(c.handle({ type: 'swarm-destroyed' }, 0)).toEqual([
      { type: 'settle', requestId: 10, report: { unannounced: [], forced: false } },
      { type: 'settle', requestId: 11, report: { unannounced: [], forced: false } },
    ])
    expect(c.lifeState).toBe('closed')
    expect(c.pendingTimers).toBe(0)
    // Idempotent, and nothing works after close.
    expect(c.handle({ type: 'close', requestId: 12 }, 0)).toEqual([
      { type: 'settle', requestId: 12, report: { unannounced: [], forced: false } },
    ])
    expect(
      c.handle(
        {
          type: 'configure',
          requestId: 13,
          topic: T1,
          announce: true,
          lookup: true,
          flush: true,
        },
        0,
      ),
    ).toEqual([
      {
        type: 'settle',
        requestId: 13,
        error: { code: 'NETWORKER_CLOSED', message: 'the networker is closed' },
      },
    ])
    expect(
      c.handle({ type: 'connection-opened', connectionId: 3, remoteKey: R1, isInitiator: true }, 0),
    ).toEqual([{ type: 'drop-connection', connectionId: 3, remoteKey: R1, reason: 'closing' }])
  })

  it('reports topics whose leave failed', () => {
    const c = openCore()
    c.handle({ type: 'close', requestId: 10 }, 0)
    c.handle({ type: 'topic-left', topic: T1, op: 2 }, 0)
    c.handle(
      {
        type: 'topic-leave-failed',
        topic: T2,
        op: 2,
        error: { code: 'TOPIC_LEAVE_FAILED', message: 'x' },
      },
      0,
    )
    c.handle({ type: 'connection-closed', connectionId: 1 }, 0)
    c.handle({ type: 'connection-closed', connectionId: 2 }, 0)
    expect(c.handle({ type: 'swarm-destroyed' }, 0)).toEqual([
      { type: 'settle', requestId: 10, report: { unannounced: [T2], forced: false } },
    ])
  })

  it('finishes at the deadline whatever still hangs, and says what', () => {
    const c = openCore()
    c.handle({ type: 'close', requestId: 10 }, 0)
    c.handle({ type: 'topic-left', topic: T1, op: 2 }, 0)
    // T2's leave and R2's close never come.
    c.handle({ type: 'connection-closed', connectionId: 1 }, 0)
    const forced = c.handle({ type: 'close-timeout' }, 0)
    expect(forced).toEqual([
      { type: 'drop-connection', connectionId: 2, remoteKey: R2, reason: 'closing' },
      { type: 'peer-remove', connectionId: 2, remoteKey: R2 },
      { type: 'destroy-swarm' },
      { type: 'settle', requestId: 10, report: { unannounced: [T2], forced: true } },
    ])
    expect(c.lifeState).toBe('closed')
    expect(c.peers()).toEqual([])
    expect(c.pendingTimers).toBe(0)
    // Late results change nothing.
    expect(c.handle({ type: 'topic-left', topic: T2, op: 2 }, 0)).toEqual([])
    expect(c.handle({ type: 'swarm-destroyed' }, 0)).toEqual([])
  })

  it('a deadline while the swarm is being destroyed settles without destroying twice', () => {
    const c = new NetworkerCore({ localKey: LOCAL, authenticate: false })
    expect(c.handle({ type: 'close', requestId: 1 }, 0)).toEqual([{ type: 'destroy-swarm' }])
    expect(c.handle({ type: 'close-timeout' }, 0)).toEqual([
      { type: 'settle', requestId: 1, report: { unannounced: [], forced: true } },
    ])
    expect(c.lifeState).toBe('closed')
    // Closed for good: a later close settles at once with the same report.
    expect(c.handle({ type: 'close', requestId: 2 }, 0)).toEqual([
      { type: 'settle', requestId: 2, report: { unannounced: [], forced: true } },
    ])
  })

  it('drops connections still being authenticated, which settles flushes waiting on them', () => {
    const c = new NetworkerCore({ localKey: LOCAL, authenticate: true })
    c.handle(
      {
        type: 'configure',
        requestId: 1,
        topic: T1,
        announce: true,
        lookup: true,
        flush: true,
      },
      0,
    )
    c.handle({ type: 'topic-joined', topic: T1, op: 1 }, 0)
    c.handle({ type: 'connection-opened', connectionId: 5, remoteKey: R1, isInitiator: true }, 0)
    c.handle({ type: 'swarm-flushed', topic: T1, op: 2 }, 0)
    const effects = c.handle({ type: 'close', requestId: 2 }, 0)
    expect(effects).toContainEqual({ type: 'settle', requestId: 1, error: closedError })
    expect(effects).toContainEqual({
      type: 'drop-connection',
      connectionId: 5,
      remoteKey: R1,
      reason: 'closing',
    })
    expect(c.pendingConnections()).toEqual([])
    // A late verdict for it is ignored.
    expect(
      c.handle({ type: 'connection-authenticated', connectionId: 5, accepted: true }, 0),
    ).toEqual([])
  })

  it('ignores a connection to itself', () => {
    const c = new NetworkerCore({ localKey: LOCAL, authenticate: false })
    expect(
      c.handle(
        { type: 'connection-opened', connectionId: 1, remoteKey: LOCAL, isInitiator: true },
        0,
      ),
    ).toEqual([{ type: 'drop-connection', connectionId: 1, remoteKey: LOCAL, reason: 'closing' }])
    expect(c.peers()).toEqual([])
  })
})

describe('peer events', () => {
  it('alternate per remote key through connects, duplicates and closes', () => {
    const c = new NetworkerCore({ localKey: LOCAL, authenticate: false })
    const log: string[] = []
    const run = (effects: CoreEffect[]) => {
      for (const e of effects)
        if (e.type === 'peer-add' || e.type === 'peer-remove')
          log.push(`${e.type}:${e.connectionId}`)
    }
    run(
      c.handle({ type: 'connection-opened', connectionId: 1, remoteKey: R1, isInitiator: true }, 0),
    )
    run(c.handle({ type: 'connection-data', connectionId: 1 }, 0))
    // A reconnect while 1 is active: held, then swapped in once it carries data.
    run(
      c.handle(
        { type: 'connection-opened', connectionId: 2, remoteKey: R1, isInitiator: false },
        0,
      ),
    )
    run(c.handle({ type: 'connection-data', connectionId: 2 }, 0))
    run(c.handle({ type: 'connection-closed', connectionId: 1 }, 0))
    run(c.handle({ type: 'connection-closed', connectionId: 2 }, 0))
    run(
      c.handle({ type: 'connection-opened', connectionId: 3, remoteKey: R1, isInitiator: true }, 0),
    )
    expect(log).toEqual([
      'peer-add:1',
      'peer-remove:1',
      'peer-add:2',
      'peer-remove:2',
      'peer-add:3',
    ])
  })
})

const nowClosed = { code: 'NETWORKER_CLOSED', message: 'the networker is closed' }
const report = { unannounced: [], forced: false }

describe('closing, step by step', () => {
  it('emits exactly: the leaves and pending settles topic by topic, then the drops', () => {
    const c = openCore()
    expect(c.handle({ type: 'close', requestId: 10 }, 0)).toEqual([
      { type: 'leave-topic', topic: T1, op: 2 },
      { type: 'settle', requestId: 2, error: closedError },
      { type: 'leave-topic', topic: T2, op: 2 },
      { type: 'drop-connection', connectionId: 1, remoteKey: R1, reason: 'closing' },
      { type: 'drop-connection', connectionId: 2, remoteKey: R2, reason: 'closing' },
    ])
    expect(c.statuses().map((s) => [s.joined, s.state])).toEqual([
      [false, 'leaving'],
      [false, 'leaving'],
    ])
  })

  it('waits for the connections before destroying, even when the topics are left first', () => {
    const c = openCore()
    c.handle({ type: 'close', requestId: 10 }, 0)
    expect(c.handle({ type: 'connection-closed', connectionId: 1 }, 0)).toEqual([
      { type: 'peer-remove', connectionId: 1, remoteKey: R1 },
    ])
    expect(c.handle({ type: 'connection-closed', connectionId: 2 }, 0)).toEqual([
      { type: 'peer-remove', connectionId: 2, remoteKey: R2 },
    ])
    expect(c.handle({ type: 'topic-left', topic: T2, op: 2 }, 0)).toEqual([])
    // A stale result for T1 does not count as its leave.
    expect(c.handle({ type: 'topic-joined', topic: T1, op: 1 }, 0)).toEqual([])
    expect(c.handle({ type: 'topic-left', topic: T1, op: 1 }, 0)).toEqual([])
    expect(c.lifeState).toBe('closing')
    expect(c.handle({ type: 'topic-left', topic: T1, op: 2 }, 0)).toEqual([
      { type: 'destroy-swarm' },
    ])
    expect(c.statuses().map((s) => s.state)).toEqual(['closed', 'closed'])
  })

  it('every close call settles once, together, with one destroy; later calls settle at once', () => {
    const c = openCore()
    const settles = (ids: number[]) =>
      ids.map((requestId) => ({ type: 'settle', requestId, report }))
    expect(c.handle({ type: 'close', requestId: 10 }, 0)).not.toContainEqual(
      expect.objectContaining({ type: 'settle', requestId: 10 }),
    )
    // While closing: another close waits, a configure fails at once, a new connection is dropped.
    expect(c.handle({ type: 'close', requestId: 11 }, 0)).toEqual([])
    expect(
      c.handle(
        {
          type: 'configure',
          requestId: 20,
          topic: T1,
          announce: true,
          lookup: false,
          flush: false,
        },
        0,
      ),
    ).toEqual([{ type: 'settle', requestId: 20, error: nowClosed }])
    expect(
      c.handle(
        { type: 'connection-opened', connectionId: 9, remoteKey: R1, isInitiator: false },
        0,
      ),
    ).toEqual([{ type: 'drop-connection', connectionId: 9, remoteKey: R1, reason: 'closing' }])
    // The dropped newcomer is forgotten: its close event changes nothing.
    expect(c.handle({ type: 'connection-closed', connectionId: 9 }, 0)).toEqual([])
    c.handle({ type: 'topic-left', topic: T1, op: 2 }, 0)
    c.handle({ type: 'topic-left', topic: T2, op: 2 }, 0)
    c.handle({ type: 'connection-closed', connectionId: 1 }, 0)
    expect(c.handle({ type: 'connection-closed', connectionId: 2 }, 0)).toEqual([
      { type: 'peer-remove', connectionId: 2, remoteKey: R2 },
      { type: 'destroy-swarm' },
    ])
    // While destroying: the same.
    expect(c.handle({ type: 'close', requestId: 12 }, 0)).toEqual([])
    expect(
      c.handle(
        {
          type: 'configure',
          requestId: 21,
          topic: T2,
          announce: false,
          lookup: false,
          flush: false,
        },
        0,
      ),
    ).toEqual([{ type: 'settle', requestId: 21, error: nowClosed }])
    expect(
      c.handle({ type: 'connection-opened', connectionId: 8, remoteKey: R2, isInitiator: true }, 0),
    ).toEqual([{ type: 'drop-connection', connectionId: 8, remoteKey: R2, reason: 'closing' }])
    expect(c.handle({ type: 'swarm-destroyed' }, 0)).toEqual(settles([10, 11, 12]))
    expect(c.handle({ type: 'swarm-destroyed' }, 0)).toEqual([])
    expect(c.handle({ type: 'close', requestId: 13 }, 0)).toEqual(settles([13]))
    expect(c.handle({ type: 'close', requestId: 14 }, 0)).toEqual(settles([14]))
    expect(c.pendingTimers).toBe(0)
  })

  it('closing an idle networker destroys the swarm at once', () => {
    const c = new NetworkerCore({ localKey: LOCAL, authenticate: false })
    expect(c.lifeState).toBe('open')
    expect(c.handle({ type: 'close', requestId: 1 }, 0)).toEqual([{ type: 'destroy-swarm' }])
    expect(c.lifeState).toBe('destroying')
    expect(c.handle({ type: 'swarm-destroyed' }, 0)).toEqual([
      { type: 'settle', requestId: 1, report },
    ])
    expect(c.lifeState).toBe('closed')
  })

  it('a topic that was only ever left needs no leave on close', () => {
    const c = new NetworkerCore({ localKey: LOCAL, authenticate: false })
    c.handle(
      {
        type: 'configure',
        requestId: 1,
        topic: T1,
        announce: false,
        lookup: false,
        flush: false,
      },
      0,
    )
    // Forgotten as soon as it was left, so the close has nothing of it to leave.
    expect(c.status(T1)).toBeNull()
    expect(c.handle({ type: 'close', requestId: 2 }, 0)).toEqual([{ type: 'destroy-swarm' }])
  })

  it('a topic already leaving when close comes is left once, and its waiters fail', () => {
    const c = new NetworkerCore({ localKey: LOCAL, authenticate: false })
    const configure = (requestId: number, join: boolean): CoreEvent => ({
      type: 'configure',
      requestId,
      topic: T1,
      announce: join,
      lookup: false,
      flush: false,
    })
    c.handle(configure(1, true), 0)
    c.handle({ type: 'topic-joined', topic: T1, op: 1 }, 0)
    expect(c.handle(configure(2, false), 0)).toEqual([{ type: 'leave-topic', topic: T1, op: 2 }])
    expect(c.handle({ type: 'close', requestId: 3 }, 0)).toEqual([
      { type: 'settle', requestId: 2, error: closedError },
    ])
    expect(c.handle({ type: 'topic-left', topic: T1, op: 2 }, 0)).toEqual([
      { type: 'destroy-swarm' },
    ])
  })

  it('a contested connection at close: both dropped, its timer cancelled, no timers left', () => {
    const c = new NetworkerCore({ localKey: LOCAL, authenticate: false })
    c.handle({ type: 'connection-opened', connectionId: 1, remoteKey: R1, isInitiator: true }, 0)
    c.handle({ type: 'connection-data', connectionId: 1 }, 0)
    // A reconnect while 1 is active: held as a candidate with a deadline.
    expect(
      c.handle(
        { type: 'connection-opened', connectionId: 2, remoteKey: R1, isInitiator: false },
        0,
      ),
    ).toEqual([])
    expect(c.pendingTimers).toBe(1)
    expect(c.nextDeadline()).toBe(10_000)
    expect(c.handle({ type: 'close', requestId: 5 }, 100)).toEqual([
      { type: 'drop-connection', connectionId: 2, remoteKey: R1, reason: 'closing' },
      { type: 'drop-connection', connectionId: 1, remoteKey: R1, reason: 'closing' },
    ])
    expect(c.pendingTimers).toBe(0)
    expect(c.nextDeadline()).toBeNull()
    // The candidate is forgotten at once; the kept one is listed until it has closed.
    expect(c.handle({ type: 'connection-closed', connectionId: 2 }, 100)).toEqual([])
    expect(c.handle({ type: 'tick' }, 20_000)).toEqual([])
    expect(c.handle({ type: 'connection-closed', connectionId: 1 }, 20_000)).toEqual([
      { type: 'peer-remove', connectionId: 1, remoteKey: R1 },
      { type: 'destroy-swarm' },
    ])
    expect(c.handle({ type: 'swarm-destroyed' }, 20_000)).toEqual([
      { type: 'settle', requestId: 5, report },
    ])
    expect(c.pendingTimers).toBe(0)
    expect(c.peers()).toEqual([])
  })

  it('a forced close with a contested connection leaves no timers', () => {
    const c = new NetworkerCore({ localKey: LOCAL, authenticate: false })
    c.handle({ type: 'connection-opened', connectionId: 1, remoteKey: R1, isInitiator: true }, 0)
    c.handle({ type: 'connection-data', connectionId: 1 }, 0)
    c.handle({ type: 'connection-opened', connectionId: 2, remoteKey: R1, isInitiator: false }, 0)
    c.handle({ type: 'close', requestId: 5 }, 0)
    const forced = c.handle({ type: 'close-timeout' }, 0)
    // The candidate was dropped by the close itself: only the kept one is dropped again.
    expect(forced).toEqual([
      { type: 'drop-connection', connectionId: 1, remoteKey: R1, reason: 'closing' },
      { type: 'peer-remove', connectionId: 1, remoteKey: R1 },
      { type: 'destroy-swarm' },
      { type: 'settle', requestId: 5, report: { unannounced: [], forced: true } },
    ])
    expect(c.pendingTimers).toBe(0)
    expect(c.nextDeadline()).toBeNull()
    expect(c.handle({ type: 'connection-closed', connectionId: 1 }, 0)).toEqual([])
    expect(c.handle({ type: 'close-timeout' }, 0)).toEqual([])
  })
})

describe('peer events (more)', () => {
  it('alternate per key independently when connections to two keys interleave', () => {
    const c = new NetworkerCore({ localKey: LOCAL, authenticate: true })
    const opened = (connectionId: number, remoteKey: string) =>
      c.handle({ type: 'connection-opened', connectionId, remoteKey, isInitiator: true }, 0)
    expect(opened(1, R1)).toEqual([{ type: 'authenticate', connectionId: 1, remoteKey: R1 }])
    expect(opened(2, R2)).toEqual([{ type: 'authenticate', connectionId: 2, remoteKey: R2 }])
    expect(
      c.handle({ type: 'connection-authenticated', connectionId: 2, accepted: true }, 0),
    ).toEqual([
      { type: 'keep-connection', connectionId: 2, remoteKey: R2 },
      { type: 'peer-add', connectionId: 2, remoteKey: R2 },
    ])
    expect(
      c.handle({ type: 'connection-authenticated', connectionId: 1, accepted: true }, 0),
    ).toEqual([
      { type: 'keep-connection', connectionId: 1, remoteKey: R1 },
      { type: 'peer-add', connectionId: 1, remoteKey: R1 },
    ])
    expect(c.handle({ type: 'connection-closed', connectionId: 2 }, 0)).toEqual([
      { type: 'peer-remove', connectionId: 2, remoteKey: R2 },
    ])
    expect(c.peers()).toEqual([{ remoteKey: R1, connectionId: 1 }])
    opened(3, R2)
    expect(
      c.handle({ type: 'connection-authenticated', connectionId: 3, accepted: true }, 0),
    ).toEqual([
      { type: 'keep-connection', connectionId: 3, remoteKey: R2 },
      { type: 'peer-add', connectionId: 3, remoteKey: R2 },
    ])
    // A rejected second connection to R1 does not disturb the kept one.
    opened(4, R1)
    expect(
      c.handle({ type: 'connection-authenticated', connectionId: 4, accepted: false }, 0),
    ).toEqual([{ type: 'drop-connection', connectionId: 4, remoteKey: R1, reason: 'rejected' }])
    expect(c.peers()).toEqual([
      { remoteKey: R1, connectionId: 1 },
      { remoteKey: R2, connectionId: 3 },
    ])
  })
})

describe('random activity, then close (property)', () => {
  const TOPICS = [T1, T2]
  const REMOTES = [R1, R2, 'b3'.repeat(32)]
  type Step =
    | { kind: 'configure'; topic: number; announce: boolean; lookup: boolean; flush: boolean }
    | { kind: 'answer'; pick: number }
    | { kind: 'open'; remote: number; initiator: boolean }
    | { kind: 'verdict'; pick: number; accepted: boolean }
    | { kind: 'data'; pick: number }
    | { kind: 'remote-close'; pick: number }
    | { kind: 'tick' }
    | { kind: 'close' }

  const stepArb: fc.Arbitrary<Step> = fc.oneof(
    fc.record({
      kind: fc.constant('configure' as const),
      topic: fc.nat({ max: 1 }),
      announce: fc.boolean(),
      lookup: fc.boolean(),
      flush: fc.boolean(),
    }),
    fc.record({ kind: fc.constant('answer' as const), pick: fc.nat() }),
    fc.record({
      kind: fc.constant('open' as const),
      remote: fc.nat({ max: 2 }),
      initiator: fc.boolean(),
    }),
    fc.record({ kind: fc.constant('verdict' as const), pick: fc.nat(), accepted: fc.boolean() }),
    fc.record({ kind: fc.constant('data' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('remote-close' as const), pick: fc.nat() }),
    fc.constant({ kind: 'tick' as const }),
    fc.constant({ kind: 'close' as const }),
  )

  it('everything settles once, peers alternate and end removed, and no timer is left', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(stepArb, { maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        fc.option(fc.nat({ max: 20 })),
        (authenticate, steps, drainPicks, forceAt) => {
          const c = new NetworkerCore({ localKey: LOCAL, authenticate })
          let now = 0
          let nextRequest = 1
          let nextConn = 1
          const configures = new Set<number>()
          const closes = new Set<number>()
          const settled = new Set<number>()
          const unanswered: CoreEffect[] = []
          const live = new Set<number>()
          const dropped = new Set<number>()
          const pendingAuth: number[] = []
          const listed = new Map<string, number>()
          const kept = new Set<number>()
          let closeCalled = false
          let forced = false
          let destroys = 0
          let swarmDestroyed = false
          let closeReport: CloseReport | undefined

          const take = (effects: CoreEffect[]) => {
            for (const e of effects) {
              switch (e.type) {
                case 'settle':
                  expect(settled.has(e.requestId), `settled twice: ${e.requestId}`).toBe(false)
                  settled.add(e.requestId)
                  if (closes.has(e.requestId)) {
                    // Every close settles with the same report, forced iff the deadline came
                    // first; without a forced close (and no leave failing) all was withdrawn.
                    expect(e.error).toBeUndefined()
                    expect(e.report?.forced).toBe(forced)
                    if (!forced) expect(e.report?.unannounced).toEqual([])
                    closeReport ??= e.report
                    expect(e.report).toEqual(closeReport)
                  } else {
                    expect(configures.has(e.requestId)).toBe(true)
                    // Nothing fails here but the close.
                    if (e.error !== undefined) {
                      expect(closeCalled).toBe(true)
                      expect(e.error.code).toBe('NETWORKER_CLOSED')
                    }
                  }
                  break
                case 'join-topic':
                case 'leave-topic':
                case 'flush-swarm':
                  if (closeCalled) expect(e.type).toBe('leave-topic')
                  unanswered.push(e)
                  break
                case 'authenticate':
                  expect(live.has(e.connectionId)).toBe(true)
                  pendingAuth.push(e.connectionId)
                  break
                case 'keep-connection':
                  expect(live.has(e.connectionId)).toBe(true)
                  kept.add(e.connectionId)
                  break
                case 'drop-connection':
                  if (closeCalled) expect(e.reason).toBe('closing')
                  if (live.has(e.connectionId)) dropped.add(e.connectionId)
                  break
                case 'peer-add':
                  expect(listed.has(e.remoteKey), `peer-add twice for ${e.remoteKey}`).toBe(false)
                  expect(kept.has(e.connectionId)).toBe(true)
                  listed.set(e.remoteKey, e.connectionId)
                  break
                case 'peer-remove':
                  expect(listed.get(e.remoteKey)).toBe(e.connectionId)
                  listed.delete(e.remoteKey)
                  break
                case 'destroy-swarm':
                  destroys++
                  expect(closeCalled).toBe(true)
                  break
              }
            }
            // The swarm is destroyed only once every peer is gone and, unless forced,
            // every leave has finished.
            if (destroys > 0) {
              expect(listed.size).toBe(0)
              if (!forced) expect(unanswered.filter((u) => u.type === 'leave-topic')).toEqual([])
            }
            expect(c.peers().length).toBe(listed.size)
            // Closing cancels every timer (a contested duplicate's deadline) and starts none.
            if (closeCalled) expect(c.pendingTimers).toBe(0)
          }
          const send = (event: CoreEvent, at?: number) => take(c.handle(event, at ?? now))
          const answer = (index: number) => {
            const [effect] = unanswered.splice(index % unanswered.length, 1)
            if (effect === undefined || !('op' in effect)) return
            const { topic, op } = effect
            if (effect.type === 'join-topic') send({ type: 'topic-joined', topic, op })
            else if (effect.type === 'leave-topic') send({ type: 'topic-left', topic, op })
            else send({ type: 'swarm-flushed', topic, op })
          }
          const closed = (id: number) => {
            live.delete(id)
            dropped.delete(id)
            send({ type: 'connection-closed', connectionId: id })
          }
          const verdict = (index: number, accepted: boolean) => {
            const [id] = pendingAuth.splice(index % pendingAuth.length, 1)
            if (id !== undefined)
              send({ type: 'connection-authenticated', connectionId: id, accepted })
          }
          const close = () => {
            closeCalled = true
            const id = nextRequest++
            closes.add(id)
            send({ type: 'close', requestId: id })
          }

          for (const s of steps) {
            const liveIds = [...live]
            switch (s.kind) {
              case 'configure': {
                const id = nextRequest++
                configures.add(id)
                const { announce, lookup, flush } = s
                send({
                  type: 'configure',
                  requestId: id,
                  topic: TOPICS[s.topic]!,
                  announce,
                  lookup,
                  flush,
                })
                break
              }
              case 'answer':
                if (unanswered.length > 0) answer(s.pick)
                break
              case 'open': {
                const id = nextConn++
                live.add(id)
                send({
                  type: 'connection-opened',
                  connectionId: id,
                  remoteKey: REMOTES[s.remote]!,
                  isInitiator: s.initiator,
                })
                break
              }
              case 'verdict':
                if (pendingAuth.length > 0) verdict(s.pick, s.accepted)
                break
              case 'data':
                if (liveIds.length > 0) {
                  send({ type: 'connection-data', connectionId: liveIds[s.pick % liveIds.length]! })
                }
                break
              case 'remote-close':
                if (liveIds.length > 0) closed(liveIds[s.pick % liveIds.length]!)
                break
              case 'tick': {
                const deadline = c.nextDeadline()
                if (deadline !== null) now = Math.max(now, deadline)
                send({ type: 'tick' }, now)
                break
              }
              case 'close':
                close()
                break
            }
          }
          if (!closeCalled) close()

          // Drain as the I/O layer would: every op is answered, every dropped connection
          // closes, verdicts come in, and the swarm is destroyed once asked.
          for (let round = 0; round < 300; round++) {
            if (forceAt !== null && round === forceAt && !forced && c.lifeState !== 'closed') {
              forced = true
              send({ type: 'close-timeout' })
            }
            type Item = () => void
            const items: Item[] = []
            for (let i = 0; i < unanswered.length; i++) items.push(() => answer(i))
            for (const id of dropped) items.push(() => closed(id))
            for (let i = 0; i < pendingAuth.length; i++) items.push(() => verdict(i, true))
            if (destroys > 0 && !swarmDestroyed) {
              items.push(() => {
                swarmDestroyed = true
                send({ type: 'swarm-destroyed' })
              })
            }
            if (items.length === 0) break
            items[(drainPicks[round] ?? 0) % items.length]!()
            if (round % 7 === 3) close()
          }

          expect(c.lifeState).toBe('closed')
          expect(destroys).toBe(1)
          for (const id of [...configures, ...closes])
            expect(settled.has(id), `request ${id}`).toBe(true)
          expect(listed.size).toBe(0)
          expect(c.peers()).toEqual([])
          expect(c.pendingConnections()).toEqual([])
          expect(c.pendingTimers).toBe(0)
          expect(c.nextDeadline()).toBeNull()
          for (const status of c.statuses()) expect(status.state).toBe('closed')
          // Late calls and happenings: settle at once or change nothing.
          for (const id of live)
            expect(c.handle({ type: 'connection-closed', connectionId: id }, 0)).toEqual([])
          expect(c.handle({ type: 'close', requestId: 999 }, 0)).toEqual([
            { type: 'settle', requestId: 999, report: closeReport },
          ])
        },
      ),
      { numRuns: 300 },
    )
  })
})
