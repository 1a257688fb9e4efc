import { DEFAULT_CANDIDATE_TIMEOUT } from '../src/core/networker-core.js'
import { checkMesh } from './checks.js'
import type { SimRawStream } from './link.js'
import type { SimNetwork } from './network.js'
import type { SimNode } from './node.js'
import type { Prng } from './prng.js'

/**
 * Past the LAN side's next lookup of every topic (the swarm's refresh drives it) and the
 * candidate deadline after it: a raced dial that lost to a connection already carrying data is
 * held that long before it is dropped (docs/design.md, the dedup rule).
 */
const lanOnlyMs = (net: SimNetwork): number =>
  net.refreshInterval + DEFAULT_CANDIDATE_TIMEOUT + 1000
/** Past two of the swarm's refreshes (one re-announces what was lost, the next finds it), and the candidate deadline. */
const healMs = (net: SimNetwork): number =>
  2 * net.refreshInterval + DEFAULT_CANDIDATE_TIMEOUT + 1000

export interface LanPartitionResult {
  checks: number
  /** Pairs with an end off the DHT that held their connection over TCP during the partition. */
  lanOnlyKept: number
}

/**
 * A LAN-only partition once everything is quiet: a random part of the nodes loses the DHT
 * (its UDX connections break; it can neither dial nor be dialed over UDX) while every LAN
 * segment still works. Once the LAN side has looked its topics up again, every pair that
 * shares a topic and a segment holds exactly one connection — over TCP where an end is off the
 * DHT — and pairs that no transport joins hold none (checkMesh). Then the DHT comes back:
 * pairs on different segments connect again and every pair still holds exactly one
 * connection. With `races`, the dials on the way race each other (both ends at once, and over
 * both transports), so the pairs that meet again are deduplicated across transports.
 */
export async function checkLanPartition(
  net: SimNetwork,
  nodes: SimNode[],
  prng: Prng,
  run: (ms: number) => Promise<void>,
  races: boolean,
): Promise<LanPartitionResult> {
  const group = nodes.filter(() => prng.chance(0.6))
  const before = { ...net.faults }
  if (races) Object.assign(net.faults, { simultaneousDial: 0.3, crossTransportDial: 0.5 })
  net.count('lan-partition')
  for (const node of group) node.loseDht()
  await run(lanOnlyMs(net))
  let checks = checkMesh(nodes, net.clock.now())
  const lanOnlyKept = countLanOnly(nodes)
  for (const node of group) node.regainDht()
  await run(healMs(net))
  Object.assign(net.faults, before)
  checks += checkMesh(nodes, net.clock.now())
  return { checks, lanOnlyKept }
}

function countLanOnly(nodes: SimNode[]): number {
  let kept = 0
  for (const a of nodes) {
    if (!a.alive) continue
    for (const peer of a.networker.peers) {
      const b = nodes.find((n) => n.alive && n.key === keyOf(peer.remotePublicKey))
      if (b === undefined || a.index > b.index) continue
      if (a.swarm.dhtReachable && b.swarm.dhtReachable) continue
      if ((peer.stream.rawStream as SimRawStream).transport === 'tcp') kept++
    }
  }
  return kept
}

const keyOf = (key: Uint8Array): string => Buffer.from(key).toString('hex')
