import { parseArgs } from 'node:util'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { InvariantViolation } from './invariant.js'
import type { SimTransport } from './link.js'
import { runScale, type ScaleOptions, type ScaleResult } from './scale.js'
import { runScenario, type ScenarioResult } from './scenario.js'

/**
 * npm run sim -- --seed <n> --runs <n> --peers <n> --topics <n> --steps <n>
 * Standard output depends only on the arguments (byte-identical across runs); the one
 * wall-clock figure, the speed, goes to standard error.
 */
const USAGE = `usage: npm run sim -- [--seed N] [--runs N] [--peers N] [--topics N] [--steps N] [--no-faults] [--real-noise]
                          [--transports udx,tcp] [--lan-partition] [--tcp-fin]
       npm run sim -- --scale [--seed N] [--peers N] [--topics N] [--real-noise]
  Runs simulated networks of networkers with injected faults and checks invariants.
  Run r uses seed+r, so a failing run replays alone with --seed <its seed> --runs 1.
  Connections run a stand-in for Noise with the same interface (no cryptography);
  --real-noise runs real Noise secret streams, several times slower.
  --transports: what connections run on (default udx): udx, found through the DHT;
  tcp, direct between nodes on one LAN segment (one to three per run, drawn from the
  seed), adopted into the networker; udx,tcp both, so one key is reached over both
  and races across transports are among the faults; tcp alone, no DHT at all.
  --lan-partition (needs tcp): parts of the nodes lose the DHT for a while, their LAN
  still up; once quiet, a checked one: pairs on a segment hold one connection over
  tcp, pairs no transport joins hold none, and after the DHT heals all pairs one.
  --tcp-fin (needs tcp): a TCP connection one end closes reaches the other end as the
  end of its stream, after what was sent before it, and closes there 0-5 ms later, as
  TCP's FIN does (by default both ends close after the latency, as in earlier runs).
  --scale runs one network of --peers nodes (default 1000) sharing --topics topics
  (default 20), each node in a full mesh with its topic's others, without faults.`

function fail(message: string): never {
  process.stderr.write(`sim: ${message}\n${USAGE}\n`)
  process.exit(2)
}

function int(value: string | undefined, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < min)
    fail(`--${name} must be a whole number ≥ ${min}, got '${value}'`)
  return n
}

async function main(): Promise<number> {
  let values: Record<string, string | boolean | undefined>
  try {
    ;({ values } = parseArgs({
      options: {
        seed: { type: 'string' },
        runs: { type: 'string' },
        peers: { type: 'string' },
        topics: { type: 'string' },
        steps: { type: 'string' },
        'no-faults': { type: 'boolean', default: false },
        'real-noise': { type: 'boolean', default: false },
        transports: { type: 'string' },
        'lan-partition': { type: 'boolean', default: false },
        'tcp-fin': { type: 'boolean', default: false },
        scale: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }))
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err))
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  // No seed given: pick one (the only non-determinism, and it is printed first).
  const seed = int(
    values.seed as string | undefined,
    'seed',
    Math.floor(Math.random() * 2 ** 31),
    0,
  )
  const scale = values.scale === true
  const runs = int(values.runs as string | undefined, 'runs', 20, 1)
  const peers = int(values.peers as string | undefined, 'peers', scale ? 1000 : 8, 2)
  const topics = int(values.topics as string | undefined, 'topics', scale ? 20 : 3, 1)
  const steps = int(values.steps as string | undefined, 'steps', 60, 1)
  const faults = values['no-faults'] !== true
  const realNoise = values['real-noise'] === true
  const transports = transportsOf(values.transports as string | undefined)
  const lanPartition = values['lan-partition'] === true
  if (lanPartition && !transports.includes('tcp')) fail('--lan-partition needs tcp in --transports')
  const tcpFin = values['tcp-fin'] === true
  if (tcpFin && !transports.includes('tcp')) fail('--tcp-fin needs tcp in --transports')
  if (scale && (values.transports !== undefined || lanPartition || tcpFin))
    fail('--scale runs udx only: no --transports, --lan-partition or --tcp-fin')
  // Said only when not the default, so the default run prints what it always did.
  const lan = `${transports.join() === 'udx' ? '' : `, transports ${transports.join()}`}${lanPartition ? ', lan partition' : ''}${tcpFin ? ', tcp fin' : ''}`
  const lanFlags = `${transports.join() === 'udx' ? '' : ` --transports ${transports.join()}`}${lanPartition ? ' --lan-partition' : ''}${tcpFin ? ' --tcp-fin' : ''}`
  const out = (line: string): void => {
    process.stdout.write(`${line}\n`)
  }

  out(`seed ${seed}`)
  if (scale) return runAtScale({ seed, nodes: peers, topics, realNoise }, out)
  out(
    `runs ${runs}, peers ${peers}, topics ${topics}, steps ${steps}, faults ${faults ? 'on' : 'off'}${realNoise ? ', real noise' : ''}${lan}`,
  )
  const started = performance.now()
  const totals = { virtualMs: 0, events: 0, checks: 0, messages: 0, malformed: 0 }
  const kept: Record<SimTransport, number> = { udx: 0, tcp: 0 }
  let lanOnlyKept = 0
  const faultTotals: Record<string, number> = {}
  for (let r = 0; r < runs; r++) {
    const runSeed = seed + r
    let result: ScenarioResult
    try {
      result = await runScenario({
        seed: runSeed,
        peers,
        topics,
        steps,
        faults,
        realNoise,
        transports,
        lanPartition,
        tcpFin,
      })
    } catch (err) {
      if (!(err instanceof InvariantViolation)) throw err
      out(`run ${r + 1}/${runs} seed ${runSeed}: FAILED`)
      out(
        `replay: npm run sim -- --seed ${runSeed} --runs 1 --peers ${peers} --topics ${topics} --steps ${steps}${faults ? '' : ' --no-faults'}${realNoise ? ' --real-noise' : ''}${lanFlags}`,
      )
      out(`invariant '${err.invariant}' broken at ${err.at} ms (seed ${runSeed}): ${err.detail}`)
      return 1
    }
    totals.virtualMs += result.virtualMs
    totals.events += result.events
    totals.checks += result.invariantsChecked
    totals.messages += result.messagesDelivered
    totals.malformed += result.malformedReported
    kept.udx += result.kept.udx
    kept.tcp += result.kept.tcp
    lanOnlyKept += result.lanOnlyKept
    for (const [kind, n] of Object.entries(result.faults))
      faultTotals[kind] = (faultTotals[kind] ?? 0) + n
    const injected = Object.values(result.faults).reduce((a, b) => a + b, 0)
    out(
      `run ${r + 1}/${runs} seed ${runSeed}: ${(result.virtualMs / 1000).toFixed(1)} s virtual, ${result.events} events, ${injected} faults, ${result.invariantsChecked} checks, ok`,
    )
  }
  const wallSeconds = (performance.now() - started) / 1000
  const faultLine = Object.entries(faultTotals)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k} ${n}`)
    .join(', ')
  out('summary')
  out(`  runs               ${runs}`)
  out(`  peers              ${peers} per run`)
  out(`  virtual time       ${(totals.virtualMs / 1000).toFixed(1)} s`)
  out(`  events             ${totals.events}`)
  out(`  faults injected    ${faultLine || 'none'}`)
  out(
    `  extension messages ${totals.messages} delivered in order, ${totals.malformed} malformed reported`,
  )
  if (lan !== '') {
    out(`  kept at quiescence ${kept.udx} over udx, ${kept.tcp} over tcp`)
    if (lanPartition) out(`  lan-only partition ${lanOnlyKept} pair(s) kept over tcp off the DHT`)
  }
  out(`  invariants checked ${totals.checks}`)
  process.stderr.write(
    `  speed              ${(totals.virtualMs / 1000 / wallSeconds).toFixed(0)}x real time (${wallSeconds.toFixed(1)} s wall)\n`,
  )
  out('all invariants held')
  return 0
}

function transportsOf(value: string | undefined): SimTransport[] {
  if (value === undefined) return ['udx']
  const names = value.split(',')
  const known: SimTransport[] = ['udx', 'tcp']
  const bad = names.find((n) => !known.includes(n as SimTransport))
  if (bad !== undefined || names.length === 0)
    fail(`--transports takes udx, tcp or both (udx,tcp), got '${value}'`)
  // In one order whatever the order given: the output is the same for the same runs.
  return known.filter((t) => names.includes(t))
}

function fetchGc(): () => void {
  setFlagsFromString('--expose-gc')
  return runInNewContext('gc') as () => void
}

/** One network at scale: its figures on standard output, its speed and heap on standard error. */
async function runAtScale(opts: ScaleOptions, out: (line: string) => void): Promise<number> {
  out(
    `scale: ${opts.nodes} nodes, ${opts.topics} topics, one topic each${opts.realNoise ? ', real noise' : ''}`,
  )
  // Collected first, so the figure is what the mesh holds (gc is fetched as bench/harness.ts does).
  const gc = globalThis.gc ?? fetchGc()
  const heap = (): number => {
    gc()
    return process.memoryUsage().heapUsed
  }
  const before = heap()
  let atMesh = before
  const started = performance.now()
  let result: ScaleResult
  try {
    result = await runScale({
      ...opts,
      onMesh: () => {
        atMesh = heap()
      },
    })
  } catch (err) {
    if (!(err instanceof InvariantViolation)) throw err
    out(`invariant '${err.invariant}' broken at ${err.at} ms (seed ${opts.seed}): ${err.detail}`)
    return 1
  }
  const wallSeconds = (performance.now() - started) / 1000
  out(`  connections        ${result.connections} at quiescence`)
  out(`  virtual time       ${(result.virtualMs / 1000).toFixed(1)} s`)
  out(`  events             ${result.events}`)
  out(`  extension messages ${result.messagesDelivered} delivered in order`)
  out(`  invariants checked ${result.invariantsChecked}`)
  process.stderr.write(
    `  speed              ${(result.virtualMs / 1000 / wallSeconds).toFixed(0)}x real time (${wallSeconds.toFixed(1)} s wall)\n`,
  )
  process.stderr.write(
    `  heap               ${((atMesh - before) / 2 ** 20).toFixed(0)} MiB held with the mesh up, ${((atMesh - before) / 1024 / Math.max(1, result.connections)).toFixed(1)} KiB per connection (both ends, wire included)\n`,
  )
  out('all invariants held')
  return 0
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `sim: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    )
    process.exit(2)
  },
)
