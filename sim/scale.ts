import b4a from 'b4a'
import {
  checkClosed,
  checkMesh,
  QUIESCENCE_MS,
  SETTLE_BOUND_MS,
  watchDuplicateDecisions,
} from './checks.js'
import { SimNetwork } from './network.js'
import { SimNode } from './node.js'
import { Prng } from './prng.js'

export interface ScaleOptions {
  seed: number
  /** Nodes in the network. */
  nodes: number
  /** Topics they share: each node joins one, announcing and looking up. */
  topics: number
  /** Real Noise secret streams on the wires instead of the stand-in. Default false. */
  realNoise?: boolean
  /** Virtual time over which the nodes join (ms). Default 5 s. */
  joinOver?: number
  /** Called once the mesh is up, before anything closes: where the heap is at its largest. */
  onMesh?: () => void
}

export interface ScaleResult {
  seed: number
  nodes: number
  topics: number
  /** Connections kept at quiescence (each pair once). */
  connections: number
  virtualMs: number
  events: number
  invariantsChecked: number
  messagesDelivered: number
}

/**
 * A network at scale, without faults: every node joins one of the topics (spread evenly,
 * at a random moment within `joinOver`), so each topic's nodes form a full mesh. Once it
 * is quiet, every pair sharing a topic must hold exactly one connection, the same at both
 * ends; numbered messages go to every peer; then every node closes and must leave nothing
 * behind. Deterministic like runScenario: the same options replay the same run.
 */
export async function runScale(opts: ScaleOptions): Promise<ScaleResult> {
  const prng = new Prng(opts.seed)
  const net = new SimNetwork({ seed: prng.int(0, 2 ** 31), realNoise: opts.realNoise ?? false })
  const topics = Array.from({ length: opts.topics }, () => b4a.toString(prng.bytes(32), 'hex'))
  const authDelay = () => prng.int(0, 40)
  const nodes = Array.from(
    { length: opts.nodes },
    (_, i) => new SimNode(i, net, net.keyPair(), authDelay),
  )
  const duplicateDecisions = watchDuplicateDecisions(net, nodes)
  const run = async (ms: number): Promise<void> => {
    await net.clock.runUntil(net.clock.now() + ms, () => net.violation !== null)
    if (net.violation !== null) throw net.violation
  }

  const joinOver = opts.joinOver ?? 5000
  nodes.forEach((node, i) => {
    const topic = topics[i % topics.length] as string
    net.clock.schedule(prng.int(0, joinOver), () => {
      node.configure(topic, { announce: true, lookup: true }, true)
    })
  })
  await run(joinOver + QUIESCENCE_MS)
  let checks = 0
  for (const node of nodes) {
    node.checkPeers()
    checks += 2
  }
  const connections = nodes.reduce((n, node) => n + node.networker.peers.size, 0) / 2
  opts.onMesh?.()
  for (const node of nodes) node.sendNumbered()
  await run(1000)
  checks += checkMesh(nodes, net.clock.now())

  for (const node of nodes) node.close()
  await run(SETTLE_BOUND_MS)
  checks += checkClosed(nodes, net)
  checks += duplicateDecisions()
  return {
    seed: opts.seed,
    nodes: opts.nodes,
    topics: opts.topics,
    connections,
    virtualMs: net.clock.now(),
    events: net.clock.events,
    invariantsChecked: checks,
    messagesDelivered: nodes.reduce((n, node) => n + node.messagesDelivered, 0),
  }
}
