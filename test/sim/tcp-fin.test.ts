import { describe, expect, it } from 'vitest'
import { Link, runScenario, type SimRawStream, VirtualClock } from '../../sim/index.js'

/**
 * `tcpFin`: a TCP connection one end closes reaches the other end as the end of its stream
 * first, and closes there a few ms later, as a host's FIN does. A plain cut closes both ends
 * at once after the latency, so the simulator never had the window in which an end has heard
 * the remote's end and not yet its close. A dedup bug lived in that window (a held TCP
 * candidate promoted over the kept connection, because the guard counted the end as the
 * remote's first data: test/integration/candidate-end.test.ts); with the guard's fix undone,
 * `npm run sim -- --seed 1 --runs 100 --transports tcp --tcp-fin` fails at seed 4 with
 * same-connection-both-ends, and 100 runs without --tcp-fin all hold.
 */

interface Heard {
  data: string[]
  endAt: number | null
  closeAt: number | null
}

/** What one end of a link hears, and when, on the link's clock. */
function listen(end: SimRawStream, clock: VirtualClock): Heard {
  const heard: Heard = { data: [], endAt: null, closeAt: null }
  end.on('data', (d: unknown) => {
    heard.data.push(String(d))
  })
  end.on('end', () => {
    heard.endAt = clock.now()
  })
  end.on('close', () => {
    heard.closeAt = clock.now()
  })
  return heard
}

describe('a TCP link that closes with a FIN (tcpFin)', () => {
  const LATENCY = 4

  it('gives the other end what was sent, then the end, and closes it finToClose ms later', async () => {
    const clock = new VirtualClock()
    const link = new Link(1, clock, LATENCY, 'a:1', 'b:1', 1, 2, 'tcp', 3)
    const heard = listen(link.b, clock)
    link.a.write(Buffer.from('last words'))
    // The write reaches the wire on a later tick; a destroy before it would discard it.
    await new Promise((resolve) => setImmediate(resolve))
    link.a.destroy()
    await clock.runFor(LATENCY - 1)
    expect(heard).toEqual({ data: [], endAt: null, closeAt: null })
    await clock.runFor(1)
    expect(heard.data).toEqual(['last words'])
    expect(heard.endAt).toBe(LATENCY)
    // Heard the end, not yet the close: the window a plain cut does not have.
    expect(heard.closeAt).toBe(null)
    expect(link.b.destroyed).toBe(false)
    await clock.runFor(3)
    expect(heard.closeAt).toBe(LATENCY + 3)
    expect(link.broken).toBe(true)
    expect(link.cutBy).toBe(1)
  })

  it('drops what the other end writes after the close began', async () => {
    const clock = new VirtualClock()
    const link = new Link(1, clock, LATENCY, 'a:1', 'b:1', 1, 2, 'tcp', 2)
    const heard = listen(link.a, clock)
    link.b.destroy()
    link.a.write(Buffer.from('too late'))
    await clock.runFor(LATENCY + 10)
    expect(heard.data).toEqual([])
    expect(link.a.destroyed).toBe(true)
  })

  it('without finToClose, closes both ends after the latency and delivers no end (as before)', async () => {
    const clock = new VirtualClock()
    const link = new Link(1, clock, LATENCY, 'a:1', 'b:1', 1, 2, 'tcp')
    const heard = listen(link.b, clock)
    link.a.write(Buffer.from('lost'))
    await new Promise((resolve) => setImmediate(resolve))
    link.a.destroy()
    await clock.runFor(LATENCY + 10)
    expect(heard).toEqual({ data: [], endAt: null, closeAt: LATENCY })
  })

  it('a fault (no end closed it) cuts both ends after the latency, FIN or not', async () => {
    const clock = new VirtualClock()
    const link = new Link(1, clock, LATENCY, 'a:1', 'b:1', 1, 2, 'tcp', 5)
    const heard = listen(link.b, clock)
    link.cut('fault')
    await clock.runFor(LATENCY + 10)
    expect(heard).toEqual({ data: [], endAt: null, closeAt: LATENCY })
  })
})

/** The run `npm run sim -- --seed <seed> --runs 1 --transports tcp --tcp-fin` makes. */
function overTcpWithFins(seed: number) {
  return runScenario({ seed, peers: 8, topics: 3, steps: 60, transports: ['tcp'], tcpFin: true })
}

describe('scenarios with FINs on TCP (generated ones: test/sim/transports.test.ts)', () => {
  it('seed 4 over TCP, the run that catches an end counted as data: every invariant holds', async () => {
    // With the inbound guard's fix undone this run breaks same-connection-both-ends at 16.2 s.
    const result = await overTcpWithFins(4)
    expect(result.kept.tcp).toBeGreaterThan(0)
  })

  it('seed 40836 over TCP: a pair one end turns away dials itself twice after the heal, and that is no reconnect duplicate', async () => {
    // Its accepting end redials what the other closes, the other's discovery dials it too, and
    // two meet: reconnect-without-duplicates counted that until it skipped such pairs, as the
    // mesh does (sim/awareness-checks.ts, turnedAway).
    const result = await overTcpWithFins(40836)
    expect(result.faults['auth-rejection'] ?? 0).toBeGreaterThan(0)
  })

  it('needs TCP among the transports', async () => {
    await expect(
      runScenario({ seed: 1, peers: 2, topics: 1, steps: 1, tcpFin: true }),
    ).rejects.toThrow("tcpFin needs 'tcp' transport")
  })
})
