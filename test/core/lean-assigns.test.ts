import { describe, expect, it } from 'vitest'
import { assign, createActor, emit, enqueueActions, setup } from 'xstate'
import { type LeanHost, LeanMachine } from '../../src/core/lean-machine.js'
import { thrownBy } from '../helpers/thrown.js'

/*
 * The lean runner's assigns (lean-machine.ts): a run of assigns one after another copies the
 * context once and writes the rest into that copy, where XState copies at each; no one can
 * tell, as no one has seen the copy yet. A context anyone has seen (the one before the event,
 * one an action or an emit was given, a machine's own initial one) is never written into,
 * and a field computed from the context still sees it as it was before its assign.
 */
interface Ctx {
  n: number
  x: number
  y: number
  a: string
  b: string
}

const host: LeanHost<never, unknown> = { emit: () => {} }

function consecutive(seen: object[]) {
  return setup({
    types: { context: {} as Ctx, events: {} as { type: 'go' } },
    actions: {
      rec: assign(({ context }) => {
        seen.push(context)
        return {}
      }),
      bump: assign(({ context }) => ({ n: context.n + 1 })),
      constants: assign({ x: 1, y: 2 }),
      count: assign({
        n: ({ context }) => {
          seen.push(context)
          return context.n * 10
        },
      }),
      swap: assign({ a: ({ context }) => context.b, b: ({ context }) => context.a }),
    },
  }).createMachine({
    context: { n: 1, x: 0, y: 0, a: 'A', b: 'B' },
    on: { go: { actions: ['rec', 'bump', 'rec', 'constants', 'count', 'rec', 'swap', 'rec'] } },
  })
}

describe('assigns in the lean runner', () => {
  it('a run of assigns copies once; one computing several fields copies; values as in XState', () => {
    const seen: object[] = []
    const machine = consecutive(seen)
    const lean = new LeanMachine(machine)
    const instance = lean.start(undefined, (state, context) => ({ state, context }), host)
    const before = instance.context
    const kept = structuredClone(before)
    lean.send(instance, { type: 'go' }, host)
    const [first, afterBump, inCount, afterCount, afterSwap] = seen
    expect(first).toBe(before)
    // rec's copy, which bump (a function), constants and count (one field) wrote into.
    expect(afterBump).not.toBe(before)
    expect(inCount).toBe(afterBump)
    expect(afterCount).toBe(afterBump)
    // swap computes two fields from the context: written into a copy, both from the old one.
    expect(afterSwap).not.toBe(afterCount)
    expect(instance.context).toBe(afterSwap)
    expect(before).toEqual(kept)
    const actor = createActor(consecutive([])).start()
    actor.send({ type: 'go' })
    expect(instance.context).toEqual(actor.getSnapshot().context)
    expect(instance.context).toEqual({ n: 20, x: 1, y: 2, a: 'B', b: 'A' })
  })

  it('an assign after an action or an emit that was given the context copies it', () => {
    const given: { context: Ctx; n: number }[] = []
    const keep = ({ context }: { context: Ctx }) => given.push({ context, n: context.n })
    const machine = setup({
      types: { context: {} as Ctx, events: {} as { type: 'go' }, emitted: {} as { type: 'n' } },
      actions: {
        bump: assign({ n: ({ context }) => context.n + 1 }),
        keep,
        say: emit(({ context }) => {
          keep({ context })
          return { type: 'n' as const }
        }),
      },
    }).createMachine({
      context: { n: 0, x: 0, y: 0, a: '', b: '' },
      on: { go: { actions: ['bump', 'keep', 'bump', 'say', 'bump'] } },
    })
    const lean = new LeanMachine(machine)
    const instance = lean.start(undefined, (state, context) => ({ state, context }), host)
    lean.send(instance, { type: 'go' }, host)
    expect(instance.context.n).toBe(3)
    expect(given.map((g) => [g.n, g.context.n])).toEqual([
      [1, 1],
      [2, 2],
    ])
  })

  it("never writes into a machine's own initial context, shared by every instance", () => {
    const initial = { n: 0, x: 0, y: 0, a: '', b: '' }
    const machine = setup({ types: { context: {} as Ctx } }).createMachine({
      context: initial,
      entry: [
        assign({ n: ({ context }) => context.n + 1 }),
        assign({ n: ({ context }) => context.n + 1 }),
      ],
    })
    const lean = new LeanMachine(machine)
    const one = lean.start(undefined, (state, context) => ({ state, context }), host)
    const two = lean.start(undefined, (state, context) => ({ state, context }), host)
    expect([one.context.n, two.context.n]).toEqual([2, 2])
    expect(one.context).not.toBe(two.context)
    expect(initial.n).toBe(0)
  })

  it('an assign of a constant and a field computed from the context, right after another, computes from the context as it was', () => {
    const mixed = () =>
      setup({
        types: { context: {} as Ctx, events: {} as { type: 'go' } },
        actions: {
          bump: assign({ n: ({ context }) => context.n + 1 }),
          // x is written before y is computed: y must still read the x of before the assign.
          mix: assign({ x: 7, y: ({ context }) => context.x }),
        },
      }).createMachine({
        context: { n: 1, x: 3, y: 0, a: 'A', b: 'B' },
        on: { go: { actions: ['bump', 'mix'] } },
      })
    const lean = new LeanMachine(mixed())
    const instance = lean.start(undefined, (state, context) => ({ state, context }), host)
    lean.send(instance, { type: 'go' }, host)
    const actor = createActor(mixed()).start()
    actor.send({ type: 'go' })
    // Strict: no field but the machine's own (an assign writes exactly its keys).
    expect(instance.context).toStrictEqual(actor.getSnapshot().context)
    expect(instance.context).toStrictEqual({ n: 2, x: 7, y: 3, a: 'A', b: 'B' })
  })

  describe('owned contexts (a holder that keeps none across a step)', () => {
    const counting = () =>
      setup({
        types: { context: {} as Ctx, events: {} as { type: 'go' } | { type: 'mix' } },
        actions: {
          bump: assign({ n: ({ context }) => context.n + 1 }),
          name: assign(({ context }) => ({ a: `n${context.n}` })),
          bumpQueued: enqueueActions(({ enqueue }) => {
            enqueue.assign({ x: ({ context }) => context.x + 1 })
          }),
          mix: assign({ x: 7, y: ({ context }) => context.x }),
        },
      }).createMachine({
        context: () => ({ n: 0, x: 0, y: 0, a: '', b: '' }),
        // Targetless eventless transitions that only assign: taken again while they assign.
        always: [
          { guard: ({ context }) => context.n < 3, actions: 'bump' },
          { guard: ({ context }) => context.x < 2, actions: 'bumpQueued' },
        ],
        on: { go: { actions: ['bump', 'name', 'bump'] }, mix: { actions: 'mix' } },
      })

    it('every assign writes into the instance own context; values, and eventless steps, as in XState', () => {
      const lean = new LeanMachine(counting(), { owned: true })
      const instance = lean.start(undefined, (state, context) => ({ state, context }), host)
      const own = instance.context
      const actor = createActor(counting()).start()
      // An assign in place is a change: the eventless transitions run until they assign no more.
      expect(instance.context).toStrictEqual(actor.getSnapshot().context)
      expect(instance.context).toStrictEqual({ n: 3, x: 2, y: 0, a: '', b: '' })
      lean.send(instance, { type: 'go' }, host)
      actor.send({ type: 'go' })
      expect(instance.context).toBe(own)
      expect(instance.context).toStrictEqual(actor.getSnapshot().context)
      expect(instance.context).toStrictEqual({ n: 5, x: 2, y: 0, a: 'n4', b: '' })
      // Two fields, one computed from a field the other writes: still from the context as it was.
      lean.send(instance, { type: 'mix' }, host)
      actor.send({ type: 'mix' })
      expect(instance.context).toStrictEqual(actor.getSnapshot().context)
      expect(instance.context).toMatchObject({ x: 7, y: 2 })
    })

    it('without the option, the context before an event is never written into', () => {
      const lean = new LeanMachine(counting())
      const instance = lean.start(undefined, (state, context) => ({ state, context }), host)
      const before = instance.context
      lean.send(instance, { type: 'go' }, host)
      expect(instance.context).not.toBe(before)
      expect(before).toStrictEqual({ n: 3, x: 2, y: 0, a: '', b: '' })
    })

    it('is refused for a machine whose one context object every instance would share', () => {
      const shared = setup({ types: { context: {} as Ctx } }).createMachine({
        context: { n: 0, x: 0, y: 0, a: '', b: '' },
      })
      expect(thrownBy(() => new LeanMachine(shared, { owned: true })).message).toMatch(
        /owned contexts/,
      )
      expect(() => new LeanMachine(shared)).not.toThrow()
    })
  })
})
