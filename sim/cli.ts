import { parseArgs } from 'node:util'
import { InvariantViolation } from './invariant.js'
import { runScenario, type ScenarioResult } from './scenario.js'

/**
 * npm run sim -- --seed <n> --runs <n> --peers <n> --topics <n> --steps <n>
 * Standard output depends only on the arguments (byte-identical across runs); the one
 * wall-clock figure, the speed, goes to standard error.
 */
const USAGE = `usage: npm run sim -- [--seed N] [--runs N] [--peers N] [--topics N] [--steps N] [--no-faults]
  Runs simulated networks of networkers with injected faults and checks invariants.
  Run r uses seed+r, so a failing run replays alone with --seed <its seed> --runs 1.`

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
  const runs = int(values.runs as string | undefined, 'runs', 20, 1)
  const peers = int(values.peers as string | undefined, 'peers', 8, 2)
  const topics = int(values.topics as string | undefined, 'topics', 3, 1)
  const steps = int(values.steps as string | undefined, 'steps', 60, 1)
  const faults = values['no-faults'] !== true
  const out = (line: string): void => {
    process.stdout.write(`${line}\n`)
  }

  out(`seed ${seed}`)
  out(
    `runs ${runs}, peers ${peers}, topics ${topics}, steps ${steps}, faults ${faults ? 'on' : 'off'}`,
  )
  const started = performance.now()
  const totals = { virtualMs: 0, events: 0, checks: 0, messages: 0, malformed: 0 }
  const faultTotals: Record<string, number> = {}
  for (let r = 0; r < runs; r++) {
    const runSeed = seed + r
    let result: ScenarioResult
    try {
      result = await runScenario({ seed: runSeed, peers, topics, steps, faults })
    } catch (err) {
      if (!(err instanceof InvariantViolation)) throw err
      out(`run ${r + 1}/${runs} seed ${runSeed}: FAILED`)
      out(
        `replay: npm run sim -- --seed ${runSeed} --runs 1 --peers ${peers} --topics ${topics} --steps ${steps}${faults ? '' : ' --no-faults'}`,
      )
      out(`invariant '${err.invariant}' broken at ${err.at} ms (seed ${runSeed}): ${err.detail}`)
      return 1
    }
    totals.virtualMs += result.virtualMs
    totals.events += result.events
    totals.checks += result.invariantsChecked
    totals.messages += result.messagesDelivered
    totals.malformed += result.malformedReported
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
  out(`  invariants checked ${totals.checks}`)
  process.stderr.write(
    `  speed              ${(totals.virtualMs / 1000 / wallSeconds).toFixed(0)}x real time (${wallSeconds.toFixed(1)} s wall)\n`,
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
