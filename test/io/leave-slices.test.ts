import b4a from 'b4a'
import { describe, expect, it } from 'vitest'
import type { KeyHex } from '../../src/core/keys.js'
import { Networker } from '../../src/index.js'
import { LEAVE_SLICE, LeaveSlices } from '../../src/io/leave-slices.js'
import { MemorySwarm } from '../helpers/memory-swarm.js'

const topic = (i: number): KeyHex => i.toString(16).padStart(64, '0')

describe("a close's leaves, a slice at a time", () => {
  it('starts the first slice at once and the rest in order, each slice after the answers to the one before, all in the same macrotask', async () => {
    const log: string[] = []
    const slices = new LeaveSlices((t, op) => {
      log.push(`start ${op}`)
      // A swarm that answers at once: the answer is handled a microtask later.
      Promise.resolve().then(() => log.push(`answer ${op}`))
      expect(t).toBe(topic(op))
    })
    const total = 2 * LEAVE_SLICE + 3
    for (let op = 1; op <= total; op++) slices.add(topic(op), op)
    // The first slice started within the calls; the rest wait.
    expect(log.filter((e) => e.startsWith('start'))).toHaveLength(LEAVE_SLICE)
    expect(slices.waiting).toBe(total - LEAVE_SLICE)
    // Every leave started and answered before the next macrotask.
    const atMacrotask = await new Promise<number>((resolve) =>
      setImmediate(() => resolve(log.length)),
    )
    expect(atMacrotask).toBe(2 * total)
    expect(slices.waiting).toBe(0)
    // Every leave started once, in the order given.
    const starts = log.filter((e) => e.startsWith('start')).map((e) => Number(e.slice(6)))
    expect(starts).toEqual(Array.from({ length: total }, (_, i) => i + 1))
    // The second slice's first start comes after every answer of the first slice.
    const secondStart = log.indexOf(`start ${LEAVE_SLICE + 1}`)
    expect(log.indexOf(`answer ${LEAVE_SLICE}`)).toBeLessThan(secondStart)
    const thirdStart = log.indexOf(`start ${2 * LEAVE_SLICE + 1}`)
    expect(log.indexOf(`answer ${2 * LEAVE_SLICE}`)).toBeLessThan(thirdStart)
  })

  it('a leave given while others wait goes behind them, and once all started the next one starts at once', async () => {
    const started: number[] = []
    const slices = new LeaveSlices((_t, op) => started.push(op))
    for (let op = 1; op <= LEAVE_SLICE + 1; op++) slices.add(topic(op), op)
    expect(started).toHaveLength(LEAVE_SLICE)
    await new Promise<void>((resolve) => setImmediate(resolve))
    expect(started).toHaveLength(LEAVE_SLICE + 1)
    // A new slice: the counter was reset when the waiting ones started.
    slices.add(topic(0), 0)
    expect(started.at(-1)).toBe(0)
  })

  it('a networker with more topics than a slice leaves every one of them on close, once each', async () => {
    const swarm = new MemorySwarm()
    const left: string[] = []
    const leave = swarm.leave.bind(swarm)
    swarm.leave = ((key: Buffer) => {
      left.push(b4a.toString(key, 'hex'))
      return leave()
    }) as typeof swarm.leave
    const networker = new Networker({ replicate: () => {} }, { swarm })
    const count = 2 * LEAVE_SLICE + 10
    const topics = Array.from({ length: count }, (_, i) => topic(i + 1))
    for (const t of topics) await networker.configure(t, { announce: true, lookup: true })
    const report = await networker.close()
    expect(report.unannounced).toEqual([])
    expect(left).toHaveLength(count)
    expect(new Set(left)).toEqual(new Set(topics))
    expect(networker.allStatuses()).toEqual([])
  })
})
