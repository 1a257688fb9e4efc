import { describe, expect, it } from 'vitest'
import { ActionQueues } from '../../src/core/lean-queue.js'

/*
 * The lean runner's queues of enqueued actions (src/core/lean-queue.ts): one array per depth
 * of queued runs, reused from its start, its slots emptied once its run ended.
 */
describe('the queues of enqueued actions', () => {
  it('fills one array per depth from its start, and reuses it once its run ended', () => {
    const queues = new ActionQueues<string>()
    const outer = queues.begin()
    queues.push('a')
    queues.push('b')
    expect(queues.end()).toBe(2)
    expect(outer.slice(0, 2)).toEqual(['a', 'b'])
    // A collect while the outer queue runs fills another array, from its start.
    const inner = queues.begin()
    expect(inner).not.toBe(outer)
    queues.push('c')
    expect(queues.end()).toBe(1)
    expect(inner[0]).toBe('c')
    expect(outer.slice(0, 2)).toEqual(['a', 'b'])
    queues.release(inner, 1, '-')
    expect(inner).toEqual(['-'])
    // Back at the outer run's depth + 1: the inner array again.
    expect(queues.begin()).toBe(inner)
    expect(queues.end()).toBe(0)
    queues.release(inner, 0, '-')
    queues.release(outer, 2, '-')
    expect(outer).toEqual(['-', '-'])
    // Both runs ended: the next collect fills the outer array again, from its start.
    expect(queues.begin()).toBe(outer)
    queues.push('d')
    expect(queues.end()).toBe(1)
    expect(outer).toEqual(['d', '-'])
  })
})
