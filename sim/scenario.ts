import b4a from 'b4a'
import { checkHeal, checkPeerTopics, silenceKeptLink } from './awareness-checks.js'
import {
  checkClosed,
  checkMesh,
  QUIESCENCE_MS,
  SETTLE_BOUND_MS,
  watchDuplicateDecisions,
} from './checks.js'
import { checkLanPartition } from './lan-partition.js'
import type { SimRawStream, SimTransport } from './link.js'
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
  /** Real Noise secret streams on the wires instead of the stand-in. Default false. */
  realNoise?: boolean
  /**
   * What connections run on (see NetworkOptions.transports). Default `['udx']`. With `'tcp'`,
   * nodes are spread over one to three LAN segments drawn from the seed (with `'udx'` too,
   * some are on none).
   */
  transports?: readonly SimTransport[]
  /**
   * LAN-only partitions: during the faults, parts of the nodes lose the DHT for a while; once
   * quiet, a checked one (checkLanPartition). Needs `'tcp'`. Default false.
   */
  lanPartition?: boolean
  /**
   * TCP connections an end closes reach the other end as the stream's end first, and close
   * there a few ms later (NetworkOptions.tcpFin). Needs `'tcp'`. Default false.
   */
  tcpFin?: boolean
  /** Tasks the virtual clock runs per event-loop turn: the run is the same whatever it is. */
  tasksPerTurn?: number
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
  /** Connections kept at quiescence by transport (each pair once). */
  kept: Record<SimTransport, number>
  /** Pairs held over TCP with an end off the DHT, in the checked LAN-only partition (or 0). */
  lanOnlyKept: number
}

/**
 * Draws a run's fault plan from its seed: each kind on or off, with its own rate (swarm
 * testing). Races across transports are drawn only for a network with both (`crossTransport`),
 * last, so a plan with one transport is what it always was.
 */
export function drawFaults(prng: Prng, crossTransport = false): FaultPlan {
  const maybe = (max: number): number => (prng.chance(0.6) ? prng.next() * max : 0)
  const plan = {
    dropNewConnection: maybe(0.3),
    simultaneousDial: maybe(0.5),
    lostAnnounce: maybe(0.3),
    maxDhtDelay: prng.int(1, 200),
    slowFlush: maybe(0.5),
    maxFlushDelay: prng.int(1, 2000),
  }
  return { ...plan, crossTransportDial: crossTransport ? maybe(0.5) : 0 }
}

/**
 * Each node's LAN segment (or null), for a network with TCP: one to three segments; with the
 * DHT too, about one node in seven is on none.
 */
function drawSegments(prng: Prng, peers: number, dht: boolean): (number | null)[] {
  const count = prng.int(1, 3)
  return Array.from({ length: peers }, () =>
    dht && prng.chance(0.15) ? null : prng.int(0, count - 1),
  )
}

/**
 * One simulated run: `peers` networkers, `topics` topics, `steps` random operations with
 * faults, then quiescence and a close of every node. Throws InvariantViolation on the
 * first broken invariant; the same options replay the same run.
 */
export async function runScenario(opts: ScenarioOptions): Promise<ScenarioResult> {
  const prng = new Prng(opts.seed)
  const withFaults = opts.faults !== false
  const transports = opts.transports ?? ['udx']
  const tcp = transports.includes('tcp')
  const udx = transports.includes('udx')
  if (opts.lanPartition === true && !tcp) throw new Error("lanPartition needs 'tcp' transport")
  if (opts.tcpFin === true && !tcp) throw new Error("tcpFin needs 'tcp' transport")
  const plan = withFaults ? drawFaults(prng, tcp && udx) : NO_FAULTS
  const net = new SimNetwork({
    seed: prng.int(0, 2 ** 31),
    faults: plan,
    realNoise: opts.realNoise ?? false,
    transports,
    tasksPerTurn: opts.tasksPerTurn,
    tcpFin: opts.tcpFin === true,
  })
  const stepMs = opts.stepMs ?? 250
  const rates = {
    dropLink: withFaults && prng.chance(0.6) ? prng.next() * 0.2 : 0,
    partition: withFaults && prng.chance(0.4) ? prng.next() * 0.05 : 0,
    crash: withFaults && prng.chance(0.4) ? prng.next() * 0.04 : 0,
    malformed: withFaults && prng.chance(0.5) ? prng.next() * 0.1 : 0,
    reject: withFaults && prng.chance(0.4) ? prng.next() * 0.3 : 0,
    silentCut: withFaults && prng.chance(0.4) ? prng.next() * 0.1 : 0,
    // Drawn only when asked for, as below.
    lanPartition:
      withFaults && opts.lanPartition === true && prng.chance(0.6) ? prng.next() * 0.08 : 0,
  }
  const topics = Array.from({ length: opts.topics }, () => b4a.toString(prng.bytes(32), 'hex'))
  const authDelay = () => prng.int(0, 40)
  const segments = tcp ? drawSegments(prng, opts.peers, udx) : []
  const nodes = Array.from(
    { length: opts.peers },
    (_, i) => new SimNode(i, net, net.keyPair(), authDelay, { segment: segments[i] ?? null }),
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
      if (prng.chance(rates.silentCut * 4)) silenceKeptLink(net, nodes, prng)
      // Not even drawn when off, so runs without it replay as they always did.
      if (rates.lanPartition > 0 && prng.chance(rates.lanPartition * 4)) {
        // Part of the nodes loses the DHT for a while; their LAN segments still work.
        const group = nodes.filter(() => prng.chance(0.5))
        net.count('lan-partition')
        for (const n of group) n.loseDht()
        net.clock.schedule(prng.int(200, 5000), () => {
          for (const n of group) n.regainDht()
        })
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
  const kept = keptByTransport(nodes)
  checks += checkPeerTopics(nodes, net.clock.now())
  checks += await checkHeal(net, nodes, prng, run)
  let lanOnlyKept = 0
  if (opts.lanPartition === true) {
    const lan = await checkLanPartition(net, nodes, prng, run, withFaults)
    checks += lan.checks
    lanOnlyKept = lan.lanOnlyKept
  }

  // Close everyone; each must leave nothing behind.
  for (const node of nodes) node.close()
  await run(SETTLE_BOUND_MS)
  checks += checkClosed(nodes, net)

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
    kept,
    lanOnlyKept,
  }
}

/** Connections the nodes keep, by transport, each counted once (at its end with the lower id). */
function keptByTransport(nodes: SimNode[]): Record<SimTransport, number> {
  const kept: Record<SimTransport, number> = { udx: 0, tcp: 0 }
  for (const node of nodes) {
    if (!node.alive) continue
    for (const peer of node.networker.peers) {
      const raw = peer.stream.rawStream as SimRawStream
      const other = raw.node === raw.link.nodeA ? raw.link.nodeB : raw.link.nodeA
      if (raw.node < other) kept[raw.transport]++
    }
  }
  return kept
}
