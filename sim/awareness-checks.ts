import b4a from 'b4a'
import { DEFAULT_LIVENESS_TIMEOUT } from '../src/io/liveness.js'
import type { ConnectionDrop } from '../src/io/peer-awareness.js'
import { checkMesh } from './checks.js'
import { InvariantViolation } from './invariant.js'
import type { Link, SimRawStream } from './link.js'
import type { SimNetwork } from './network.js'
import type { SimNode } from './node.js'
import type { Prng } from './prng.js'

const hex = (b: Uint8Array): string => b4a.toString(b as Buffer, 'hex')

/** How long the quiescent partition lasts, and how soon after it heals the mesh must be whole. */
const HEAL_PARTITION_MS = 2000
/**
 * Within this long of the heal: the networker's own dials (at most ~2.5 s apart by then)
 * reconnect every pair, well before the swarm's own redials and lookups would have to.
 */
export const RECONNECT_BOUND_MS = 4000

/**
 * At quiescence every pair of peers sees exactly the topics both have joined: what each end
 * lists in `peer.topics` for the other equals the intersection of their wishes. Proofs of
 * topics only one of them joined must have named nothing, and every join and leave must have
 * been proven or withdrawn on the live connection.
 */
export function checkPeerTopics(nodes: SimNode[], now: number): number {
  let checks = 0
  for (const a of nodes) {
    if (!a.alive) continue
    for (const b of nodes) {
      if (a === b || !b.alive) continue
      // A pair one side turns away flaps for good: either may list the other for a moment.
      if (a.rejects.has(b.key) || b.rejects.has(a.key)) continue
      // By its hex key, which the node keeps: hexing the key bytes for each pair cost more.
      const peer = a.networker.getPeer(b.key)
      if (peer === null) continue
      checks++
      const topics = peer.topics
      if (sameTopics(topics, a, b)) continue
      // Not plainly the same: the verdict and its figures as they always were.
      const seen = topics.map(hex).sort()
      const both = [...a.wishes.keys()].filter((t) => b.wishes.has(t)).sort()
      if (seen.join() !== both.join()) {
        throw new InvariantViolation(
          'peer-topics-at-quiescence',
          `${a.name} lists ${seen.length} topic(s) shared with ${b.name}, who both joined ${both.length}`,
          now,
        )
      }
    }
  }
  return checks
}

/**
 * Whether `seen` is the set of topics both nodes wish for, each once: then the sorted lists
 * checkPeerTopics compares are equal, found without hexing, sorting, joining or arrays per
 * pair (it runs over every pair of nodes). Each topic seen must be a different one of the
 * topics both wish for (a bit per topic of `a`), and as many as there are. False sends it
 * to that comparison, which decides.
 */
function sameTopics(seen: readonly Buffer[], a: SimNode, b: SimNode): boolean {
  if (a.wishes.size > 30) return false
  let both = 0
  for (const topic of a.wishes.keys()) if (b.wishes.has(topic)) both++
  if (seen.length !== both) return false
  let met = 0
  for (const bytes of seen) {
    let bit = 1
    let found = false
    for (const topic of a.wishes.keys()) {
      if ((met & bit) === 0 && b.wishes.has(topic) && isHexOf(topic, bytes)) {
        met |= bit
        found = true
        break
      }
      bit <<= 1
    }
    if (!found) return false
  }
  return true
}

/** Whether `text` is `bytes` in lower-case hex (as b4a writes it), without making a string. */
function isHexOf(text: string, bytes: Uint8Array): boolean {
  if (text.length !== bytes.length * 2) return false
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number
    if (text.charCodeAt(2 * i) !== HEX_DIGITS[byte >> 4]) return false
    if (text.charCodeAt(2 * i + 1) !== HEX_DIGITS[byte & 15]) return false
  }
  return true
}

/** The char codes of 0-9a-f. */
const HEX_DIGITS: readonly number[] = Array.from('0123456789abcdef', (c) => c.charCodeAt(0))

/**
 * A partition once everything is quiet: a random part of the nodes is cut off from the rest
 * for two seconds. Within RECONNECT_BOUND_MS of the heal every pair that shares a topic holds
 * one connection again, the same at both ends (checkMesh), and no node dropped a duplicate on
 * the way: reconnecting dials from one end only.
 */
export async function checkHeal(
  net: SimNetwork,
  nodes: SimNode[],
  prng: Prng,
  run: (ms: number) => Promise<void>,
): Promise<number> {
  const group = nodes.filter(() => prng.chance(0.5)).map((n) => n.swarm.id)
  const duplicates: string[] = []
  const listeners = nodes.map((node) => {
    const listener = (drop: ConnectionDrop): void => {
      if (drop.reason === 'duplicate' && !turnedAway(node, drop, nodes)) duplicates.push(node.name)
    }
    node.networker.on('connection-drop', listener)
    return () => node.networker.off('connection-drop', listener)
  })
  net.partition(group, HEAL_PARTITION_MS)
  await run(HEAL_PARTITION_MS + RECONNECT_BOUND_MS)
  for (const off of listeners) off()
  const checks = checkMesh(nodes, net.clock.now())
  if (duplicates.length > 0) {
    throw new InvariantViolation(
      'reconnect-without-duplicates',
      `after the partition healed, ${duplicates.join(', ')} dropped a duplicate connection`,
      net.clock.now(),
    )
  }
  return checks + 1
}

/**
 * The drop is between a pair one end turns away (onauthenticate says no). Such a pair is not
 * in the mesh (checkMesh) and has no connection to reconnect: the accepting end redials the
 * connections the other closes, the other's discovery dials it all the same, and two of these
 * may meet. With TCP's FIN (--tcp-fin) they do, about once in 3,000 runs.
 */
function turnedAway(node: SimNode, drop: ConnectionDrop, nodes: readonly SimNode[]): boolean {
  const remote = b4a.toString(drop.remotePublicKey, 'hex')
  if (node.rejects.has(remote)) return true
  return nodes.some((other) => other.key === remote && other.rejects.has(node.key))
}

/** After the bound, time for the drop's destroy to reach the wire (virtual ms). */
const DROP_SLACK_MS = 100

/**
 * Silences one link that both its ends keep as their peer connection (Link.silence: nothing
 * more arrives, nobody is told), and checks that each end, if still up, has dropped it within
 * the liveness bound: only the networker's own liveness can notice.
 */
export function silenceKeptLink(net: SimNetwork, nodes: SimNode[], prng: Prng): boolean {
  // A node that crashed, or came back as another swarm, holds none of the link any more.
  const nodeOf = (id: number): SimNode | undefined =>
    nodes.find((n) => n.alive && n.swarm.id === id)
  const keeps = (node: SimNode, other: SimNode, link: Link): boolean => {
    const stream = node.networker.getPeer(other.keyPair.publicKey)?.stream
    return (stream?.rawStream as SimRawStream | undefined)?.link === link
  }
  const candidates = [...net.links].filter((link) => {
    const a = nodeOf(link.nodeA)
    const b = nodeOf(link.nodeB)
    return (
      !link.broken && a !== undefined && b !== undefined && keeps(a, b, link) && keeps(b, a, link)
    )
  })
  if (candidates.length === 0) return false
  const link = prng.pick(candidates)
  link.silence()
  net.count('silent-cut')
  const at = net.clock.now()
  net.clock.schedule(DEFAULT_LIVENESS_TIMEOUT + DROP_SLACK_MS, () => {
    for (const [id, end] of [
      [link.nodeA, link.a],
      [link.nodeB, link.b],
    ] as const) {
      const node = nodeOf(id)
      if (node === undefined || end.destroyed) continue
      net.violate(
        new InvariantViolation(
          'dead-links-dropped',
          `${node.name} still holds a link silent since ${at} ms`,
          net.clock.now(),
        ),
      )
    }
  })
  return true
}

/** Receiving end of 'peer-topic-add': a topic is only ever shared if the receiver joined it. */
export function checkProvenTopic(net: SimNetwork, node: SimNode, topic: Buffer): void {
  const key = hex(topic)
  if (node.wishes.has(key)) return
  net.violate(
    new InvariantViolation(
      'proofs-name-joined-topics',
      `${node.name} was proven topic ${key.slice(0, 8)}, which it has not joined`,
      net.clock.now(),
    ),
  )
}
