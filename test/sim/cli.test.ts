import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { ensureBuilt, ROOT } from '../helpers/build.js'

describe('npm run sim', () => {
  beforeAll(() => ensureBuilt(), 120_000)
  const sim = (...args: string[]) =>
    spawnSync(process.execPath, [join(ROOT, 'dist', 'sim', 'cli.js'), ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    })

  it('prints the seed first and "all invariants held" last, the same bytes every time', () => {
    const args = ['--seed', '7', '--runs', '3', '--peers', '5', '--topics', '2', '--steps', '40']
    const a = sim(...args)
    const b = sim(...args)
    expect(a.status).toBe(0)
    expect(a.stdout).toBe(b.stdout)
    const lines = a.stdout.trim().split('\n')
    expect(lines[0]).toBe('seed 7')
    expect(lines.at(-1)).toBe('all invariants held')
    expect(a.stdout).toMatch(/run 3\/3 seed 9: .* ok/)
    expect(a.stdout).toMatch(/invariants checked +\d+/)
    expect(a.stderr).toMatch(/speed +\d+x real time/)
    // The default run says nothing of transports: its output is what it was before them.
    expect(a.stdout).not.toMatch(/transports|kept at quiescence/)
  })

  it('runs real Noise with --real-noise, as deterministic as the stand-in', () => {
    const args = ['--seed', '7', '--runs', '1', '--peers', '4', '--steps', '20', '--real-noise']
    const a = sim(...args)
    expect(a.status).toBe(0)
    expect(a.stdout).toBe(sim(...args).stdout)
    expect(a.stdout.split('\n')[1]).toMatch(/, real noise$/)
  })

  it('runs UDX and TCP with --transports and --lan-partition, as deterministic as ever', () => {
    const args = ['--seed', '3', '--runs', '1', '--peers', '4', '--topics', '2', '--steps', '20']
    const both = [...args, '--transports', 'tcp,udx', '--lan-partition']
    const a = sim(...both)
    expect(a.status).toBe(0)
    expect(a.stdout).toBe(sim(...both).stdout)
    const lines = a.stdout.trim().split('\n')
    expect(lines[0]).toBe('seed 3')
    // In one order whatever the order given.
    expect(lines[1]).toMatch(/, transports udx,tcp, lan partition$/)
    expect(a.stdout).toMatch(/kept at quiescence +[1-9]\d* over udx, [1-9]\d* over tcp/)
    expect(a.stdout).toMatch(/lan-only partition +[1-9]\d* pair\(s\) kept over tcp off the DHT/)
    expect(lines.at(-1)).toBe('all invariants held')
    const tcp = sim(...args, '--transports', 'tcp')
    expect(tcp.status).toBe(0)
    expect(tcp.stdout).toMatch(/kept at quiescence +0 over udx, [1-9]\d* over tcp/)
    // TCP's FIN with --tcp-fin: said in the header and the replay line, deterministic too.
    const fin = sim(...both, '--tcp-fin')
    expect(fin.status).toBe(0)
    expect(fin.stdout).toBe(sim(...both, '--tcp-fin').stdout)
    expect(fin.stdout.split('\n')[1]).toMatch(/, transports udx,tcp, lan partition, tcp fin$/)
    expect(fin.stdout.trim().split('\n').at(-1)).toBe('all invariants held')
  })

  it('runs one network at scale with --scale, its speed and heap on standard error', () => {
    const args = ['--scale', '--seed', '2', '--peers', '12', '--topics', '3']
    const a = sim(...args)
    expect(a.status).toBe(0)
    expect(a.stdout).toBe(sim(...args).stdout)
    expect(a.stdout).toContain('scale: 12 nodes, 3 topics, one topic each')
    // 12 nodes over 3 topics: three full meshes of 4.
    expect(a.stdout).toMatch(/connections +18 at quiescence/)
    expect(a.stdout.trim().split('\n').at(-1)).toBe('all invariants held')
    expect(a.stderr).toMatch(/speed +\d+x real time/)
    expect(a.stderr).toMatch(/heap +\d+ MiB/)
  })

  it('picks and prints a seed when none is given, and rejects bad arguments', () => {
    const r = sim('--runs', '1', '--peers', '3', '--steps', '5')
    expect(r.status).toBe(0)
    expect(r.stdout.split('\n')[0]).toMatch(/^seed \d+$/)
    const bad = sim('--peers', '1')
    expect(bad.status).toBe(2)
    expect(bad.stderr).toContain('--peers must be a whole number ≥ 2')
    const transports = sim('--transports', 'udp')
    expect(transports.status).toBe(2)
    expect(transports.stderr).toContain("--transports takes udx, tcp or both (udx,tcp), got 'udp'")
    const lan = sim('--lan-partition')
    expect(lan.status).toBe(2)
    expect(lan.stderr).toContain('--lan-partition needs tcp in --transports')
    const fin = sim('--tcp-fin')
    expect(fin.status).toBe(2)
    expect(fin.stderr).toContain('--tcp-fin needs tcp in --transports')
  })
})
