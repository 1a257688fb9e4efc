import { describe, expect, it } from 'vitest'
import { ErrorCode, type ErrorInfo } from '../../src/core/errors.js'
import { NetworkerCore } from '../../src/core/networker-core.js'
import type { CoreEffect, CoreEvent } from '../../src/core/protocol.js'

/**
 * Edges of one topic's life that the broader tests reach only by chance: failed leaves,
 * closes in every state, stale failures. Each pins one decision of the topic machine.
 */
const LOCAL = 'aa'.repeat(32)
const T = '01'.repeat(32)
const leaveError: ErrorInfo = { code: ErrorCode.TOPIC_LEAVE_FAILED, message: 'leave failed' }
const joinError: ErrorInfo = { code: ErrorCode.TOPIC_JOIN_FAILED, message: 'join failed' }
const flushError: ErrorInfo = { code: ErrorCode.FLUSH_FAILED, message: 'flush failed' }
const closedError = {
  code: 'NETWORKER_CLOSED',
  message: 'the networker closed before this configure completed',
}

const configure = (
  requestId: number,
  announce: boolean,
  lookup: boolean,
  flush = false,
): CoreEvent => ({ type: 'configure', requestId, topic: T, announce, lookup, flush })

function newCore(): NetworkerCore {
  return new NetworkerCore({ localKey: LOCAL, authenticate: false })
}

/** A core with T joined (op 1), no flush. */
function joinedCore(): NetworkerCore {
  const c = newCore()
  c.handle(configure(1, true, true), 0)
  c.handle({ type: 'topic-joined', topic: T, op: 1 }, 0)
  expect(c.status(T)?.state).toBe('joined')
  return c
}

/** Closes the core, answering the topic's leave (if one is asked for) with `leave`. */
function close(c: NetworkerCore, leave: 'left' | 'failed'): CoreEffect[] {
  return finishClose(c, c.handle({ type: 'close', requestId: 99 }, 0), leave)
}

/**
 * Answers the leave asked for in `effects` (or the one in flight, `inFlight`), then the
 * swarm's destruction.
 */
function finishClose(
  c: NetworkerCore,
  effects: CoreEffect[],
  leave: 'left' | 'failed',
  inFlight?: number,
): CoreEffect[] {
  const asked = effects.find((e) => e.type === 'leave-topic')
  const op = asked?.type === 'leave-topic' ? asked.op : inFlight
  const out = [...effects]
  if (op !== undefined) {
    out.push(
      ...c.handle(
        leave === 'left'
          ? { type: 'topic-left', topic: T, op }
          : { type: 'topic-leave-failed', topic: T, op, error: leaveError },
        0,
      ),
    )
  }
  out.push(...c.handle({ type: 'swarm-destroyed' }, 0))
  return out
}

const settles = (effects: CoreEffect[], requestId: number) =>
  effects.filter((e) => e.type === 'settle' && e.requestId === requestId)

describe('a leave that fails', () => {
  it('rejects the leave with the error, and a later close reports the topic as still announced', () => {
    const c = joinedCore()
    c.handle(configure(2, false, false), 0)
    expect(c.handle({ type: 'topic-leave-failed', topic: T, op: 2, error: leaveError }, 0)).toEqual(
      [{ type: 'settle', requestId: 2, error: leaveError }],
    )
    expect(c.status(T)).toMatchObject({ state: 'left', joined: false })
    // Nothing left to leave, but the old announcement may linger: the report says so.
    const effects = close(c, 'left')
    expect(effects.filter((e) => e.type === 'leave-topic')).toEqual([])
    expect(settles(effects, 99)).toEqual([
      { type: 'settle', requestId: 99, report: { unannounced: [T], forced: false } },
    ])
  })

  it('is forgotten once a later leave succeeds', () => {
    const c = joinedCore()
    c.handle(configure(2, false, false), 0)
    c.handle({ type: 'topic-leave-failed', topic: T, op: 2, error: leaveError }, 0)
    c.handle(configure(3, true, false), 0)
    c.handle({ type: 'topic-joined', topic: T, op: 3 }, 0)
    c.handle(configure(4, false, false), 0)
    expect(c.handle({ type: 'topic-left', topic: T, op: 4 }, 0)).toEqual([
      { type: 'settle', requestId: 4 },
    ])
    expect(settles(close(c, 'left'), 99)).toEqual([
      { type: 'settle', requestId: 99, report: { unannounced: [], forced: false } },
    ])
  })

  for (const [announce, lookup] of [
    [true, false],
    [false, true],
  ] as const) {
    it(`lets a join requested meanwhile (announce=${announce} lookup=${lookup}) go ahead`, () => {
      const c = joinedCore()
      c.handle(configure(2, false, false), 0)
      c.handle(configure(3, announce, lookup), 0)
      expect(
        c.handle({ type: 'topic-leave-failed', topic: T, op: 2, error: leaveError }, 0),
      ).toEqual([{ type: 'join-topic', topic: T, op: 3, announce, lookup }])
      expect(c.handle({ type: 'topic-joined', topic: T, op: 3 }, 0)).toEqual([
        { type: 'settle', requestId: 2 },
        { type: 'settle', requestId: 3 },
      ])
    })
  }

  it('of an earlier op is ignored while a later leave is in flight', () => {
    const c = joinedCore()
    c.handle(configure(2, false, false), 0) // leave, op 2
    c.handle(configure(3, true, true), 0) // waits for the leave
    const stale: CoreEvent = { type: 'topic-leave-failed', topic: T, op: 1, error: leaveError }
    expect(c.handle(stale, 0)).toEqual([])
    expect(c.status(T)?.state).toBe('leaving')
    expect(c.handle({ type: 'topic-left', topic: T, op: 2 }, 0)).toEqual([
      { type: 'join-topic', topic: T, op: 3, announce: true, lookup: true },
    ])
  })
})

describe('a close in each state of the topic', () => {
  const setups: Record<string, () => NetworkerCore> = {
    joining: () => {
      const c = newCore()
      c.handle(configure(1, true, true), 0)
      return c
    },
    flushing: () => {
      const c = newCore()
      c.handle(configure(1, true, true, true), 0)
      c.handle({ type: 'topic-joined', topic: T, op: 1 }, 0)
      return c
    },
    joined: joinedCore,
    leaving: () => {
      const c = joinedCore()
      c.handle(configure(2, false, false), 0)
      return c
    },
  }
  for (const [state, setup] of Object.entries(setups)) {
    it(`${state}: leaves, shows no subscription, settles every request once`, () => {
      const c = setup()
      expect(c.status(T)?.state).toBe(state)
      const effects = c.handle({ type: 'close', requestId: 99 }, 0)
      expect(effects.filter((e) => e.type === 'leave-topic')).toHaveLength(
        state === 'leaving' ? 0 : 1,
      )
      expect(c.status(T)).toMatchObject({ state: 'leaving', announce: false, lookup: false })
      // A failed leave during the close must not settle the closed requests again.
      const all = finishClose(c, effects, 'failed', state === 'leaving' ? 2 : undefined)
      for (const id of [1, 2]) expect(settles(all, id).length).toBeLessThanOrEqual(1)
      if (state === 'joining' || state === 'flushing') {
        expect(settles(all, 1)).toEqual([{ type: 'settle', requestId: 1, error: closedError }])
      }
      expect(settles(all, 99)).toEqual([
        { type: 'settle', requestId: 99, report: { unannounced: [T], forced: false } },
      ])
      expect(c.status(T)?.state).toBe('closed')
    })
  }

  it('leaving with a re-join asked meanwhile: the close forgets the re-join, even if the leave fails', () => {
    const c = joinedCore()
    c.handle(configure(2, false, false), 0)
    c.handle(configure(3, true, false), 0)
    const effects = c.handle({ type: 'close', requestId: 99 }, 0)
    expect(c.status(T)).toMatchObject({ state: 'leaving', announce: false, lookup: false })
    const all = finishClose(c, effects, 'failed', 2)
    expect(all.filter((e) => e.type === 'join-topic')).toEqual([])
    expect(settles(all, 3)).toEqual([{ type: 'settle', requestId: 3, error: closedError }])
    expect(settles(all, 99)).toEqual([
      { type: 'settle', requestId: 99, report: { unannounced: [T], forced: false } },
    ])
    expect(c.status(T)?.state).toBe('closed')
  })

  it('forced while the leave hangs: the topic is closed and reported', () => {
    const c = joinedCore()
    c.handle({ type: 'close', requestId: 99 }, 0)
    expect(c.handle({ type: 'close-timeout' }, 0)).toContainEqual({
      type: 'settle',
      requestId: 99,
      report: { unannounced: [T], forced: true },
    })
    expect(c.status(T)?.state).toBe('closed')
  })

  it('a topic that was only ever left closes without any I/O', () => {
    const c = newCore()
    expect(c.handle(configure(1, false, false), 0)).toEqual([{ type: 'settle', requestId: 1 }])
    // Forgotten as soon as it was left, so the close has nothing of it to leave.
    expect(c.status(T)).toBeNull()
    const effects = close(c, 'left')
    expect(effects.filter((e) => e.type === 'leave-topic')).toEqual([])
  })
})

describe('stale and failed flushes and joins', () => {
  it('a failed flush of an earlier op is ignored', () => {
    const c = newCore()
    c.handle(configure(1, true, true, true), 0)
    c.handle({ type: 'topic-joined', topic: T, op: 1 }, 0) // flush op 2
    c.handle(configure(2, true, false, true), 0) // re-join op 3
    c.handle({ type: 'topic-joined', topic: T, op: 3 }, 0) // flush op 4
    expect(c.handle({ type: 'swarm-flush-failed', topic: T, op: 2, error: flushError }, 0)).toEqual(
      [],
    )
    expect(c.status(T)?.state).toBe('flushing')
    expect(c.handle({ type: 'swarm-flushed', topic: T, op: 4 }, 0)).toEqual([
      { type: 'settle', requestId: 1 },
      { type: 'settle', requestId: 2 },
    ])
  })

  it('a failed join forgets its wish to flush: a later join without flush settles on joining', () => {
    const c = newCore()
    c.handle(configure(1, true, true, true), 0)
    expect(c.handle({ type: 'topic-join-failed', topic: T, op: 1, error: joinError }, 0)).toEqual([
      { type: 'settle', requestId: 1, error: joinError },
      { type: 'leave-topic', topic: T, op: 2 },
    ])
    c.handle(configure(2, true, true, false), 0)
    expect(c.handle({ type: 'topic-left', topic: T, op: 2 }, 0)).toEqual([
      { type: 'join-topic', topic: T, op: 3, announce: true, lookup: true },
    ])
    expect(c.handle({ type: 'topic-joined', topic: T, op: 3 }, 0)).toEqual([
      { type: 'settle', requestId: 2 },
    ])
  })

  it('a failed flush forgets its wish to flush: the next same configure settles at once', () => {
    const c = newCore()
    c.handle(configure(1, true, true, true), 0)
    c.handle({ type: 'topic-joined', topic: T, op: 1 }, 0)
    c.handle({ type: 'swarm-flush-failed', topic: T, op: 2, error: flushError }, 0)
    expect(c.status(T)).toMatchObject({ state: 'joined', flushed: false })
    expect(c.handle(configure(2, true, true, false), 0)).toEqual([{ type: 'settle', requestId: 2 }])
  })
})
