import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { NetworkerCore } from '../../src/core/networker-core.js'
import type { CoreEffect, CoreEvent } from '../../src/core/protocol.js'

const LOCAL = 'aa'.repeat(32)
const T = '01'.repeat(32)

const core = (authenticate = false) => new NetworkerCore({ localKey: LOCAL, authenticate })
const configure = (
  requestId: number,
  announce: boolean,
  lookup: boolean,
  flush = true,
): CoreEvent => ({
  type: 'configure',
  requestId,
  topic: T,
  announce,
  lookup,
  flush,
})

describe('topic configuration', () => {
  it('joins, flushes and settles, then reports joined and flushed', () => {
    const c = core()
    const join = c.handle(configure(1, true, false), 0)
    expect(join).toEqual([{ type: 'join-topic', topic: T, op: 1, announce: true, lookup: false }])
    expect(c.status(T)).toMatchObject({ joined: false, flushed: false, state: 'joining' })
    expect(c.handle({ type: 'topic-joined', topic: T, op: 1 }, 0)).toEqual([
      { type: 'flush-swarm', topic: T, op: 2 },
    ])
    expect(c.status(T)).toMatchObject({ joined: true, flushed: false, state: 'flushing' })
    expect(c.handle({ type: 'swarm-flushed', topic: T, op: 2 }, 0)).toEqual([
      { type: 'settle', requestId: 1 },
    ])
    expect(c.status(T)).toEqual({
      topic: T,
      announce: true,
      lookup: false,
      joined: true,
      flushed: true,
      state: 'joined',
    })
  })

  it('settles right after the join when flush is false', () => {
    const c = core()
    c.handle(configure(1, false, true, false), 0)
    expect(c.handle({ type: 'topic-joined', topic: T, op: 1 }, 0)).toEqual([
      { type: 'settle', requestId: 1 },
    ])
    expect(c.status(T)).toMatchObject({ joined: true, flushed: false })
  })

  it('ignores results of stale operations', () => {
    const c = core()
    c.handle(configure(1, true, true), 0)
    c.handle(configure(2, false, true), 0) // re-join: op 2
    expect(c.handle({ type: 'topic-joined', topic: T, op: 1 }, 0)).toEqual([])
    expect(c.handle({ type: 'topic-joined', topic: T, op: 2 }, 0)).toEqual([
      { type: 'flush-swarm', topic: T, op: 3 },
    ])
    expect(c.handle({ type: 'swarm-flushed', topic: T, op: 1 }, 0)).toEqual([])
    expect(c.handle({ type: 'swarm-flushed', topic: T, op: 3 }, 0)).toEqual([
      { type: 'settle', requestId: 1 },
      { type: 'settle', requestId: 2 },
    ])
    expect(c.status(T)).toMatchObject({ announce: false, lookup: true })
  })

  it('still flushes for a join that asked to when a later join without flush supersedes it', () => {
    // Found by the simulator (seed 87): the superseded request resolved without its flush.
    const c = core()
    c.handle(configure(1, false, true, true), 0)
    c.handle(configure(2, true, true, false), 0)
    expect(c.handle({ type: 'topic-joined', topic: T, op: 2 }, 0)).toEqual([
      { type: 'flush-swarm', topic: T, op: 3 },
    ])
    expect(c.handle({ type: 'swarm-flushed', topic: T, op: 3 }, 0)).toEqual([
      { type: 'settle', requestId: 1 },
      { type: 'settle', requestId: 2 },
    ])
  })

  it('a join requested during a leave that fails still goes ahead, and its requests wait for it', () => {
    const c = core()
    c.handle(configure(1, true, false, false), 0)
    c.handle({ type: 'topic-joined', topic: T, op: 1 }, 0)
    c.handle(configure(2, false, false), 0)
    c.handle(configure(3, true, true, true), 0)
    const error = { code: 'TOPIC_LEAVE_FAILED' as const, message: 'x' }
    expect(c.handle({ type: 'topic-leave-failed', topic: T, op: 2, error }, 0)).toEqual([
      { type: 'join-topic', topic: T, op: 3, announce: true, lookup: true },
    ])
    expect(c.handle({ type: 'topic-joined', topic: T, op: 3 }, 0)).toEqual([
      { type: 'flush-swarm', topic: T, op: 4 },
    ])
    expect(c.handle({ type: 'swarm-flushed', topic: T, op: 4 }, 0)).toEqual([
      { type: 'settle', requestId: 2 },
      { type: 'settle', requestId: 3 },
    ])
    expect(c.status(T)).toMatchObject({ announce: true, lookup: true, joined: true, flushed: true })
  })

  it('leaves a topic while its join is in flight', () => {
    const c = core()
    c.handle(configure(1, true, false), 0)
    expect(c.handle(configure(2, false, false), 0)).toEqual([
      { type: 'leave-topic', topic: T, op: 2 },
    ])
    expect(c.handle({ type: 'topic-joined', topic: T, op: 1 }, 0)).toEqual([])
    expect(c.handle({ type: 'topic-left', topic: T, op: 2 }, 0)).toEqual([
      { type: 'settle', requestId: 1 },
      { type: 'settle', requestId: 2 },
    ])
    // A topic left with nothing pending is forgotten: nothing of it stays in the core.
    expect(c.status(T)).toBeNull()
  })

  it('joins again only after a leave in flight has finished', () => {
    const c = core()
    c.handle(configure(1, true, false, false), 0)
    c.handle({ type: 'topic-joined', topic: T, op: 1 }, 0)
    expect(c.handle(configure(2, false, false), 0)).toEqual([
      { type: 'leave-topic', topic: T, op: 2 },
    ])
    // No join while the unannounce is still running: it could remove the fresh announcement.
    expect(c.handle(configure(3, true, true, false), 0)).toEqual([])
    expect(c.handle({ type: 'topic-left', topic: T, op: 2 }, 0)).toEqual([
      { type: 'join-topic', topic: T, op: 3, announce: true, lookup: true },
    ])
    expect(c.handle({ type: 'topic-joined', topic: T, op: 3 }, 0)).toEqual([
      { type: 'settle', requestId: 2 },
      { type: 'settle', requestId: 3 },
    ])
  })

  it('rejects the waiting requests when a join fails, and cleans up with a leave', () => {
    const c = core()
    c.handle(configure(1, true, false), 0)
    const error = { code: 'TOPIC_JOIN_FAILED' as const, message: 'no DHT' }
    expect(c.handle({ type: 'topic-join-failed', topic: T, op: 1, error }, 0)).toEqual([
      { type: 'settle', requestId: 1, error },
      { type: 'leave-topic', topic: T, op: 2 },
    ])
    expect(c.handle({ type: 'topic-left', topic: T, op: 2 }, 0)).toEqual([])
    // A topic left with nothing pending is forgotten: nothing of it stays in the core.
    expect(c.status(T)).toBeNull()
  })

  it('reports a failed flush to the waiting requests and stays joined', () => {
    const c = core()
    c.handle(configure(1, true, true), 0)
    c.handle({ type: 'topic-joined', topic: T, op: 1 }, 0)
    const error = { code: 'FLUSH_FAILED' as const, message: 'x' }
    expect(c.handle({ type: 'swarm-flush-failed', topic: T, op: 2, error }, 0)).toEqual([
      { type: 'settle', requestId: 1, error },
    ])
    expect(c.status(T)).toMatchObject({ joined: true, flushed: false, state: 'joined' })
  })

  it('settles a repeated configuration at once, or after a new flush when asked', () => {
    const c = core()
    c.handle(configure(1, true, true, false), 0)
    c.handle({ type: 'topic-joined', topic: T, op: 1 }, 0)
    expect(c.handle(configure(2, true, true, false), 0)).toEqual([{ type: 'settle', requestId: 2 }])
    expect(c.handle(configure(3, true, true, true), 0)).toEqual([
      { type: 'flush-swarm', topic: T, op: 2 },
    ])
    expect(c.handle(configure(4, false, false), 0)).toEqual([
      { type: 'leave-topic', topic: T, op: 3 },
    ])
    expect(c.handle(configure(5, false, false), 0)).toEqual([])
    expect(c.handle({ type: 'topic-left', topic: T, op: 3 }, 0)).toEqual(
      [3, 4, 5].map((requestId) => ({ type: 'settle', requestId })),
    )
    expect(c.handle(configure(6, false, false), 0)).toEqual([{ type: 'settle', requestId: 6 }])
  })
})

describe('flush waits for connections being authenticated', () => {
  const REMOTE = 'bb'.repeat(32)
  const joinedCore = () => {
    const c = core(true)
    c.handle(configure(1, true, true), 0)
    c.handle({ type: 'topic-joined', topic: T, op: 1 }, 0)
    return c
  }

  for (const [label, finish, expected] of [
    [
      'accepted',
      { type: 'connection-authenticated', connectionId: 7, accepted: true },
      [
        { type: 'keep-connection', connectionId: 7, remoteKey: REMOTE },
        { type: 'peer-add', connectionId: 7, remoteKey: REMOTE },
        { type: 'settle', requestId: 1 },
      ],
    ],
    [
      'rejected',
      { type: 'connection-authenticated', connectionId: 7, accepted: false },
      [
        { type: 'drop-connection', connectionId: 7, remoteKey: REMOTE, reason: 'rejected' },
        { type: 'settle', requestId: 1 },
      ],
    ],
    ['closed', { type: 'connection-closed', connectionId: 7 }, [{ type: 'settle', requestId: 1 }]],
  ] as const) {
    it(`settles once the connection found before the flush is ${label}`, () => {
      const c = joinedCore()
      expect(
        c.handle(
          {
            type: 'connection-opened',
            connectionId: 7,
            remoteKey: REMOTE,
            isInitiator: true,
          },
          0,
        ),
      ).toEqual([{ type: 'authenticate', connectionId: 7, remoteKey: REMOTE }])
      expect(c.handle({ type: 'swarm-flushed', topic: T, op: 2 }, 0)).toEqual([])
      expect(c.status(T)?.flushed).toBe(false)
      // A connection that arrives after the flush does not hold it up.
      c.handle(
        {
          type: 'connection-opened',
          connectionId: 8,
          remoteKey: 'cc'.repeat(32),
          isInitiator: false,
        },
        0,
      )
      expect(c.handle(finish as CoreEvent, 0)).toEqual(expected)
      expect(c.status(T)?.flushed).toBe(true)
    })
  }
})

describe('concurrent configures on one key (property)', () => {
  type Step =
    | { kind: 'configure'; announce: boolean; lookup: boolean; flush: boolean }
    | { kind: 'complete' }
    | { kind: 'stale' }

  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({
      kind: fc.constant('configure' as const),
      announce: fc.boolean(),
      lookup: fc.boolean(),
      flush: fc.boolean(),
    }),
    fc.constant({ kind: 'complete' as const }),
    fc.constant({ kind: 'stale' as const }),
  )

  it('the last configure wins and every request settles exactly once', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 30 }), (steps) => {
        const c = core()
        const settled = new Map<number, number>()
        const made = new Set<number>()
        let pending: CoreEffect[] = []
        let nextId = 1
        let last: { announce: boolean; lookup: boolean } | null = null
        const take = (effects: CoreEffect[]) => {
          for (const e of effects) {
            if (e.type === 'settle') {
              expect(made.has(e.requestId)).toBe(true)
              settled.set(e.requestId, (settled.get(e.requestId) ?? 0) + 1)
            } else pending.push(e)
          }
        }
        // Answers the oldest outstanding I/O operation, as the swarm would.
        const answer = (stale: boolean) => {
          const e = pending.shift()
          if (e === undefined) return
          const op = 'op' in e ? e.op - (stale ? 100 : 0) : 0
          if (e.type === 'join-topic') take(c.handle({ type: 'topic-joined', topic: T, op }, 0))
          if (e.type === 'leave-topic') take(c.handle({ type: 'topic-left', topic: T, op }, 0))
          if (e.type === 'flush-swarm') take(c.handle({ type: 'swarm-flushed', topic: T, op }, 0))
          if (stale) pending.unshift(e)
        }
        for (const s of steps) {
          if (s.kind === 'configure') {
            const id = nextId++
            made.add(id)
            last = { announce: s.announce, lookup: s.lookup }
            take(c.handle({ type: 'configure', requestId: id, topic: T, ...s }, 0))
          } else answer(s.kind === 'stale')
        }
        // Quiescence: answer everything outstanding.
        for (let i = 0; i < 100 && pending.length > 0; i++) answer(false)
        expect(pending).toEqual([])
        for (const id of made) expect(settled.get(id)).toBe(1)
        if (last !== null && !(last.announce || last.lookup)) {
          // Left with nothing pending: forgotten.
          expect(c.status(T)).toBeNull()
        } else if (last !== null) {
          const status = c.status(T)!
          expect({ announce: status.announce, lookup: status.lookup }).toEqual(last)
          expect(status.joined).toBe(last.announce || last.lookup)
        }
        pending = []
      }),
      { numRuns: 500 },
    )
  })
})

/** The I/O result that completes an effect successfully, or null for non-topic effects. */
function resultOf(effect: CoreEffect): CoreEvent | null {
  if (effect.type === 'join-topic')
    return { type: 'topic-joined', topic: effect.topic, op: effect.op }
  if (effect.type === 'leave-topic')
    return { type: 'topic-left', topic: effect.topic, op: effect.op }
  if (effect.type === 'flush-swarm')
    return { type: 'swarm-flushed', topic: effect.topic, op: effect.op }
  return null
}

describe('each subscription', () => {
  for (const [announce, lookup] of [
    [true, false],
    [false, true],
    [true, true],
  ] as const) {
    it(`announce=${announce} lookup=${lookup} with flush: join, flush, settle`, () => {
      const c = core()
      expect(c.handle(configure(7, announce, lookup, true), 0)).toEqual([
        { type: 'join-topic', topic: T, op: 1, announce, lookup },
      ])
      expect(c.status(T)).toEqual({
        topic: T,
        announce,
        lookup,
        joined: false,
        flushed: false,
        state: 'joining',
      })
      expect(c.handle({ type: 'topic-joined', topic: T, op: 1 }, 0)).toEqual([
        { type: 'flush-swarm', topic: T, op: 2 },
      ])
      expect(c.handle({ type: 'swarm-flushed', topic: T, op: 2 }, 0)).toEqual([
        { type: 'settle', requestId: 7 },
      ])
      expect(c.status(T)).toEqual({
        topic: T,
        announce,
        lookup,
        joined: true,
        flushed: true,
        state: 'joined',
      })
      expect(c.statuses()).toEqual([c.status(T)])
    })

    it(`announce=${announce} lookup=${lookup} without flush: settles on the join`, () => {
      const c = core()
      expect(c.handle(configure(7, announce, lookup, false), 0)).toEqual([
        { type: 'join-topic', topic: T, op: 1, announce, lookup },
      ])
      expect(c.handle({ type: 'topic-joined', topic: T, op: 1 }, 0)).toEqual([
        { type: 'settle', requestId: 7 },
      ])
      expect(c.status(T)).toEqual({
        topic: T,
        announce,
        lookup,
        joined: true,
        flushed: false,
        state: 'joined',
      })
    })
  }

  it('has no status for a topic never configured, and ignores results for it', () => {
    const c = core()
    const other = '09'.repeat(32)
    expect(c.status(other)).toBeNull()
    expect(c.statuses()).toEqual([])
    expect(c.handle({ type: 'topic-joined', topic: other, op: 1 }, 0)).toEqual([])
    expect(c.handle({ type: 'topic-left', topic: other, op: 1 }, 0)).toEqual([])
    expect(c.handle({ type: 'swarm-flushed', topic: other, op: 1 }, 0)).toEqual([])
    expect(c.status(other)).toBeNull()
  })

  it('a leave of a topic never joined settles at once without I/O', () => {
    const c = core()
    expect(c.handle(configure(1, false, false), 0)).toEqual([{ type: 'settle', requestId: 1 }])
    // A topic left with nothing pending is forgotten: nothing of it stays in the core.
    expect(c.status(T)).toBeNull()
  })

  it('keeps topics apart: results for one do not move the other', () => {
    const c = core()
    const U = '02'.repeat(32)
    c.handle(configure(1, true, false, false), 0)
    expect(
      c.handle(
        {
          type: 'configure',
          requestId: 2,
          topic: U,
          announce: false,
          lookup: true,
          flush: false,
        },
        0,
      ),
    ).toEqual([{ type: 'join-topic', topic: U, op: 1, announce: false, lookup: true }])
    expect(c.handle({ type: 'topic-joined', topic: U, op: 1 }, 0)).toEqual([
      { type: 'settle', requestId: 2 },
    ])
    expect(c.status(T)).toMatchObject({ joined: false, state: 'joining' })
    expect(c.handle({ type: 'topic-joined', topic: T, op: 1 }, 0)).toEqual([
      { type: 'settle', requestId: 1 },
    ])
  })
})

describe('stale I/O results', () => {
  const error = { code: 'TOPIC_JOIN_FAILED' as const, message: 'late' }
  // Topic history: op 1 join, op 2 flush, op 3 re-join, op 4 leave, op 5 join: ops 1-4 are stale.
  const staleEvents: CoreEvent[] = [
    { type: 'topic-joined', topic: T, op: 1 },
    { type: 'topic-join-failed', topic: T, op: 1, error },
    { type: 'swarm-flushed', topic: T, op: 2 },
    { type: 'swarm-flush-failed', topic: T, op: 2, error: { ...error, code: 'FLUSH_FAILED' } },
    { type: 'topic-joined', topic: T, op: 3 },
    { type: 'topic-join-failed', topic: T, op: 3, error },
    { type: 'topic-left', topic: T, op: 4 },
    {
      type: 'topic-leave-failed',
      topic: T,
      op: 4,
      error: { ...error, code: 'TOPIC_LEAVE_FAILED' },
    },
    // Ops that were never issued are ignored just the same.
    { type: 'topic-joined', topic: T, op: 0 },
    { type: 'topic-left', topic: T, op: 99 },
  ]

  it('every stale result is ignored, whatever its kind and whenever it comes', () => {
    const c = core()
    c.handle(configure(1, true, false), 0)
    c.handle({ type: 'topic-joined', topic: T, op: 1 }, 0)
    c.handle(configure(2, false, true), 0) // flushing (op 2) → joining, op 3
    expect(c.handle(configure(3, false, false), 0)).toEqual([
      { type: 'leave-topic', topic: T, op: 4 },
    ])
    expect(c.handle({ type: 'topic-left', topic: T, op: 4 }, 0)).toEqual([
      { type: 'settle', requestId: 1 },
      { type: 'settle', requestId: 2 },
      { type: 'settle', requestId: 3 },
    ])
    expect(c.handle(configure(4, true, true), 0)).toEqual([
      { type: 'join-topic', topic: T, op: 5, announce: true, lookup: true },
    ])
    const before = c.status(T)
    for (const event of staleEvents) {
      expect(c.handle(event, 0), JSON.stringify(event)).toEqual([])
      expect(c.status(T)).toEqual(before)
    }
    expect(c.handle({ type: 'topic-joined', topic: T, op: 5 }, 0)).toEqual([
      { type: 'flush-swarm', topic: T, op: 6 },
    ])
    for (const event of staleEvents) expect(c.handle(event, 0), JSON.stringify(event)).toEqual([])
    expect(c.handle({ type: 'swarm-flushed', topic: T, op: 6 }, 0)).toEqual([
      { type: 'settle', requestId: 4 },
    ])
    for (const event of staleEvents) expect(c.handle(event, 0), JSON.stringify(event)).toEqual([])
    expect(c.status(T)).toEqual({
      topic: T,
      announce: true,
      lookup: true,
      joined: true,
      flushed: true,
      state: 'joined',
    })
  })

  it('a result for the current op, delivered twice, acts once', () => {
    const c = core()
    c.handle(configure(1, true, false), 0)
    expect(c.handle({ type: 'topic-joined', topic: T, op: 1 }, 0)).toEqual([
      { type: 'flush-swarm', topic: T, op: 2 },
    ])
    expect(c.handle({ type: 'topic-joined', topic: T, op: 1 }, 0)).toEqual([])
    expect(c.handle({ type: 'swarm-flushed', topic: T, op: 2 }, 0)).toEqual([
      { type: 'settle', requestId: 1 },
    ])
    expect(c.handle({ type: 'swarm-flushed', topic: T, op: 2 }, 0)).toEqual([])
  })

  it('a stale flush arriving late does not take over the current flush waiting on a connection', () => {
    // Two flushes in flight (op 2, then op 4 after a re-join); op 4 finishes first while a
    // connection is still being authenticated, then op 2's late result arrives.
    const c = core(true)
    c.handle(configure(1, true, false), 0)
    c.handle({ type: 'topic-joined', topic: T, op: 1 }, 0)
    c.handle(configure(2, true, true), 0)
    expect(c.handle({ type: 'topic-joined', topic: T, op: 3 }, 0)).toEqual([
      { type: 'flush-swarm', topic: T, op: 4 },
    ])
    const REMOTE = 'bb'.repeat(32)
    c.handle(
      { type: 'connection-opened', connectionId: 7, remoteKey: REMOTE, isInitiator: true },
      0,
    )
    expect(c.handle({ type: 'swarm-flushed', topic: T, op: 4 }, 0)).toEqual([])
    expect(c.handle({ type: 'swarm-flushed', topic: T, op: 2 }, 0)).toEqual([])
    expect(
      c.handle({ type: 'connection-authenticated', connectionId: 7, accepted: true }, 0),
    ).toEqual([
      { type: 'keep-connection', connectionId: 7, remoteKey: REMOTE },
      { type: 'peer-add', connectionId: 7, remoteKey: REMOTE },
      { type: 'settle', requestId: 1 },
      { type: 'settle', requestId: 2 },
    ])
    expect(c.status(T)).toMatchObject({ flushed: true, state: 'joined' })
  })
})

describe('concurrent configures on one key', () => {
  it('join, join with other options, leave, join again: each superseded op is ignored', () => {
    const c = core()
    expect(c.handle(configure(1, true, false), 0)).toEqual([
      { type: 'join-topic', topic: T, op: 1, announce: true, lookup: false },
    ])
    // A second join with other options while the first is in flight: re-join at once.
    expect(c.handle(configure(2, true, true), 0)).toEqual([
      { type: 'join-topic', topic: T, op: 2, announce: true, lookup: true },
    ])
    expect(c.handle({ type: 'topic-joined', topic: T, op: 1 }, 0)).toEqual([])
    expect(c.handle({ type: 'topic-joined', topic: T, op: 2 }, 0)).toEqual([
      { type: 'flush-swarm', topic: T, op: 3 },
    ])
    // A leave while the flush is in flight.
    expect(c.handle(configure(3, false, false), 0)).toEqual([
      { type: 'leave-topic', topic: T, op: 4 },
    ])
    expect(c.status(T)).toMatchObject({ joined: false, flushed: false, state: 'leaving' })
    expect(c.handle({ type: 'swarm-flushed', topic: T, op: 3 }, 0)).toEqual([])
    // A join while the leave is in flight waits for it.
    expect(c.handle(configure(4, false, true, false), 0)).toEqual([])
    expect(c.handle({ type: 'topic-left', topic: T, op: 4 }, 0)).toEqual([
      { type: 'join-topic', topic: T, op: 5, announce: false, lookup: true },
    ])
    // Requests 1 and 2 asked for a flush: it still happens for them.
    expect(c.handle({ type: 'topic-joined', topic: T, op: 5 }, 0)).toEqual([
      { type: 'flush-swarm', topic: T, op: 6 },
    ])
    expect(c.handle({ type: 'swarm-flushed', topic: T, op: 6 }, 0)).toEqual(
      [1, 2, 3, 4].map((requestId) => ({ type: 'settle', requestId })),
    )
    expect(c.status(T)).toEqual({
      topic: T,
      announce: false,
      lookup: true,
      joined: true,
      flushed: true,
      state: 'joined',
    })
  })

  it('a leave then a join of the same options while the first join is in flight', () => {
    const c = core()
    c.handle(configure(1, true, false, false), 0)
    expect(c.handle(configure(2, false, false), 0)).toEqual([
      { type: 'leave-topic', topic: T, op: 2 },
    ])
    expect(c.handle(configure(3, true, false, false), 0)).toEqual([])
    expect(c.handle({ type: 'topic-joined', topic: T, op: 1 }, 0)).toEqual([])
    expect(c.handle({ type: 'topic-left', topic: T, op: 2 }, 0)).toEqual([
      { type: 'join-topic', topic: T, op: 3, announce: true, lookup: false },
    ])
    expect(c.handle({ type: 'topic-joined', topic: T, op: 3 }, 0)).toEqual([
      { type: 'settle', requestId: 1 },
      { type: 'settle', requestId: 2 },
      { type: 'settle', requestId: 3 },
    ])
    expect(c.status(T)).toMatchObject({ announce: true, lookup: false, joined: true })
  })

  it('a join then a leave while a leave is in flight settles everyone once the leave is done', () => {
    const c = core()
    c.handle(configure(1, true, true, false), 0)
    c.handle({ type: 'topic-joined', topic: T, op: 1 }, 0)
    expect(c.handle(configure(2, false, false), 0)).toEqual([
      { type: 'leave-topic', topic: T, op: 2 },
    ])
    expect(c.handle(configure(3, true, false), 0)).toEqual([])
    expect(c.handle(configure(4, false, false), 0)).toEqual([])
    expect(c.handle({ type: 'topic-left', topic: T, op: 2 }, 0)).toEqual([
      { type: 'settle', requestId: 2 },
      { type: 'settle', requestId: 3 },
      { type: 'settle', requestId: 4 },
    ])
    // A topic left with nothing pending is forgotten: nothing of it stays in the core.
    expect(c.status(T)).toBeNull()
  })

  it('a re-join while joined with other options emits a new join and settles on it', () => {
    const c = core()
    c.handle(configure(1, true, false, false), 0)
    c.handle({ type: 'topic-joined', topic: T, op: 1 }, 0)
    expect(c.handle(configure(2, false, true, false), 0)).toEqual([
      { type: 'join-topic', topic: T, op: 2, announce: false, lookup: true },
    ])
    expect(c.handle({ type: 'topic-joined', topic: T, op: 2 }, 0)).toEqual([
      { type: 'settle', requestId: 2 },
    ])
  })

  /**
   * Every interleaving of a fixed script of configure calls with the completion of every
   * op the core emits (the latest or a superseded one, in any order). At each leaf every
   * request has settled exactly once, without error, and the topic matches the last call.
   */
  type Call = { announce: boolean; lookup: boolean; flush: boolean }
  type Move = { kind: 'call' } | { kind: 'answer'; op: number }

  function replay(script: Call[], moves: Move[]) {
    const c = core()
    const outstanding = new Map<number, CoreEffect>()
    const settled: number[] = []
    let called = 0
    const take = (effects: CoreEffect[]) => {
      for (const e of effects) {
        if (e.type === 'settle') {
          expect(e.requestId).toBeLessThanOrEqual(called)
          expect(e.error).toBeUndefined()
          settled.push(e.requestId)
        } else if ('op' in e) outstanding.set(e.op, e)
      }
    }
    for (const move of moves) {
      if (move.kind === 'call') {
        const call = script[called++]!
        take(c.handle({ type: 'configure', requestId: called, topic: T, ...call }, 0))
      } else {
        const effect = outstanding.get(move.op)!
        outstanding.delete(move.op)
        take(c.handle(resultOf(effect)!, 0))
      }
    }
    return { c, outstanding, settled, called }
  }

  function explore(script: Call[]): number {
    let leaves = 0
    const visit = (moves: Move[]) => {
      const { c, outstanding, settled, called } = replay(script, moves)
      const next: Move[] = [...outstanding.keys()].map((op) => ({ kind: 'answer', op }))
      if (called < script.length) next.push({ kind: 'call' })
      if (next.length === 0) {
        leaves++
        const trace = JSON.stringify(moves)
        expect(
          [...settled].sort((a, b) => a - b),
          trace,
        ).toEqual(script.map((_, i) => i + 1))
        const last = script[script.length - 1]!
        const joins = last.announce || last.lookup
        // A topic left with nothing pending is forgotten.
        if (!joins) {
          expect(c.status(T), trace).toBeNull()
          return
        }
        expect(c.status(T), trace).toMatchObject({
          announce: last.announce,
          lookup: last.lookup,
          joined: joins,
          state: joins ? 'joined' : 'left',
        })
        if (joins && last.flush) expect(c.status(T)?.flushed, trace).toBe(true)
        return
      }
      for (const move of next) visit([...moves, move])
    }
    visit([])
    return leaves
  }

  for (const [label, minLeaves, script] of [
    [
      'join, other join, leave, join again',
      300,
      [
        { announce: true, lookup: false, flush: true },
        { announce: true, lookup: true, flush: true },
        { announce: false, lookup: false, flush: true },
        { announce: false, lookup: true, flush: false },
      ],
    ],
    [
      'join, leave, same join, other join without flush',
      120,
      [
        { announce: true, lookup: true, flush: false },
        { announce: false, lookup: false, flush: false },
        { announce: true, lookup: true, flush: true },
        { announce: true, lookup: false, flush: false },
      ],
    ],
    [
      'join, same join, leave',
      9,
      [
        { announce: false, lookup: true, flush: true },
        { announce: false, lookup: true, flush: false },
        { announce: false, lookup: false, flush: true },
      ],
    ],
  ] as const) {
    it(`every interleaving of ${label} with all I/O results`, () => {
      expect(explore([...script])).toBeGreaterThanOrEqual(minLeaves)
    })
  }
})

describe('join failures', () => {
  it('rejects every waiting request with the error, then a join during the cleanup waits for it', () => {
    const c = core()
    c.handle(configure(1, true, false), 0)
    expect(c.handle(configure(2, true, false, false), 0)).toEqual([])
    const error = { code: 'TOPIC_JOIN_FAILED' as const, message: 'no DHT' }
    expect(c.handle({ type: 'topic-join-failed', topic: T, op: 1, error }, 0)).toEqual([
      { type: 'settle', requestId: 1, error },
      { type: 'settle', requestId: 2, error },
      { type: 'leave-topic', topic: T, op: 2 },
    ])
    expect(c.status(T)).toEqual({
      topic: T,
      announce: false,
      lookup: false,
      joined: false,
      flushed: false,
      state: 'leaving',
    })
    expect(c.handle(configure(3, true, false, false), 0)).toEqual([])
    expect(c.handle({ type: 'topic-left', topic: T, op: 2 }, 0)).toEqual([
      { type: 'join-topic', topic: T, op: 3, announce: true, lookup: false },
    ])
    expect(c.handle({ type: 'topic-joined', topic: T, op: 3 }, 0)).toEqual([
      { type: 'settle', requestId: 3 },
    ])
  })

  it('a failure of a superseded join is ignored', () => {
    const c = core()
    c.handle(configure(1, true, false, false), 0)
    c.handle(configure(2, false, true, false), 0)
    const error = { code: 'TOPIC_JOIN_FAILED' as const, message: 'x' }
    expect(c.handle({ type: 'topic-join-failed', topic: T, op: 1, error }, 0)).toEqual([])
    expect(c.handle({ type: 'topic-joined', topic: T, op: 2 }, 0)).toEqual([
      { type: 'settle', requestId: 1 },
      { type: 'settle', requestId: 2 },
    ])
  })
})

describe('flush and connections', () => {
  const R1 = 'b1'.repeat(32)
  const R2 = 'b2'.repeat(32)
  const opened = (connectionId: number, remoteKey: string): CoreEvent => ({
    type: 'connection-opened',
    connectionId,
    remoteKey,
    isInitiator: true,
  })
  const flushing = (authenticate: boolean) => {
    const c = core(authenticate)
    c.handle(configure(1, true, true), 0)
    c.handle({ type: 'topic-joined', topic: T, op: 1 }, 0)
    return c
  }

  it('without authentication connections are used at once and never hold a flush', () => {
    const c = flushing(false)
    expect(c.handle(opened(1, R1), 0)).toEqual([
      { type: 'keep-connection', connectionId: 1, remoteKey: R1 },
      { type: 'peer-add', connectionId: 1, remoteKey: R1 },
    ])
    expect(c.pendingConnections()).toEqual([])
    expect(c.handle({ type: 'swarm-flushed', topic: T, op: 2 }, 0)).toEqual([
      { type: 'settle', requestId: 1 },
    ])
  })

  it('a stale flush, with a connection pending or none, neither finishes nor replaces the current one', () => {
    for (const pending of [false, true]) {
      const c = flushing(true)
      expect(c.handle(configure(2, true, false), 0)).toEqual([
        { type: 'join-topic', topic: T, op: 3, announce: true, lookup: false },
      ])
      expect(c.handle({ type: 'topic-joined', topic: T, op: 3 }, 0)).toEqual([
        { type: 'flush-swarm', topic: T, op: 4 },
      ])
      if (pending) c.handle(opened(1, R1), 0)
      expect(c.handle({ type: 'swarm-flushed', topic: T, op: 4 }, 0)).toEqual(
        pending
          ? []
          : [
              { type: 'settle', requestId: 1 },
              { type: 'settle', requestId: 2 },
            ],
      )
      // The flush of op 2 answers late: it must not wait in the place of op 4's.
      expect(c.handle({ type: 'swarm-flushed', topic: T, op: 2 }, 0)).toEqual([])
      if (!pending) continue
      expect(
        c.handle({ type: 'connection-authenticated', connectionId: 1, accepted: true }, 0),
      ).toEqual([
        { type: 'keep-connection', connectionId: 1, remoteKey: R1 },
        { type: 'peer-add', connectionId: 1, remoteKey: R1 },
        { type: 'settle', requestId: 1 },
        { type: 'settle', requestId: 2 },
      ])
    }
  })

  it('a connection authenticated before the flush does not hold it', () => {
    const c = flushing(true)
    c.handle(opened(1, R1), 0)
    c.handle({ type: 'connection-authenticated', connectionId: 1, accepted: true }, 0)
    expect(c.handle({ type: 'swarm-flushed', topic: T, op: 2 }, 0)).toEqual([
      { type: 'settle', requestId: 1 },
    ])
  })

  it('waits for every connection pending at the flush, in any order of their verdicts', () => {
    const c = flushing(true)
    expect(c.handle(opened(1, R1), 0)).toEqual([
      { type: 'authenticate', connectionId: 1, remoteKey: R1 },
    ])
    expect(c.handle(opened(2, R2), 0)).toEqual([
      { type: 'authenticate', connectionId: 2, remoteKey: R2 },
    ])
    expect(c.pendingConnections()).toEqual([1, 2])
    expect(c.handle({ type: 'swarm-flushed', topic: T, op: 2 }, 0)).toEqual([])
    expect(
      c.handle({ type: 'connection-authenticated', connectionId: 2, accepted: false }, 0),
    ).toEqual([{ type: 'drop-connection', connectionId: 2, remoteKey: R2, reason: 'rejected' }])
    expect(c.status(T)).toMatchObject({ flushed: false, state: 'flushing' })
    // A repeated verdict for a settled connection changes nothing.
    expect(
      c.handle({ type: 'connection-authenticated', connectionId: 2, accepted: true }, 0),
    ).toEqual([])
    expect(
      c.handle({ type: 'connection-authenticated', connectionId: 1, accepted: true }, 0),
    ).toEqual([
      { type: 'keep-connection', connectionId: 1, remoteKey: R1 },
      { type: 'peer-add', connectionId: 1, remoteKey: R1 },
      { type: 'settle', requestId: 1 },
    ])
    expect(c.pendingConnections()).toEqual([])
  })

  it('two topics flushing on the same pending connection both finish when it settles', () => {
    const U = '02'.repeat(32)
    const c = flushing(true)
    c.handle(
      {
        type: 'configure',
        requestId: 2,
        topic: U,
        announce: false,
        lookup: true,
        flush: true,
      },
      0,
    )
    expect(c.handle({ type: 'topic-joined', topic: U, op: 1 }, 0)).toEqual([
      { type: 'flush-swarm', topic: U, op: 2 },
    ])
    c.handle(opened(1, R1), 0)
    expect(c.handle({ type: 'swarm-flushed', topic: T, op: 2 }, 0)).toEqual([])
    expect(c.handle({ type: 'swarm-flushed', topic: U, op: 2 }, 0)).toEqual([])
    expect(c.handle({ type: 'connection-closed', connectionId: 1 }, 0)).toEqual([
      { type: 'settle', requestId: 1 },
      { type: 'settle', requestId: 2 },
    ])
    expect(c.status(T)?.flushed).toBe(true)
    expect(c.status(U)?.flushed).toBe(true)
  })

  it('a flush waiting on a connection, superseded by a re-join: the connection does not finish the new flush', () => {
    const c = flushing(true)
    c.handle(opened(1, R1), 0)
    expect(c.handle({ type: 'swarm-flushed', topic: T, op: 2 }, 0)).toEqual([])
    expect(c.handle(configure(2, true, false), 0)).toEqual([
      { type: 'join-topic', topic: T, op: 3, announce: true, lookup: false },
    ])
    expect(c.handle({ type: 'topic-joined', topic: T, op: 3 }, 0)).toEqual([
      { type: 'flush-swarm', topic: T, op: 4 },
    ])
    // The old flush's waiter finishes here; the new flush has not completed yet.
    expect(
      c.handle({ type: 'connection-authenticated', connectionId: 1, accepted: true }, 0),
    ).toEqual([
      { type: 'keep-connection', connectionId: 1, remoteKey: R1 },
      { type: 'peer-add', connectionId: 1, remoteKey: R1 },
    ])
    expect(c.status(T)).toMatchObject({ state: 'flushing', flushed: false })
    expect(c.handle({ type: 'swarm-flushed', topic: T, op: 4 }, 0)).toEqual([
      { type: 'settle', requestId: 1 },
      { type: 'settle', requestId: 2 },
    ])
  })

  it('a flush superseded while waiting on a connection does not settle anything', () => {
    const c = flushing(true)
    c.handle(opened(1, R1), 0)
    expect(c.handle({ type: 'swarm-flushed', topic: T, op: 2 }, 0)).toEqual([])
    expect(c.handle(configure(2, false, false), 0)).toEqual([
      { type: 'leave-topic', topic: T, op: 3 },
    ])
    expect(
      c.handle({ type: 'connection-authenticated', connectionId: 1, accepted: false }, 0),
    ).toEqual([{ type: 'drop-connection', connectionId: 1, remoteKey: R1, reason: 'rejected' }])
    expect(c.handle({ type: 'topic-left', topic: T, op: 3 }, 0)).toEqual([
      { type: 'settle', requestId: 1 },
      { type: 'settle', requestId: 2 },
    ])
  })
})

describe('concurrent configures with stale results and authentication (property)', () => {
  const REMOTES = ['b1'.repeat(32), 'b2'.repeat(32)]
  type Step =
    | { kind: 'configure'; announce: boolean; lookup: boolean; flush: boolean }
    | { kind: 'complete' }
    | { kind: 'stale'; pick: number; result: number }
    | { kind: 'open'; remote: number }
    | { kind: 'verdict'; pick: number; accepted: boolean }

  const stepArb: fc.Arbitrary<Step> = fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('configure' as const),
        announce: fc.boolean(),
        lookup: fc.boolean(),
        flush: fc.boolean(),
      }),
    },
    { weight: 4, arbitrary: fc.constant({ kind: 'complete' as const }) },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('stale' as const),
        pick: fc.nat(),
        result: fc.nat({ max: 8 }),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('open' as const), remote: fc.nat({ max: 1 }) }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('verdict' as const),
        pick: fc.nat(),
        accepted: fc.boolean(),
      }),
    },
  )

  /** A stale answer for `effect`: its own success (kinds 6-8) or any result kind at all. */
  const staleResult = (kind: number, effect: CoreEffect): CoreEvent => {
    const op = 'op' in effect ? effect.op : 0
    if (kind > 5) return resultOf(effect)!
    const error = { code: 'TOPIC_JOIN_FAILED' as const, message: 'stale' }
    switch (kind) {
      case 0:
        return { type: 'topic-joined', topic: T, op }
      case 1:
        return { type: 'topic-left', topic: T, op }
      case 2:
        return { type: 'swarm-flushed', topic: T, op }
      case 3:
        return { type: 'topic-join-failed', topic: T, op, error }
      case 4:
        return { type: 'topic-leave-failed', topic: T, op, error }
      default:
        return { type: 'swarm-flush-failed', topic: T, op, error }
    }
  }

  it('answering the latest op (and replaying stale ones) settles every request once, last wins', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(stepArb, { maxLength: 40 }), (authenticate, steps) => {
        const c = core(authenticate)
        const made = new Set<number>()
        const settled = new Set<number>()
        const emitted: CoreEffect[] = []
        let latest: CoreEffect | null = null
        let pendingAuth: number[] = []
        let nextConn = 1
        let last: Step & { kind: 'configure' } = {
          kind: 'configure',
          announce: false,
          lookup: false,
          flush: false,
        }
        const take = (effects: CoreEffect[]) => {
          for (const e of effects) {
            if (e.type === 'settle') {
              // No settle for a request not yet made, none twice, no error (no real failure).
              expect(made.has(e.requestId)).toBe(true)
              expect(settled.has(e.requestId)).toBe(false)
              expect(e.error).toBeUndefined()
              settled.add(e.requestId)
            } else if (e.type === 'authenticate') {
              pendingAuth.push(e.connectionId)
            } else if (resultOf(e) !== null && 'op' in e) {
              // Ops only grow: each new topic op supersedes the previous one.
              const previous = emitted.at(-1)
              expect(e.op).toBeGreaterThan(
                previous !== undefined && 'op' in previous ? previous.op : 0,
              )
              emitted.push(e)
              latest = e
            }
          }
        }
        const complete = () => {
          const effect: CoreEffect | null = latest
          latest = null
          if (effect !== null) take(c.handle(resultOf(effect)!, 0))
        }
        const verdict = (index: number, accepted: boolean) => {
          const id = pendingAuth[index % pendingAuth.length]!
          pendingAuth = pendingAuth.filter((x) => x !== id)
          take(c.handle({ type: 'connection-authenticated', connectionId: id, accepted }, 0))
        }
        for (const s of steps) {
          if (s.kind === 'configure') {
            const id = made.size + 1
            made.add(id)
            last = s
            take(c.handle(configure(id, s.announce, s.lookup, s.flush), 0))
          } else if (s.kind === 'complete') {
            complete()
          } else if (s.kind === 'stale') {
            // Every op but the last one emitted is superseded.
            const stale = emitted.slice(0, -1)
            if (stale.length > 0) {
              take(c.handle(staleResult(s.result, stale[s.pick % stale.length]!), 0))
            }
          } else if (s.kind === 'open') {
            take(
              c.handle(
                {
                  type: 'connection-opened',
                  connectionId: nextConn++,
                  remoteKey: REMOTES[s.remote]!,
                  isInitiator: true,
                },
                0,
              ),
            )
          } else if (pendingAuth.length > 0) {
            verdict(s.pick, s.accepted)
          }
        }
        // Quiescence: answer the latest op and every verdict until nothing is outstanding.
        for (let i = 0; i < 50 && (latest !== null || pendingAuth.length > 0); i++) {
          if (latest !== null) complete()
          else verdict(0, true)
        }
        expect(latest).toBeNull()
        expect(pendingAuth).toEqual([])
        expect([...settled].sort((a, b) => a - b)).toEqual([...made])
        if (made.size === 0) {
          expect(c.status(T)).toBeNull()
          return
        }
        const joins = last.announce || last.lookup
        // A topic left with nothing pending is forgotten.
        if (!joins) {
          expect(c.status(T)).toBeNull()
          return
        }
        const status = c.status(T)!
        expect(status).toMatchObject({
          announce: last.announce,
          lookup: last.lookup,
          joined: joins,
          state: joins ? 'joined' : 'left',
        })
        if (joins && last.flush) expect(status.flushed).toBe(true)
        if (!joins) expect(status.flushed).toBe(false)
      }),
      { numRuns: 1000 },
    )
  })
})
