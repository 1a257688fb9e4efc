import { describe, expect, it } from 'vitest'
import { VirtualClock } from '../../sim/virtual-clock.js'
import { type GraceHolder, GraceQueue } from '../../src/io/extension-grace.js'

/*
 * Every connection's grace period on one timer (extension-grace.ts): each ends at its own
 * start plus the period, in the order they started, and a stopped one never ends.
 */

interface Holder extends GraceHolder {
  name: string
}

function setup(period = 100) {
  const clock = new VirtualClock()
  const ended: { name: string; at: number }[] = []
  const queue = new GraceQueue<Holder>(clock, period, (h) =>
    ended.push({ name: h.name, at: clock.now() }),
  )
  const holder = (name: string): Holder => ({ name, graceEnds: null })
  return { clock, ended, queue, holder }
}

describe('GraceQueue', () => {
  it('ends each period at its own start plus the period, in order, on one timer', async () => {
    const { clock, ended, queue, holder } = setup()
    const [a, b, c] = [holder('a'), holder('b'), holder('c')]
    queue.start(a)
    expect(a.graceEnds).toBe(100)
    await clock.runUntil(30)
    queue.start(b)
    queue.start(c)
    expect(queue.timerCount).toBe(1)
    expect(clock.pending).toBe(1)
    await clock.runUntil(99)
    expect(ended).toEqual([])
    await clock.runUntil(100)
    expect(ended).toEqual([{ name: 'a', at: 100 }])
    expect(a.graceEnds).toBeNull()
    await clock.runUntil(500)
    expect(ended).toEqual([
      { name: 'a', at: 100 },
      { name: 'b', at: 130 },
      { name: 'c', at: 130 },
    ])
    expect(queue.timerCount).toBe(0)
    expect(clock.pending).toBe(0)
  })

  it('never ends a stopped period, and stops its timer when none runs', async () => {
    const { clock, ended, queue, holder } = setup()
    const [a, b] = [holder('a'), holder('b')]
    queue.start(a)
    await clock.runUntil(10)
    queue.start(b)
    queue.stop(a)
    expect(a.graceEnds).toBeNull()
    queue.stop(a) // twice: nothing more
    await clock.runUntil(200)
    expect(ended).toEqual([{ name: 'b', at: 110 }])
    queue.start(a)
    queue.stop(a)
    expect(queue.timerCount).toBe(0)
    expect(clock.pending).toBe(0)
    await clock.runUntil(1000)
    expect(ended).toEqual([{ name: 'b', at: 110 }])
  })

  it('clear stops every period; a holder can start again afterwards', async () => {
    const { clock, ended, queue, holder } = setup()
    const a = holder('a')
    queue.start(a)
    queue.start(holder('b'))
    queue.clear()
    expect(a.graceEnds).toBeNull()
    expect(queue.timerCount).toBe(0)
    await clock.runUntil(500)
    expect(ended).toEqual([])
    queue.start(a)
    await clock.runUntil(1000)
    expect(ended).toEqual([{ name: 'a', at: 600 }])
  })

  it('keeps its array bounded while connections come and go', async () => {
    const { clock, ended, queue, holder } = setup(50)
    let started = 0
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 100; i++) {
        const h = holder(`h${started++}`)
        queue.start(h)
        if (i % 2 === 0) queue.stop(h)
      }
      await clock.runFor(10)
    }
    await clock.runFor(100)
    expect(ended.length).toBe(2000)
    expect(queue.timerCount).toBe(0)
    expect((queue as unknown as { queue: unknown[] }).queue.length).toBe(0)
  })
})
