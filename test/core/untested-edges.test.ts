import { describe, expect, it } from 'vitest'
import { type AnyStateMachine, cancel, createActor, raise, setup } from 'xstate'
import { bytesToHex } from '../../src/core/keys.js'
import { LeanMachine, type LeanState } from '../../src/core/lean-machine.js'
import { NetworkerCore } from '../../src/core/networker-core.js'
import { TimerQueue } from '../../src/core/timer-queue.js'
import { thrownBy } from '../helpers/thrown.js'

/**
 * Edges of the core that the full mutation run of this stop found no test for: each test
 * here fails under a mutant that survived that run.
 */
const KEY_HIGH = 'ee'.repeat(32)
const KEY_LOW = '11'.repeat(32)
const record = <C>(state: LeanState, context: C) => ({ state, context })

describe('hex', () => {
  it('converts bytes of any length, not only 32-byte keys', () => {
    for (const length of [0, 1, 16, 31, 32, 33, 64]) {
      const bytes = Uint8Array.from({ length }, (_, i) => (i * 37 + 11) % 256)
      expect(bytesToHex(bytes)).toBe(Buffer.from(bytes).toString('hex'))
    }
  })
})

describe('the timer queue', () => {
  it('fires timers due at the same instant in the order they were set', () => {
    const queue = new TimerQueue()
    const fired: number[] = []
    for (let i = 0; i < 24; i++) queue.setTimeout(() => fired.push(i), i % 3 === 0 ? 5 : 10)
    queue.advance(10)
    const early = fired.filter((i) => i % 3 === 0)
    expect(fired).toEqual([...early, ...fired.filter((i) => i % 3 !== 0)])
    expect(early).toEqual([0, 3, 6, 9, 12, 15, 18, 21])
    expect(fired.slice(early.length)).toEqual(
      Array.from({ length: 24 }, (_, i) => i).filter((i) => i % 3 !== 0),
    )
  })
})

describe('the core', () => {
  it('learns its local key once: a later key does not replace it', () => {
    const core = new NetworkerCore({ localKey: null, authenticate: false })
    expect(core.localKey).toBeNull()
    core.identify(KEY_HIGH)
    expect(core.localKey).toBe(KEY_HIGH)
    core.identify(KEY_LOW)
    expect(core.localKey).toBe(KEY_HIGH)
  })

  it('ignores a flush result for a topic it never configured while a connection is pending', () => {
    const core = new NetworkerCore({ localKey: KEY_HIGH, authenticate: true })
    const opened = {
      type: 'connection-opened',
      connectionId: 1,
      remoteKey: KEY_LOW,
      isInitiator: true,
    } as const
    core.handle(opened, 0)
    expect(core.handle({ type: 'swarm-flushed', topic: 'ab'.repeat(32), op: 0 }, 1)).toEqual([])
  })
})

const opened = (connectionId: number, remoteKey: string, isInitiator: boolean) =>
  ({ type: 'connection-opened', connectionId, remoteKey, isInitiator }) as const

describe('the core and its connections', () => {
  it('drops a connection to itself, one before its key is known, and one after it closed', () => {
    const self = new NetworkerCore({ localKey: KEY_HIGH, authenticate: false })
    expect(self.handle(opened(1, KEY_HIGH, true), 0)).toEqual([
      { type: 'drop-connection', connectionId: 1, remoteKey: KEY_HIGH, reason: 'closing' },
    ])
    const nameless = new NetworkerCore({ localKey: null, authenticate: false })
    expect(nameless.handle(opened(1, KEY_LOW, true), 0)).toEqual([
      { type: 'drop-connection', connectionId: 1, remoteKey: KEY_LOW, reason: 'closing' },
    ])
    const closed = new NetworkerCore({ localKey: KEY_HIGH, authenticate: false })
    closed.handle({ type: 'close', requestId: 1 }, 0)
    expect(closed.handle(opened(2, KEY_LOW, true), 0)).toEqual([
      { type: 'drop-connection', connectionId: 2, remoteKey: KEY_LOW, reason: 'closing' },
    ])
    expect(self.peers()).toEqual([])
    expect(nameless.peers()).toEqual([])
  })

  it('a newcomer that outranks the candidate gets a whole deadline of its own', () => {
    const core = new NetworkerCore({
      localKey: KEY_HIGH,
      authenticate: false,
      candidateTimeout: 1000,
    })
    core.handle(opened(1, KEY_LOW, true), 0)
    core.handle({ type: 'connection-data', connectionId: 1 }, 0)
    // c1 is kept and active: c2 becomes the candidate, its deadline at 1000.
    expect(core.handle(opened(2, KEY_LOW, false), 0)).toEqual([])
    // The local key is the larger: c3, which we dialed, outranks c2 and takes its place.
    expect(core.handle(opened(3, KEY_LOW, true), 500)).toEqual([
      { type: 'drop-connection', connectionId: 2, remoteKey: KEY_LOW, reason: 'duplicate' },
    ])
    expect(core.nextDeadline()).toBe(1500)
    expect(core.handle({ type: 'tick' }, 1000)).toEqual([])
    expect(core.handle({ type: 'tick' }, 1500)).toEqual([
      { type: 'drop-connection', connectionId: 3, remoteKey: KEY_LOW, reason: 'duplicate' },
    ])
    expect(core.peers()).toEqual([{ remoteKey: KEY_LOW, connectionId: 1 }])
  })
})

describe('the core at a forced close', () => {
  it('drops only the connections still open: a candidate that closed is not dropped again', () => {
    const core = new NetworkerCore({ localKey: KEY_HIGH, authenticate: false })
    core.handle(opened(1, KEY_LOW, true), 0)
    core.handle({ type: 'connection-data', connectionId: 1 }, 0)
    core.handle(opened(2, KEY_LOW, false), 0)
    expect(core.handle({ type: 'connection-closed', connectionId: 2 }, 1)).toEqual([])
    core.handle({ type: 'close', requestId: 1, timeout: 100 }, 2)
    const forced = core.handle({ type: 'tick' }, 102)
    expect(forced.filter((e) => e.type === 'drop-connection')).toEqual([
      { type: 'drop-connection', connectionId: 1, remoteKey: KEY_LOW, reason: 'closing' },
    ])
  })
})

describe('the lean runner', () => {
  it("runs the initial entry actions with XState's init event, its input included", () => {
    const seen: unknown[] = []
    const machine = setup({
      types: { input: {} as { k: number } },
      actions: { note: ({ event }) => void seen.push(event) },
    }).createMachine({ initial: 'a', states: { a: { entry: 'note' } } })
    new LeanMachine(machine).start({ k: 1 }, record, { emit: () => {} })
    expect(seen).toEqual([{ type: 'xstate.init', input: { k: 1 } }])
  })

  it('gives a delayed raise the event its function makes, and a cancel the id its function makes', () => {
    const machine = setup({
      types: {
        context: {} as { n: number },
        events: {} as { type: 'made'; n: number },
      },
    }).createMachine({
      context: { n: 7 },
      initial: 'a',
      states: {
        a: {
          entry: [
            raise(({ context }) => ({ type: 'made' as const, n: context.n }), {
              delay: 5,
              id: 'r',
            }),
            cancel(({ context }) => `c${context.n}`),
          ],
        },
      },
    })
    const scheduled: unknown[] = []
    const cancelled: string[] = []
    new LeanMachine(machine).start(undefined, record, {
      emit: () => {},
      schedule: (_instance, id, delay, event) => void scheduled.push([id, delay, event]),
      cancel: (_instance, id) => void cancelled.push(id),
    })
    expect(scheduled).toEqual([['r', 5, { type: 'made', n: 7 }]])
    expect(cancelled).toEqual(['c7'])
  })

  it('refuses a transition to several states', () => {
    const machine = setup({}).createMachine({
      initial: 'a',
      states: { a: { on: { go: { target: ['b', 'c'] } } }, b: {}, c: {} },
    })
    expect(thrownBy(() => new LeanMachine(machine)).message).toContain(
      'a transition to several states',
    )
  })

  it('enters and exits as XState does: a transition to its own state or into its child', () => {
    const run = (machine: AnyStateMachine, seen: string[], events: string[], lean: boolean) => {
      if (lean) {
        const runner = new LeanMachine(machine)
        const host = { emit: () => {} }
        const instance = runner.start(undefined, record, host)
        for (const type of events) runner.send(instance, { type }, host)
      } else {
        const actor = createActor(machine).start()
        for (const type of events) actor.send({ type })
      }
      return seen
    }
    const make = (seen: string[]) =>
      setup({
        actions: {
          inA: () => void seen.push('in a'),
          outA: () => void seen.push('out a'),
          inB: () => void seen.push('in b'),
          outB: () => void seen.push('out b'),
          inC: () => void seen.push('in c'),
        },
      }).createMachine({
        initial: 'a',
        states: {
          a: {
            entry: 'inA',
            exit: 'outA',
            on: { self: { target: 'a' }, again: { target: 'a', reenter: true }, down: 'b' },
          },
          b: {
            entry: 'inB',
            exit: 'outB',
            initial: 'x',
            on: { child: '.y', outer: { target: '.y', reenter: true } },
            states: { x: {}, y: { entry: 'inC' } },
          },
        },
      })
    const events = ['self', 'again', 'down', 'child', 'outer']
    const xstate: string[] = []
    const lean: string[] = []
    run(make(xstate), xstate, events, false)
    run(make(lean), lean, events, true)
    expect(xstate).toEqual([
      'in a',
      'out a',
      'in a',
      'out a',
      'in b',
      'in c',
      'out b',
      'in b',
      'in c',
    ])
    expect(lean).toEqual(xstate)
  })

  it('a cancel on a host that keeps no timers does nothing', () => {
    const machine = setup({}).createMachine({ initial: 'a', states: { a: { entry: cancel('x') } } })
    expect(() =>
      new LeanMachine(machine).start(undefined, record, { emit: () => {} }),
    ).not.toThrow()
  })
})
