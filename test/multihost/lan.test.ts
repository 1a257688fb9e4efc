import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureBuilt } from '../helpers/build.js'
import { FIXTURES, Host, type HostEvent, Namespaces, requireNamespaces } from './hosts.js'

// Issue 21, LAN discovery, across real hosts on one bridge (mDNS multicast crosses it).
//
// (a) No DHT at all: hosts 1 and 2 run no bootstrap process. The writer's swarm has no
//     bootstrap node; the reader's has one at an address where nothing answers (so its DHT
//     spends ~12 s giving up). With `lan: true` the reader finds the writer by the core's topic
//     over mDNS, connects over direct TCP and downloads the core, byte-identical; configure
//     still resolves within its bound.
// (b) DHT and LAN both: host 0 runs a DHT bootstrap, hosts 1..3 join one topic with both on,
//     so each pair can meet twice (UDX through the DHT, TCP through the LAN). Each pair must end
//     with exactly one connection, the same at both ends, and stay so.
const BOOTSTRAP_PORT = 49737
const BLOCKS = 200
const BLOCK_SIZE = 16 * 1024
/** No host answers at .99 on the bridge: the reader's DHT bootstrap goes unanswered. */
const UNREACHABLE = '10.77.0.99:49737'
/** configure with LAN on and the DHT not online: dhtWait (3 s) plus the lookup round. */
const CONFIGURE_BOUND_MS = 8000
const SETTLE_MS = 3000
/** The candidate deadline (10 s) and some: a contested duplicate is gone by then. */
const SETTLE_WITHIN_MS = 15_000

const net = new Namespaces(`cml${process.pid}`, 4)
const dir = mkdtempSync(join(tmpdir(), 'csn-lan-'))
const hosts: Host[] = []

function start(label: string, i: number, script: string, args: string[]): Host {
  const host = new Host(label, net.name(i), join(FIXTURES, script), args)
  hosts.push(host)
  return host
}

function lanPeer(label: string, i: number, config: Record<string, unknown>): Host {
  return start(label, i, 'lan-peer.mjs', [
    JSON.stringify({ host: net.address(i), dir: join(dir, label), ...config }),
  ])
}

/** Each host's current peers, by remote key, from its peer-add/peer-remove events. */
function connected(host: Host): Map<string, string> {
  const peers = new Map<string, string>()
  for (const e of host.events) {
    if (e.event === 'peer-add') peers.set(String(e.remote), String(e.type))
    if (e.event === 'peer-remove') peers.delete(String(e.remote))
  }
  return peers
}

interface PeerReport {
  remote: string
  type: string
  handshake: string | null
}

const peersOf = (report: HostEvent): PeerReport[] => report.peers as PeerReport[]

/**
 * The pairs whose two ends do not list each other over one and the same connection, given
 * each host's report (in host order) and each host's own short key.
 */
function pairDisagreements(reports: HostEvent[], selves: string[]): string[] {
  const bad: string[] = []
  for (const [i, x] of selves.entries()) {
    for (const [j, y] of selves.entries()) {
      if (i >= j) continue
      const xy = peersOf(reports[i] as HostEvent).filter((p) => p.remote === y)
      const yx = peersOf(reports[j] as HostEvent).filter((p) => p.remote === x)
      const same = xy.length === 1 && yx.length === 1 && xy[0]?.handshake === yx[0]?.handshake
      if (!same || xy[0]?.handshake == null) bad.push(`P${i + 1}-P${j + 1}`)
    }
  }
  return bad
}

/** Asks the host for its peer list and connection count now. */
async function peersNow(host: Host): Promise<HostEvent> {
  const from = host.events.length
  host.send({ cmd: 'peers' })
  return host.waitFor((e) => e.event === 'peers', `${host.label} peers`, 5000, from)
}

async function stopAll(): Promise<void> {
  const peers = hosts.filter((h) => h.label !== 'bootstrap')
  await Promise.all(peers.map((h) => h.stop()))
  await Promise.all(hosts.map((h) => h.stop()))
}

function dump(): void {
  for (const h of hosts) {
    console.error(`--- ${h.label}: ${JSON.stringify(h.events)}\n${h.stderr}`)
  }
}

let setupError: unknown = null
beforeAll(() => {
  try {
    requireNamespaces()
    ensureBuilt()
    net.up()
  } catch (err) {
    setupError = err
  }
}, 120_000)

afterAll(async () => {
  try {
    await stopAll()
  } finally {
    net.down()
    rmSync(dir, { recursive: true, force: true })
  }
  expect(net.remaining()).toEqual([])
}, 30_000)

describe('LAN discovery across real hosts', () => {
  it('(a) with no DHT, two hosts find each other by topic on the LAN and replicate a core over TCP', async () => {
    if (setupError !== null) throw setupError
    try {
      const a = lanPeer('A', 1, {
        role: 'writer',
        dht: 'none',
        blocks: BLOCKS,
        blockSize: BLOCK_SIZE,
      })
      const written = await a.waitFor((e) => e.event === 'ready', 'writer ready', 20_000)
      const aJoined = a.last('joined')
      const b = lanPeer('B', 2, {
        role: 'reader',
        dht: `unreachable:${UNREACHABLE}`,
        key: written.key,
        length: BLOCKS,
      })
      const bJoined = await b.waitFor((e) => e.event === 'joined', 'reader joined', 20_000)
      const done = await b.waitFor((e) => e.event === 'done', 'reader has the core', 30_000)
      expect({ length: done.length, hash: done.hash }).toEqual({
        length: written.length,
        hash: written.hash,
      })
      // Found on the LAN, reached over TCP, one connection at each end.
      expect([...connected(b)]).toEqual([[String(aJoined?.self), 'tcp']])
      expect([...connected(a)]).toEqual([[String(bJoined.self), 'tcp']])
      // No DHT was reachable, and configure resolved in bounded time all the same.
      expect(aJoined?.dht).toBe('offline')
      expect(Number(bJoined.configureMs)).toBeLessThan(CONFIGURE_BOUND_MS)
      expect(Number(aJoined?.configureMs)).toBeLessThan(CONFIGURE_BOUND_MS)
      const [aPeers, bPeers] = await Promise.all([peersNow(a), peersNow(b)])
      expect(aPeers.connections).toBe(1)
      expect(bPeers.connections).toBe(1)
      expect((bPeers.lan as Record<string, number>).lanAnswersAccepted).toBeGreaterThan(0)
      expect((bPeers.lan as Record<string, number>).lanAnswersRejected).toBe(0)
      console.log(
        `multihost lan (a): ${JSON.stringify({ configureMs: { A: aJoined?.configureMs, B: bJoined.configureMs }, doneAfterMs: Number(done.t) - Number(bJoined.t) })}`,
      )
    } catch (err) {
      dump()
      throw err
    } finally {
      await stopAll()
      hosts.length = 0
    }
  }, 90_000)

  it('(b) with a DHT and the LAN both on, every pair ends with exactly one connection, whichever transport won', async () => {
    if (setupError !== null) throw setupError
    try {
      const bootstrap = start('bootstrap', 0, 'bootstrap.mjs', [
        net.address(0),
        String(BOOTSTRAP_PORT),
      ])
      await bootstrap.waitFor((e) => e.event === 'ready', 'bootstrap ready', 10_000)
      const topic = randomBytes(32).toString('hex')
      const dht = `${net.address(0)}:${BOOTSTRAP_PORT}`
      const peers = [1, 2, 3].map((i) => lanPeer(`P${i}`, i, { role: 'idle', dht, topic }))
      const joined = await Promise.all(
        peers.map((h) => h.waitFor((e) => e.event === 'joined', `${h.label} joined`, 20_000)),
      )
      const selves = joined.map((e) => String(e.self))
      // Every pair connected, at both ends.
      for (const [i, h] of peers.entries()) {
        const others = selves.filter((_, j) => j !== i)
        await h.waitFor(
          () => others.every((k) => connected(h).has(k)),
          `${h.label} lists the other two`,
          20_000,
        )
      }
      // Each pair must settle on one connection: both ends list each other once, over the same
      // connection (Noise's handshake hash is one value at both ends of one connection).
      const listedAt = Date.now()
      let reports = await Promise.all(peers.map(peersNow))
      while (pairDisagreements(reports, selves).length > 0) {
        if (Date.now() - listedAt > SETTLE_WITHIN_MS) {
          throw new Error(
            `pairs still on different connections after ${SETTLE_WITHIN_MS} ms: ${pairDisagreements(reports, selves).join(', ')}`,
          )
        }
        await new Promise((r) => setTimeout(r, 250))
        reports = await Promise.all(peers.map(peersNow))
      }
      const settledAfterMs = Date.now() - listedAt
      // Then it stays settled: no peer is removed or added while we wait.
      const marks = peers.map((h) => h.events.length)
      await new Promise((r) => setTimeout(r, SETTLE_MS))
      for (const [i, h] of peers.entries()) {
        const changes = h.events
          .slice(marks[i])
          .filter((e) => e.event === 'peer-add' || e.event === 'peer-remove')
        expect(changes, `${h.label}'s peers changed after settling`).toEqual([])
      }
      const now = await Promise.all(peers.map(peersNow))
      for (const [i, report] of now.entries()) {
        // Two peers, one per other host: no key is listed twice.
        const listed = peersOf(report).map((p) => p.remote)
        const others = selves.filter((_, j) => j !== i)
        expect(listed.sort(), `${peers[i]?.label}'s peers`).toEqual([...others].sort())
      }
      expect(pairDisagreements(now, selves)).toEqual([])
      const transports = Object.fromEntries(
        now.flatMap((r, i) => peersOf(r).map((p) => [`P${i + 1}-${p.remote}`, p.type])),
      )
      // One connection per pair, open ones counted too: once a duplicate still being dropped
      // is gone (within the 10 s candidate deadline), each host holds exactly its two, and
      // keeps holding two — the swarm does not redial over UDX a key kept over TCP.
      const openConnections = async (): Promise<number[]> =>
        (await Promise.all(peers.map(peersNow))).map((r) => Number(r.connections))
      const countsFrom = Date.now()
      let counts = await openConnections()
      while (counts.some((c) => c !== 2)) {
        if (Date.now() - countsFrom > 15_000) {
          throw new Error(`open connections per host still ${JSON.stringify(counts)} after 15 s`)
        }
        await new Promise((r) => setTimeout(r, 250))
        counts = await openConnections()
      }
      await new Promise((r) => setTimeout(r, SETTLE_MS))
      expect(await openConnections()).toEqual([2, 2, 2])
      const connections = now.map((r) => r.connections)
      console.log(
        `multihost lan (b): ${JSON.stringify({ settledAfterMs, transports, connections, duplicates: now.map((r) => r.duplicatesDropped) })}`,
      )
    } catch (err) {
      dump()
      throw err
    }
  }, 90_000)
})
