import { describe, expect, it } from 'vitest'
import { ActionQueues } from '../../src/core/lean-queue.js'

/*
 * The lean runner's queues of enqueued actions (src/core/lean-queue.ts): arrays taken from a
 * pool and filled from their start, emptied and given back once their run ended.
 */
describe('the queues of enqueued actions', () => {
  it('fills an array from its start, another for a collect while it runs, and reuses both', () => {
    const queues = new ActionQueues<string>()
    const outer = queues.begin()
    expect(outer).toEqual([])
    expect(queues.queued).toBe(0)
    queues.push('a')
    queues.push('b')
    expect(queues.queued).toBe(2)
    expect(outer).toEqual(['a', 'b'])
    // A collect while the outer queue runs fills another array, from its start.
    const inner = queues.begin()
    expect(inner).not.toBe(outer)
    queues.push('c')
    expect(queues.queued).toBe(1)
    expect(inner).toEqual(['c'])
    expect(outer).toEqual(['a', 'b'])
    queues.release(inner, 1)
    expect(inner).toEqual([undefined])
    // Given back: the next collect reuses it, from its start.
    expect(queues.begin()).toBe(inner)
    expect(queues.queued).toBe(0)
    queues.release(inner, 0)
    queues.release(outer, 2)
    expect(outer).toEqual([undefined, undefined])
    // The last given back is the next taken.
    expect(queues.begin()).toBe(outer)
    queues.push('d')
    expect(outer).toEqual(['d', undefined])
    expect(queues.begin()).toBe(inner)
    // The pool is empty now: a new array.
    const fresh = queues.begin()
    expect(fresh).not.toBe(inner)
    expect(fresh).not.toBe(outer)
    expect(fresh).toEqual([])
  })
})
