import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type AnyStateMachine,
  assign,
  type ContextFrom,
  createActor,
  createMachine,
  type EmittedFrom,
  type EventFromLogic,
  enqueueActions,
  type InputFrom,
  not,
  raise,
  sendTo,
  setup,
} from 'xstate'
import {
  type Instance,
  type LeanHost,
  LeanMachine,
  type LeanState,
} from '../../src/core/lean-machine.js'
import { lifeMachine } from '../../src/core/life-machine.js'
import { peerMachine } from '../../src/core/peer-machine.js'
import { type TimerHandle, TimerQueue } from '../../src/core/timer-queue.js'
import { topicMachine } from '../../src/core/topic-machine.js'
import { thrownBy } from '../helpers/thrown.js'

/**
 * The lean runner against XState itself: the same machine, the same events, in an XState
 * actor and in a LeanMachine instance side by side. After every event both must be in the
 * same state with equal contexts, have emitted the same events, and hold the same delays.
 */

/** XState's state value of a lean state: 'connected.contested' is { connected: 'contested' }. */
function stateValue(state: LeanState): unknown {
  const [head, ...rest] = state.name.split('.')
  return rest.length === 0
    ? head
    : { [head as string]: stateValue({ name: rest.join('.'), top: '' }) }
}

class SideBySide<M extends AnyStateMachine> {
  private readonly xClock = new TimerQueue()
  private readonly lClock = new TimerQueue()
  private readonly actor
  private readonly lean: LeanMachine<M>
  readonly instance: Instance<ContextFrom<M>>
  private readonly host: LeanHost<EventFromLogic<M>, EmittedFrom<M>>
  private readonly timers = new Map<string, TimerHandle>()
  readonly xLog: unknown[] = []
  readonly lLog: unknown[] = []
  private now = 0

  constructor(machine: M, input: InputFrom<M>) {
    this.actor = createActor(machine, { input, clock: this.xClock })
    this.actor.on('*', (e) => {
      this.xLog.push(e)
    })
    this.actor.start()
    this.lean = new LeanMachine(machine)
    this.host = {
      emit: (e) => {
        this.lLog.push(e)
      },
      schedule: (_instance, id, delay, event) => {
        const fire = () => {
          this.timers.delete(id)
          this.lean.send(this.instance, event, this.host)
        }
        this.timers.set(id, this.lClock.setTimeout(fire, delay))
      },
      cancel: (_instance, id) => {
        this.lClock.clearTimeout(this.timers.get(id))
        this.timers.delete(id)
      },
    }
    this.instance = this.lean.start(input, (state, context) => ({ state, context }), this.host)
    this.compare()
  }

  /** The actor's snapshot, as every machine here has one (a state value and a context). */
  get snapshot(): { value: unknown; context: ContextFrom<M> } {
    return this.actor.getSnapshot() as { value: unknown; context: ContextFrom<M> }
  }

  send(event: EventFromLogic<M>): void {
    this.actor.send(event)
    this.lean.send(this.instance, event, this.host)
    this.compare()
  }

  advance(ms: number): void {
    this.now += ms
    this.xClock.advance(this.now)
    this.lClock.advance(this.now)
    this.compare()
  }

  private compare(): void {
    const snap = this.snapshot
    expect(stateValue(this.instance.state)).toEqual(snap.value)
    expect(this.instance.context).toEqual(snap.context)
    expect(this.lLog).toEqual(this.xLog)
    expect(this.lClock.nextDeadline()).toBe(this.xClock.nextDeadline())
  }
}

const KEY_LOW = '11'.repeat(32)
const KEY_HIGH = 'ee'.repeat(32)
const error = { code: 'FLUSH_FAILED' as const, message: 'no' }

describe('the core machines run alike in XState and in the lean runner (property)', () => {
  it('topic', () => {
    const opDelta = fc.oneof(
      { arbitrary: fc.constant(0), weight: 4 },
      fc.integer({ min: -2, max: 1 }),
    )
    const step = fc.oneof(
      fc.record({
        type: fc.constant('configure' as const),
        requestId: fc.nat({ max: 20 }),
        announce: fc.boolean(),
        lookup: fc.boolean(),
        flush: fc.boolean(),
      }),
      fc.record({
        type: fc.constantFrom(
          'topic-joined' as const,
          'topic-left' as const,
          'flush-done' as const,
          'topic-join-failed' as const,
          'topic-leave-failed' as const,
          'flush-failed' as const,
        ),
        opDelta,
      }),
      fc.record({ type: fc.constantFrom('close' as const, 'force-close' as const) }),
      fc.record({
        type: fc.constant('expire' as const),
        requestId: fc.nat({ max: 20 }),
        error: fc.constant(error),
      }),
    )
    fc.assert(
      fc.property(fc.nat({ max: 5 }), fc.array(step, { maxLength: 40 }), (firstOp, steps) => {
        const pair = new SideBySide(topicMachine, { topic: KEY_LOW, firstOp })
        for (const s of steps) {
          if (!('opDelta' in s)) {
            pair.send(s)
            continue
          }
          const op = pair.snapshot.context.op + s.opDelta
          if (s.type.endsWith('failed')) pair.send({ type: s.type, op, error } as never)
          else pair.send({ type: s.type, op } as never)
        }
      }),
      { numRuns: 400 },
    )
  })

  it('peer', () => {
    const id = fc.integer({ min: 1, max: 4 })
    const step = fc.oneof(
      fc.record({
        type: fc.constant('admit' as const),
        connectionId: id,
        isInitiator: fc.boolean(),
        remoteData: fc.boolean(),
        handshakeHash: fc.option(fc.constantFrom('aa', 'bb', 'cc'), { nil: null }),
      }),
      fc.record({
        type: fc.constantFrom('connection-data' as const, 'connection-closed' as const),
        connectionId: id,
      }),
      fc.record({ type: fc.constant('close' as const) }),
      fc.record({ type: fc.constant('advance' as const), ms: fc.nat({ max: 150 }) }),
    )
    fc.assert(
      fc.property(fc.boolean(), fc.array(step, { maxLength: 40 }), (localHigh, steps) => {
        const pair = new SideBySide(peerMachine, {
          localKey: localHigh ? KEY_HIGH : KEY_LOW,
          remoteKey: localHigh ? KEY_LOW : KEY_HIGH,
          candidateTimeout: 100,
        })
        for (const s of steps) {
          if (s.type === 'advance') pair.advance(s.ms)
          else pair.send(s)
        }
      }),
      { numRuns: 400 },
    )
  })

  it('life', () => {
    const topics = fc.array(fc.constantFrom(KEY_LOW, KEY_HIGH), { maxLength: 2 })
    const step = fc.oneof(
      fc.record({ type: fc.constant('close' as const), requestId: fc.nat({ max: 9 }) }),
      fc.record({ type: fc.constant('drained' as const), unannounced: topics }),
      fc.record({ type: fc.constant('swarm-destroyed' as const) }),
      fc.record({
        type: fc.constant('force' as const),
        unannounced: topics,
        destroySwarm: fc.boolean(),
      }),
    )
    fc.assert(
      fc.property(fc.array(step, { maxLength: 20 }), (steps) => {
        const pair = new SideBySide(lifeMachine, undefined)
        for (const s of steps) pair.send(s)
      }),
      { numRuns: 200 },
    )
  })
})

/**
 * What the runner supports beyond what the core's machines use today, each against XState:
 * nested states and targets into them, reentering, guards and actions with params (given or
 * computed), `check`, enqueued named actions, numeric and named delays, eventless
 * transitions with and without a target, root entry and exit actions, and custom actions.
 */
const outside: string[] = []
const sink = setup({
  types: {
    context: {} as { n: number; seen: string[] },
    events: {} as
      | { type: 'go'; by: number }
      | { type: 'back' }
      | { type: 'again' }
      | { type: 'deep' }
      | { type: 'shout' }
      | { type: 'reset' }
      | { type: 'home' },
    emitted: {} as { type: 'said'; what: string },
    input: {} as { start: number },
  },
  delays: { soon: ({ context }) => 10 + context.n },
  guards: {
    over: ({ context }, params: { limit: number }) => context.n > params.limit,
    forward: ({ event }) => event.type === 'go' && event.by > 0,
  },
  actions: {
    add: assign({ n: ({ context, event }) => context.n + (event.type === 'go' ? event.by : 1) }),
    bump: assign({ n: ({ context }) => context.n + 1 }),
    note: assign(({ context }, params: { what: string }) => ({
      seen: [...context.seen, params.what],
    })),
    say: enqueueActions(({ context, enqueue, check }, params: { what: string }) => {
      enqueue.emit({ type: 'said', what: `${params.what}:${context.n}` })
      // Typed for guards and actions given inline; by name is what is exercised here.
      if (check({ type: 'over', params: { limit: 3 } } as never)) enqueue('add' as never)
      enqueue.assign(({ context: c }) => ({ seen: [...c.seen, 'said'] }))
    }),
    record: (_, params: { what: string }) => {
      outside.push(params.what)
    },
  },
}).createMachine({
  id: 'sink',
  context: ({ input }) => ({ n: input.start, seen: [] }),
  entry: { type: 'note', params: { what: 'root-entry' } },
  exit: { type: 'note', params: { what: 'root-exit' } },
  initial: 'a',
  on: {
    shout: { actions: { type: 'say', params: ({ context }) => ({ what: `n${context.n}` }) } },
    reset: { target: '.a', reenter: true },
  },
  states: {
    a: {
      entry: { type: 'record', params: { what: 'enter-a' } },
      exit: { type: 'note', params: { what: 'exit-a' } },
      on: {
        go: [
          { guard: { type: 'over', params: { limit: 5 } }, target: 'b.two' },
          { guard: 'forward', actions: 'add', target: 'b' },
          { actions: 'add' },
        ],
        again: { target: 'a', reenter: true },
      },
    },
    b: {
      initial: { target: 'one', actions: { type: 'note', params: { what: 'b-initial' } } },
      entry: { type: 'note', params: { what: 'enter-b' } },
      exit: { type: 'note', params: { what: 'exit-b' } },
      after: { 40: { target: 'a', actions: { type: 'note', params: { what: 'late' } } } },
      on: { back: 'a', again: { target: '.one', reenter: true } },
      states: {
        one: {
          exit: { type: 'note', params: { what: 'exit-one' } },
          after: { soon: 'two' },
          on: {
            deep: '#sink.b.two',
            go: { guard: ({ event }) => event.type === 'go' && event.by <= 0, target: 'two' },
          },
        },
        two: {
          entry: { type: 'note', params: ({ context }) => ({ what: `two@${context.n}` }) },
          always: [
            {
              guard: {
                type: 'over',
                params: ({ context }) => ({ limit: context.seen.length * 2 }),
              },
              target: 'three',
            },
            // +1 whatever the event: 'add' would add a 'go' event's `by` (≤ 0 on the way in
            // here) on every microstep, an eventless loop without end (an OOM, XState's too).
            { guard: ({ context }) => context.n < 0, actions: 'bump' },
          ],
          on: { again: { target: 'two', reenter: true } },
        },
        three: {
          always: { guard: ({ context }) => context.n > 100, target: '#sink.a' },
          on: {
            go: { actions: ['add', { type: 'note', params: { what: 'three' } }] },
            home: '#sink',
          },
        },
      },
    },
  },
})

describe('the lean runner beyond the core machines', () => {
  it('runs a machine with every supported feature alike (property)', () => {
    const step = fc.oneof(
      fc.record({ type: fc.constant('go' as const), by: fc.integer({ min: -3, max: 60 }) }),
      fc.record({
        type: fc.constantFrom(
          'back' as const,
          'again' as const,
          'deep' as const,
          'shout' as const,
          'reset' as const,
          'home' as const,
        ),
      }),
      fc.record({ type: fc.constant('advance' as const), ms: fc.nat({ max: 60 }) }),
    )
    fc.assert(
      fc.property(
        fc.integer({ min: -5, max: 8 }),
        fc.array(step, { maxLength: 30 }),
        (start, steps) => {
          outside.length = 0
          const pair = new SideBySide(sink, { start })
          for (const s of steps) {
            const before = outside.length
            if (s.type === 'advance') pair.advance(s.ms)
            else pair.send(s)
            // Custom actions run once per side: their effects come in pairs.
            expect((outside.length - before) % 2).toBe(0)
          }
        },
      ),
      { numRuns: 400 },
    )
  })

  it('names its states, and refuses a name it does not have', () => {
    const lean = new LeanMachine(peerMachine)
    expect(lean.state('connected.contested')).toMatchObject({
      name: 'connected.contested',
      top: 'connected',
    })
    expect(thrownBy(() => lean.state('connected')).message).toContain(
      "no atomic state 'connected' in machine 'peer'",
    )
  })

  it('refuses what it does not run, when compiled or when first run', () => {
    const s = setup({})
    // Configs the typings rightly reject, built untyped to see the runner refuse them too.
    const raw = (config: object) => createMachine(config as never)
    const refused: [AnyStateMachine, RegExp][] = [
      [s.createMachine({ type: 'parallel', states: { a: {}, b: {} } }), /a parallel state/],
      [s.createMachine({ initial: 'a', states: { a: { type: 'final' } } }), /a final state/],
      [
        s.createMachine({ initial: 'a', states: { a: {}, h: { type: 'history' } } }),
        /a history state/,
      ],
      [raw({ initial: 'a', states: { a: { invoke: { src: s.createMachine({}) } } } }), /invoke/],
      [
        s.createMachine({ initial: 'a', states: { a: { on: { '*': 'a' } } } }),
        /wildcard event '\*'/,
      ],
      [
        setup({ guards: { g: () => true } }).createMachine({
          initial: 'a',
          states: { a: { on: { e: { guard: not('g'), target: 'a' } } } },
        }),
        /higher-order guard/,
      ],
      [
        raw({ initial: 'a', states: { a: { on: { e: { guard: 'nope' } } } } }),
        /guard 'nope' is not implemented/,
      ],
      [raw({ initial: 'a', states: { a: { entry: 'nope' } } }), /action 'nope' is not implemented/],
      [
        s.createMachine({ initial: 'a', states: { a: { entry: sendTo('x', { type: 'y' }) } } }),
        /the action xstate.sendTo/,
      ],
    ]
    for (const [machine, message] of refused) {
      const refusal = thrownBy(() => {
        const lean = new LeanMachine(machine)
        lean.start(undefined, (state, context) => ({ state, context }), noHost)
      })
      expect(refusal.message).toMatch(message)
    }
  })

  it('refuses a delay when its host keeps none', () => {
    const { emit } = noHost
    expect(() =>
      new LeanMachine(peerMachine).start(
        { localKey: KEY_HIGH, remoteKey: KEY_LOW, candidateTimeout: 1 },
        (state, context) => ({ state, context }),
        { emit },
      ),
    ).not.toThrow()
    const delayed = setup({}).createMachine({ initial: 'a', states: { a: { after: { 5: 'a' } } } })
    expect(
      thrownBy(() =>
        new LeanMachine(delayed).start(undefined, (state, context) => ({ state, context }), {
          emit,
        }),
      ).message,
    ).toContain('a delay with a host that keeps none')
  })

  it('refuses a raise without a delay and enqueued actions it does not run, when they run', () => {
    const raising = setup({}).createMachine({
      initial: 'a',
      states: { a: { entry: raise({ type: 'x' }) } },
    })
    expect(
      thrownBy(() =>
        new LeanMachine(raising).start(undefined, (state, context) => ({ state, context }), noHost),
      ).message,
    ).toContain('raise without a delay')
    for (const name of ['cancel', 'raise', 'sendTo', 'sendParent', 'spawnChild', 'stopChild']) {
      const m = setup({}).createMachine({
        initial: 'a',
        states: {
          a: {
            entry: enqueueActions(({ enqueue }) => {
              ;(enqueue as unknown as Record<string, () => void>)[name]?.()
            }),
          },
        },
      })
      expect(
        thrownBy(() =>
          new LeanMachine(m).start(undefined, (state, context) => ({ state, context }), noHost),
        ).message,
      ).toContain(`enqueue.${name} is not supported`)
    }
  })
})

const noHost: LeanHost<never, never> = {
  emit: () => {},
  schedule: () => {},
  cancel: () => {},
}
