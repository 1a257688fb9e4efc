import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureBuilt } from '../helpers/build.js'
import { FIXTURES, Host, type HostEvent, Namespaces, requireNamespaces } from './hosts.js'

// Host 0 runs the DHT bootstrap, host 1 the writer A, hosts 2..4 the readers B, C, D.
// B's link is cut twice while it downloads. First briefly at the bridge (B sees no carrier):
// the connections survive and the transfer resumes on them. Then silently (B's own link stays
// up, as when the path fails further away) until the A-B connection has timed out at both
// ends, so they must find each other again.
//
// B downloads a tenth of the core between the cuts: UDX takes RTT samples across an outage
// (after a 3 s cut a 30 ms RTT reads ~700 ms), and until fresh samples bring it down, a
// connection needs minutes rather than seconds to notice the next outage.
const BOOTSTRAP_PORT = 49737
// 32 MiB to three readers takes several seconds here, so both cuts land mid-transfer.
const BLOCKS = 2000
const BLOCK_SIZE = 16 * 1024
const B = 2
const SHORT_CUT_MS = 3000
// UDX gives up on a connection with data in flight after 6 retransmission timeouts: 8-13 s
// here; the bound leaves room for an RTT inflated by the transfer's queues.
const DROP_WITHIN_MS = 45_000
// Hyperswarm retries a lost peer after ~1, 5 and 15 s.
const RECONNECT_WITHIN_MS = 25_000
// Blocks already in B's socket buffers may still be processed right after a cut, never later.
const IN_FLIGHT_MS = 1000

const net = new Namespaces(`csn${process.pid}`, 5)
const dir = mkdtempSync(join(tmpdir(), 'csn-multihost-'))
const hosts: Host[] = []

function start(label: string, i: number, script: string, args: string[]): Host {
  const host = new Host(label, net.name(i), join(FIXTURES, script), args)
  hosts.push(host)
  return host
}

function peer(label: string, i: number, config: Record<string, unknown>): Host {
  return start(label, i, 'peer.mjs', [
    JSON.stringify({
      host: net.address(i),
      bootstrap: `${net.address(0)}:${BOOTSTRAP_PORT}`,
      dir: join(dir, label),
      ...config,
    }),
  ])
}

const at = (e: HostEvent | undefined): number => (typeof e?.t === 'number' ? e.t : 0)
const got = (e: HostEvent | undefined): number => (typeof e?.got === 'number' ? e.got : 0)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The progress `host` reported strictly between `from` (plus in-flight grace) and `to`. */
function progressWhileCut(host: Host, from: number, to: number): HostEvent[] {
  return host.events.filter(
    (e) => e.event === 'progress' && at(e) > from + IN_FLIGHT_MS && at(e) < to,
  )
}

/** `host`'s UDX round-trip estimate to `remote` in its latest stats, for the log. */
function rttTo(host: Host, remote: string): unknown {
  const connections = host.last('stats')?.connections
  if (!Array.isArray(connections)) return null
  return connections.find((c) => c?.remote === remote)?.udx?.rtt ?? null
}

/** The short public key a peer reports once joined. */
async function selfKey(host: Host): Promise<string> {
  const joined = await host.waitFor((e) => e.event === 'joined', `${host.label} joined`, 20_000)
  return String(joined.self)
}

/** `e` says the connection to `remote` was lost after `since`. */
const isDrop = (e: HostEvent, remote: string, since: number): boolean =>
  e.event === 'peer-remove' && e.remote === remote && at(e) > since

/** Remote keys `host` is connected to now, from its peer-add/peer-remove events. */
function connected(host: Host): Set<string> {
  const peers = new Set<string>()
  for (const e of host.events) {
    if (e.event === 'peer-add') peers.add(String(e.remote))
    if (e.event === 'peer-remove') peers.delete(String(e.remote))
  }
  return peers
}

// A failing beforeAll makes vitest report the test as skipped; a missing root or `ip netns`
// must count as a failure, so the test itself rethrows what setting up met.
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
    // Peers before the DHT they unannounce through, or each close waits out its timeout.
    await Promise.all(hosts.filter((h) => h.label !== 'bootstrap').map((h) => h.stop()))
    await Promise.all(hosts.map((h) => h.stop()))
  } finally {
    // Always, even when stopping failed: `down` also kills whatever is left inside.
    net.down()
    rmSync(dir, { recursive: true, force: true })
  }
  expect(net.remaining()).toEqual([])
}, 30_000)

describe('several real hosts in network namespaces', () => {
  it('a reader cut off mid-transfer resumes after a short cut, reconnects after a long one, and every reader ends byte-identical', async () => {
    if (setupError !== null) throw setupError
    const log: Record<string, unknown> = {}
    try {
      const bootstrap = start('bootstrap', 0, 'bootstrap.mjs', [
        net.address(0),
        String(BOOTSTRAP_PORT),
      ])
      await bootstrap.waitFor((e) => e.event === 'ready', 'bootstrap ready', 10_000)

      const a = peer('A', 1, { role: 'writer', blocks: BLOCKS, blockSize: BLOCK_SIZE })
      const written = await a.waitFor((e) => e.event === 'ready', 'writer ready', 20_000)
      expect(written.length).toBe(BLOCKS)

      const reader = { role: 'reader', key: written.key, length: BLOCKS }
      const b = peer('B', B, reader)
      const c = peer('C', 3, reader)
      const d = peer('D', 4, reader)
      const readers = [b, c, d]
      const [bSelf, cSelf, dSelf] = await Promise.all([selfKey(b), selfKey(c), selfKey(d)])
      const aSelf = String(written.self)
      const hostOf = new Map([
        [aSelf, a],
        [cSelf, c],
        [dSelf, d],
      ])

      // 1. A short cut once B has a tenth of the core: nothing arrives, then it resumes.
      await b.waitFor(
        (e) => e.event === 'progress' && got(e) >= BLOCKS / 10,
        'B has a tenth of the core',
        30_000,
      )
      net.cut(B)
      const cut1 = Date.now()
      log.firstCutAt = got(b.last('progress'))
      expect(b.last('done'), 'B finished before its link was cut').toBeUndefined()
      await sleep(SHORT_CUT_MS)
      const restore1 = Date.now()
      const stalled1 = got(b.last('progress'))
      expect(progressWhileCut(b, cut1, restore1), 'B received while cut').toEqual([])
      let mark = b.events.length
      net.restore(B)
      const resumed = await b.waitFor(
        (e) => e.event === 'progress' && got(e) > stalled1,
        'B resumes after a short cut',
        20_000,
        mark,
      )
      log.resumedAfterMs = at(resumed) - restore1
      // UDX needs 6 retransmission timeouts (8 s at the least here) to give a connection up.
      expect(
        b.events.filter((e) => e.event === 'peer-remove' && at(e) > cut1),
        'B lost a connection to a 3 s cut',
      ).toEqual([])

      // 2. Another tenth later, cut B off silently until A and B have both given up.
      await b.waitFor(
        (e) => e.event === 'progress' && got(e) >= stalled1 + BLOCKS / 10,
        'B downloads another tenth',
        20_000,
        mark,
      )
      log.rttToA = rttTo(b, aSelf)
      net.cut(B, 'silent')
      const cut2 = Date.now()
      log.secondCutAt = got(b.last('progress'))
      expect(b.last('done'), 'B finished before the second cut').toBeUndefined()
      const before = [...connected(b)]
      expect(before, 'B was not connected to the writer when cut').toContain(aSelf)
      const [bLost, aLost] = await Promise.all([
        b.waitFor((e) => isDrop(e, aSelf, cut2), 'B notices A is gone', DROP_WITHIN_MS),
        a.waitFor((e) => isDrop(e, bSelf, cut2), 'A notices B is gone', DROP_WITHIN_MS),
      ])
      log.dropAfterMs = { B: at(bLost) - cut2, A: at(aLost) - cut2 }
      const restore2 = Date.now()
      expect(progressWhileCut(b, cut2, restore2), 'B received while cut').toEqual([])
      // B's other connections may not have timed out yet, or at one end only.
      const pairs = before.map((key) => {
        const other = hostOf.get(key)
        if (other === undefined) throw new Error(`B is connected to an unknown key ${key}`)
        return {
          key,
          other,
          bDropped: b.events.some((e) => isDrop(e, key, cut2)),
          otherDropped: other.events.some((e) => isDrop(e, bSelf, cut2)),
        }
      })
      // Per peer of B, which ends had given the connection up: B, X (the other), both or none.
      log.atRestore = pairs.map(
        (p) => `${p.other.label}:${p.bDropped ? 'B' : ''}${p.otherDropped ? 'X' : ''}`,
      )
      mark = b.events.length
      net.restore(B)

      // Every pair whose connection died at both ends finds each other again: A-B always.
      const rejoined = pairs.filter((p) => p.bDropped && p.otherDropped)
      await b.waitFor(
        () => rejoined.every((p) => connected(b).has(p.key)),
        `B reconnects to ${rejoined.map((p) => p.other.label).join(', ')}`,
        RECONNECT_WITHIN_MS,
        mark,
      )
      for (const p of rejoined) {
        await p.other.waitFor(
          () => connected(p.other).has(bSelf),
          `${p.other.label} reconnects to B`,
          RECONNECT_WITHIN_MS,
        )
      }
      log.reconnectedAfterMs = at(b.last('peer-add')) - restore2

      // 3. Everyone ends with the writer's core, byte for byte.
      const done = await Promise.all(
        readers.map((r) => r.waitFor((e) => e.event === 'done', `${r.label} complete`, 45_000)),
      )
      log.bCompleteAfterMs = at(done[0]) - restore2
      // A pair given up at one end only is not asserted on: the end that kept it waits for UDX
      // to time it out, and the other end redials only if it had dialed. The log shows them.
      log.atEnd = pairs.map(
        (p) =>
          `${p.other.label}:${connected(b).has(p.key) ? 'B' : ''}${connected(p.other).has(bSelf) ? 'X' : ''}`,
      )
      for (const [i, result] of done.entries()) {
        const label = readers[i]?.label
        const { length, hash, treeHash } = result
        expect({ label, length, hash, treeHash }).toEqual({
          label,
          length: written.length,
          hash: written.hash,
          treeHash: written.treeHash,
        })
      }
      console.log(`multihost timings: ${JSON.stringify(log)}`)
    } catch (err) {
      // Every event of every host (stats included), kept past the run's temp dir for a post-mortem.
      const dump = join(tmpdir(), `csn-multihost-${process.pid}-events.json`)
      writeFileSync(dump, JSON.stringify(Object.fromEntries(hosts.map((h) => [h.label, h.events]))))
      console.error(`multihost so far: ${JSON.stringify(log)}; all events in ${dump}`)
      for (const h of hosts) {
        const peers = h.events.filter((e) => e.event.startsWith('peer-') || e.event === 'error')
        console.error(
          `--- ${h.label}: ${JSON.stringify(peers)}\nlast stats: ${JSON.stringify(h.last('stats'))}\n${h.stderr}`,
        )
      }
      throw err
    }
  }, 90_000)
})
