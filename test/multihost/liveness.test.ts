import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureBuilt } from '../helpers/build.js'
import { FIXTURES, Host, type HostEvent, Namespaces, requireNamespaces } from './hosts.js'

// Issue 19, item 2, across real hosts. Host 0 runs the DHT bootstrap; host 1 the hub A, which
// announces a topic; hosts 2..4 the peers B, C, D, which look it up, so A holds a connection
// to each. Nobody writes data: every connection is idle.
//
// 1. For two liveness bounds nothing happens: a healthy idle connection is never dropped.
// 2. At one instant B is frozen (SIGSTOP: its process stops, its kernel still takes packets)
//    and C's link is cut silently (unplugged from the bridge; C's own link stays up). A must
//    drop B, and A and C must each drop the other, within the bound (default 10 s), each
//    reporting 'connection-drop' with reason `timeout`. Before the bound, UDX gave up only
//    after its retransmission timeouts: 17 s measured for a frozen remote, never on an idle
//    connection without keep-alives. D, healthy, stays connected to A throughout.
const BOOTSTRAP_PORT = 49737
const BOUND_MS = 10_000
// The drop is reported over a pipe and read by this process: a little later than it happens.
const REPORT_SLACK_MS = 1000
const IDLE_MS = 2 * BOUND_MS + 1000
const [A, B, C, D] = [1, 2, 3, 4]

const net = new Namespaces(`csl${process.pid}`, 5)
const dir = mkdtempSync(join(tmpdir(), 'csn-liveness-'))
const hosts: Host[] = []
const topic = randomBytes(32).toString('hex')

function start(label: string, i: number, script: string, args: string[]): Host {
  const host = new Host(label, net.name(i), join(FIXTURES, script), args)
  hosts.push(host)
  return host
}

function peer(label: string, i: number, announce: boolean): Host {
  return start(label, i, 'idle-peer.mjs', [
    JSON.stringify({
      host: net.address(i),
      bootstrap: `${net.address(0)}:${BOOTSTRAP_PORT}`,
      dir: join(dir, label),
      topic,
      announce,
      lookup: !announce,
    }),
  ])
}

const at = (e: HostEvent | undefined): number => (typeof e?.t === 'number' ? e.t : 0)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Remote keys `host` is connected to now, from its peer-add/peer-remove events. */
function connected(host: Host): Set<string> {
  const peers = new Set<string>()
  for (const e of host.events) {
    if (e.event === 'peer-add') peers.add(String(e.remote))
    if (e.event === 'peer-remove') peers.delete(String(e.remote))
  }
  return peers
}

const removals = (host: Host, since = 0): HostEvent[] =>
  host.events.filter((e) => e.event === 'peer-remove' && at(e) > since)

let setupError: unknown = null
let frozenPid = 0
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
    if (frozenPid > 0) {
      try {
        process.kill(frozenPid, 'SIGCONT')
      } catch {
        // Already gone.
      }
    }
    await Promise.all(hosts.filter((h) => h.label !== 'bootstrap').map((h) => h.stop()))
    await Promise.all(hosts.map((h) => h.stop()))
  } finally {
    net.down()
    rmSync(dir, { recursive: true, force: true })
  }
  expect(net.remaining()).toEqual([])
}, 30_000)

describe('liveness across real hosts', () => {
  it('a frozen remote and a silently cut link are dropped within the bound at each end; a healthy idle connection never is', async () => {
    if (setupError !== null) throw setupError
    const log: Record<string, unknown> = {}
    try {
      const bootstrap = start('bootstrap', 0, 'bootstrap.mjs', [
        net.address(0),
        String(BOOTSTRAP_PORT),
      ])
      await bootstrap.waitFor((e) => e.event === 'ready', 'bootstrap ready', 10_000)
      const a = peer('A', A, true)
      const aJoined = await a.waitFor((e) => e.event === 'joined', 'A joined', 20_000)
      const [b, c, d] = [peer('B', B, false), peer('C', C, false), peer('D', D, false)]
      const joined = await Promise.all(
        [b, c, d].map((h) => h.waitFor((e) => e.event === 'joined', `${h.label} joined`, 20_000)),
      )
      const [bSelf, cSelf, dSelf] = joined.map((e) => String(e.self)) as [string, string, string]
      const aSelf = String(aJoined.self)
      await a.waitFor(
        () => [bSelf, cSelf, dSelf].every((k) => connected(a).has(String(k))),
        'A lists B, C and D',
        20_000,
      )
      for (const h of [b, c, d]) {
        await h.waitFor(() => connected(h).has(aSelf), `${h.label} lists A`, 20_000)
      }

      // 1. Idle for two bounds and more: nobody drops anybody.
      const idleFrom = Date.now()
      await sleep(IDLE_MS)
      for (const h of [a, b, c, d]) {
        expect(removals(h, idleFrom), `${h.label} dropped a healthy idle connection`).toEqual([])
      }

      // 2. Freeze B and cut C at one instant.
      frozenPid = Number(joined[0]?.pid)
      expect(frozenPid).toBeGreaterThan(0)
      const t0 = Date.now()
      process.kill(frozenPid, 'SIGSTOP')
      net.cut(C, 'silent')
      const isDrop = (remote: string) => (e: HostEvent) =>
        e.event === 'peer-remove' && e.remote === remote && at(e) >= t0
      const within = BOUND_MS + REPORT_SLACK_MS
      const [aLostB, aLostC, cLostA] = await Promise.all([
        a.waitFor(isDrop(bSelf), 'A drops the frozen B', within + 5000),
        a.waitFor(isDrop(cSelf), 'A drops the cut-off C', within + 5000),
        c.waitFor(isDrop(aSelf), 'C drops A, its link cut', within + 5000),
      ])
      log.dropAfterMs = {
        'A-B (B frozen)': at(aLostB) - t0,
        'A-C (C cut)': at(aLostC) - t0,
        'C-A (C cut)': at(cLostA) - t0,
      }
      for (const [what, ms] of Object.entries(log.dropAfterMs as Record<string, number>)) {
        expect(ms, `${what} dropped after ${ms} ms`).toBeLessThanOrEqual(within)
      }
      // Each was dropped by its own liveness bound, and said so.
      const reasons = (h: Host, remote: string) =>
        h.events.filter((e) => e.event === 'drop' && e.remote === remote).map((e) => e.reason)
      expect(reasons(a, bSelf)).toEqual(['timeout'])
      expect(reasons(a, cSelf)).toEqual(['timeout'])
      expect(reasons(c, aSelf)).toEqual(['timeout'])
      // D, healthy and idle all along, was never dropped at either end.
      expect(removals(a).filter((e) => e.remote === dSelf)).toEqual([])
      expect(removals(d)).toEqual([])
      expect(connected(a).has(dSelf) && connected(d).has(aSelf)).toBe(true)
      console.log(`multihost liveness: ${JSON.stringify(log)}`)
    } catch (err) {
      console.error(`multihost liveness so far: ${JSON.stringify(log)}`)
      for (const h of hosts) {
        const events = h.events.filter((e) => e.event !== 'stats')
        console.error(`--- ${h.label}: ${JSON.stringify(events)}\n${h.stderr}`)
      }
      throw err
    } finally {
      if (frozenPid > 0) process.kill(frozenPid, 'SIGCONT')
      frozenPid = 0
      net.restore(C)
    }
  }, 120_000)
})
