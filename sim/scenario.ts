import b4a from 'b4a'
import { InvariantViolation } from './invariant.js'
import type { SimRawStream } from './link.js'
import { type FaultCounts, type FaultPlan, NO_FAULTS, SimNetwork } from './network.js'
import { SimNode } from './node.js'
import { Prng } from './prng.js'

export interface ScenarioOptions {
  seed: number
  peers: number
  topics: number
  steps: number
  /** Inject faults (each kind with a probability drawn from the seed), or run clean. Default true. */
  faults?: boolean
  /** Virtual time between steps (ms). Default 250. */
  stepMs?: number
}

export interface ScenarioResult {
  seed: number
  peers: number
  virtualMs: number
  events: number
  faults: FaultCounts
  invariantsChecked: number
  messagesDelivered: number
  malformedReported: number
}

/** Settling time after faults stop: longer than refresh, backoff and the candidate deadline. */
const QUIESCENCE_MS = 30_000
/** Every configure and close must settle within this much virtual time. */
const SETTLE_BOUND_MS = 60_000

/** Draws a run's fault plan from its seed: each kind on or off, with its own rate (swarm testing). */
export function drawFaults(prng: Prng): FaultPlan {
  const maybe = (max: number): number => (prng.chance(0.6) ? prng.next() * max : 0)
  return {
    dropNewConnection: maybe(0.3),
    simultaneousDial: maybe(0.5),
    lostAnnounce: maybe(0.3),
    maxDhtDelay: prng.int(1, 200),
    slowFlush: maybe(0.5),
    maxFlushDelay: prng.int(1, 2000),
  }
}

/**
 * One simulated run: `peers` networkers, `topics` topics, `steps` random operations with
 * faults, then quiescence and a close of every node. Throws InvariantViolation on the
 * first broken invariant; the same options replay the same run.
 */
export async function runScenario(opts: ScenarioOptions): Promise<ScenarioResult> {
  const prng = new Prng(opts.seed)
  const withFaults = opts.faults !== false
  const plan = withFaults ? drawFaults(prng) : NO_FAULTS
  const net = new SimNetwork({ seed: prng.int(0, 2 ** 31), faults: plan })
  const stepMs = opts.stepMs ?? 250
  const rates = {
    dropLink: withFaults && prng.chance(0.6) ? prng.next() * 0.2 : 0,
    partition: withFaults && prng.chance(0.4) ? prng.next() * 0.05 : 0,
    crash: withFaults && prng.chance(0.4) ? prng.next() * 0.04 : 0,
    malformed: withFaults && prng.chance(0.5) ? prng.next() * 0.1 : 0,
    reject: withFaults && prng.chance(0.4) ? prng.next() * 0.3 : 0,
  }
  const topics = Array.from({ length: opts.topics }, () => b4a.toString(prng.bytes(32), 'hex'))
  const authDelay = () => prng.int(0, 40)
  const nodes = Array.from(
    { length: opts.peers },
    (_, i) => new SimNode(i, net, net.keyPair(), authDelay),
  )
  // Authentication rejections are decided up front: who turns whom away, for the whole run.
  for (const node of nodes) {
    for (const other of nodes) {
      if (other !== node && prng.chance(rates.reject)) {
        node.rejects.add(other.key)
        net.count('auth-rejection')
      }
    }
  }
  const duplicateDecisions = watchDuplicateDecisions(net, nodes)
  let checks = 0
  const check = (): void => {
    for (const node of nodes) {
      if (!node.alive) continue
      node.checkPeers()
      checks += 2
    }
  }
  const raise = (): void => {
    if (net.violation !== null) throw net.violation
  }
  const run = async (ms: number): Promise<void> => {
    await net.clock.runUntil(net.clock.now() + ms, () => net.violation !== null)
    raise()
  }

  for (let step = 0; step < opts.steps; step++) {
    const roll = prng.next()
    const node = prng.pick(nodes)
    if (roll < 0.45) {
      const topic = prng.pick(topics)
      const leave = prng.chance(0.15)
      const announce = !leave && prng.chance(0.6)
      const lookup = !leave && (!announce || prng.chance(0.6))
      node.configure(topic, { announce, lookup }, prng.chance(0.7))
    } else if (roll < 0.7) {
      for (const n of nodes) n.sendNumbered()
    } else {
      if (prng.chance(rates.dropLink * 4)) net.dropRandomLink()
      if (prng.chance(rates.partition * 4)) {
        const group = nodes.filter(() => prng.chance(0.5)).map((n) => n.swarm.id)
        net.partition(group, prng.int(200, 5000))
      }
      if (prng.chance(rates.crash * 4) && node.alive) {
        node.crash()
        const downFor = prng.int(100, 4000)
        net.clock.schedule(downFor, () => node.restart())
      }
      if (prng.chance(rates.malformed * 4)) {
        const target = prng.pick(nodes)
        if (target !== node && node.alive && node.sendMalformed(target))
          net.count('malformed-message')
      }
    }
    await run(prng.int(1, stepMs))
    check()
    raise()
  }

  // Faults stop: no new ones; partitions heal and crashed nodes come back.
  Object.assign(net.faults, NO_FAULTS)
  for (const node of nodes) if (node.crashed) node.restart()
  await run(QUIESCENCE_MS)
  check()
  raise()
  for (const n of nodes) n.sendNumbered()
  await run(1000)
  checks += checkMesh(nodes, net.clock.now())

  // Close everyone; each must leave nothing behind.
  for (const node of nodes) node.close()
  await run(SETTLE_BOUND_MS)
  for (const node of nodes) {
    checks += checkSettled(node, net.clock.now())
    const d = node.networker.diagnostics()
    const left = d.connections + d.peers + d.timers + d.extensionChannels + d.pendingConnections
    const records = net.dht.recordsOf(node.swarm.id)
    if (left > 0 || node.swarm.streams.size > 0 || records.length > 0) {
      throw new InvariantViolation(
        'clean-after-close',
        `${node.name}: ${JSON.stringify(d)}, ${node.swarm.streams.size} stream(s), ${records.length} DHT record(s) left`,
        net.clock.now(),
      )
    }
    checks++
  }

  checks += duplicateDecisions()
  raise()
  return {
    seed: opts.seed,
    peers: opts.peers,
    virtualMs: net.clock.now(),
    events: net.clock.events,
    faults: { ...net.injected, 'lost-announce': net.dht.lostAnnounces },
    invariantsChecked: checks,
    messagesDelivered: nodes.reduce((n, node) => n + node.messagesDelivered, 0),
    malformedReported: nodes.reduce((n, node) => n + node.malformedReported, 0),
  }
}

/**
 * Watches duplicate resolution as it happens. A node that closes link L while its peer
 * connection to that remote is another link M has decided "M over L". Two nodes deciding
 * oppositely over the same two links is a crossing: both lose the connection the other
 * kept, and the pair is left with nothing until a redial.
 */
function watchDuplicateDecisions(net: SimNetwork, nodes: SimNode[]): () => number {
  const decisions = new Map<string, { node: SimNode; kept: number; dropped: number }>()
  let seen = 0
  net.onEndClosed = (link, by) => {
    const node = nodes.find((n) => n.swarm.id === by)
    const otherId = link.nodeA === by ? link.nodeB : link.nodeA
    const other = nodes.find((n) => n.swarm.id === otherId)
    if (node === undefined || other === undefined || !node.alive) return
    const peer = node.networker.getPeer(other.keyPair.publicKey)
    if (peer === null) return
    const kept = (peer.stream.rawStream as SimRawStream).link.id
    if (kept === link.id) return
    seen++
    const pair = [link.id, kept].sort((x, y) => x - y).join('|')
    const earlier = decisions.get(pair)
    if (
      earlier !== undefined &&
      earlier.node !== node &&
      earlier.kept === link.id &&
      earlier.dropped === kept
    ) {
      net.violate(
        new InvariantViolation(
          'same-connection-both-ends',
          `${earlier.node.name} kept link ${earlier.kept} over ${earlier.dropped}, ${node.name} kept ${kept} over ${link.id}`,
          net.clock.now(),
        ),
      )
    }
    decisions.set(pair, { node, kept, dropped: link.id })
  }
  return () => seen
}

function checkSettled(node: SimNode, now: number): number {
  for (const r of node.requests) {
    if (r.settledAt === null) {
      throw new InvariantViolation(
        'promises-settle',
        `${r.what} never settled (started ${r.startedAt} ms)`,
        now,
      )
    }
    if (r.settledAt - r.startedAt > SETTLE_BOUND_MS) {
      throw new InvariantViolation(
        'promises-settle',
        `${r.what} took ${r.settledAt - r.startedAt} ms`,
        now,
      )
    }
  }
  return node.requests.length
}

/** Every live pair that shares a topic (one announcing, the other looking up) holds exactly one connection, the same at both ends. */
function checkMesh(nodes: SimNode[], now: number): number {
  let checks = 0
  for (const a of nodes) {
    checks += checkSettledSoFar(a, now)
    for (const b of nodes) {
      if (a.index >= b.index || !a.alive || !b.alive) continue
      if (a.rejects.has(b.key) || b.rejects.has(a.key)) continue
      if (!shouldConnect(a, b)) continue
      checks++
      const pa = a.networker.getPeer(b.keyPair.publicKey)
      const pb = b.networker.getPeer(a.keyPair.publicKey)
      if (pa === null || pb === null) {
        throw new InvariantViolation(
          'mesh-at-quiescence',
          `${a.name} and ${b.name} share a topic but ${pa === null ? a.name : b.name} has no peer for the other`,
          now,
        )
      }
      const ra = pa.stream.rawStream as SimRawStream
      if (ra.peer !== pb.stream.rawStream) {
        throw new InvariantViolation(
          'same-connection-both-ends',
          `${a.name} and ${b.name} kept different connections`,
          now,
        )
      }
      const streams = a.swarm.streams.get(b.swarm.id)?.size ?? 0
      if (streams !== 1) {
        throw new InvariantViolation(
          'mesh-at-quiescence',
          `${a.name} holds ${streams} connections to ${b.name}`,
          now,
        )
      }
    }
  }
  return checks
}

function checkSettledSoFar(node: SimNode, now: number): number {
  for (const r of node.requests) {
    if (r.settledAt === null && now - r.startedAt > SETTLE_BOUND_MS) {
      throw new InvariantViolation(
        'promises-settle',
        `${r.what} still pending after ${now - r.startedAt} ms`,
        now,
      )
    }
  }
  return node.requests.length
}

function shouldConnect(a: SimNode, b: SimNode): boolean {
  for (const [topic, wa] of a.wishes) {
    const wb = b.wishes.get(topic)
    if (wb === undefined) continue
    if ((wa.announce && wb.lookup) || (wb.announce && wa.lookup)) return true
  }
  return false
}
