import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { drain, Prng, runScenario, VirtualClock } from '../../sim/index.js'
import { rejectionOf } from '../helpers/thrown.js'

/**
 * The virtual clock runs many tasks per event-loop turn (one per immediate: Node runs every
 * promise job and next-tick between two). That must not change a run: each task still runs
 * only once everything the one before started has, so the order of tasks, jobs and ticks is
 * the one a turn per task gives — the reference here is `step()`, which waits a whole turn.
 */

/**
 * Tasks that start promise jobs, next-ticks, jobs from ticks and ticks from jobs, new tasks
 * (some at the same instant, some from jobs) and cancel others, each drawn from one PRNG as
 * it runs: a different interleaving draws differently, and the trace shows it at once.
 */
function program(clock: VirtualClock, seed: number): string[] {
  const log: string[] = []
  const prng = new Prng(seed)
  const handles: unknown[] = []
  let made = 0
  const spawn = (id: string, delay: number): void => {
    if (made++ < 150) handles.push(clock.setTimeout(task(id), delay))
  }
  const task = (id: string) => (): void => {
    log.push(`task ${id} at ${clock.now()}`)
    const n = prng.int(0, 4)
    for (let i = 0; i < n; i++) {
      const tag = `${id}.${i}`
      const kind = prng.int(0, 4)
      if (kind === 0) {
        queueMicrotask(() => {
          log.push(`job ${tag} ${prng.int(0, 9)}`)
          process.nextTick(() => log.push(`tick from job ${tag}`))
        })
      } else if (kind === 1) {
        process.nextTick(() => {
          log.push(`tick ${tag} ${prng.int(0, 9)}`)
          void Promise.resolve().then(() => log.push(`job from tick ${tag}`))
        })
      } else if (kind === 2) {
        spawn(tag, prng.int(0, 3))
      } else if (kind === 3) {
        void Promise.resolve()
          .then(() => undefined)
          .then(() => {
            log.push(`late job ${tag}`)
            spawn(`${tag}'`, 0)
          })
      } else if (handles.length > 0) {
        clock.clearTimeout(handles[prng.int(0, handles.length - 1)])
      }
    }
  }
  for (let i = 0; i < 8; i++) spawn(`${i}`, prng.int(0, 6))
  return log
}

/** The reference: a whole event-loop turn after each task. */
async function turnPerTask(clock: VirtualClock, until: number): Promise<void> {
  await drain()
  for (let at = clock.nextAt(); at !== null && at <= until; at = clock.nextAt()) {
    await clock.step()
  }
}

describe('the virtual clock, many tasks per event-loop turn', () => {
  it('runs tasks, promise jobs and next-ticks in the order a turn per task does', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.constantFrom(1, 2, 7, 64),
        async (seed, tasksPerTurn) => {
          const reference = new VirtualClock()
          const expected = program(reference, seed)
          await turnPerTask(reference, 40)
          const clock = new VirtualClock({ tasksPerTurn })
          const log = program(clock, seed)
          await clock.runUntil(40)
          expect(log).toEqual(expected)
          expect(clock.events).toBe(reference.events)
          expect(clock.pending).toBe(reference.pending)
        },
      ),
      { numRuns: 60 },
    )
  })

  it('stops as soon as asked, between two tasks of one turn, the time left where it was', async () => {
    const clock = new VirtualClock({ tasksPerTurn: 64 })
    const ran: number[] = []
    for (let i = 0; i < 10; i++) clock.setTimeout(() => ran.push(i), i)
    await clock.runUntil(100, () => ran.length === 3)
    expect(ran).toEqual([0, 1, 2])
    expect(clock.now()).toBe(2)
    expect(clock.pending).toBe(7)
    await clock.runUntil(100)
    expect(ran).toHaveLength(10)
    expect(clock.now()).toBe(100)
  })

  it("rejects with a task's error and runs no task after it", async () => {
    const clock = new VirtualClock({ tasksPerTurn: 64 })
    const ran: number[] = []
    clock.setTimeout(() => ran.push(0), 0)
    clock.setTimeout(() => {
      throw new Error('task failed')
    }, 1)
    clock.setTimeout(() => ran.push(2), 1)
    expect((await rejectionOf(clock.runUntil(10))).message).toBe('task failed')
    expect(ran).toEqual([0])
    expect(clock.now()).toBe(1)
    expect(clock.pending).toBe(1)
  })

  it('settles a promise with exactly the tasks it takes, however many a turn runs', async () => {
    const settled = async (tasksPerTurn: number) => {
      const clock = new VirtualClock({ tasksPerTurn })
      for (let i = 1; i <= 50; i++) clock.setTimeout(() => {}, i)
      const value = new Promise<string>((resolve) => clock.setTimeout(() => resolve('done'), 17))
      return { value: await clock.settle(value), events: clock.events, now: clock.now() }
    }
    const one = await settled(1)
    expect(one).toEqual({ value: 'done', events: 18, now: 17 })
    expect(await settled(64)).toEqual(one)
  })

  it('replays whole scenarios as a turn per task does: stand-in, real Noise, both transports', async () => {
    const cases = [
      { seed: 4242, peers: 6, topics: 2, steps: 50 },
      { seed: 11, peers: 4, topics: 2, steps: 30, realNoise: true },
      {
        seed: 1716848175,
        peers: 6,
        topics: 2,
        steps: 50,
        transports: ['udx', 'tcp'] as const,
        lanPartition: true,
      },
    ]
    for (const opts of cases) {
      const reference = await runScenario({ ...opts, tasksPerTurn: 1 })
      expect(reference.events).toBeGreaterThan(100)
      expect(await runScenario(opts)).toEqual(reference)
    }
  })
})
