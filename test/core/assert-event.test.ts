import { describe, expect, it, vi } from 'vitest'
import { assertEvent as xstateAssertEvent } from 'xstate'
import { assertEvent } from '../../src/core/assert-event.js'
import { thrownBy } from '../helpers/thrown.js'

// XState's own assertEvent, watched: the core's calls it only when the exact type does not
// match (a wildcard descriptor, or a wrong event).
vi.mock('xstate', async (importOriginal) => {
  const original = await importOriginal<typeof import('xstate')>()
  return { ...original, assertEvent: vi.fn(original.assertEvent) }
})
const xstateCalls = vi.mocked(xstateAssertEvent)

/*
 * The core's assertEvent (src/core/assert-event.ts): XState's, with the exact type compared
 * first. It passes and refuses exactly as XState's does, with XState's own error, and leaves
 * XState's out when the type is one it was given.
 */
type Ev = { type: 'a' } | { type: 'a.one' } | { type: 'a.two' } | { type: 'b' }
const events: Ev[] = [{ type: 'a' }, { type: 'a.one' }, { type: 'a.two' }, { type: 'b' }]
const descriptors = ['a.one', 'a.two', 'b', 'a.*', '*'] as const

/** What XState's own assertEvent does with it: null when it passes, else its message. */
function xstateSays(event: Ev, type: unknown): string | null {
  try {
    xstateAssertEvent(event, type as 'b')
    return null
  } catch (err) {
    return (err as Error).message
  }
}

describe("the core's assertEvent", () => {
  it('passes and refuses as XState does, for one type, a list, or a wildcard', () => {
    const cases: unknown[] = [...descriptors, ['a.one', 'b'], ['a.two'], ['a.*'], []]
    let refusals = 0
    for (const event of events) {
      for (const type of cases) {
        const expected = xstateSays(event, type)
        if (expected === null) {
          expect(() => assertEvent(event, type as 'b')).not.toThrow()
        } else {
          refusals++
          expect(thrownBy(() => assertEvent(event, type as 'b')).message).toBe(expected)
        }
      }
    }
    // Both sides are exercised: 4 events × 9 cases, 20 of them XState refuses ('a' is a
    // prefix of 'a.one', not a match of it; 'a.*' matches 'a' as well as 'a.one').
    expect(refusals).toBe(20)
  })

  it('asks nothing of XState when the event has the type, or one of the types, it was given', () => {
    xstateCalls.mockClear()
    assertEvent({ type: 'a.one' } as Ev, 'a.one')
    assertEvent({ type: 'b' } as Ev, 'b')
    assertEvent({ type: 'a.two' } as Ev, ['a.one', 'a.two'])
    assertEvent({ type: 'b' } as Ev, ['b'])
    expect(xstateCalls).not.toHaveBeenCalled()
    // A descriptor that is not a type is XState's to match.
    assertEvent({ type: 'a.one' } as Ev, 'a.*')
    assertEvent({ type: 'a.two' } as Ev, ['a.*'])
    expect(xstateCalls).toHaveBeenCalledTimes(2)
  })

  it("refuses an event of another type with XState's message", () => {
    const error = thrownBy(() => assertEvent({ type: 'b' } as Ev, 'a.one'))
    expect(error.message).toBe('Expected event {"type":"b"} to have type matching "a.one"')
    const listed = thrownBy(() => assertEvent({ type: 'b' } as Ev, ['a.one', 'a.two']))
    expect(listed.message).toBe(
      'Expected event {"type":"b"} to have one of types matching "a.one", "a.two"',
    )
  })
})
