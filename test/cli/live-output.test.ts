import { describe, expect, it } from 'vitest'
import { Output } from '../../src/cli/output.js'
import { renderPeerTable, withRates } from '../../src/cli/peer-table.js'
import type { NetworkerStats, PeerStats } from '../../src/index.js'

/** A terminal of `columns` columns that keeps what was written. */
function terminal(columns = 80) {
  let written = ''
  const stream = {
    isTTY: true,
    columns,
    write: (s: string) => {
      written += s
      return true
    },
  } as unknown as NodeJS.WriteStream
  return { stream, text: () => written }
}

const UP = '\x1b[1A\x1b[2K'

describe('the live region of a terminal', () => {
  it('redraws a panel in place, keeps it under printed lines, and clears it for the result', () => {
    const tty = terminal()
    const out = new Output({ json: false, quiet: false }, tty.stream)
    out.panel(['one', 'two', 'three'])
    expect(tty.text()).toBe('one\ntwo\nthree')
    out.panel(['four', 'five'])
    // Back over the three lines drawn (clear this one, then up and clear twice), then redraw.
    expect(tty.text()).toBe(`one\ntwo\nthree\r\x1b[2K${UP}${UP}four\nfive`)
    const before = tty.text().length
    out.event({}, '+ peer')
    expect(tty.text().slice(before)).toBe(`\r\x1b[2K${UP}+ peer\nfour\nfive`)
    out.progress({}, '[####] 50%', false)
    expect(tty.text().endsWith('four\nfive\n[####] 50%')).toBe(true)
    const end = tty.text().length
    out.result({}, 'done')
    expect(tty.text().slice(end)).toBe(`\r\x1b[2K${UP}${UP}done\n`)
  })

  it('cuts lines at the terminal width, so a redraw erases exactly what it drew', () => {
    const tty = terminal(30)
    const out = new Output({ json: false, quiet: false }, tty.stream)
    out.panel(['x'.repeat(100)])
    expect(tty.text()).toBe('x'.repeat(29))
  })

  it('draws nothing off a terminal, with --json or with --quiet', () => {
    for (const [opts, isTTY] of [
      [{ json: false, quiet: false }, false],
      [{ json: true, quiet: false }, true],
      [{ json: false, quiet: true }, true],
    ] as const) {
      const tty = terminal()
      ;(tty.stream as { isTTY: boolean }).isTTY = isTTY
      new Output(opts, tty.stream).panel(['table'])
      expect(tty.text()).toBe('')
    }
  })
})

const peer = (key: string, sent: number, received: number, ageMs = 5000): PeerStats => ({
  remoteKey: key.repeat(64).slice(0, 64),
  remoteAddress: '127.0.0.1:4000',
  type: 'udx',
  path: 'loopback',
  initiator: true,
  ageMs,
  bytesSent: sent,
  bytesReceived: received,
  packetsSent: 1,
  packetsReceived: 1,
  rttMs: 3,
  cwnd: 10,
  inflight: 0,
  retransmits: 0,
  rtoCount: 0,
  replicationBytesSent: sent,
  replicationBytesReceived: received,
  topics: [],
  extensions: {},
})

function stats(peers: PeerStats[]): NetworkerStats {
  const sum = (f: (p: PeerStats) => number) => peers.reduce((n, p) => n + f(p), 0)
  return {
    peers,
    totals: {
      peers: peers.length,
      topics: { joined: 1 },
      bytesSent: sum((p) => p.bytesSent),
      bytesReceived: sum((p) => p.bytesReceived),
      reconnects: 0,
    } as NetworkerStats['totals'],
  }
}

describe('the --stats peer table', () => {
  it('gives rates from the previous snapshot, and a new peer its rate over its age', () => {
    const before = stats([peer('a', 1000, 0)])
    const now = stats([peer('a', 3000, 500), peer('b', 4000, 0, 2000)])
    const { peers, total } = withRates(now, before, 2)
    expect(peers.map((p) => [p.sendRate, p.receiveRate])).toEqual([
      [1000, 250],
      [2000, 0],
    ])
    expect(total).toEqual({ sent: 3000, received: 250 })
  })

  it('shows the busiest peers first, at most maxRows, then how many more', () => {
    const now = stats([peer('a', 10, 0), peer('b', 9000, 0), peer('c', 500, 0)])
    const lines = renderPeerTable(now, withRates(now, null, 1), 2)
    expect(lines[0]).toMatch(/^peers 3 {2}topics 1 joined {2}up 0 B\/s/)
    expect(lines[1]).toMatch(/^PEER +ADDRESS +PATH +AGE/)
    expect(lines.slice(2, 4).map((l) => l.slice(0, 1))).toEqual(['b', 'c'])
    expect(lines[4]).toBe('… and 1 more')
  })
})
