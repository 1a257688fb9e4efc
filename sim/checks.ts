import { InvariantViolation } from './invariant.js'
import type { SimRawStream } from './link.js'
import type { SimNetwork } from './network.js'
import type { SimNode } from './node.js'

/** Settling time after faults stop: longer than refresh, backoff and the candidate deadline. */
export const QUIESCENCE_MS = 30_000
/** Every configure and close must settle within this much virtual time. */
export const SETTLE_BOUND_MS = 60_000

/** Once every node was closed: each settled every request and left nothing behind. */
export function checkClosed(nodes: SimNode[], net: SimNetwork): number {
  let checks = 0
  for (const node of nodes) {
    checks += checkSettled(node, net.clock.now())
    const d = node.networker.diagnostics()
    const left =
      d.connections +
      d.peers +
      d.timers +
      d.extensionChannels +
      d.pendingConnections +
      (d.pendingHandshakes ?? 0)
    const records = net.dht.recordsOf(node.swarm.id)
    const streams = node.swarm.streams.size + (node.lan?.streams.size ?? 0)
    const lanTimers = node.lan?.timers ?? 0
    if (left > 0 || streams > 0 || records.length > 0 || lanTimers > 0) {
      throw new InvariantViolation(
        'clean-after-close',
        `${node.name}: ${JSON.stringify(d)}, ${streams} stream(s), ${records.length} DHT record(s), ${lanTimers} LAN timer(s) left`,
        net.clock.now(),
      )
    }
    checks++
  }
  return checks
}

/**
 * Watches duplicate resolution as it happens. A node that closes link L while its peer
 * connection to that remote is another link M has decided "M over L". Two nodes deciding
 * oppositely over the same two links is a crossing: both lose the connection the other
 * kept, and the pair is left with nothing until a redial.
 */
export function watchDuplicateDecisions(net: SimNetwork, nodes: SimNode[]): () => number {
  const decisions = new Map<string, { node: SimNode; kept: number; dropped: number }>()
  let seen = 0
  // A node's swarm id changes when it restarts: looked up, then remembered until it does.
  const byId = new Map<number, SimNode>()
  const nodeOf = (id: number): SimNode | undefined => {
    const known = byId.get(id)
    if (known?.swarm.id === id) return known
    const found = nodes.find((n) => n.swarm.id === id)
    if (found !== undefined) byId.set(id, found)
    return found
  }
  net.onEndClosed = (link, by) => {
    const node = nodeOf(by)
    const otherId = link.nodeA === by ? link.nodeB : link.nodeA
    const other = nodeOf(otherId)
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

/**
 * Every live pair that shares a topic (one announcing, the other looking up) and can reach
 * each other by some transport holds exactly one connection, over any transport, the same at
 * both ends, and each end's `peer.type` names that connection's transport. A pair that cannot
 * reach each other by any transport (no DHT for one of them, and no LAN segment in common)
 * holds none.
 */
export function checkMesh(nodes: SimNode[], now: number): number {
  let checks = 0
  for (const a of nodes) {
    checks += checkSettledSoFar(a, now)
    for (const b of nodes) {
      if (a.index >= b.index || !a.alive || !b.alive) continue
      if (!a.canReach(b)) {
        checks += checkApart(a, b, now)
        continue
      }
      if (a.rejects.has(b.key) || b.rejects.has(a.key)) continue
      if (!shouldConnect(a, b)) continue
      checks++
      const pa = a.networker.getPeer(b.key)
      const pb = b.networker.getPeer(a.key)
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
      for (const [node, peer] of [
        [a, pa],
        [b, pb],
      ] as const) {
        const transport = (peer.stream.rawStream as SimRawStream).link.transport
        if (peer.type !== transport) {
          throw new InvariantViolation(
            'peer-type-is-transport',
            `${node.name} lists a peer of type '${peer.type}' on a ${transport} link`,
            now,
          )
        }
      }
      const streams = a.connectionsTo(b)
      if (streams !== 1) {
        throw new InvariantViolation(
          'mesh-at-quiescence',
          `${a.name} holds ${streams} connections to ${b.name} (kept: ${ra.transport})`,
          now,
        )
      }
    }
  }
  return checks
}

/** Two hosts that no transport joins hold no connection to each other, nor a peer. */
function checkApart(a: SimNode, b: SimNode, now: number): number {
  const listed = a.networker.getPeer(b.key) !== null || b.networker.getPeer(a.key) !== null
  const held = a.connectionsTo(b) + b.connectionsTo(a)
  if (listed || held > 0) {
    throw new InvariantViolation(
      'unreachable-never-peers',
      `${a.name} and ${b.name} share no transport but ${listed ? 'one lists the other' : `hold ${held} connection(s)`}`,
      now,
    )
  }
  return 1
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
