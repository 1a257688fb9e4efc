import crypto from 'hypercore-crypto'
import Protomux from 'protomux'
import { Networker, type SwarmConnection } from '../src/index.js'
import { idleStore } from './extension-throughput.js'
import { seededBytes, settledHeap } from './harness.js'
import { BenchSwarm, opened, securePair } from './memory-swarm.js'

/**
 * Heap and time per peer: real Noise pairs are opened and held first (the baseline), then
 * each is handed to a networker as its swarm would; what the heap grew by is the networker's
 * per peer, beyond its connection.
 */

export interface PeerRun {
  /** Heap of one connection end held without the networker. */
  connectionBytes: number
  /** Heap the networker adds per peer, beyond the connection. */
  peerBytes: number
  /** Time to take one connection in, until it is a peer. */
  ns: number
}

/** `count` open Noise pairs, made in batches so handshakes overlap. */
async function openPairs(count: number): Promise<{ a: SwarmConnection; b: SwarmConnection }[]> {
  const local = crypto.keyPair(seededBytes(1, 32))
  const pairs: { a: SwarmConnection; b: SwarmConnection }[] = []
  for (let i = 0; i < count; i += 64) {
    const batch = Array.from({ length: Math.min(64, count - i) }, () =>
      securePair(local, crypto.keyPair()),
    )
    await Promise.all(batch.flatMap((p) => [opened(p.a), opened(p.b)]))
    pairs.push(...batch)
  }
  return pairs
}

export interface PeerSetup {
  swarm: BenchSwarm
  networker: Networker
  pairs: { a: SwarmConnection; b: SwarmConnection }[]
  /** Heap with the networker made and no connection open. */
  empty: number
}

/** A fresh networker, and `count` open connections it has not seen yet. */
export async function preparePeers(count: number): Promise<PeerSetup> {
  const swarm = new BenchSwarm(crypto.keyPair(seededBytes(1, 32)))
  const networker = new Networker(idleStore, { swarm })
  const empty = await settledHeap()
  return { swarm, networker, pairs: await openPairs(count), empty }
}

/** Hands every connection to the networker as a swarm would; returns the time taken (ms). */
export function admit(setup: PeerSetup): number {
  const t0 = performance.now()
  for (const { a } of setup.pairs) setup.swarm.emit('connection', a, { topics: [] })
  const t1 = performance.now()
  if (setup.networker.peers.size !== setup.pairs.length) {
    throw new Error(`bench: ${setup.networker.peers.size} peers of ${setup.pairs.length}`)
  }
  return t1 - t0
}

/**
 * `count` connections held with no networker (the baseline), then handed to one: heap
 * before and after, and the time until each is a peer. Then the networker is closed and
 * every stream destroyed, so nothing of it runs on into the next measurement.
 *
 * `muxed`: each connection gets its Protomux before it is handed over, as a store that
 * replicates over Protomux (Corestore) makes one on `replicate`, and that Protomux counts
 * with the connection. Without it (the bench's store replicates nothing) the networker makes
 * the Protomux its channels and pairings need, and it counts as the networker's.
 */
export async function admitPeers(count: number, muxed = false): Promise<PeerRun> {
  const setup = await preparePeers(count)
  const plain = await settledHeap()
  if (muxed) for (const { a } of setup.pairs) Protomux.from(a)
  const held = await settledHeap()
  const ms = admit(setup)
  const admitted = await settledHeap()
  // Closed once measured: a networker left open keeps its timers (liveness, extension holds)
  // running into whatever is measured next.
  await setup.networker.close({ timeout: 1000 })
  for (const { a, b } of setup.pairs) {
    a.destroy()
    b.destroy()
  }
  return {
    // Both ends of each pair live here; a real connection holds one, so half a pair (and the
    // Protomux, made on the networker's end only).
    connectionBytes: (plain - setup.empty) / (2 * count) + (held - plain) / count,
    peerBytes: (admitted - held) / count,
    ns: (ms * 1e6) / count,
  }
}
