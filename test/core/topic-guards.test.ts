import { describe, expect, it } from 'vitest'
import { type TopicContext, topicMachine } from '../../src/core/topic-machine.js'
import { thrownBy } from '../helpers/thrown.js'

/*
 * The topic machine's guards and actions are written for the events of their transitions;
 * given any other event (a mistake in the machine's definition), they throw instead of
 * reading fields it does not have (XState's assertEvent).
 */
type Impl = (args: { context: TopicContext; event: { type: string } }, params?: unknown) => unknown

const context: TopicContext = {
  topic: '01'.repeat(32),
  announce: true,
  lookup: true,
  flushWanted: true,
  waiting: [],
  op: 2,
  joined: false,
  flushed: false,
  closing: false,
  leaveFailed: false,
}
const guards = topicMachine.implementations.guards as unknown as Record<string, Impl>

describe('the topic machine given an event its transition does not take', () => {
  it('throws from the guards that read a configure, an expiry or a result', () => {
    const close = { type: 'close' }
    for (const name of ['wantsJoin', 'sameSubscription', 'sameSubscriptionWithFlush']) {
      expect(thrownBy(() => guards[name]?.({ context, event: close })).message).toContain(
        'Expected event {"type":"close"} to have type matching "configure"',
      )
    }
    expect(thrownBy(() => guards.waitsFor?.({ context, event: close })).message).toContain(
      'Expected event {"type":"close"} to have type matching "expire"',
    )
    for (const name of ['currentOp', 'currentOpAndFlushWanted']) {
      expect(thrownBy(() => guards[name]?.({ context, event: close })).message).toContain(
        'Expected event {"type":"close"} to have one of types matching "topic-joined", "topic-join-failed"',
      )
    }
  })

  it('reads the op of every result', () => {
    for (const type of [
      'topic-joined',
      'topic-join-failed',
      'topic-left',
      'topic-leave-failed',
      'flush-done',
      'flush-failed',
    ]) {
      expect(guards.currentOp?.({ context, event: { type, op: 2 } as { type: string } })).toBe(true)
      expect(guards.currentOp?.({ context, event: { type, op: 1 } as { type: string } })).toBe(
        false,
      )
    }
  })
})
