import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLI, ensureBuilt } from '../helpers/build.js'
import { parseScrape, type Scrape } from '../helpers/prometheus.js'
import { eventually } from '../helpers/real-network.js'
import { events, expectOneLineError, json, runIn, startIn } from './cli-process.js'

// --metrics and --stats on the real commands, each in its own process against a real local
// testnet, scraped over HTTP as Prometheus would.
const dir = mkdtempSync(join(tmpdir(), 'csn-cli-metrics-'))
const children: ChildProcess[] = []
const start = (args: string[]) => startIn(dir, children, args)
const run = (...args: string[]) => runIn(dir, args)
const P = 'chainstore_networker_'
const SIZE = 4 * 1024 * 1024
let bootstrap = ''
let key = ''

async function scrape(url: string): Promise<Scrape> {
  const res = await fetch(url)
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  return parseScrape(await res.text())
}

beforeAll(async () => {
  ensureBuilt()
  const testnet = start(['testnet', '--nodes', '2', '--json'])
  bootstrap = json(await testnet.line((l) => l.includes('"testnet"'))).bootstrap as string
  writeFileSync(join(dir, 'input.bin'), randomBytes(SIZE))
  const put = start(['put', 'input.bin', '--storage', 'a', '--bootstrap', bootstrap, '--json'])
  key = json(await put.line((l) => l.includes('"put"'))).key as string
  await put.line((l) => l.includes('"seeding"'))
  put.child.kill('SIGINT')
  expect(await put.exited).toBe(0)
}, 120_000)
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})

describe('--metrics and --stats', () => {
  it('seed --metrics serves /metrics; a scrape sees peers, bytes and RTT move while a get runs in another process', async () => {
    const seed = start([
      'seed',
      '--storage',
      'a',
      '--bootstrap',
      bootstrap,
      '--metrics',
      '127.0.0.1:0',
      '--stats',
      '--json',
    ])
    const url = json(await seed.line((l) => l.includes('"metrics"'))).url as string
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
    await seed.line((l) => l.includes('"seeding"'))
    const before = await scrape(url)
    expect(before.value(`${P}peers`)).toBe(0)
    expect(before.value(`${P}sent_bytes_total`)).toBe(0)
    expect(before.value(`${P}topics`, { state: 'joined' })).toBe(1)
    expect((await fetch(url.replace('/metrics', '/'))).status).toBe(404)

    // get --live stays connected after fetching everything, until Ctrl-C.
    const get = start([
      'get',
      key,
      '--storage',
      'b',
      '--out',
      'b.bin',
      '--live',
      '--bootstrap',
      bootstrap,
      '--metrics',
      '127.0.0.1:0',
      '--stats',
      '--json',
    ])
    const getUrl = json(await get.line((l) => l.includes('"metrics"'))).url as string
    await get.line((l) => l.includes('"complete"'), { ms: 60_000 })
    await eventually(async () => (await scrape(url)).value(`${P}peers`) === 1, 'seed sees the get')
    const during = await scrape(url)
    expect(during.value(`${P}sent_bytes_total`)).toBeGreaterThan(SIZE)
    expect(during.value(`${P}replication_sent_bytes_total`)).toBeGreaterThan(SIZE)
    expect(during.value(`${P}sent_packets_total`)).toBeGreaterThan(SIZE / 1500)
    expect(during.value(`${P}peer_rtt_seconds`, { stat: 'median' })).toBeGreaterThanOrEqual(0)
    expect(during.value(`${P}connections_opened_total`)).toBeGreaterThanOrEqual(1)
    const fetched = await scrape(getUrl)
    expect(fetched.value(`${P}peers`)).toBe(1)
    expect(fetched.value(`${P}received_bytes_total`)).toBeGreaterThan(SIZE)
    expect(fetched.value(`${P}topics`, { state: 'joined' })).toBe(1)

    // --stats --json: periodic stats events, the same figures with rates.
    type StatsEvent = {
      totals: {
        peers: number
        bytesReceived: number
        receiveRate: number
        connectionsOpened: number
      }
      peers: { remoteKey: string; bytesReceived: number; receiveRate: number; rttMs: number }[]
    }
    // A stats event comes each second: wait for one taken after the whole core arrived (one
    // printed before 'complete' may still be the newest for up to a second).
    const statsEvents = (): StatsEvent[] =>
      events(get.stdout().toString()).filter((e) => e.event === 'stats') as StatsEvent[]
    await eventually(
      () => (statsEvents().at(-1)?.totals.bytesReceived ?? 0) > SIZE,
      'a stats event after the transfer',
    )
    const last = statsEvents().at(-1)!
    expect(last.totals.peers).toBe(1)
    // All of it arrived, over this connection or, if a loaded machine made liveness or the
    // duplicate rule replace it mid-transfer, partly over an earlier one: the totals count
    // closed connections too, a peer's entry only its current one.
    expect(last.totals.bytesReceived).toBeGreaterThan(SIZE)
    // On its one connection the peer's entry counts the whole transfer; only a replaced
    // connection (more than one opened) may leave part of it to the totals.
    if (last.totals.connectionsOpened === 1) {
      expect(last.peers[0]!.bytesReceived).toBeGreaterThan(SIZE)
    } else {
      expect(last.peers[0]!.bytesReceived).toBeGreaterThan(0)
    }
    expect(last.peers[0]!.rttMs).toBeGreaterThanOrEqual(0)
    expect(typeof last.peers[0]!.receiveRate).toBe('number')
    expect(events(seed.stdout().toString()).some((e) => e.event === 'stats')).toBe(true)

    get.child.kill('SIGINT')
    expect(await get.exited).toBe(0)
    await eventually(async () => (await scrape(url)).value(`${P}peers`) === 0, 'the get is gone')
    const after = await scrape(url)
    expect(after.value(`${P}connections_closed_total`, { reason: 'ended' })).toBeGreaterThanOrEqual(
      1,
    )
    expect(after.value(`${P}sent_bytes_total`)).toBeGreaterThanOrEqual(
      during.value(`${P}sent_bytes_total`)!,
    )

    // A second command asking for the same port is told so, before it opens anything.
    const port = new URL(url).port
    const busy = run(
      'seed',
      '--storage',
      'a',
      '--bootstrap',
      bootstrap,
      '--metrics',
      `127.0.0.1:${port}`,
    )
    expectOneLineError(busy, /--metrics 127\.0\.0\.1:\d+ is already in use/)

    seed.child.kill('SIGINT')
    expect(await seed.exited).toBe(0)
  })

  it('demo --metrics serves every networker of the demo, told apart by a node label', async () => {
    const demo = start(['demo', '--blocks', '3000', '--metrics', '127.0.0.1:0', '--json'])
    const url = json(await demo.line((l) => l.includes('"metrics"'))).url as string
    await demo.line((l) => l.includes('"announced"'), { ms: 60_000 })
    const s = await scrape(url)
    expect(s.value(`${P}topics`, { node: 'writer', state: 'joined' })).toBe(1)
    expect(s.value(`${P}peers`, { node: 'reader-1' })).toBeDefined()
    expect(s.value(`${P}peers`, { node: 'reader-2' })).toBeDefined()
    expect(await demo.exited).toBe(0)
    expect(events(demo.stdout().toString()).at(-1)).toMatchObject({ event: 'summary' })
  })

  it('refuses a malformed --metrics, and --metrics or --stats on a command that does not take it', () => {
    expectOneLineError(
      run('seed', '--storage', 'a', '--metrics', 'nonsense'),
      /--metrics must be host:port \(e\.g\. 127\.0\.0\.1:9464\), got 'nonsense'; see seed --help$/,
    )
    expectOneLineError(
      run('get', key, '--storage', 'c', '--metrics', '127.0.0.1:99999'),
      /--metrics must be host:port/,
    )
    expectOneLineError(run('status', '--storage', 'a', '--stats'), /status does not take --stats/)
    expectOneLineError(run('demo', '--stats'), /demo does not take --stats/)
  })
})

describe('--stats on a terminal', () => {
  it('seed --stats draws a live peer table in place at the bottom of the terminal', async () => {
    // A real pseudo-terminal (util-linux `script`), 160 columns wide; seed stops itself after 12 s.
    const command = `stty cols 160 rows 40; exec timeout --preserve-status -s INT 12 "${process.execPath}" "${CLI}" seed --storage a --bootstrap ${bootstrap} --stats`
    const tty = spawn('script', ['-qfec', command, '/dev/null'], {
      cwd: dir,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    children.push(tty)
    let screen = ''
    tty.stdout?.setEncoding('utf8').on('data', (c: string) => {
      screen += c
    })
    const exited = new Promise<number | null>((resolve) =>
      tty.once('exit', (code) => resolve(code)),
    )
    await eventually(() => screen.includes('seeding'), 'seed is up', 60_000)
    const get = start([
      'get',
      key,
      '--storage',
      'tty',
      '--out',
      'tty.bin',
      '--live',
      '--bootstrap',
      bootstrap,
    ])
    await get.line((l) => l.startsWith('complete'), { ms: 60_000 })
    await eventually(() => /loopback/.test(screen), 'a peer row', 30_000)
    get.child.kill('SIGINT')
    expect(await get.exited).toBe(0)
    expect(await exited).toBe(0)
    // The summary, the header and a row for the get's connection…
    expect(screen).toMatch(/peers 1 {2}topics 1 joined {2}up [\d.]+ [KMGi]*B\/s/)
    expect(screen).toMatch(
      /PEER +ADDRESS +PATH +AGE +UP +DOWN +SENT +RECEIVED +RTT +CWND +RETX +TOPICS/,
    )
    expect(screen).toMatch(/[0-9a-f]{12} {2}127\.0\.0\.1:\d+ +loopback/)
    // …redrawn in place: each refresh moves up over the last one and clears it.
    expect(screen).toContain('\x1b[1A\x1b[2K')
    expect(screen).toMatch(/stopped; served/)
  })
})
