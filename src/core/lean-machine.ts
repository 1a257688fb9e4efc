import type {
  AnyStateMachine,
  AnyStateNode,
  ContextFrom,
  EmittedFrom,
  EventFromLogic,
  EventObject,
  InputFrom,
} from 'xstate'
import { type Assigner, assigned, assigner } from './lean-assign.js'
import { ActionQueues } from './lean-queue.js'
import { descendantsOf, initialMicrostep, microstep, type TransitionDef } from './lean-sets.js'

/**
 * Runs an XState machine (made with `setup().createMachine`) on plain data: an instance is
 * its state and its context, nothing more, and an event is a lookup, the guards, and the
 * actions of the transition taken. XState's own interpreter builds snapshots and walks the
 * SCXML sets on every event (about 6 µs a transition on an idle machine, and a started actor
 * holds about 4 KB); the core handles an event per connection and holds an instance per
 * topic and peer, so it runs them here instead. The machine stays the definition: its
 * states, transitions, guards and actions are read from the StateNodes XState built, and
 * the exit and entry sets of each (state, transition) pair are computed once, by the same
 * rules as XState's `microstep`. test/core/lean-machine.test.ts runs every machine of the
 * core here and in XState side by side and requires the same states, contexts, emitted
 * events and delays.
 *
 * What is supported is what a pure core needs: atomic and compound states, transitions
 * with guards (named, inline, with params), `reenter`, `always`, `after` (delays named or
 * numbers), entry and exit actions, and the actions `assign`, `emit` and `enqueueActions`
 * (enqueueing those, named actions, and `check`). A machine using anything else (parallel,
 * history or final states, invoke, wildcard events, raise without a delay, sendTo, spawn,
 * higher-order guards) is refused when it is compiled, or when the action first runs.
 */

/** An instance of a machine: the only state the core keeps for it. */
export interface Instance<TContext> {
  state: LeanState
  context: TContext
}

/** Where an instance is: one atomic state of its machine. */
export interface LeanState {
  /** The state's path from the root, '.'-joined: 'joined', 'connected.contested'. */
  readonly name: string
  /** Its top-level state's key. */
  readonly top: string
}

/** What running an instance asks of its holder. */
export interface LeanHost<TEvent, TEmitted> {
  emit(effect: TEmitted): void
  /**
   * XState's delayed raise (from `after`): deliver `event` to `instance` in `delay` ms. A
   * host for machines without delays leaves it out.
   */
  schedule?(instance: object, id: string, delay: number, event: TEvent): void
  cancel?(instance: object, id: string): void
}

type Fn = (...args: unknown[]) => unknown
type Kind = 'assign' | 'emit' | 'enqueue' | 'raise' | 'cancel' | 'custom'
/** An action resolved once: what it does (`kind`), with what (`payload`), and its params. */
interface Action {
  kind: Kind
  payload: unknown
  params: unknown
  /** Params given as a function of { context, event }. */
  dynamic: boolean
}
interface Guard {
  fn: Fn
  params: unknown
  dynamic: boolean
}
interface Plan {
  /** Exit actions, the transition's actions, entry actions (with initial ones), in order. */
  steps: readonly Action[]
  to: Node | null
}
interface Transition {
  def: TransitionDef
  guard: Guard | null
  plans: Map<Node, Plan>
  /** The plan of a targetless transition (its actions alone), the same from every state. */
  targetless: Plan | null
}
interface Node extends LeanState {
  sn: AnyStateNode
  on: Map<string, Transition[]>
  always: Transition[]
}

type Builtin = Fn & { type?: string; resolve?: unknown } & Record<string, unknown>
type Host<T extends AnyStateMachine> = LeanHost<EventFromLogic<T>, EmittedFrom<T>>

/** What the shared argument objects hold between uses: never read. */
const NO_EVENT: EventObject = { type: '' }

const unsupported = (what: string): Error =>
  new Error(`lean-machine: ${what} is not supported (see src/core/lean-machine.ts)`)

/**
 * `owned`: the holder owns its instances' contexts, and nothing (the holder between events,
 * an action, a guard, an emit) keeps one past the moment it is given it. Every assign then
 * writes into the context, as none can tell: an event changes no object but its instance's
 * own context, and a table of thousands of idle instances makes no garbage and promotes no
 * copy when every one of them steps (a close). Needs a context made per instance (a function).
 */
export interface LeanOptions {
  owned?: boolean
}

export class LeanMachine<TMachine extends AnyStateMachine> {
  private readonly nodes = new Map<AnyStateNode, Node>()
  private readonly transitions = new Map<object, Transition>()
  private readonly implementations: {
    actions: Record<string, unknown>
    guards: Record<string, unknown>
    delays: Record<string, unknown>
  }
  private readonly root: AnyStateNode
  private readonly initialPlan: Plan
  /** Actions queued by the enqueueActions being collected (collects never nest). */
  private readonly queues = new ActionQueues<Action>()
  /** What `check` in that collect evaluates against. */
  private checking: { context: unknown; event: EventObject } = {
    context: null,
    event: NO_EVENT,
  }
  private readonly guardArgs: { context: unknown; event: EventObject } = {
    context: null,
    event: NO_EVENT,
  }
  private readonly actionArgs: { context: unknown; event: EventObject } = {
    context: null,
    event: NO_EVENT,
  }
  private readonly checkNow = (guard: unknown): boolean =>
    this.check(this.guard(guard), this.checking.context, this.checking.event)
  private readonly enqueue: ((action: unknown) => void) & Record<string, unknown>
  /** What an enqueueActions collect is given: its context and event set before each. */
  private readonly collectArgs: { context: unknown; event: EventObject; enqueue: Fn; check: Fn }

  private readonly owned: boolean

  constructor(
    readonly machine: TMachine,
    options: LeanOptions = {},
  ) {
    this.root = machine.root
    this.implementations = machine.implementations
    this.owned = options.owned === true
    // One context object shared by every instance cannot be written into.
    if (this.owned && typeof machine.config.context !== 'function') {
      throw unsupported('owned contexts without a context function')
    }
    for (const sn of descendantsOf(this.root)) {
      if (sn.type !== 'atomic' && sn.type !== 'compound') throw unsupported(`a ${sn.type} state`)
      if (sn.invoke.length > 0) throw unsupported('invoke')
    }
    for (const sn of descendantsOf(this.root)) if (sn.type === 'atomic') this.node(sn)
    this.initialPlan = this.planInitial()
    const queue = (action: Action): void => {
      this.queues.push(action)
    }
    const enqueue: Record<string, unknown> = {
      assign: (assignment: unknown) =>
        queue({ kind: 'assign', payload: assigner(assignment), params: undefined, dynamic: false }),
      emit: (event: unknown) =>
        queue({ kind: 'emit', payload: event, params: undefined, dynamic: false }),
    }
    for (const name of ['cancel', 'raise', 'sendTo', 'sendParent', 'spawnChild', 'stopChild']) {
      enqueue[name] = () => {
        throw unsupported(`enqueue.${name}`)
      }
    }
    this.enqueue = Object.assign((action: unknown) => queue(this.action(action)), enqueue)
    this.collectArgs = {
      context: null,
      event: NO_EVENT,
      enqueue: this.enqueue,
      check: this.checkNow,
    }
  }

  /**
   * Makes an instance in the machine's initial state: `make` builds the holder's record
   * from the initial state and context, then the initial entry actions and eventless
   * transitions run on it.
   */
  start<R extends Instance<ContextFrom<TMachine>>>(
    input: InputFrom<TMachine>,
    make: (state: LeanState, context: ContextFrom<TMachine>) => R,
    host: Host<TMachine>,
  ): R {
    const config = this.machine.config.context as unknown
    const context = (
      typeof config === 'function' ? (config as Fn)({ input }) : config
    ) as ContextFrom<TMachine>
    const instance = make(this.initialPlan.to as Node, context)
    const event = { type: 'xstate.init', input }
    this.run(this.initialPlan.steps, this.initialPlan.steps.length, instance, event, host)
    this.settle(instance, event, host)
    return instance
  }

  /** Handles one event: the first enabled transition, then eventless ones until none is. */
  send(
    instance: Instance<ContextFrom<TMachine>>,
    event: EventFromLogic<TMachine>,
    host: Host<TMachine>,
  ): void {
    const candidates = (instance.state as Node).on.get(event.type)
    if (candidates !== undefined) {
      const t = this.select(candidates, instance.context, event)
      if (t !== null) this.take(t, instance, event, host)
    }
    this.settle(instance, event, host)
  }

  /** The state named by its path ('connected.settled'), for tests and restored records. */
  state(name: string): LeanState {
    for (const node of this.nodes.values()) if (node.name === name) return node
    throw new Error(`lean-machine: no atomic state '${name}' in machine '${this.machine.id}'`)
  }

  // XState's macrostep: eventless transitions are looked for after every event, and again
  // after each one taken while it changed the state or the context.
  private settle(instance: Instance<unknown>, event: EventObject, host: Host<TMachine>): void {
    for (;;) {
      const always = (instance.state as Node).always
      if (always.length === 0) return
      const t = this.select(always, instance.context, event)
      if (t === null || !this.take(t, instance, event, host)) return
    }
  }

  private select(
    candidates: Transition[],
    context: unknown,
    event: EventObject,
  ): Transition | null {
    // Index loops: for...of here made an iterator and a result object per call (the core
    // runs this and `run` several times per event).
    for (let i = 0; i < candidates.length; i++) {
      const t = candidates[i] as Transition
      if (t.guard === null || this.check(t.guard, context, event)) return t
    }
    return null
  }

  /** Takes a transition; says whether the state or the context changed. */
  private take(
    t: Transition,
    instance: Instance<unknown>,
    event: EventObject,
    host: Host<TMachine>,
  ): boolean {
    const from = instance.state as Node
    const plan = t.targetless ?? t.plans.get(from) ?? this.plan(t, from)
    const changed = this.run(plan.steps, plan.steps.length, instance, event, host)
    instance.state = plan.to ?? from
    // XState's assign always makes a new context: any assign run is a change, even in place.
    return changed || instance.state !== from
  }

  private check(guard: Guard, context: unknown, event: EventObject): boolean {
    // One object for every guard: a guard reads what it is given and keeps none of it.
    const args = this.guardArgs
    args.context = context
    args.event = event
    const params = guard.dynamic ? (guard.params as Fn)(args) : guard.params
    return guard.fn(args, params) === true
  }

  /** Runs the first `count` actions in order; says whether any of them assigned. */
  private run(
    steps: readonly Action[],
    count: number,
    instance: Instance<unknown>,
    event: EventObject,
    host: Host<TMachine>,
  ): boolean {
    // The context the last action, an assign of this run, made: no other action has seen it
    // yet, so an assign right after it may write into it instead of copying it again. XState
    // copies at every assign; one copy per run of assigns cannot be told apart from that.
    let fresh: unknown = null
    let didAssign = false
    // One object for every action of the machine, its context and event set before each (a
    // run may nest, or an action send another event): an action reads what it is given and
    // keeps none of it (an enqueueActions collect has its own, collectArgs).
    const args = this.actionArgs
    for (let i = 0; i < count; i++) {
      const action = steps[i] as Action
      const context = instance.context
      const reuse = this.owned || context === fresh
      fresh = null
      args.context = context
      args.event = event
      const params = action.dynamic ? (action.params as Fn)(args) : action.params
      const payload = action.payload
      switch (action.kind) {
        case 'assign':
          fresh = assigned(context as object, payload as Assigner, args, params, reuse)
          instance.context = fresh
          didAssign = true
          break
        case 'emit':
          host.emit(
            (typeof payload === 'function'
              ? (payload as Fn)(args, params)
              : payload) as EmittedFrom<TMachine>,
          )
          break
        case 'enqueue': {
          const queued = this.queues.begin()
          this.checking = args
          // One object for every collect, as collects never nest: a collect reads what it is
          // given and keeps none of it.
          const collect = this.collectArgs
          collect.context = context
          collect.event = event
          ;(payload as Fn)(collect, params)
          const count = this.queues.queued
          if (this.run(queued as readonly Action[], count, instance, event, host)) didAssign = true
          this.queues.release(queued, count)
          break
        }
        case 'raise': {
          const raise = payload as Builtin
          const delay = this.delayOf(raise.delay, args, params)
          if (typeof delay !== 'number') throw unsupported('raise without a delay')
          if (host.schedule === undefined) throw unsupported('a delay with a host that keeps none')
          const e =
            typeof raise.event === 'function' ? (raise.event as Fn)(args, params) : raise.event
          host.schedule(instance, raise.id as string, delay, e as EventFromLogic<TMachine>)
          break
        }
        case 'cancel': {
          const id = typeof payload === 'function' ? (payload as Fn)(args, params) : payload
          host.cancel?.(instance, id as string)
          break
        }
        case 'custom':
          ;(payload as Fn)(args, params)
          break
      }
    }
    return didAssign
  }

  private delayOf(delay: unknown, args: object, params: unknown): unknown {
    const named = typeof delay === 'string' ? this.implementations.delays[delay] : delay
    return typeof named === 'function' ? (named as Fn)(args, params) : named
  }

  /** Resolves an action as XState does: inline, by name, or { type, params }. */
  private action(item: unknown): Action {
    const isObject = typeof item === 'object' && item !== null
    const name = typeof item === 'string' ? item : isObject ? (item as { type: string }).type : null
    const impl = (name === null ? item : this.implementations.actions[name]) as Builtin | undefined
    if (typeof impl !== 'function')
      throw new Error(`lean-machine: action '${name}' is not implemented`)
    const raw = isObject ? (item as { params?: unknown }).params : undefined
    const params = { params: raw, dynamic: typeof raw === 'function' }
    switch (impl.type) {
      case 'xstate.assign':
        return { kind: 'assign', payload: assigner(impl.assignment), ...params }
      case 'xstate.emit':
        return { kind: 'emit', payload: impl.event, ...params }
      case 'xstate.enqueueActions':
        return { kind: 'enqueue', payload: impl.collect, ...params }
      case 'xstate.raise':
        return { kind: 'raise', payload: impl, ...params }
      case 'xstate.cancel':
        return { kind: 'cancel', payload: impl.sendId, ...params }
    }
    if (impl.resolve !== undefined) throw unsupported(`the action ${impl.type}`)
    return { kind: 'custom', payload: impl, ...params }
  }

  /** Resolves a guard as XState does: inline, by name, or { type, params }. */
  private guard(item: unknown): Guard {
    const isObject = typeof item === 'object' && item !== null
    const name = typeof item === 'string' ? item : isObject ? (item as { type: string }).type : null
    const fn = (name === null ? item : this.implementations.guards[name]) as Builtin | undefined
    if (typeof fn !== 'function')
      throw new Error(`lean-machine: guard '${name}' is not implemented`)
    if ('check' in fn) throw unsupported('a higher-order guard (and, or, not)')
    const raw = isObject ? (item as { params?: unknown }).params : undefined
    return { fn, params: raw, dynamic: typeof raw === 'function' }
  }

  private node(sn: AnyStateNode): Node {
    const known = this.nodes.get(sn)
    if (known !== undefined) return known
    const node: Node = {
      sn,
      name: sn.path.join('.'),
      top: sn.path[0] ?? '',
      on: new Map(),
      always: [],
    }
    this.nodes.set(sn, node)
    // A child's transitions come before its parent's: XState asks the parent only when no
    // transition of the child is enabled.
    for (let at: AnyStateNode | undefined = sn; at !== undefined; at = at.parent) {
      for (const [type, defs] of at.transitions as Map<string, TransitionDef[]>) {
        if (type.includes('*')) throw unsupported(`the wildcard event '${type}'`)
        const list = node.on.get(type) ?? []
        for (const def of defs) list.push(this.transition(def))
        node.on.set(type, list)
      }
      for (const def of (at.always ?? []) as TransitionDef[]) node.always.push(this.transition(def))
    }
    return node
  }

  private transition(def: TransitionDef): Transition {
    const known = this.transitions.get(def)
    if (known !== undefined) return known
    if ((def.target?.length ?? 0) > 1) throw unsupported('a transition to several states')
    const t: Transition = {
      def,
      guard: def.guard === undefined ? null : this.guard(def.guard),
      plans: new Map(),
      targetless: null,
    }
    if (def.target === undefined || def.target.length === 0) {
      t.targetless = { steps: def.actions.map((a) => this.action(a)), to: null }
    }
    this.transitions.set(def, t)
    return t
  }

  /** XState's exit set, the transition's actions and its entry set, for one source state. */
  private plan(t: Transition, from: Node): Plan {
    const step = microstep(t.def, from.sn)
    if (step === null) throw unsupported('this transition')
    const plan: Plan = { steps: step.actions.map((a) => this.action(a)), to: this.node(step.to) }
    t.plans.set(from, plan)
    return plan
  }

  private planInitial(): Plan {
    const step = initialMicrostep(this.root)
    return { steps: step.actions.map((a) => this.action(a)), to: this.node(step.to) }
  }
}
