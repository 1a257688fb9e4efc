import b4a from 'b4a'
import crypto from 'hypercore-crypto'
import { keepNewConnection } from '../src/core/dedup-rule.js'
import type { KeyHex } from '../src/core/keys.js'
import { NetworkerCore } from '../src/core/networker-core.js'
import type { ConnectionId, CoreEffect, CoreEvent } from '../src/core/protocol.js'
import {
  type Budget,
  interleaved,
  median,
  pairedRatio,
  roundRatios,
  seededBytes,
} from './harness.js'
import { opened, securePair } from './memory-swarm.js'
import { noiseHandshakeCpu } from './noise-cpu.js'
import { type Benchmark, type BenchmarkOutput, goal, type Row } from './types.js'

type OpenEvent = Extract<CoreEvent, { type: 'connection-opened' }>

interface Deduper {
  handle(event: CoreEvent, now: number): CoreEffect[]
}

/** Local key in the middle of the key space: about half the remote keys sort above it. */
const LOCAL_KEY: KeyHex = `80${'00'.repeat(31)}`
const DUPLICATE_EVERY = 10

interface Workload {
  keys: number
  opens: OpenEvent[]
  /** Connections: first opens plus duplicates. */
  connections: number
}

/**
 * `keys` remote keys, each opening one connection; every tenth key opens a second one a
 * few keys later with the other initiator, as a simultaneous dial does.
 */
function workload(keys: number, seed: number): Workload {
  const bytes = seededBytes(seed, keys * 33)
  const opens: OpenEvent[] = []
  const firsts: OpenEvent[] = []
  let id = 1
  for (let i = 0; i < keys; i++) {
    const key = b4a.toString(bytes.subarray(i * 33, i * 33 + 32), 'hex')
    const isInitiator = ((bytes[i * 33 + 32] as number) & 1) === 1
    const first: OpenEvent = {
      type: 'connection-opened',
      connectionId: id++,
      remoteKey: key,
      isInitiator,
    }
    firsts.push(first)
    opens.push(first)
    const dup = i - 5
    if (dup >= 0 && dup % DUPLICATE_EVERY === 0) {
      const earlier = firsts[dup] as OpenEvent
      opens.push({ ...earlier, connectionId: id++, isInitiator: !earlier.isInitiator })
    }
  }
  return { keys, opens, connections: opens.length }
}

interface Tally {
  events: number
  kept: number
  dropped: number
  added: number
  removed: number
}

/**
 * Feeds the workload as the I/O layer would: every open, a close right after each drop
 * (the dropped stream is destroyed and closes), and at the end a close of every kept
 * connection. The same loop drives both sides, so its own cost cancels out.
 */
function drive(dedup: Deduper, work: Workload): Tally {
  const tally: Tally = { events: 0, kept: 0, dropped: 0, added: 0, removed: 0 }
  const live = new Set<ConnectionId>()
  const closes: CoreEvent[] = []
  const feed = (event: CoreEvent): void => {
    tally.events++
    // No deadline is involved: time stands still.
    for (const effect of dedup.handle(event, 0)) {
      switch (effect.type) {
        case 'keep-connection':
          tally.kept++
          break
        case 'drop-connection':
          tally.dropped++
          live.delete(effect.connectionId)
          closes.push({ type: 'connection-closed', connectionId: effect.connectionId })
          break
        case 'peer-add':
          tally.added++
          break
        case 'peer-remove':
          tally.removed++
          break
        default:
          break
      }
    }
  }
  for (const open of work.opens) {
    live.add(open.connectionId)
    feed(open)
    for (let close = closes.pop(); close !== undefined; close = closes.pop()) feed(close)
  }
  for (const connectionId of live) {
    feed({ type: 'connection-closed', connectionId })
    for (let close = closes.pop(); close !== undefined; close = closes.pop()) feed(close)
  }
  return tally
}

interface Slot {
  connectionId: ConnectionId
  isInitiator: boolean
  active: boolean
}

/**
 * The baseline: Hyperswarm's duplicate rule (the same `keepNewConnection`) over two Maps,
 * producing the same effects, with none of the core's machinery (actors, timers, flush
 * bookkeeping, the candidate hold).
 */
export class MapDedup implements Deduper {
  private readonly kept = new Map<KeyHex, Slot>()
  private readonly keyOf = new Map<ConnectionId, KeyHex>()

  constructor(private readonly localKey: KeyHex) {}

  handle(event: CoreEvent): CoreEffect[] {
    switch (event.type) {
      case 'connection-opened': {
        const { connectionId, remoteKey, isInitiator } = event
        const incoming: Slot = { connectionId, isInitiator, active: false }
        const existing = this.kept.get(remoteKey)
        if (existing === undefined) return this.keep(remoteKey, incoming)
        if (!keepNewConnection(existing, incoming, this.localKey, remoteKey)) {
          return [{ type: 'drop-connection', connectionId, remoteKey, reason: 'duplicate' }]
        }
        this.keyOf.delete(existing.connectionId)
        return [
          {
            type: 'drop-connection',
            connectionId: existing.connectionId,
            remoteKey,
            reason: 'duplicate',
          },
          { type: 'peer-remove', connectionId: existing.connectionId, remoteKey },
          ...this.keep(remoteKey, incoming),
        ]
      }
      case 'connection-data': {
        const key = this.keyOf.get(event.connectionId)
        const slot = key === undefined ? undefined : this.kept.get(key)
        if (slot?.connectionId === event.connectionId) slot.active = true
        return []
      }
      case 'connection-closed': {
        const key = this.keyOf.get(event.connectionId)
        if (key === undefined) return []
        this.keyOf.delete(event.connectionId)
        if (this.kept.get(key)?.connectionId !== event.connectionId) return []
        this.kept.delete(key)
        return [{ type: 'peer-remove', connectionId: event.connectionId, remoteKey: key }]
      }
      default:
        return []
    }
  }

  private keep(remoteKey: KeyHex, slot: Slot): CoreEffect[] {
    this.kept.set(remoteKey, slot)
    this.keyOf.set(slot.connectionId, remoteKey)
    return [
      { type: 'keep-connection', connectionId: slot.connectionId, remoteKey },
      { type: 'peer-add', connectionId: slot.connectionId, remoteKey },
    ]
  }
}

const newCore = (): NetworkerCore => new NetworkerCore({ localKey: LOCAL_KEY, authenticate: false })

/** Both sides must reach the same decisions, or the comparison means nothing. */
function checkSameOutcome(work: Workload): Tally {
  const core = drive(newCore(), work)
  const map = drive(new MapDedup(LOCAL_KEY), work)
  if (JSON.stringify(core) !== JSON.stringify(map)) {
    throw new Error(
      `bench core-dedup: core and Map dedup disagree: ${JSON.stringify(core)} vs ${JSON.stringify(map)}`,
    )
  }
  if (core.added !== core.removed || core.kept < work.keys) {
    throw new Error(`bench core-dedup: unexpected outcome ${JSON.stringify(core)}`)
  }
  return core
}

/** One Noise handshake, both sides in this process: two streams until both are `opened`. */
function handshake(): () => Promise<void> {
  const initiator = crypto.keyPair()
  const responder = crypto.keyPair()
  return async () => {
    const { a, b } = securePair(initiator, responder)
    await Promise.all([opened(a), opened(b)])
    a.destroy()
    b.destroy()
  }
}

const us = (ns: number): number => ns / 1000

/** The goals: a connection event within 5 µs, a connection within 5% of a handshake side's CPU. */
const EVENT_GOAL_US = 5
const HANDSHAKE_GOAL = 0.05

async function run(budget: Budget): Promise<BenchmarkOutput> {
  const [large, small] = budget.quick ? [1_000, 100] : [10_000, 1_000]
  const notes: string[] = []
  const params: Record<string, number | string | boolean> = {
    duplicates: `1 in ${DUPLICATE_EVERY} keys`,
  }
  const shakeCpu = noiseHandshakeCpu()
  const shakeStreams = handshake()
  const bySize = new Map<number, Row[]>()
  for (const keys of [small, large]) {
    const work = workload(keys, keys)
    const tally = checkSameOutcome(work)
    params[`events at ${keys} keys`] = tally.events
    params[`connections at ${keys} keys`] = work.connections
    // The smaller size runs first, so the core's code is warm by the larger one.
    const t = await interleaved(
      [
        { name: `core, ${keys} keys`, fn: () => drive(newCore(), work) },
        { name: `Map dedup, ${keys} keys`, fn: () => drive(new MapDedup(LOCAL_KEY), work) },
        { name: 'Noise handshake, CPU (both sides)', fn: shakeCpu },
        { name: 'Noise handshake over streams (both sides)', fn: shakeStreams },
      ],
      budget,
    )
    const [coreNs, mapNs, cpuNs, streamsNs] = t.ns as [number, number, number, number]
    params[`Noise handshake CPU, both sides, beside ${keys} keys (µs)`] = Math.round(us(cpuNs))
    params[`Noise handshake over streams, both sides, beside ${keys} keys (µs)`] = Math.round(
      us(streamsNs),
    )
    // Core time per connection over half a handshake, paired per round like every ratio.
    const perSide = (side: number) =>
      roundRatios(t.rounds[0] ?? [], t.rounds[side] ?? []).map((r) => (r * 2) / work.connections)
    const cpuRatios = perSide(2)
    const streamRatios = perSide(3)
    const atGoal = keys === large
    const eventUs = us(coreNs / tally.events)
    bySize.set(keys, [
      {
        metric: `cost per connection event (${keys} keys)`,
        subject: eventUs,
        baseline: us(mapNs / tally.events),
        unit: 'µs/event',
        ratio: pairedRatio(t, 0, 1),
        ratioLabel: 'core ÷ Map',
        // The goal is set at 10k keys; the smaller size shows how the cost grows.
        goal: atGoal ? goal(`≤ ${EVENT_GOAL_US} µs`, eventUs <= EVENT_GOAL_US) : null,
        rounds: roundRatios(t.rounds[0] ?? [], t.rounds[1] ?? []),
        ...(atGoal ? { profile: 'core' } : {}),
      },
      {
        metric: `core cost per connection vs one side of a Noise handshake, CPU (${keys} keys)`,
        subject: us(coreNs / work.connections),
        baseline: us(cpuNs / 2),
        unit: 'µs/connection',
        ratio: median(cpuRatios),
        ratioLabel: 'core ÷ handshake side (CPU)',
        goal: atGoal ? goal(`≤ ${HANDSHAKE_GOAL}`, median(cpuRatios) <= HANDSHAKE_GOAL) : null,
        rounds: cpuRatios,
        ...(atGoal ? { profile: 'core' } : {}),
      },
      {
        metric: `core cost per connection vs one side of a Noise handshake over streams (${keys} keys)`,
        subject: us(coreNs / work.connections),
        baseline: us(streamsNs / 2),
        unit: 'µs/connection',
        ratio: median(streamRatios),
        ratioLabel: 'core ÷ handshake side (streams)',
        goal: null,
        rounds: streamRatios,
      },
    ])
  }
  const rows = [...(bySize.get(large) ?? []), ...(bySize.get(small) ?? [])]
  notes.push(
    'A connection event is one connection-opened or connection-closed fed to NetworkerCore.handle (authenticate off); a connection costs its open, its close and its share of duplicate resolution.',
    'The Map baseline applies the same keepNewConnection rule and emits the same effects; both sides are checked to reach identical decisions before timing.',
    "Handshake, CPU: the Noise XX handshake computed synchronously, both sides in turn, with secret-stream's own Handshake class (noise-handshake, noise-curve-ed); one side is taken as half. The goal is held against it: the core and the handshake are both CPU work.",
    'Handshake over streams: two NoiseSecretStream over an in-memory duplex pair until both are opened, async stream turns included, which a busy machine slows far more than the synchronous core; shown, not held to.',
  )
  return {
    title: 'Dedup and connection handling in the core',
    subjectLabel: 'NetworkerCore',
    baselineLabel: 'hand-written Map dedup (same rule); Noise handshake (CPU, and over streams)',
    rows,
    params,
    notes,
  }
}

export const coreDedup: Benchmark = {
  name: 'core-dedup',
  run,
  profiles: {
    core: async (quick) => {
      const work = workload(quick ? 300 : 3_000, 1)
      return async () => {
        drive(newCore(), work)
      }
    },
  },
}
