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
    const join = c.handle(configure(1, true, false))
    expect(join).toEqual([{ type: 'join-topic', topic: T, op: 1, announce: true, lookup: false }])
    expect(c.status(T)).toMatchObject({ joined: false, flushed: false, state: 'joining' })
    expect(c.handle({ type: 'topic-joined', topic: T, op: 1 })).toEqual([
      { type: 'flush-swarm', topic: T, op: 2 },
    ])
    expect(c.status(T)).toMatchObject({ joined: true, flushed: false, state: 'flushing' })
    expect(c.handle({ type: 'swarm-flushed', topic: T, op: 2 })).toEqual([
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
    c.handle(configure(1, false, true, false))
    expect(c.handle({ type: 'topic-joined', topic: T, op: 1 })).toEqual([
      { type: 'settle', requestId: 1 },
    ])
    expect(c.status(T)).toMatchObject({ joined: true, flushed: false })
  })

  it('ignores results of stale operations', () => {
    const c = core()
    c.handle(configure(1, true, true))
    c.handle(configure(2, false, true)) // re-join: op 2
    expect(c.handle({ type: 'topic-joined', topic: T, op: 1 })).toEqual([])
    expect(c.handle({ type: 'topic-joined', topic: T, op: 2 })).toEqual([
      { type: 'flush-swarm', topic: T, op: 3 },
    ])
    expect(c.handle({ type: 'swarm-flushed', topic: T, op: 1 })).toEqual([])
    expect(c.handle({ type: 'swarm-flushed', topic: T, op: 3 })).toEqual([
      { type: 'settle', requestId: 1 },
      { type: 'settle', requestId: 2 },
    ])
    expect(c.status(T)).toMatchObject({ announce: false, lookup: true })
  })

  it('still flushes for a join that asked to when a later join without flush supersedes it', () => {
    // Found by the simulator (seed 87): the superseded request resolved without its flush.
    const c = core()
    c.handle(configure(1, false, true, true))
    c.handle(configure(2, true, true, false))
    expect(c.handle({ type: 'topic-joined', topic: T, op: 2 })).toEqual([
      { type: 'flush-swarm', topic: T, op: 3 },
    ])
    expect(c.handle({ type: 'swarm-flushed', topic: T, op: 3 })).toEqual([
      { type: 'settle', requestId: 1 },
      { type: 'settle', requestId: 2 },
    ])
  })

  it('leaves a topic while its join is in flight', () => {
    const c = core()
    c.handle(configure(1, true, false))
    expect(c.handle(configure(2, false, false))).toEqual([{ type: 'leave-topic', topic: T, op: 2 }])
    expect(c.handle({ type: 'topic-joined', topic: T, op: 1 })).toEqual([])
    expect(c.handle({ type: 'topic-left', topic: T, op: 2 })).toEqual([
      { type: 'settle', requestId: 1 },
      { type: 'settle', requestId: 2 },
    ])
    expect(c.status(T)).toMatchObject({ joined: false, state: 'left' })
  })

  it('joins again only after a leave in flight has finished', () => {
    const c = core()
    c.handle(configure(1, true, false, false))
    c.handle({ type: 'topic-joined', topic: T, op: 1 })
    expect(c.handle(configure(2, false, false))).toEqual([{ type: 'leave-topic', topic: T, op: 2 }])
    // No join while the unannounce is still running: it could remove the fresh announcement.
    expect(c.handle(configure(3, true, true, false))).toEqual([])
    expect(c.handle({ type: 'topic-left', topic: T, op: 2 })).toEqual([
      { type: 'join-topic', topic: T, op: 3, announce: true, lookup: true },
    ])
    expect(c.handle({ type: 'topic-joined', topic: T, op: 3 })).toEqual([
      { type: 'settle', requestId: 2 },
      { type: 'settle', requestId: 3 },
    ])
  })

  it('rejects the waiting requests when a join fails, and cleans up with a leave', () => {
    const c = core()
    c.handle(configure(1, true, false))
    const error = { code: 'TOPIC_JOIN_FAILED' as const, message: 'no DHT' }
    expect(c.handle({ type: 'topic-join-failed', topic: T, op: 1, error })).toEqual([
      { type: 'settle', requestId: 1, error },
      { type: 'leave-topic', topic: T, op: 2 },
    ])
    expect(c.handle({ type: 'topic-left', topic: T, op: 2 })).toEqual([])
    expect(c.status(T)).toMatchObject({
      announce: false,
      lookup: false,
      joined: false,
      state: 'left',
    })
  })

  it('reports a failed flush to the waiting requests and stays joined', () => {
    const c = core()
    c.handle(configure(1, true, true))
    c.handle({ type: 'topic-joined', topic: T, op: 1 })
    const error = { code: 'FLUSH_FAILED' as const, message: 'x' }
    expect(c.handle({ type: 'swarm-flush-failed', topic: T, op: 2, error })).toEqual([
      { type: 'settle', requestId: 1, error },
    ])
    expect(c.status(T)).toMatchObject({ joined: true, flushed: false, state: 'joined' })
  })

  it('settles a repeated configuration at once, or after a new flush when asked', () => {
    const c = core()
    c.handle(configure(1, true, true, false))
    c.handle({ type: 'topic-joined', topic: T, op: 1 })
    expect(c.handle(configure(2, true, true, false))).toEqual([{ type: 'settle', requestId: 2 }])
    expect(c.handle(configure(3, true, true, true))).toEqual([
      { type: 'flush-swarm', topic: T, op: 2 },
    ])
    expect(c.handle(configure(4, false, false))).toEqual([{ type: 'leave-topic', topic: T, op: 3 }])
    expect(c.handle(configure(5, false, false))).toEqual([])
    expect(c.handle({ type: 'topic-left', topic: T, op: 3 })).toEqual(
      [3, 4, 5].map((requestId) => ({ type: 'settle', requestId })),
    )
    expect(c.handle(configure(6, false, false))).toEqual([{ type: 'settle', requestId: 6 }])
  })
})

describe('flush waits for connections being authenticated', () => {
  const REMOTE = 'bb'.repeat(32)
  const joinedCore = () => {
    const c = core(true)
    c.handle(configure(1, true, true))
    c.handle({ type: 'topic-joined', topic: T, op: 1 })
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
        c.handle({
          type: 'connection-opened',
          connectionId: 7,
          remoteKey: REMOTE,
          isInitiator: true,
        }),
      ).toEqual([{ type: 'authenticate', connectionId: 7, remoteKey: REMOTE }])
      expect(c.handle({ type: 'swarm-flushed', topic: T, op: 2 })).toEqual([])
      expect(c.status(T)?.flushed).toBe(false)
      // A connection that arrives after the flush does not hold it up.
      c.handle({
        type: 'connection-opened',
        connectionId: 8,
        remoteKey: 'cc'.repeat(32),
        isInitiator: false,
      })
      expect(c.handle(finish as CoreEvent)).toEqual(expected)
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
          if (e.type === 'join-topic') take(c.handle({ type: 'topic-joined', topic: T, op }))
          if (e.type === 'leave-topic') take(c.handle({ type: 'topic-left', topic: T, op }))
          if (e.type === 'flush-swarm') take(c.handle({ type: 'swarm-flushed', topic: T, op }))
          if (stale) pending.unshift(e)
        }
        for (const s of steps) {
          if (s.kind === 'configure') {
            const id = nextId++
            made.add(id)
            last = { announce: s.announce, lookup: s.lookup }
            take(c.handle({ type: 'configure', requestId: id, topic: T, ...s }))
          } else answer(s.kind === 'stale')
        }
        // Quiescence: answer everything outstanding.
        for (let i = 0; i < 100 && pending.length > 0; i++) answer(false)
        expect(pending).toEqual([])
        for (const id of made) expect(settled.get(id)).toBe(1)
        if (last !== null) {
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
