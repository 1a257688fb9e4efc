import { readFileSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { arch, cpus, loadavg, release, totalmem, type } from 'node:os'
import { join } from 'node:path'
import { type Chart, renderCharts } from './charts.js'
import { fmt } from './format.js'
import type { ProfileSummary } from './profile.js'
import { ROOT } from './root.js'
import { plainSummary } from './summary.js'
import type { BenchmarkResult, Row } from './types.js'

export interface Machine {
  cpu: string
  cores: number
  memoryGiB: number
  os: string
  /** 1-minute load average when the run started and ended: the machine is shared. */
  loadAverage: { start: number; end: number }
}

export interface Results {
  generated: string
  mode: 'full' | 'quick'
  command: string
  wallSeconds: number
  machine: Machine
  versions: Record<string, string>
  goals: { met: number; missed: number; withheld?: number }
  benchmarks: BenchmarkResult[]
  profiles: ProfileSummary[]
}

const PACKAGES = [
  'hyperswarm',
  'corestore',
  'protomux',
  '@hyperswarm/secret-stream',
  'xstate',
  'hypercore',
  'hyperdht',
  '@hyperswarm/testnet',
  'mitata',
]

function versionOf(dir: string): string {
  try {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: string }
    return pkg.version ?? 'unknown'
  } catch {
    return 'not installed'
  }
}

export function versions(): Record<string, string> {
  const out: Record<string, string> = {
    node: process.version,
    '@web4/chainstore-networker': versionOf(ROOT),
  }
  for (const name of PACKAGES) out[name] = versionOf(join(ROOT, 'node_modules', name))
  return out
}

export function machine(loadAtStart: number): Machine {
  const list = cpus()
  return {
    cpu: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${type()} ${release()} ${arch()}`,
    loadAverage: { start: loadAtStart, end: loadavg()[0] ?? 0 },
  }
}

const verdict = (row: Row): string =>
  row.goal === null
    ? ''
    : row.goal.withheld !== undefined
      ? 'no verdict'
      : row.goal.met
        ? 'met'
        : 'MISSED'

/** The console table of one or more benchmarks. */
export function table(results: readonly BenchmarkResult[]): string {
  const header = ['benchmark', 'figure', 'networker', 'baseline', 'unit', 'ratio', 'goal', '']
  const body = results.flatMap((b) =>
    b.rows.map((r) => [
      b.name,
      r.metric,
      fmt(r.subject),
      fmt(r.baseline),
      r.unit,
      `${fmt(r.ratio)} (${r.ratioLabel})`,
      r.goal?.text ?? '',
      verdict(r),
    ]),
  )
  const all = [header, ...body]
  const widths = header.map((_, i) => Math.max(...all.map((cells) => (cells[i] ?? '').length)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i >= 2 && i <= 3 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd()
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n')
}

export function countGoals(results: readonly BenchmarkResult[]): {
  met: number
  missed: number
  withheld: number
} {
  const all = results.flatMap((b) => b.rows.flatMap((r) => (r.goal === null ? [] : [r.goal])))
  const judged = all.filter((g) => g.withheld === undefined)
  return {
    met: judged.filter((g) => g.met).length,
    missed: judged.filter((g) => !g.met).length,
    withheld: all.length - judged.length,
  }
}

/**
 * What the profiles of the missed goals show, read by hand from the run that produced
 * this file's figures; the generator prints a reading under its profile when that case
 * was profiled. Keyed by `<benchmark>/<case>`.
 */
const READINGS: Record<string, string> = {
  'core-dedup/core':
    "Reading: the core holds each peer as a plain record (its machine's state and context) and steps it with LeanMachine, which runs the peer machine's XState definition from tables computed once: an event is a Map lookup, the guards, and the actions of the transition taken. What is left is the core's own bookkeeping (the connection and peer tables), the effect objects it returns, and the garbage of both; no XState actor, snapshot or macrostep is on the path any more.",
  'scale/peers':
    "Reading: the core's share per peer is a peer record and a connection record; the I/O side's is the connection entry and peer object, the listeners on the stream (shared by every connection), each feature's state per connection (the extensions' and topics' links with their Protomux pairings, liveness, the inbound guard's record), and the Protomux those pairings need, which the bench's store, replicating nothing, does not make.",
  'scale/topics':
    "Reading: per configure the core takes three events (configure, joined, flushed), each a LeanMachine step over a plain record; the rest is the face and the I/O around it — a request promise and its settle, the swarm adapter's join and flush, the notices and the replication barrier of each flush, topic proofs' claims. Closing is the same per topic: a leave each, and nothing that scans all topics.",
  'end-to-end/e2e':
    "Reading: the profile of a networker transfer is hypercore, RocksDB, crypto and idle time; the networker's own code (src/core, src/io, src/networker) hardly appears in it. The connection row splits the first-block time: whatever part of the gap is already there when the reader's swarm emits 'connection' comes from connection set-up (DHT lookup, connect, Noise handshake), not from the networker's handling of the connection, which starts at that event. Per-pair ratios (rounds column) spread widely on both sides of 1 on this shared machine.",
  'simulator/sim-50':
    "Reading: with the stand-in for Noise the simulator's time is the networkers' own work on every connection (the extensions' and topic proofs' channels, streamx plumbing, streamx's StreamError stack traces on every destroyed stream) and its own scheduling, one clock task per event-loop turn; real Noise would add the handshake's scalar multiplications and the encryption of every message.",
}
for (const peers of [1, 16, 256]) {
  READINGS[`broadcast/broadcast-${peers}`] =
    "Reading: the profile is dominated by what both sides share — encryption in sodium-native (charged to secret-stream's push/pull), streamx and secret-stream buffering, Protomux framing; the networker's own code (src/io: the extension's write and receive, the inbound guard's wrapped push, and `broadcast` building its peer list on each call) is the small src/io share. Compare the median with the rounds column: on this shared machine single rounds swing far on both sides of 1."
}
for (const size of [64, 1024, 65536]) {
  READINGS[`extension-throughput/send-${size}`] = READINGS['broadcast/broadcast-1'] as string
}

const cell = (text: string): string => text.replaceAll('|', '\\|')

/** The figure and the ratio: a goal may be on either (bytes per item, or a ratio). */
function measured(r: Row): string {
  return `${fmt(r.subject)} ${r.unit} against ${fmt(r.baseline)} ${r.unit}, ratio ${fmt(r.ratio)} (${r.ratioLabel})`
}

/** The lowest and highest per-round ratio: how much the machine's noise moved it. */
function spread(r: Row): string {
  if (r.rounds === undefined || r.rounds.length < 2) return ''
  return `${fmt(Math.min(...r.rounds))}–${fmt(Math.max(...r.rounds))} (${r.rounds.length})`
}

function markdownTable(b: BenchmarkResult): string[] {
  const out = [
    '| figure | networker | baseline | unit | ratio | rounds (min–max) | goal | |',
    '| --- | ---: | ---: | --- | --- | --- | --- | --- |',
  ]
  for (const r of b.rows) {
    const mark =
      r.goal === null
        ? ''
        : r.goal.withheld !== undefined
          ? `no verdict (${r.goal.withheld})`
          : r.goal.met
            ? 'met'
            : '**missed**'
    out.push(
      `| ${cell(r.metric)} | ${fmt(r.subject)} | ${fmt(r.baseline)} | ${r.unit} | ${fmt(r.ratio)} (${cell(r.ratioLabel)}) | ${spread(r)} | ${cell(r.goal?.text ?? '—')} | ${mark} |`,
    )
  }
  return out
}

function profileSection(p: ProfileSummary): string[] {
  const out = [
    `Profile of \`${p.case}\` (V8 CPU profiler, the one behind \`node --cpu-prof\`, on the workload alone; ${fmt(p.sampledMs)} ms sampled):`,
    '',
    `- by area: ${p.byArea.map((a) => `${a.name} ${a.percent.toFixed(0)}%`).join(', ')}`,
    '- top self time:',
  ]
  for (const f of p.top.slice(0, 8)) {
    out.push(`  - ${f.percent.toFixed(1)}% \`${f.name}\``)
  }
  const reading = READINGS[p.case]
  if (reading !== undefined) out.push('', reading)
  return out
}

export function markdown(results: Results, charts = new Map<string, Chart[]>()): string {
  const { machine: m, versions: v } = results
  const missed = results.benchmarks.flatMap((b) =>
    b.rows
      .filter((r) => r.goal !== null && !r.goal.met && r.goal.withheld === undefined)
      .map((r) => ({ b, r })),
  )
  const out: string[] = [
    '# Benchmark results',
    '',
    ...plainSummary(results).flatMap((p) => [p, '']),
    `Generated by \`${results.command}\` (${results.mode} run, ${fmt(results.wallSeconds)} s) on ${results.generated}. Rerun to update; do not edit by hand.`,
    '',
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}; 1-minute load average ${m.loadAverage.start.toFixed(2)} at the start and ${m.loadAverage.end.toFixed(2)} at the end (the machine is shared with other jobs).`,
    '',
    `Versions: ${Object.entries(v)
      .map(([name, version]) => `${name} ${version}`)
      .join(', ')}.`,
    '',
    "Each benchmark runs in a process of its own (what one left behind, a heap grown by 100,000 topics or code compiled for another workload, changed the next one's figures), and every figure is measured against its baseline in the same process run, interleaved: mitata times each side in turn, the order reversed every round (or, for whole runs, alternated pairs). Figures are medians over rounds; a ratio is the median of the per-round ratios (each round measures both sides back to back, which cancels the drift of a shared machine), so it can differ slightly from dividing the two columns. The ratio column says what it divides; the rounds column shows the spread of the per-round ratios.",
    '',
    '## Summary',
    '',
    `${results.goals.met} goal${results.goals.met === 1 ? '' : 's'} met, ${results.goals.missed} missed${(results.goals.withheld ?? 0) > 0 ? `, ${results.goals.withheld} without a verdict (the machine was busy)` : ''}.`,
    '',
  ]
  if (missed.length > 0) {
    out.push('Missed:', '')
    for (const { b, r } of missed) {
      out.push(`- **${b.title}** — ${r.metric}: ${measured(r)}; goal ${r.goal?.text}.`)
    }
    out.push('')
  }
  results.benchmarks.forEach((b, i) => {
    out.push(`## ${i + 1}. ${b.title}`, '')
    out.push(`Networker side: ${b.subjectLabel}. Baseline: ${b.baselineLabel}.`, '')
    out.push(...markdownTable(b), '')
    const params = Object.entries(b.params)
      .map(([k, value]) => `${k}: ${typeof value === 'number' ? fmt(value) : String(value)}`)
      .join('; ')
    if (params !== '') out.push(`Workload: ${params}. Took ${fmt(b.wallMs / 1000)} s.`, '')
    for (const note of b.notes) out.push(`- ${note}`)
    out.push('')
    for (const chart of charts.get(b.name) ?? []) out.push(`![${chart.title}](${chart.file})`, '')
  })
  if (missed.length > 0) {
    out.push('## Why goals were missed', '')
    const byCase = new Map(results.profiles.map((p) => [p.case, p]))
    for (const { b, r } of missed) {
      out.push(`### ${b.title}: ${r.metric}`, '')
      out.push(`Measured ${measured(r)}; the goal is ${r.goal?.text}. The goal is missed.`, '')
      if (r.why !== undefined) out.push(r.why, '')
      const p = r.profile === undefined ? undefined : byCase.get(`${b.name}/${r.profile}`)
      if (p !== undefined) {
        out.push(...profileSection(p), '')
        // One profile serves every row it explains: print it once.
        byCase.delete(p.case)
      } else if (r.profile !== undefined) {
        const shown = results.profiles.some((x) => x.case === `${b.name}/${r.profile}`)
        out.push(
          shown
            ? `Same workload as the profile above (\`${b.name}/${r.profile}\`).`
            : 'Not profiled in this run (profiles are skipped in --quick mode beyond the first).',
          '',
        )
      }
    }
  }
  return `${out.join('\n').trimEnd()}\n`
}

export async function write(dir: string, results: Results): Promise<void> {
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`)
  const charts = await renderCharts(dir, results.benchmarks)
  await writeFile(join(dir, 'RESULTS.md'), markdown(results, charts))
}
