import { NetworkerCore } from '../../src/core/networker-core.js'
import type { CoreEffect, CoreEvent } from '../../src/core/protocol.js'

/**
 * Two cores, A and B, and connections between them, run through every interleaving of what
 * each end can observe — with data modelled as it travels: a connection carries, in order,
 * the remote's data from the moment the remote keeps it, and its close after that data. So
 * data the remote sent while it kept a connection still arrives after the remote dropped it
 * (the "stale data" of a remote that changed its mind), and may arrive before the connection
 * is admitted here (during authentication). dedup-interleavings.test.ts lets data arrive only
 * while the remote still keeps the connection, which hides that.
 *
 * Steps at an end X, each enabled only when it can happen:
 *  - open(X, c): c's handshake completes at X;
 *  - auth(X, c): X's verdict on c (accepted), when the world authenticates;
 *  - data(X, c): the remote's first data reaches X on c: the remote kept c at some point;
 *  - close(X, c): the remote dropped c, so X sees it close — after that data, if any;
 *  - tick(X): X's candidate deadline passes. The deadline (10 s) is longer than any delivery
 *    delay, so a tick is only taken once nothing else is in flight.
 * A world may start with A holding a stale connection: kept and active, to a process of B
 * that is gone (B starts afresh and never saw it), silent for good; or with a prelude of
 * steps, such as a connection up and active at both ends before another dial.
 */
export type End = 'A' | 'B'
export type Step =
  | { kind: 'open' | 'auth' | 'data' | 'close'; end: End; conn: number }
  | { kind: 'tick'; end: End }

export interface Conn {
  id: number
  /** Who dialed it. */
  initiator: End
  /** Its Noise handshake hash (equal at both ends), if the stream has one. */
  hash?: string
}

export interface WorldSetup {
  keyA: string
  keyB: string
  conns: Conn[]
  /** Connections wait for a verdict (`auth` steps), so data may arrive before admission. */
  authenticate: boolean
  /** A connection A keeps, active, whose other end died silently: it never closes. */
  stale?: Conn
  /** Steps taken before the exploration begins (a connection up at both ends, say). */
  prelude?: Step[]
}

const ENDS = ['A', 'B'] as const
const other = (end: End): End => (end === 'A' ? 'B' : 'A')

type Sets = Record<End, Set<number>>
const sets = (): Sets => ({ A: new Set(), B: new Set() })

export interface World {
  setup: WorldSetup
  cores: Record<End, NetworkerCore>
  opened: Sets
  authed: Sets
  /** Kept now. */
  kept: Sets
  /** Kept at some point: its data is on the wire to the other end. */
  sent: Sets
  dropped: Sets
  closed: Sets
  data: Sets
  now: Record<End, number>
  /** What each end observed, in order: equal histories, equal cores. */
  history: Record<End, string[]>
}

function apply(world: World, end: End, effects: CoreEffect[]): void {
  for (const effect of effects) {
    if (effect.type === 'keep-connection') {
      world.kept[end].add(effect.connectionId)
      world.sent[end].add(effect.connectionId)
    }
    if (effect.type === 'drop-connection') {
      world.kept[end].delete(effect.connectionId)
      world.dropped[end].add(effect.connectionId)
    }
  }
}

function openEvent(world: World, end: End, conn: Conn): CoreEvent {
  const { keyA, keyB } = world.setup
  return {
    type: 'connection-opened',
    connectionId: conn.id,
    remoteKey: end === 'A' ? keyB : keyA,
    isInitiator: conn.initiator === end,
    ...(conn.hash === undefined ? {} : { handshakeHash: conn.hash }),
  }
}

export function enabled(world: World): Step[] {
  const steps: Step[] = []
  const { authenticate } = world.setup
  for (const end of ENDS) {
    const there = other(end)
    for (const { id: conn } of world.setup.conns) {
      if (!world.opened[end].has(conn)) {
        steps.push({ kind: 'open', end, conn })
        continue
      }
      const live = !world.closed[end].has(conn)
      if (authenticate && live && !world.authed[end].has(conn)) {
        steps.push({ kind: 'auth', end, conn })
      }
      const inFlight = world.sent[there].has(conn) && !world.data[end].has(conn)
      if (live && inFlight) steps.push({ kind: 'data', end, conn })
      // In order: the close comes after whatever data was sent before it.
      if (live && !inFlight && world.dropped[there].has(conn)) {
        steps.push({ kind: 'close', end, conn })
      }
    }
  }
  if (steps.length > 0) return steps
  for (const end of ENDS) {
    if (world.cores[end].nextDeadline() !== null) steps.push({ kind: 'tick', end })
  }
  return steps
}

export function run(setup: WorldSetup, steps: Step[]): World {
  const world: World = {
    setup,
    cores: {
      A: new NetworkerCore({ localKey: setup.keyA, authenticate: setup.authenticate }),
      B: new NetworkerCore({ localKey: setup.keyB, authenticate: setup.authenticate }),
    },
    opened: sets(),
    authed: sets(),
    kept: sets(),
    sent: sets(),
    dropped: sets(),
    closed: sets(),
    data: sets(),
    now: { A: 0, B: 0 },
    history: { A: [], B: [] },
  }
  if (setup.stale !== undefined) {
    // Kept and active at A before the run; B's process that held it is gone.
    const a = world.cores.A
    const id = setup.stale.id
    apply(world, 'A', a.handle(openEvent(world, 'A', setup.stale), 0))
    const verdict = { type: 'connection-authenticated', connectionId: id, accepted: true } as const
    if (setup.authenticate) apply(world, 'A', a.handle(verdict, 0))
    apply(world, 'A', a.handle({ type: 'connection-data', connectionId: id }, 0))
  }
  for (const step of setup.prelude ?? []) take(world, step)
  for (const step of steps) take(world, step)
  return world
}

/** Runs on to quiescence, taking the first enabled step each time. */
export function finish(world: World): World {
  for (let next = enabled(world); next.length > 0; next = enabled(world)) {
    take(world, next[0] as Step)
  }
  return world
}

function take(world: World, step: Step): void {
  const { end } = step
  const core = world.cores[end]
  if (step.kind === 'tick') {
    world.now[end] = core.nextDeadline() ?? world.now[end]
    world.history[end].push(`tick@${world.now[end]}`)
    apply(world, end, core.handle({ type: 'tick' }, world.now[end]))
    return
  }
  const { conn } = step
  world.history[end].push(`${step.kind}${conn}`)
  const now = world.now[end]
  if (step.kind === 'open') {
    world.opened[end].add(conn)
    const c = world.setup.conns.find((x) => x.id === conn) as Conn
    apply(world, end, core.handle(openEvent(world, end, c), now))
  } else if (step.kind === 'auth') {
    world.authed[end].add(conn)
    const verdict = {
      type: 'connection-authenticated',
      connectionId: conn,
      accepted: true,
    } as const
    apply(world, end, core.handle(verdict, now))
  } else if (step.kind === 'data') {
    world.data[end].add(conn)
    apply(world, end, core.handle({ type: 'connection-data', connectionId: conn }, now))
  } else {
    world.closed[end].add(conn)
    world.kept[end].delete(conn)
    apply(world, end, core.handle({ type: 'connection-closed', connectionId: conn }, now))
  }
}

export interface Exploration {
  /** Distinct quiescent outcomes reached (pairs of histories). */
  leaves: number
  /** Each leaf where the ends do not keep the same single connection, with how it got there. */
  failures: string[]
}

/**
 * Depth-first over every enabled step. The two cores are deterministic, so a state is fixed
 * by what each end has observed, in order: a pair of histories seen before is not explored
 * again (interleavings that differ only in how the ends' steps alternate). A step's history
 * is known before it is taken, so a state seen before is not replayed to find that out; a
 * state's last step is taken on the state itself, the others on a replay of it.
 */
export function explore(setup: WorldSetup): Exploration {
  const seen = new Set<string>()
  let leaves = 0
  const failures: string[] = []
  const visit = (world: World, prefix: Step[]): void => {
    const next = enabled(world)
    if (next.length === 0) {
      leaves++
      const problem = judge(world)
      if (problem !== null) failures.push(`${problem} after ${stepsText(prefix)}`)
      return
    }
    next.forEach((step, i) => {
      const key = keyAfter(world, step)
      if (seen.has(key)) return
      seen.add(key)
      const child = i === next.length - 1 ? world : run(setup, prefix)
      take(child, step)
      // The prediction is what prunes: a wrong one would skip states, so it is checked.
      if (keyOf(child) !== key) throw new Error(`predicted ${key}, reached ${keyOf(child)}`)
      visit(child, [...prefix, step])
    })
  }
  const start = run(setup, [])
  seen.add(keyOf(start))
  visit(start, [])
  return { leaves, failures }
}

function keyOf(world: World): string {
  return `${world.history.A.join(' ')}|${world.history.B.join(' ')}`
}

/** The histories after `step`, without taking it: what `take` will record for it. */
function keyAfter(world: World, step: Step): string {
  const { end } = step
  const seen =
    step.kind === 'tick'
      ? `tick@${world.cores[end].nextDeadline() ?? world.now[end]}`
      : `${step.kind}${step.conn}`
  world.history[end].push(seen)
  const key = keyOf(world)
  world.history[end].pop()
  return key
}

/** Null when both ends keep the same single connection and list exactly it. */
export function judge(world: World): string | null {
  const a = [...world.kept.A].sort().join()
  const b = [...world.kept.B].sort().join()
  if (world.kept.A.size !== 1 || a !== b) return `A kept [${a}] B kept [${b}]`
  for (const end of ENDS) {
    const listed = world.cores[end].peers().map((p) => p.connectionId)
    if (listed.join() !== [...world.kept[end]].join()) return `${end} lists [${listed}]`
  }
  return null
}

export function stepsText(steps: Step[]): string {
  return steps.map((s) => `${s.kind}${s.end}${'conn' in s ? s.conn : ''}`).join(' ')
}
